package appdns

import (
	"encoding/json"
	"errors"
	"github.com/xdpids/xdpids/internal/testenv"
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

func mustName(s string) dnsmessage.Name { return dnsmessage.MustNewName(s) }

// build packs a message with dnsmessage's builder (compression on).
func build(t testing.TB, h dnsmessage.Header, qs []dnsmessage.Question, an, ns, ar []dnsmessage.Resource) []byte {
	t.Helper()
	m := dnsmessage.Message{Header: h, Questions: qs, Answers: an, Authorities: ns, Additionals: ar}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rr(name string, ttl uint32, body dnsmessage.ResourceBody) dnsmessage.Resource {
	return dnsmessage.Resource{Header: dnsmessage.ResourceHeader{Name: mustName(name), Class: dnsmessage.ClassINET, TTL: ttl}, Body: body}
}

func query(t testing.TB) []byte {
	return build(t, dnsmessage.Header{ID: 0x1234, RecursionDesired: true},
		[]dnsmessage.Question{{Name: mustName("www.example.com."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}}, nil, nil, nil)
}

func response(t testing.TB) []byte {
	return build(t, dnsmessage.Header{ID: 0x1234, Response: true, RecursionDesired: true, RecursionAvailable: true},
		[]dnsmessage.Question{{Name: mustName("www.example.com."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}},
		[]dnsmessage.Resource{
			rr("www.example.com.", 3597, &dnsmessage.CNAMEResource{CNAME: mustName("example.com.")}),
			rr("example.com.", 597, &dnsmessage.AResource{A: [4]byte{192, 0, 2, 44}}),
			rr("example.com.", 597, &dnsmessage.AAAAResource{AAAA: [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}}),
		},
		[]dnsmessage.Resource{
			rr("example.com.", 3600, &dnsmessage.SOAResource{NS: mustName("ns1.example.com."), MBox: mustName("hostmaster.example.com."), Serial: 2026120101, Refresh: 7200, Retry: 900, Expire: 1209600, MinTTL: 300}),
		},
		[]dnsmessage.Resource{
			{Header: dnsmessage.ResourceHeader{Name: mustName("."), Class: 1232}, Body: &dnsmessage.OPTResource{}},
		})
}

func TestParseQuery(t *testing.T) {
	var m Message
	if err := m.Parse(query(t)); err != nil {
		t.Fatal(err)
	}
	if m.ID != 0x1234 || m.Response || !m.RD() || m.Opcode != 0 || len(m.Queries) != 1 {
		t.Fatalf("%+v", m)
	}
	q := m.Queries[0]
	if string(q.Name) != "www.example.com" || q.Type != 1 || q.Class != 1 {
		t.Errorf("question %q %d %d", q.Name, q.Type, q.Class)
	}
	for _, b := range []Buf{Query, QueryName, QueriesRRName} {
		if got, ok := m.Buffer(b, 0); !ok || string(got) != "www.example.com" {
			t.Errorf("buffer %d: %q %v", b, got, ok)
		}
		if _, ok := m.Buffer(b, 1); ok {
			t.Errorf("buffer %d has a second instance", b)
		}
	}
	if _, ok := m.Buffer(ResponseRRName, 0); ok {
		t.Error("dns.response.rrname on a request")
	}
	var r Record
	m.Record(&r)
	b, _ := json.Marshal(&r)
	// Suricata 8's documented request record (8.0-dns-logging-changes).
	want := `{"version":3,"type":"request","tx_id":0,"id":4660,"flags":"100","rd":true,"opcode":0,"rcode":"NOERROR","queries":[{"rrname":"www.example.com","rrtype":"A"}]}`
	if string(b) != want {
		t.Errorf("record\n got %s\nwant %s", b, want)
	}
}

func TestParseResponse(t *testing.T) {
	var m Message
	if err := m.Parse(response(t)); err != nil {
		t.Fatal(err)
	}
	if !m.Response || !m.RA() || m.Events != 0 || m.Cut != 0 {
		t.Fatalf("%+v", m)
	}
	if _, ok := m.Buffer(Query, 0); ok {
		t.Error("dns.query on a response")
	}
	if got, _ := m.Buffer(QueriesRRName, 0); string(got) != "www.example.com" {
		t.Errorf("queries.rrname %q", got)
	}
	var names []string
	for i := 0; ; i++ {
		b, ok := m.Buffer(ResponseRRName, i)
		if !ok {
			break
		}
		names = append(names, string(b))
	}
	if got := strings.Join(names, ","); got != "www.example.com,www.example.com,example.com,example.com,example.com,,example.com,ns1.example.com,hostmaster.example.com" {
		t.Errorf("response.rrname %s", got)
	}
	if got, ok := m.Buffer(AdditionalsRRName, 0); !ok || len(got) != 0 {
		t.Errorf("additionals.rrname %q %v (OPT's name is the root)", got, ok)
	}
	var r Record
	m.Record(&r)
	b, _ := json.Marshal(&r)
	want := `{"version":3,"type":"response","tx_id":0,"id":4660,"flags":"8180","qr":true,"rd":true,"ra":true,"opcode":0,"rcode":"NOERROR",` +
		`"queries":[{"rrname":"www.example.com","rrtype":"A"}],` +
		`"answers":[{"rrname":"www.example.com","rrtype":"CNAME","ttl":3597,"rdata":"example.com"},` +
		`{"rrname":"example.com","rrtype":"A","ttl":597,"rdata":"192.0.2.44"},` +
		`{"rrname":"example.com","rrtype":"AAAA","ttl":597,"rdata":"2001:0db8:0000:0000:0000:0000:0000:0001"}],` +
		`"authorities":[{"rrname":"example.com","rrtype":"SOA","ttl":3600,"soa":{"mname":"ns1.example.com","rname":"hostmaster.example.com","serial":2026120101,"refresh":7200,"retry":900,"expire":1209600,"minimum":300}}]}`
	if string(b) != want {
		t.Errorf("record\n got %s\nwant %s", b, want)
	}
}

func TestParseTypes(t *testing.T) {
	b := build(t, dnsmessage.Header{ID: 7, Response: true, Authoritative: true, RCode: dnsmessage.RCodeNameError},
		[]dnsmessage.Question{{Name: mustName("_sip._tcp.example.org."), Type: dnsmessage.TypeSRV, Class: dnsmessage.ClassINET}},
		[]dnsmessage.Resource{
			rr("_sip._tcp.example.org.", 60, &dnsmessage.SRVResource{Priority: 10, Weight: 20, Port: 5060, Target: mustName("sip.example.org.")}),
			rr("example.org.", 60, &dnsmessage.MXResource{Pref: 10, MX: mustName("mx.example.org.")}),
			rr("example.org.", 60, &dnsmessage.TXTResource{TXT: []string{"v=spf1 -all", "second"}}),
			rr("1.2.0.192.in-addr.arpa.", 60, &dnsmessage.PTRResource{PTR: mustName("host.example.org.")}),
			rr("example.org.", 60, &dnsmessage.NSResource{NS: mustName("ns.example.org.")}),
			rr("example.org.", 60, &dnsmessage.UnknownResource{Type: 65, Data: []byte{0, 1, 0}}),
		}, nil, nil)
	var m Message
	if err := m.Parse(b); err != nil {
		t.Fatal(err)
	}
	if m.Rcode != 3 || !m.AA() {
		t.Errorf("rcode %d aa %v", m.Rcode, m.AA())
	}
	var r Record
	m.Record(&r)
	got, _ := json.Marshal(r.Answers)
	want := `[{"rrname":"_sip._tcp.example.org","rrtype":"SRV","ttl":60,"srv":{"priority":10,"weight":20,"port":5060,"name":"sip.example.org"}},` +
		`{"rrname":"example.org","rrtype":"MX","ttl":60,"rdata":"mx.example.org"},` +
		`{"rrname":"example.org","rrtype":"TXT","ttl":60,"rdata":"v=spf1 -all"},` +
		`{"rrname":"example.org","rrtype":"TXT","ttl":60,"rdata":"second"},` +
		`{"rrname":"1.2.0.192.in-addr.arpa","rrtype":"PTR","ttl":60,"rdata":"host.example.org"},` +
		`{"rrname":"example.org","rrtype":"NS","ttl":60,"rdata":"ns.example.org"},` +
		`{"rrname":"example.org","rrtype":"65","ttl":60}]`
	if string(got) != want {
		t.Errorf("answers\n got %s\nwant %s", got, want)
	}
	if r.Rcode != "NXDOMAIN" {
		t.Errorf("rcode %s", r.Rcode)
	}
}

// Hand-built messages for what a builder refuses to write.
func header(id uint16, flags uint16, qd, an uint16) []byte {
	return []byte{byte(id >> 8), byte(id), byte(flags >> 8), byte(flags), byte(qd >> 8), byte(qd), byte(an >> 8), byte(an), 0, 0, 0, 0}
}

func TestCompression(t *testing.T) {
	// A question whose name is a pointer to itself.
	self := append(header(1, 0x0100, 1, 0), 0xc0, 12, 0, 1, 0, 1)
	// Two pointers pointing at each other.
	pair := append(header(1, 0x0100, 1, 0), 0xc0, 14, 0xc0, 12, 0, 1, 0, 1)
	// A forward pointer (allowed: Suricata 8 accepts it, dns-forward-pointer).
	fwd := append(header(1, 0x0100, 1, 0), 0xc0, 18, 0, 1, 0, 1, 3, 'f', 'o', 'o', 0)
	var m Message
	for name, b := range map[string][]byte{"self": self, "pair": pair} {
		err := m.Parse(b)
		if !errors.Is(err, ErrMalformed) || m.Events&InfiniteLoop == 0 || m.Events&MalformedData == 0 {
			t.Errorf("%s: err %v events %b", name, err, m.Events)
		}
	}
	if err := m.Parse(fwd); err != nil || string(m.Queries[0].Name) != "foo" {
		t.Errorf("forward pointer: %v %+v", err, m.Queries)
	}
	// A pointer past the end, a reserved label type, a long name.
	past := append(header(1, 0x0100, 1, 0), 0xc0, 200, 0, 1, 0, 1)
	reserved := append(header(1, 0x0100, 1, 0), 0x80, 0, 0, 1, 0, 1)
	long := header(1, 0x0100, 1, 0)
	for i := 0; i < 5; i++ {
		long = append(long, 63)
		long = append(long, strings.Repeat("a", 63)...)
	}
	long = append(long, 0, 0, 1, 0, 1)
	for name, tc := range map[string]struct {
		b    []byte
		want Events
	}{"past": {past, MalformedData}, "reserved": {reserved, MalformedData}, "long": {long, MalformedData | NameTooLong}} {
		if err := m.Parse(tc.b); err == nil || m.Events != tc.want {
			t.Errorf("%s: err %v events %b", name, err, m.Events)
		}
	}
}

func TestEvents(t *testing.T) {
	var m Message
	// Z bit and opcode 3 (unassigned).
	b := append(header(9, 0x0100|0x0040|3<<11, 1, 0), 1, 'a', 0, 0, 1, 0, 1)
	if err := m.Parse(b); err != nil {
		t.Fatal(err)
	}
	if m.Events != ZFlagSet|InvalidOpcode || !m.Z() {
		t.Errorf("events %b", m.Events)
	}
	if m.DirectionEvents(false)&NotResponse == 0 || m.DirectionEvents(true)&NotRequest != 0 {
		t.Error("direction events")
	}
	// Truncated authority section: questions and answers stand.
	resp := response(t)
	var full Message
	if err := full.Parse(resp); err != nil {
		t.Fatal(err)
	}
	cut := resp[:len(resp)-11-10] // into the SOA record
	if err := m.Parse(cut); err != nil || m.Events&InvalidAuthorities == 0 || len(m.Answers) != 3 {
		t.Errorf("cut authorities: %v events %b answers %d", err, m.Events, len(m.Answers))
	}
	// Truncated answers: an error.
	if err := m.Parse(resp[:60]); err == nil {
		t.Error("truncated answers parsed")
	}
	// Too short for a header.
	if err := m.Parse(resp[:5]); err == nil || m.Events != MalformedData {
		t.Error("short header")
	}
	for _, n := range []string{"malformed_data", "z_flag_set", "invalid_authorities"} {
		if _, ok := ParseEvent(n); !ok {
			t.Errorf("ParseEvent(%s)", n)
		}
	}
}

func TestBounds(t *testing.T) {
	b := header(1, 0x0100, MaxQueries+8, 0)
	for i := 0; i < MaxQueries+8; i++ {
		b = append(b, 1, 'a'+byte(i%26), 0, 0, 1, 0, 1)
	}
	var m Message
	if err := m.Parse(b); err != nil {
		t.Fatal(err)
	}
	if len(m.Queries) != MaxQueries || m.Cut != CutQueries {
		t.Errorf("%d queries, cut %b", len(m.Queries), m.Cut)
	}
}

func TestRcode(t *testing.T) {
	for s, want := range map[string]uint8{"NXDOMAIN": 3, "nxdomain": 3, "noerror": 0, "15": 15} {
		if v, ok := ParseRcode(s); !ok || v != want {
			t.Errorf("ParseRcode(%s) = %d %v", s, v, ok)
		}
	}
	if _, ok := ParseRcode("16"); ok {
		t.Error("rcode 16 accepted")
	}
	if RcodeName(12) != "12" || TypeName(65) != "65" || TypeName(28) != "AAAA" {
		t.Error("names")
	}
}

// TestParseAllocs: steady state, typical query and response, no allocation.
func TestParseAllocs(t *testing.T) {
	q, r := query(t), response(t)
	var m Message
	m.Parse(r)
	if n := testing.AllocsPerRun(200, func() {
		m.Parse(q)
		m.Parse(r)
		m.Buffer(Query, 0)
	}); n != 0 {
		t.Errorf("%v allocs per query+response", n)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(query(f))
	f.Add(response(f))
	f.Add(append(header(1, 0x0100, 1, 0), 0xc0, 12, 0, 1, 0, 1))
	for _, p := range testenv.CorpusPayloads(f, "suricata-verify-app", testenv.Golden("app_dns.pcap"), testenv.Ports(53), testenv.UDPOnly()) {
		f.Add(p.Data)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		err := m.Parse(b)
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("unwrapped error %v", err)
		}
		if len(m.Queries) > MaxQueries || len(m.Answers) > MaxRecords || len(m.Authorities) > MaxRecords || len(m.Additionals) > MaxRecords {
			t.Fatal("over bounds")
		}
		for _, q := range m.Queries {
			if len(q.Name) > 254 {
				t.Fatalf("name of %d bytes", len(q.Name))
			}
		}
		for bf := Query; bf < numBufs; bf++ {
			for i := 0; i < 1000; i++ {
				if _, ok := m.Buffer(bf, i); !ok {
					break
				}
			}
		}
		var r Record
		m.Record(&r)
		if _, err := json.Marshal(&r); err != nil {
			t.Fatal(err)
		}
		// Reuse gives the same result as a fresh message.
		var again Message
		again.Parse(b)
		m.Parse(b)
		var r2 Record
		again.Record(&r2)
		m.Record(&r)
		j1, _ := json.Marshal(&r)
		j2, _ := json.Marshal(&r2)
		if string(j1) != string(j2) {
			t.Fatalf("reuse differs:\n%s\n%s", j1, j2)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	q, r := query(b), response(b)
	var m Message
	b.ReportAllocs()
	b.SetBytes(int64(len(q) + len(r)))
	for b.Loop() {
		m.Parse(q)
		m.Parse(r)
	}
}

func BenchmarkRecord(b *testing.B) {
	var m Message
	m.Parse(response(b))
	var r Record
	b.ReportAllocs()
	for b.Loop() {
		m.Record(&r)
	}
}

// BenchmarkParseQuery: the most common message, one A question.
func BenchmarkParseQuery(b *testing.B) {
	q := query(b)
	var m Message
	b.ReportAllocs()
	b.SetBytes(int64(len(q)))
	for b.Loop() {
		m.Parse(q)
	}
}
