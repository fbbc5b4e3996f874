// Package signature matches packets and reassembled streams against a
// compiled rule set (userspace/signature/rules) and emits alert.Alerts.
//
// Cost grows far slower than the rule count: rules are grouped by
// protocol; each group has one Aho-Corasick automaton over the fast
// patterns of its rules (the longest content, or the one marked
// fast_pattern), so a packet runs one multi-pattern scan of its payload
// and only the rules whose pattern occurs are inspected in full. Rules
// without a usable pattern are indexed by destination (or source) port,
// or by source (or destination) address prefix, and only the few left
// are tried on every packet of the protocol.
//
// Buffers: every content, pcre and byte_* match names a rules.Buffer.
// BufPayload is the packet's payload in MatchPacket and the reassembled
// bytes of one direction in MatchStream; header buffers (ipv4.hdr,
// tcp.hdr, ...) come from the raw frame. An app-layer buffer (http.uri,
// dns.query, tls.sni) is one more Buffer value with a producer filling
// it: the rule chains, the prefilter and the inspection do not change.
//
// State (State): flowbits and pass verdicts on each flow (FlowEnd frees
// them); host bits, threshold and detection_filter counters keyed by
// what they track, timed by packet time, never the wall clock. The
// compiled rules never change once built; the state outlives them, so a
// reload swaps in new rules and keeps what the old ones learnt.
package signature

import (
	"net/netip"
	"slices"
	"sync"

	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/packet/decode"
	"github.com/xdpids/xdpids/userspace/signature/rules"
)

// Input is one packet to match, with its flow.
type Input struct {
	P *decode.Packet
	// Frame is the raw Ethernet frame P was decoded from (P's header
	// offsets point into it). Header buffers (ipv4.hdr, tcp.hdr, ...),
	// tos, fragbits, ipopts and tcp.mss need it; without it those rules
	// do not match.
	Frame    []byte
	F        *flows.Flow // nil when the packet has no flow
	FromOrig bool        // the packet came from the flow's originator (to server)
	Ev       int         // flows.Ev* bits of this packet
	// StreamInspected says the flow's TCP payload also reaches
	// MatchStream: payload rules of protocol "tcp" are then left to the
	// stream (as Suricata does), and only tcp-pkt rules inspect the
	// packet's payload.
	StreamInspected bool
}

// StreamInput is reassembled stream data of one direction of a flow.
type StreamInput struct {
	F        *flows.Flow // required
	ToServer bool        // the data flows from the originator
	// Data is the in-order reassembled bytes to inspect as one buffer.
	// Pass each new chunk once (see Offset).
	Data []byte
	TsNs int64 // packet time of the segment that completed Data
	// Offset is the stream offset of Data[0] (stream.Config.OnData's
	// offset). The engine keeps the last Options.StreamWindow bytes of
	// each direction and inspects them with the next chunk when it
	// follows on (Offset where the last one ended), so a match may span
	// chunks; a match wholly inside the kept bytes does not alert again.
	Offset uint64
	// P, when set, is the packet that completed Data (for the alert's
	// interface and VLAN); addresses and ports come from the flow.
	P *decode.Packet
	// Again: Data are bytes inspected before, which a packet repeats
	// (inline, Suricata inspects the stream bytes of every packet): they
	// are inspected on their own and may alert again; the kept window is
	// left as it is.
	Again bool
}

// Options tune the engine.
type Options struct {
	// Midstream treats TCP flows picked up without a handshake as
	// established (Suricata's stream.midstream).
	Midstream bool
	// State is the state to match with: a reload passes the running
	// engine's (Engine.State), so flowbits, host bits and thresholds
	// survive it. nil: a new one. Per-flow state (flowbits, the stream
	// window of up to 2 x StreamWindow bytes) lives on the flows, bounded
	// by the flow tables.
	State *State
	// MaxThresholdKeys bounds threshold counters (default 1<<20).
	MaxThresholdKeys int
	// StreamWindow is how many bytes of each direction of a stream are
	// kept and inspected again with the next chunk, so that a match may
	// span chunks (default DefaultStreamWindow; negative: none).
	StreamWindow int
}

