package appdns

// Buf names a sticky buffer of Suricata's DNS keywords. All are
// multi-buffers: one instance per name, indexed from 0.
type Buf uint8

// The DNS buffers.
const (
	// Query is dns.query (legacy dns_query): each question name, in
	// requests only.
	Query Buf = iota
	// QueryName is dns.query.name and QueriesRRName dns.queries.rrname
	// (Suricata 8): each question name, requests and responses.
	QueryName
	QueriesRRName
	// AnswerName is dns.answer.name and AnswersRRName dns.answers.rrname:
	// each answer's owner name.
	AnswerName
	AnswersRRName
	// AuthoritiesRRName is dns.authorities.rrname, AdditionalsRRName
	// dns.additionals.rrname: each record's owner name in those sections.
	AuthoritiesRRName
	AdditionalsRRName
	// ResponseRRName is dns.response.rrname (Suricata 9): in responses,
	// every question and record name, then the names the records point
	// to (CNAME, PTR, MX, NS targets, SOA mname and rname, SRV target).
	ResponseRRName
	numBufs
)

var bufNames = map[string]Buf{
	"dns.query":              Query,
	"dns_query":              Query,
	"dns.query.name":         QueryName,
	"dns.queries.rrname":     QueriesRRName,
	"dns.answer.name":        AnswerName,
	"dns.answers.rrname":     AnswersRRName,
	"dns.authorities.rrname": AuthoritiesRRName,
	"dns.additionals.rrname": AdditionalsRRName,
	"dns.response.rrname":    ResponseRRName,
}

// ParseBuf returns the buffer a rule keyword names.
func ParseBuf(keyword string) (Buf, bool) {
	b, ok := bufNames[keyword]
	return b, ok
}

// Buffer returns instance i of buffer b, and false past the last one (the
// multi-buffer iteration ends there). An empty name (the root) is an
// instance of length 0, so iteration does not stop at it. The slice is m's:
// valid until the next Parse.
func (m *Message) Buffer(b Buf, i int) ([]byte, bool) {
	if i < 0 {
		return nil, false
	}
	switch b {
	case Query:
		if m.Response {
			return nil, false
		}
		fallthrough
	case QueryName, QueriesRRName:
		if i < len(m.Queries) {
			return m.Queries[i].Name, true
		}
	case AnswerName, AnswersRRName:
		return rrName(m.Answers, i)
	case AuthoritiesRRName:
		return rrName(m.Authorities, i)
	case AdditionalsRRName:
		return rrName(m.Additionals, i)
	case ResponseRRName:
		if !m.Response {
			return nil, false
		}
		return m.responseName(i)
	}
	return nil, false
}

func rrName(rrs []RR, i int) ([]byte, bool) {
	if i < len(rrs) {
		return rrs[i].Name, true
	}
	return nil, false
}

// responseName walks the names of a response without building a list.
func (m *Message) responseName(i int) ([]byte, bool) {
	if i < len(m.Queries) {
		return m.Queries[i].Name, true
	}
	i -= len(m.Queries)
	for _, sec := range [...][]RR{m.Answers, m.Authorities, m.Additionals} {
		if i < len(sec) {
			return sec[i].Name, true
		}
		i -= len(sec)
	}
	for _, sec := range [...][]RR{m.Answers, m.Authorities, m.Additionals} {
		for j := range sec {
			r := &sec[j]
			var names [2][]byte
			n := 0
			switch {
			case r.HasSOA:
				names[0], names[1], n = r.SOA.MName, r.SOA.RName, 2
			case r.HasSRV:
				names[0], n = r.SRV.Target, 1
			case r.Type == 5 || r.Type == 12 || r.Type == 15 || r.Type == 2: // CNAME, PTR, MX, NS
				names[0], n = r.Data, 1
			}
			if i < n {
				return names[i], true
			}
			i -= n
		}
	}
	return nil, false
}

// Numeric values for the integer keywords.

// OpcodeValue is the value dns.opcode compares.
func (m *Message) OpcodeValue() uint8 { return m.Opcode }

// RcodeValue is the value dns.rcode compares (the header's 4 bits).
func (m *Message) RcodeValue() uint8 { return m.Rcode }

// RRTypes returns instance i of the record types dns.rrtype compares: in a
// request the question types, in a response the answer types, as Suricata
// inspects them (suricata-verify dns-rrtype-index: dns.rrtype:1,0 and
// 1,all match 3 of its 4 responses, 1,-1 all 4, because one response
// answers CNAME then A). The multi-integer index selects among them.
func (m *Message) RRTypes(i int) (uint16, bool) {
	if i < 0 {
		return 0, false
	}
	if !m.Response {
		if i < len(m.Queries) {
			return m.Queries[i].Type, true
		}
		return 0, false
	}
	if i < len(m.Answers) {
		return m.Answers[i].Type, true
	}
	return 0, false
}
