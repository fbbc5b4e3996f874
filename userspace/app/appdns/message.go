// Package appdns parses DNS messages over UDP and TCP for the IDS: the
// header, questions and resource records, rendered as Suricata renders
// them (names dotted without the trailing dot, addresses as text), the
// sticky buffers of Suricata's DNS keywords, and the EVE "dns" record in
// Suricata 8's version 3 format.
//
// Wire decoding is golang.org/x/net/dns/dnsmessage, which follows
// compression pointers and refuses loops (more than 10 pointers in a name).
// The package imports only xdpids/userspace/app/evetext. A Message reuses its slices:
// parsing a typical message allocates nothing once they reached their size.
package appdns

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// Bounds on what one message keeps. A message that declares more keeps the
// first ones and records the cut (Message.Cut).
const (
	MaxQueries = 32  // questions kept
	MaxRecords = 128 // resource records kept per section
	// MaxMessage is the largest DNS message (a TCP length prefix is 16 bits;
	// a UDP datagram cannot carry more).
	MaxMessage = 65535
)

// Events are Suricata's DNS app-layer events (app-layer-event:dns.<name>)
// that a message can raise by itself.
type Events uint16

// The events. NotRequest and NotResponse depend on the direction: see
// DirectionEvents.
const (
	MalformedData      Events = 1 << iota // malformed_data: header, a question or an answer does not parse
	NotRequest                            // not_request: a response to the server
	NotResponse                           // not_response: a request to the client
	ZFlagSet                              // z_flag_set: the reserved Z bit is set
	InvalidOpcode                         // invalid_opcode: an opcode no RFC assigns
	NameTooLong                           // name_too_long: a name over 255 bytes
	InfiniteLoop                          // infinite_loop: a name's pointers loop
	TooManyLabels                         // too_many_labels: (not raised: a name over 255 bytes has at most 127 labels, NameTooLong fires first)
	InvalidAdditionals                    // invalid_additionals: the additional section does not parse
	InvalidAuthorities                    // invalid_authorities: the authority section does not parse
)

var eventNames = [...]string{
	"malformed_data", "not_request", "not_response", "z_flag_set",
	"invalid_opcode", "name_too_long", "infinite_loop", "too_many_labels",
	"invalid_additionals", "invalid_authorities",
}

// ParseEvent returns the event an app-layer-event:dns.<name> rule names.
func ParseEvent(name string) (Events, bool) {
	for i, n := range eventNames {
		if n == name {
			return 1 << i, true
		}
	}
	return 0, false
}

// Cut records a bound a message exceeded.
type Cut uint8

// The cuts.
const (
	CutQueries     Cut = 1 << iota // more than MaxQueries questions
	CutAnswers                     // more than MaxRecords answers
	CutAuthorities                 // more than MaxRecords authorities
	CutAdditionals                 // more than MaxRecords additionals
)

// Question is one entry of the question section. Name is the name as in
// the packet, dotted, without the trailing dot ("" for the root); it points
// into the Message and is valid until its next Parse.
type Question struct {
	Name  []byte
	Type  uint16
	Class uint16
}

// RR is one resource record. Data is the rdata as Suricata renders it:
// A and AAAA addresses as text, CNAME, PTR, NS and MX the target name, TXT
// one string (a TXT record with several strings makes one RR each, as
// Suricata logs them), NULL the raw bytes; nil for other types. SOA and SRV
// are kept in their fields (HasSOA, HasSRV).
type RR struct {
	Name  []byte
	Type  uint16
	Class uint16
	TTL   uint32
	Data  []byte

	HasSOA bool
	SOA    SOA
	HasSRV bool
	SRV    SRV
}

// SOA is an SOA record's data.
type SOA struct {
	MName, RName                            []byte
	Serial, Refresh, Retry, Expire, Minimum uint32
}

// SRV is an SRV record's data.
type SRV struct {
	Priority, Weight, Port uint16
	Target                 []byte
}

// Message is a parsed DNS message.
type Message struct {
	ID       uint16
	Flags    uint16 // the header's second 16 bits as sent
	Response bool   // QR
	Opcode   uint8
	Rcode    uint8

	Queries     []Question
	Answers     []RR
	Authorities []RR
	Additionals []RR // names and types only (OPT and the rest are not rendered)
	// Counts as the header declares them.
	QDCount, ANCount, NSCount, ARCount uint16

	Events Events
	Cut    Cut

	// arena holds every name and rendered rdata of the message; Question,
	// RR and SOA/SRV slices are set from the spans once parsing is done,
	// because appending may move arena (and the record slices).
	arena []byte
	spans []span
	// p is the decoder, kept here so it does not escape per Parse.
	p dnsmessage.Parser
}

// span is a slice of arena being built: which field of which entry it
// becomes, and its bounds.
type span struct {
	sec, field uint8
	idx        int32
	start, end int32
}

// Sections and fields a span fills.
const (
	secQ uint8 = iota
	secAN
	secNS
	secAR
)

const (
	fName uint8 = iota
	fData
	fMName
	fRName
	fTarget
)

// Header bit accessors.
func (m *Message) AA() bool { return m.Flags&0x0400 != 0 }
func (m *Message) TC() bool { return m.Flags&0x0200 != 0 }
func (m *Message) RD() bool { return m.Flags&0x0100 != 0 }
func (m *Message) RA() bool { return m.Flags&0x0080 != 0 }
func (m *Message) Z() bool  { return m.Flags&0x0040 != 0 }

// DirectionEvents returns m's events for the direction it travelled:
// NotRequest for a response sent to the server, NotResponse for a request
// sent to the client.
func (m *Message) DirectionEvents(toServer bool) Events {
	e := m.Events
	if toServer && m.Response {
		e |= NotRequest
	}
	if !toServer && !m.Response {
		e |= NotResponse
	}
	return e
}