// Stats count engine activity.
type Stats struct {
	Packets, Streams uint64
	Transactions     uint64 // MatchTx calls
	Candidates       uint64 // rules inspected in full
	Matches          uint64 // rules that matched
	Alerts           uint64
	Suppressed       uint64 // matches a threshold or noalert kept quiet
	FlowStates       int    // flows with state (all engines on the State)
	ThresholdKeys    int
}

// Engine is a compiled rule set: immutable once compiled, matching with
// its State. MatchPacket, MatchStream and FlowEnd are safe for
// concurrent use; a flow must be matched by one goroutine at a time (the
// pipeline shards flows to workers), and by one engine at a time (a
// reload swaps engines between two packets of a worker).
type Engine struct {
	rules  []*crule
	groups [numGroups]group
	opts   Options
	st     *State
	// nPatterns counts the fast patterns of all patSets (ids for
	// scratch.pseen)
	nPatterns int32
	// streamSize: a rule uses stream_size, so TCP flows track their
	// sequence spaces (flowState.seq).
	streamSize bool
	// backoffByFlow: a rule has a backoff threshold tracked by flow,
	// whose counters a new connection on a flow id drops.
	backoffByFlow bool
	// app rules (txmatch.go): per rule order, nil for packet rules
	txr []*txRule
	txi *txIndex

	pool sync.Pool
}

// protocol groups
const (
	gTCP = iota
	gUDP
	gICMP
	gOther
	numGroups
)

func groupOf(proto uint8) int {
	switch proto {
	case decode.ProtoTCP:
		return gTCP
	case decode.ProtoUDP:
		return gUDP
	case decode.ProtoICMP, decode.ProtoICMPv6:
		return gICMP
	}
	return gOther
}

type chain struct {
	buf rules.Buffer
	m   []rules.Match
}

type cflowbit struct {
	cmd  rules.FlowbitCmd
	bits []int
	or   bool
}

// crule is a rule compiled for matching.
type crule struct {
	r        *rules.Rule
	order    int32
	chains   []chain
	payload  bool // has a BufPayload chain
	headers  bool // needs the frame's headers
	streamOK bool // can match a stream buffer
	ipOnly   bool // addresses (and thresholds, flowbits set) only: once per flow direction
	reads    []cflowbit
	writes   []cflowbit
	hreads   []chostbit // hostbits, xbits
	hwrites  []chostbit
	fp       []byte              // fast pattern, lower-cased; nil = none
	meta     map[string][]string // the rule's metadata, parsed once for alerts
	// appGate: a packet or stream rule limited to flows of an app
	// protocol (hasAppGate); gateFn checks it once the flow's protocol
	// is known, for a stream match made before it was (Alert.AppGate).
	appGate bool
	gateFn  func(app string) bool
}

type group struct {
	any      patSet             // fast patterns of rules on any port (or many)
	dstPat   map[uint16]*patSet // rules for a few destination ports
	srcPat   map[uint16]*patSet // rules for a few source ports (and <> rules)
	byDst    map[uint16][]int32 // rules without a fast pattern, by port
	bySrc    map[uint16][]int32
	srcAddr  prefixIndex
	dstAddr  prefixIndex
	always   []int32
	nPattern int
}

// patSet is one Aho-Corasick automaton over fast patterns and the rules
// behind each pattern. base numbers its patterns engine-wide (for the
// per-call dedup in scratch.pseen).
type patSet struct {
	ac   *acAuto
	pat  [][]int32 // pattern id -> rules
	base int32
	ids  map[string]int
	pats [][]byte
}

func (p *patSet) add(fp []byte, idx int32) {
	if p.ids == nil {
		p.ids = map[string]int{}
	}
	id, ok := p.ids[string(fp)]
	if !ok {
		id = len(p.pats)
		p.ids[string(fp)] = id
		p.pats = append(p.pats, fp)
		p.pat = append(p.pat, nil)
	}
	p.pat[id] = append(p.pat[id], idx)
}

