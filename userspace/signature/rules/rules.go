// Package rules parses the Suricata/Snort rule language into rules the
// signature engine compiles: the header (action, protocol, addresses and
// ports with variables, lists, negation and ranges, direction) and the
// packet-level options. A rule the engine cannot honour is never loaded
// half-understood: it is skipped and reported as
// "file:line: sid N: reason", the reason naming the unsupported keyword or
// what is malformed. No input can make the parser panic (FuzzParse).
package rules

import (
	"fmt"
	"regexp"

	"github.com/dlclark/regexp2/v2"
)

// Action is what a rule does when it matches.
type Action uint8

// Rule actions. Pass stops inspection of the flow; drop and reject ask
// the responder to block (in IDS mode they alert like alert rules).
const (
	ActionAlert Action = iota
	ActionDrop
	ActionReject
	ActionPass
)

var actionNames = [...]string{"alert", "drop", "reject", "pass"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "unknown"
}

// Proto is the header protocol of a rule.
type Proto struct {
	// L4 is the IP protocol the rule applies to; 0 means any ("ip").
	// ICMP (1) in a rule header also matches ICMPv6, as in Suricata.
	L4 uint8
	// Family restricts the IP version: 0 any, 4 or 6.
	Family uint8
	// Stream: StreamAny ("tcp": packets and the reassembled stream),
	// StreamNo ("tcp-pkt": packets only) or StreamOnly ("tcp-stream").
	Stream uint8
	Name   string // as written in the rule
	// App is the app-layer protocol the rule inspects (Suricata's name:
	// http, dns, tls, ssh), from the header, its buffers or keywords; ""
	// for packet and stream rules.
	App string
}

// Proto.Stream values.
const (
	StreamAny uint8 = iota
	StreamNo
	StreamOnly
)

// Buffer identifies what a content, pcre and byte_* match inspects. A
// sticky buffer keyword (ipv4.hdr; tcp.hdr; http.uri; ...) switches the
// buffer of the matches after it; a legacy content modifier (http_uri)
// moves the content before it. Packet buffers come first; app-layer
// buffers (appbuf.go) follow, one value per Suricata sticky buffer, with
// the app protocol and the directions it exists in (BufferInfo).
type Buffer uint8

// Packet buffers.
const (
	// BufPayload is the default: the packet's L4 payload when a packet is
	// matched, the reassembled bytes of one direction when a stream is.
	BufPayload Buffer = iota
	BufIPv4Hdr
	BufIPv6Hdr
	BufTCPHdr
	BufUDPHdr
	BufICMPv4Hdr
	BufICMPv6Hdr
	numPacketBuffers
)

// NumBuffers is the number of Buffer values defined (packet and app).
var NumBuffers = int(numPacketBuffers) + len(appBuffers)

var bufferNames = [...]string{"payload", "ipv4.hdr", "ipv6.hdr", "tcp.hdr", "udp.hdr", "icmpv4.hdr", "icmpv6.hdr"}

func (b Buffer) String() string {
	if int(b) < len(bufferNames) {
		return bufferNames[b]
	}
	if i := int(b) - int(numPacketBuffers); i < len(appBuffers) {
		return appBuffers[i].Name
	}
	return "unknown"
}

// Rule is one parsed rule.
type Rule struct {
	File string
	Line int

	Action   Action
	Proto    Proto
	Src, Dst IPSet
	SrcPorts PortSet
	DstPorts PortSet
	Bidir    bool // "<>": either direction

	GID, SID, Rev uint32
	Msg           string
	Classtype     string
	Category      string // classtype description
	Priority      int    // priority keyword, else the classtype's; 3 when neither
	References    []string
	Metadata      []string
	Target        Target

	// Matches run in rule order over their buffers (content, pcre,
	// byte_*, isdataat, bsize): see Match.
	Matches []Match

	Dsize     *Num
	Flags     *Flags
	Flow      Flow
	Flowbits  []Flowbit
	Threshold *Threshold // threshold keyword
	Filter    *Threshold // detection_filter keyword
	NoAlert   bool

	IType, ICode, ICMPID, ICMPSeq *Num
	TTL, IPProto, TOS, IPID       *Num
	Ack, Seq, Window              *Num
	TCPMSS                        *Num
	Fragbits                      *Fragbits
	IPOpts                        uint16 // IPOpt* bits: any of these options present
	SameIP                        bool
	VLAN                          []VLANMatch
	ICMPv6MTU                     *Num
	FlowPkts, FlowBytes           []FlowCount
	StreamSize                    []StreamSize // stream_size keyword
	Hostbits                      []Hostbit    // hostbits and xbits

	// App layer (appkw.go): the transforms applied to a buffer before
	// its matches, app-layer-protocol keywords, and the field keywords
	// of a transaction (dns.opcode, ssl_version, tls_cert_notafter...).
	Transforms []BufferTransforms
	AppLayer   []AppLayerProto
	Fields     []FieldMatch
}