// ErrMalformed is wrapped by every error Parse returns.
var ErrMalformed = errors.New("malformed dns message")

// Reset empties m, keeping its storage.
func (m *Message) Reset() {
	*m = Message{
		Queries:     m.Queries[:0],
		Answers:     m.Answers[:0],
		Authorities: m.Authorities[:0],
		Additionals: m.Additionals[:0],
		arena:       m.arena[:0],
		spans:       m.spans[:0],
	}
}

// Parse decodes b into m, reusing m's storage. On an error m holds what
// parsed before it (at least the header unless b is shorter than one) and
// Events says what was wrong; Suricata does not log such a message.
// Authority and additional sections that do not parse raise
// InvalidAuthorities or InvalidAdditionals but are no error: the questions
// and answers stand.
func (m *Message) Parse(b []byte) error {
	m.Reset()
	if len(b) > MaxMessage {
		b = b[:MaxMessage]
	}
	p := &m.p
	h, err := p.Start(b)
	if err != nil {
		m.Events |= MalformedData
		return fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	m.ID = h.ID
	m.Flags = uint16(b[2])<<8 | uint16(b[3])
	m.Response = h.Response
	m.Opcode = uint8(h.OpCode)
	m.Rcode = uint8(m.Flags & 0xf)
	m.QDCount = uint16(b[4])<<8 | uint16(b[5])
	m.ANCount = uint16(b[6])<<8 | uint16(b[7])
	m.NSCount = uint16(b[8])<<8 | uint16(b[9])
	m.ARCount = uint16(b[10])<<8 | uint16(b[11])
	if m.Z() {
		m.Events |= ZFlagSet
	}
	switch m.Opcode {
	case 0, 1, 2, 4, 5, 6: // query, iquery, status, notify, update, DSO
	default:
		m.Events |= InvalidOpcode
	}
	defer m.fix()

	for {
		q, err := p.Question()
		if errors.Is(err, dnsmessage.ErrSectionDone) {
			break
		}
		if err != nil {
			m.nameEvent(err)
			return fmt.Errorf("%w: question %d: %w", ErrMalformed, len(m.Queries), err)
		}
		if len(m.Queries) == MaxQueries {
			m.Cut |= CutQueries
			continue
		}
		m.Queries = append(m.Queries, Question{Type: uint16(q.Type), Class: uint16(q.Class)})
		m.name(secQ, len(m.Queries)-1, fName, &q.Name)
	}
	// Sections the header declares empty are not walked (dnsmessage would
	// only confirm they are done): the common query stops here.
	if m.ANCount|m.NSCount|m.ARCount == 0 {
		return nil
	}
	if err := m.section(p, secAN, CutAnswers, (*dnsmessage.Parser).AnswerHeader, (*dnsmessage.Parser).SkipAnswer); err != nil {
		m.nameEvent(err)
		return fmt.Errorf("%w: answer %d: %w", ErrMalformed, len(m.Answers), err)
	}
	if m.NSCount|m.ARCount == 0 {
		return nil
	}
	if err := m.section(p, secNS, CutAuthorities, (*dnsmessage.Parser).AuthorityHeader, (*dnsmessage.Parser).SkipAuthority); err != nil {
		m.nameEvent(err)
		m.Events |= InvalidAuthorities
		return nil
	}
	if m.ARCount == 0 {
		return nil
	}
	if err := m.section(p, secAR, CutAdditionals, (*dnsmessage.Parser).AdditionalHeader, (*dnsmessage.Parser).SkipAdditional); err != nil {
		m.nameEvent(err)
		m.Events |= InvalidAdditionals
	}
	return nil
}

// nameEvent classifies a decoding error as Suricata's events do.
// dnsmessage does not export its errors and wraps them with the section:
// the message text is all there is to go by.
func (m *Message) nameEvent(err error) {
	switch s := err.Error(); {
	case strings.HasSuffix(s, "too many pointers (>10)"):
		m.Events |= InfiniteLoop
	case strings.HasSuffix(s, "name too long"):
		m.Events |= NameTooLong
	}
	m.Events |= MalformedData
}

// fix points every span's field into the final arena.
func (m *Message) fix() {
	for _, s := range m.spans {
		b := m.arena[s.start:s.end:s.end]
		if s.sec == secQ {
			m.Queries[s.idx].Name = b
			continue
		}
		var r *RR
		switch s.sec {
		case secAN:
			r = &m.Answers[s.idx]
		case secNS:
			r = &m.Authorities[s.idx]
		default:
			r = &m.Additionals[s.idx]
		}
		switch s.field {
		case fName:
			r.Name = b
		case fData:
			r.Data = b
		case fMName:
			r.SOA.MName = b
		case fRName:
			r.SOA.RName = b
		case fTarget:
			r.SRV.Target = b
		}
	}
	m.spans = m.spans[:0]
}

// name appends n, rendered as Suricata renders names (dotted, no trailing
// dot, "" for the root), to the arena for a field.
func (m *Message) name(sec uint8, idx int, field uint8, n *dnsmessage.Name) {
	d := n.Data[:n.Length]
	if len(d) > 0 && d[len(d)-1] == '.' {
		d = d[:len(d)-1] // dnsmessage writes the root label; Suricata does not
	}
	m.bytes(sec, idx, field, d)
}

func (m *Message) bytes(sec uint8, idx int, field uint8, d []byte) {
	start := len(m.arena)
	m.arena = append(m.arena, d...)
	m.span(sec, idx, field, start)
}

func (m *Message) span(sec uint8, idx int, field uint8, start int) {
	m.spans = append(m.spans, span{sec: sec, field: field, idx: int32(idx), start: int32(start), end: int32(len(m.arena))})
}