// build compiles the automaton; base is the engine-wide id of its first
// pattern. It returns the next free id.
func (p *patSet) build(base int32) int32 {
	if len(p.pats) == 0 {
		return base
	}
	p.ac, p.base = newACAuto(p.pats), base
	p.ids, p.pats = nil, nil
	return base + int32(len(p.pat))
}

// scan adds the rules whose pattern occurs in data (case-insensitively:
// the automaton folds ASCII case, data need not be lower-cased).
func (p *patSet) scan(s *scratch, data []byte) {
	if p == nil || p.ac == nil {
		return
	}
	p.ac.scan(data, func(id int32) {
		if g := &s.pseen[p.base+id]; *g != s.gen {
			*g = s.gen
			s.add(p.pat[id])
		}
	})
}

// Compile builds an engine from set with default options.
func Compile(set *rules.Set) (*Engine, error) {
	return CompileWith(set, Options{})
}

// CompileWith builds an engine from set.
func CompileWith(set *rules.Set, opts Options) (*Engine, error) {
	if opts.MaxThresholdKeys <= 0 {
		opts.MaxThresholdKeys = 1 << 20
	}
	if opts.StreamWindow == 0 {
		opts.StreamWindow = DefaultStreamWindow
	}
	if opts.State == nil {
		opts.State = NewState()
	}
	e := &Engine{opts: opts, st: opts.State}
	var rs []*rules.Rule
	if set != nil {
		rs = set.Rules
	}
	for i, r := range rs {
		cr := e.compileRule(r)
		cr.order = int32(i)
		e.rules = append(e.rules, cr)
		e.streamSize = e.streamSize || len(r.StreamSize) > 0
		if t := r.Threshold; t != nil && t.Type == rules.TypeBackoff && t.Track == rules.TrackByFlow {
			e.backoffByFlow = true
		}
	}
	// Evaluation order, as Suricata's: pass, drop, reject, alert; then
	// flowbit setters before readers; then priority; then file order.
	slices.SortStableFunc(e.rules, func(a, b *crule) int {
		if x, y := actionRank(a.r.Action), actionRank(b.r.Action); x != y {
			return x - y
		}
		if x, y := flowbitRank(a), flowbitRank(b); x != y {
			return x - y
		}
		return a.r.Priority - b.r.Priority
	})
	for i, cr := range e.rules {
		cr.order = int32(i)
	}
	if err := e.buildGroups(); err != nil {
		return nil, err
	}
	e.compileTx()
	e.pool.New = func() any {
		return &scratch{seen: make([]uint32, len(e.rules)), pseen: make([]uint32, e.nPatterns)}
	}
	return e, nil
}

func actionRank(a rules.Action) int {
	switch a {
	case rules.ActionPass:
		return 0
	case rules.ActionDrop:
		return 1
	case rules.ActionReject:
		return 2
	}
	return 3
}

func flowbitRank(c *crule) int {
	w, r := len(c.writes)+len(c.hwrites), len(c.reads)+len(c.hreads)
	switch {
	case w > 0 && r == 0:
		return 0
	case w > 0:
		return 1
	case r > 0:
		return 2
	}
	return 3
}

func (e *Engine) bit(name string) int { return e.st.bit(name) }