// VLANMatch is vlan.id: the id of the tag at Layer (0 outermost, -1
// innermost) or at any layer (LayerAny), or of every layer (LayerAll).
type VLANMatch struct {
	ID    Num
	Layer int
}

// VLANMatch layers beyond indexes.
const (
	LayerAny = -100
	LayerAll = -101
)

// FlowCount is flow.pkts or flow.bytes: a count of the flow's packets or
// bytes in a direction.
type FlowCount struct {
	Dir uint8 // 0 to server, 1 to client, 2 either
	N   Num
}

// StreamSize is stream_size: the sequence-space size of a TCP flow's
// client (to server) or server (to client) stream, or both or either.
type StreamSize struct {
	Dir uint8 // StreamServer, StreamClient, StreamBoth, StreamEither
	N   Num
}

// StreamSize directions.
const (
	StreamServer uint8 = iota
	StreamClient
	StreamBoth
	StreamEither
)

// Hostbit is a hostbits or xbits keyword: bits kept per host (Track
// TrackBySrc / TrackByDst) or per address pair (TrackByBoth).
type Hostbit struct {
	Flowbit
	Track     Track
	ExpireSec int // 0: never (until the engine's bound drops it)
}

// Target is the target keyword: which side of the alert is the target.
type Target uint8

// Target values.
const (
	TargetNone Target = iota
	TargetSrc
	TargetDst
)

// Match is one element of a rule's inspection chain.
type Match interface {
	// Buf is the buffer this element inspects.
	Buf() Buffer
}

// Content is a content match with its modifiers.
type Content struct {
	Buffer   Buffer
	Pattern  []byte
	Negated  bool
	Nocase   bool
	Rawbytes bool

	// Absolute window: search from Offset, Depth bytes (from Offset).
	Offset, Depth Value
	// Relative window from the end of the previous match: from
	// prev+Distance, ending at most Within bytes after prev+Distance.
	Distance, Within Value

	StartsWith, EndsWith bool

	FastPattern bool
	FPOnly      bool
	FPChopOff   int // fast_pattern:offset,length
	FPChopLen   int // 0 = whole pattern
}

// Buf implements Match.
func (c *Content) Buf() Buffer { return c.Buffer }

// Relative reports whether c is anchored to the previous match.
func (c *Content) Relative() bool { return c.Distance.Set || c.Within.Set }

// Value is an integer option that may name a byte_extract variable.
type Value struct {
	Set bool
	N   int
	Var string // byte_extract / byte_math result name, resolved at match time
}

// PCRE is a pcre match, translated to Go's regexp (RE2) syntax.
type PCRE struct {
	Buffer Buffer
	Source string         // as written in the rule
	Re     *regexp.Regexp // nil when Backtrack is set
	// Backtrack is the pattern compiled with regexp2 when RE2 cannot
	// express it; it matches the buffer as Latin-1 runes (one per byte),
	// each match bounded by PCREMatchTimeout.
	Backtrack *regexp2.Regexp
	Negated   bool
	Relative  bool // R flag
	Anchored  bool // A flag
	// Latin1: match against the buffer decoded as Latin-1 (one rune per
	// byte) because the pattern names bytes above 0x7f.
	Latin1 bool
}

// Buf implements Match.
func (p *PCRE) Buf() Buffer { return p.Buffer }

// ByteOp is a byte_test, byte_jump, byte_extract or byte_math.
type ByteOp struct {
	Kind     ByteKind
	Buffer   Buffer
	Bytes    int
	BytesVar string // byte_jump, byte_test: the byte count is this variable
	Offset   Value
	Relative bool
	Big      bool // big endian (the default); false = little
	String   bool
	Base     int // 10, 16 or 8 with String
	Bitmask  uint64
	DCE      bool

	// byte_test
	Op      string // <, >, =, !, <=, >=, &, ^
	Negate  bool
	Compare Value

	// byte_jump
	Multiplier    int
	Align         bool
	FromBeginning bool
	FromEnd       bool
	PostOffset    int

	// byte_extract / byte_math result variable
	Name string

	// byte_math
	Oper   string // + - * / << >>
	RValue Value
}

// ByteKind says which byte_* keyword a ByteOp is.
type ByteKind uint8

// ByteKinds.
const (
	ByteTest ByteKind = iota
	ByteJump
	ByteExtract
	ByteMath
)

// Buf implements Match.
func (b *ByteOp) Buf() Buffer { return b.Buffer }

// IsDataAt is isdataat.
type IsDataAt struct {
	Buffer   Buffer
	N        Value
	Relative bool
	Negated  bool
}

// Buf implements Match.
func (d *IsDataAt) Buf() Buffer { return d.Buffer }

// BSize is bsize: the size of the buffer.
type BSize struct {
	Buffer Buffer
	Size   Num
}

// Buf implements Match.
func (b *BSize) Buf() Buffer { return b.Buffer }