func (e *Engine) compileRule(r *rules.Rule) *crule {
	cr := &crule{r: r, meta: r.MetadataMap()}
	for _, m := range r.Matches {
		if c, ok := m.(*rules.Content); ok && c.Nocase {
			// the compiled copy holds the lower-cased pattern
			cc := *c
			cc.Pattern = lower(c.Pattern)
			m = &cc
		}
		b := m.Buf()
		k := slices.IndexFunc(cr.chains, func(c chain) bool { return c.buf == b })
		if k < 0 {
			cr.chains = append(cr.chains, chain{buf: b})
			k = len(cr.chains) - 1
		}
		cr.chains[k].m = append(cr.chains[k].m, m)
		if b == rules.BufPayload {
			cr.payload = true
		} else if !b.App() {
			cr.headers = true
		}
	}
	for _, fb := range r.Flowbits {
		c := cflowbit{cmd: fb.Cmd, or: fb.Or}
		for _, n := range fb.Names {
			c.bits = append(c.bits, e.bit(n))
		}
		if fb.Cmd == rules.FBIsSet || fb.Cmd == rules.FBIsNotSet {
			cr.reads = append(cr.reads, c)
		} else {
			cr.writes = append(cr.writes, c)
		}
	}
	for _, hb := range r.Hostbits {
		c := chostbit{cflowbit: cflowbit{cmd: hb.Cmd, or: hb.Or}, track: hb.Track, expire: int64(hb.ExpireSec) * 1e9}
		for _, n := range hb.Names {
			c.bits = append(c.bits, e.hostBit(n))
		}
		if hb.Cmd == rules.FBIsSet || hb.Cmd == rules.FBIsNotSet {
			cr.hreads = append(cr.hreads, c)
		} else {
			cr.hwrites = append(cr.hwrites, c)
		}
	}
	if r.TOS != nil || r.Fragbits != nil || r.IPOpts != 0 || r.TCPMSS != nil || len(r.VLAN) > 0 {
		cr.headers = true
	}
	packetOnly := r.Dsize != nil || r.Flags != nil || r.TTL != nil || r.TOS != nil || r.IPID != nil ||
		r.Ack != nil || r.Seq != nil || r.Window != nil || r.TCPMSS != nil || r.Fragbits != nil || r.IPOpts != 0 ||
		r.IType != nil || r.ICode != nil || r.ICMPID != nil || r.ICMPSeq != nil || r.IPProto != nil || r.SameIP ||
		len(r.VLAN) > 0 || r.ICMPv6MTU != nil || len(r.FlowPkts) > 0 || len(r.FlowBytes) > 0
	cr.streamOK = cr.payload && !cr.headers && !packetOnly && len(cr.chains) == 1 &&
		(r.Proto.L4 == 6 || r.Proto.L4 == 0) && r.Proto.Stream != rules.StreamNo && !r.Flow.NoStream
	cr.ipOnly = len(r.Matches) == 0 && !packetOnly && len(cr.reads) == 0 && len(cr.hreads) == 0 && !cr.headers &&
		r.Flow == (rules.Flow{}) && r.SrcPorts.Any && r.DstPorts.Any && len(r.StreamSize) == 0
	cr.fp = fastPattern(r)
	if hasAppGate(r) && !isAppRule(r) {
		cr.appGate = true
		cr.gateFn = func(app string) bool { return appGateOK(r, app) }
	}
	return cr
}

func lower(b []byte) []byte { return lowerInto(make([]byte, 0, len(b)), b) }

// fastPattern picks the rule's prefilter pattern: the content marked
// fast_pattern, else the longest positive payload content.
func fastPattern(r *rules.Rule) []byte {
	var best *rules.Content
	for _, m := range r.Matches {
		c, ok := m.(*rules.Content)
		if !ok || c.Buffer != rules.BufPayload || c.Negated {
			continue
		}
		if c.FastPattern {
			best = c
			break
		}
		if best == nil || len(c.Pattern) > len(best.Pattern) {
			best = c
		}
	}
	if best == nil {
		return nil
	}
	p := best.Pattern
	if best.FastPattern && best.FPChopLen > 0 {
		p = p[best.FPChopOff : best.FPChopOff+best.FPChopLen]
	}
	return lower(p)
}

// maxIndexedPorts and maxIndexedPrefixes bound how a rule without a fast
// pattern is indexed: a port set or address set larger than this goes to
// the group's always-tried list instead.
const (
	maxIndexedPorts    = 64
	maxIndexedPrefixes = 256
)