// Flags is the flags (tcp.flags) keyword.
type Flags struct {
	Mode  byte  // 0 exact, '+' all of these and any others, '*' any of these, '!' none of these
	Bits  uint8 // decode.Flag* bits; Bits 0 with mode 0: no flags set
	Mask  uint8 // bits ignored
	Empty bool  // "0": no flag set
}

// Flow is the flow keyword.
type Flow struct {
	ToServer, ToClient bool
	Established        bool
	NotEstablished     bool
	Stateless          bool
	OnlyStream         bool
	NoStream           bool
}

// Flowbit is one flowbits keyword.
type Flowbit struct {
	Cmd   FlowbitCmd
	Names []string // several: Or (isset/isnotset with |) or And (&)
	Or    bool
}

// FlowbitCmd is a flowbits command.
type FlowbitCmd uint8

// Flowbit commands.
const (
	FBSet FlowbitCmd = iota
	FBIsSet
	FBIsNotSet
	FBUnset
	FBToggle
)

// Threshold is threshold or detection_filter.
type Threshold struct {
	Type    ThresholdType
	Track   Track
	Count   int
	Seconds int
	// UniqueOn counts distinct source (UniqueSrcPort) or destination
	// ports instead of matches (detection_filter unique_on).
	UniqueOn uint8
	// Multiplier is type backoff's multiplier: alert on the Count-th
	// match, then the Count*Multiplier-th, Count*Multiplier^2-th...
	Multiplier int
}

// UniqueOn values.
const (
	UniqueNone uint8 = iota
	UniqueSrcPort
	UniqueDstPort
)

// ThresholdType is the threshold type; detection_filter is TypeFilter.
type ThresholdType uint8

// Threshold types.
const (
	TypeLimit ThresholdType = iota
	TypeThreshold
	TypeBoth
	TypeFilter
	TypeBackoff // threshold type backoff (Suricata 7)
)

// Track says what a threshold counts by.
type Track uint8

// Tracks.
const (
	TrackBySrc Track = iota
	TrackByDst
	TrackByRule
	TrackByBoth
	TrackByFlow
)

// Fragbits is the fragbits keyword: M (more fragments), D (don't
// fragment), R (reserved) with modifier + (these and any), * (any of
// these), ! (not these), none (exactly these).
type Fragbits struct {
	Mode byte
	Bits uint8 // FragM, FragD, FragR
}

// Fragbits bits.
const (
	FragR uint8 = 0x80 // reserved bit, as in byte 6 of the IPv4 header
	FragD uint8 = 0x40
	FragM uint8 = 0x20
)

// IP option bits for ipopts.
const (
	IPOptRR uint16 = 1 << iota
	IPOptEOL
	IPOptNOP
	IPOptTS
	IPOptSEC
	IPOptESEC
	IPOptLSRR
	IPOptSSRR
	IPOptSATID
	IPOptAny
)

// Skipped is a rule that was not loaded and why.
type Skipped struct {
	File   string
	Line   int
	SID    uint32 // 0 when the rule has no sid (or it could not be read)
	Reason string // short and groupable: "unsupported keyword http.uri", "malformed rule", ...
	Detail string // what exactly, for a malformed rule
}

func (s Skipped) Error() string {
	msg := s.Reason
	if s.Detail != "" {
		msg += ": " + s.Detail
	}
	return fmt.Sprintf("%s:%d: sid %d: %s", s.File, s.Line, s.SID, msg)
}

// Set is a loaded rule set.
type Set struct {
	Rules []*Rule
	// Disabled counts commented-out rules ("#alert ...") seen.
	Disabled int
	bySID    map[[2]uint32]int
}

// Add appends r unless a rule with its gid:sid is there already, in which
// case the higher rev wins (as Suricata does) and the loser is returned as
// skipped.
func (s *Set) Add(r *Rule) *Skipped {
	if s.bySID == nil {
		s.bySID = make(map[[2]uint32]int)
	}
	k := [2]uint32{r.GID, r.SID}
	if i, ok := s.bySID[k]; ok {
		old := s.Rules[i]
		if r.Rev > old.Rev {
			s.Rules[i] = r
			return &Skipped{File: old.File, Line: old.Line, SID: old.SID, Reason: "duplicate sid", Detail: fmt.Sprintf("replaced by rev %d at %s:%d", r.Rev, r.File, r.Line)}
		}
		return &Skipped{File: r.File, Line: r.Line, SID: r.SID, Reason: "duplicate sid", Detail: fmt.Sprintf("rev %d at %s:%d loaded", old.Rev, old.File, old.Line)}
	}
	s.bySID[k] = len(s.Rules)
	s.Rules = append(s.Rules, r)
	return nil
}

// Merge adds every rule of o to s, returning the duplicates skipped.
func (s *Set) Merge(o *Set) []Skipped {
	var sk []Skipped
	for _, r := range o.Rules {
		if d := s.Add(r); d != nil {
			sk = append(sk, *d)
		}
	}
	s.Disabled += o.Disabled
	return sk
}

// Len is the number of rules.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.Rules)
}