func (e *Engine) buildGroups() error {
	for g := range e.groups {
		e.groups[g] = group{byDst: map[uint16][]int32{}, bySrc: map[uint16][]int32{}, dstPat: map[uint16]*patSet{}, srcPat: map[uint16]*patSet{}}
	}
	portSet := func(m map[uint16]*patSet, p uint16) *patSet {
		ps := m[p]
		if ps == nil {
			ps = &patSet{}
			m[p] = ps
		}
		return ps
	}
	for _, cr := range e.rules {
		r := cr.r
		if isAppRule(r) {
			continue // inspected on transactions (MatchTx), never on packets
		}
		for g := range e.groups {
			if !ruleInGroup(r, g) {
				continue
			}
			gr := &e.groups[g]
			idx := cr.order
			portsApply := g == gTCP || g == gUDP
			dports, dok := r.DstPorts.Ports(maxIndexedPorts)
			sports, sok := r.SrcPorts.Ports(maxIndexedPorts)
			if cr.fp != nil {
				gr.nPattern++
				switch {
				case portsApply && dok:
					for _, p := range dports {
						portSet(gr.dstPat, p).add(cr.fp, idx)
						if r.Bidir {
							portSet(gr.srcPat, p).add(cr.fp, idx)
						}
					}
				case portsApply && sok:
					for _, p := range sports {
						portSet(gr.srcPat, p).add(cr.fp, idx)
						if r.Bidir {
							portSet(gr.dstPat, p).add(cr.fp, idx)
						}
					}
				default:
					gr.any.add(cr.fp, idx)
				}
				continue
			}
			if portsApply && dok {
				for _, p := range dports {
					gr.byDst[p] = append(gr.byDst[p], idx)
					if r.Bidir {
						gr.bySrc[p] = append(gr.bySrc[p], idx)
					}
				}
				continue
			}
			if portsApply && sok {
				for _, p := range sports {
					gr.bySrc[p] = append(gr.bySrc[p], idx)
					if r.Bidir {
						gr.byDst[p] = append(gr.byDst[p], idx)
					}
				}
				continue
			}
			if pf, ok := r.Src.Prefixes(maxIndexedPrefixes); ok {
				gr.srcAddr.add(pf, idx)
				if r.Bidir {
					gr.dstAddr.add(pf, idx)
				}
				continue
			}
			if pf, ok := r.Dst.Prefixes(maxIndexedPrefixes); ok {
				gr.dstAddr.add(pf, idx)
				if r.Bidir {
					gr.srcAddr.add(pf, idx)
				}
				continue
			}
			gr.always = append(gr.always, idx)
		}
	}
	for g := range e.groups {
		gr := &e.groups[g]
		e.nPatterns = gr.any.build(e.nPatterns)
		for _, m := range []map[uint16]*patSet{gr.dstPat, gr.srcPat} {
			for _, ps := range m {
				e.nPatterns = ps.build(e.nPatterns)
			}
		}
	}
	return nil
}

func ruleInGroup(r *rules.Rule, g int) bool {
	switch r.Proto.L4 {
	case 0:
		return true
	case decode.ProtoTCP:
		return g == gTCP
	case decode.ProtoUDP:
		return g == gUDP
	case decode.ProtoICMP, decode.ProtoICMPv6:
		return g == gICMP
	}
	return g == gOther
}

// prefixIndex finds the rules whose address set holds an address: one
// map per prefix length in use.
type prefixIndex struct {
	lens4, lens6 []int
	m            map[netip.Prefix][]int32
}

func (x *prefixIndex) add(pf []netip.Prefix, idx int32) {
	if x.m == nil {
		x.m = map[netip.Prefix][]int32{}
	}
	for _, p := range pf {
		x.m[p] = append(x.m[p], idx)
		l := &x.lens6
		if p.Addr().Is4() {
			l = &x.lens4
		}
		if !slices.Contains(*l, p.Bits()) {
			*l = append(*l, p.Bits())
		}
	}
}

func (x *prefixIndex) lookup(a netip.Addr, fn func([]int32)) {
	if x.m == nil || !a.IsValid() {
		return
	}
	a = a.Unmap()
	lens := x.lens6
	if a.Is4() {
		lens = x.lens4
	}
	for _, l := range lens {
		p, err := a.Prefix(l)
		if err != nil {
			continue
		}
		if rs, ok := x.m[p]; ok {
			fn(rs)
		}
	}
}

// MayMatch reports whether any rule could match a packet or stream of a
// flow between a:ap and b:bp over IP protocol proto, in either direction,
// whatever its payload: false means nothing is left to inspect there and
// the flow can be bypassed. It allocates nothing.
func (e *Engine) MayMatch(proto uint8, a, b netip.Addr, ap, bp uint16) bool {
	g := groupOf(proto)
	gr := &e.groups[g]
	if len(gr.any.pat) > 0 || len(gr.always) > 0 || e.mayMatchTx(proto) {
		return true
	}
	if g == gTCP || g == gUDP {
		for _, p := range [2]uint16{ap, bp} {
			if gr.dstPat[p] != nil || gr.srcPat[p] != nil || len(gr.byDst[p]) > 0 || len(gr.bySrc[p]) > 0 {
				return true
			}
		}
	}
	return gr.srcAddr.has(a) || gr.srcAddr.has(b) || gr.dstAddr.has(a) || gr.dstAddr.has(b)
}

// has reports whether some prefix of the index holds a.
func (x *prefixIndex) has(a netip.Addr) bool {
	if x.m == nil || !a.IsValid() {
		return false
	}
	a = a.Unmap()
	lens := x.lens6
	if a.Is4() {
		lens = x.lens4
	}
	for _, l := range lens {
		if p, err := a.Prefix(l); err == nil && len(x.m[p]) > 0 {
			return true
		}
	}
	return false
}

// Len is the number of rules compiled.
func (e *Engine) Len() int { return len(e.rules) }

// Stats returns the engine's counters.
// The counters are the State's: they keep counting across reloads.
func (e *Engine) Stats() Stats {
	st := e.st
	s := Stats{Packets: st.packets.Load(), Streams: st.streams.Load(), Candidates: st.candidates.Load(),
		Matches: st.matches.Load(), Alerts: st.alerts.Load(), Suppressed: st.suppressed.Load(), Transactions: st.transactions.Load(),
		FlowStates: int(st.flowStates.Load())}
	st.mu.Lock()
	s.ThresholdKeys = len(st.thresh)
	st.mu.Unlock()
	return s
}

// scratch is the per-call working memory (pooled).
type scratch struct {
	cand  []int32
	seen  []uint32 // rule -> gen when added to cand
	pseen []uint32 // engine-wide pattern id -> gen when seen by the prefilter
	gen   uint32
	low   []byte // lower-cased payload (addPktOnlyPayloadRules); the prefilter needs none
	sbuf  []byte // a stream chunk after its window
	hdr   headers
	hdrs  bool
	insp  inspector
	xf    transformer // app buffers after their transforms (MatchTx)
}

func (s *scratch) begin() {
	s.cand = s.cand[:0]
	s.gen++
	if s.gen == 0 {
		clear(s.seen)
		clear(s.pseen)
		s.gen = 1
	}
	s.hdrs = false
}

func (s *scratch) add(rs []int32) {
	for _, i := range rs {
		if s.seen[i] != s.gen {
			s.seen[i] = s.gen
			s.cand = append(s.cand, i)
		}
	}
}

// prefilter collects the candidate rules of group g for a payload (or
// stream chunk) and addresses and ports.
func (e *Engine) prefilter(s *scratch, g int, data []byte, src, dst netip.Addr, sport, dport uint16) {
	gr := &e.groups[g]
	ports := g == gTCP || g == gUDP
	if len(data) > 0 && gr.nPattern > 0 {
		gr.any.scan(s, data)
		if ports {
			gr.dstPat[dport].scan(s, data)
			if sport != dport {
				gr.srcPat[sport].scan(s, data)
			}
		}
	}
	if ports {
		s.add(gr.byDst[dport])
		if sport != dport {
			s.add(gr.bySrc[sport])
		}
	}
	gr.srcAddr.lookup(src, s.add)
	gr.dstAddr.lookup(dst, s.add)
	s.add(gr.always)
	slices.Sort(s.cand)
}
