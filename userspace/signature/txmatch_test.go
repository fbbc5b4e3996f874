package signature

import (
	"github.com/xdpids/xdpids/internal/testenv"
	"regexp"
	"slices"
	"testing"

	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/signature/rules"
)

// txData is a transaction held in maps: the buffers of each side by
// name (several items for a multi-buffer) and the field values.
type txData struct {
	req, resp map[string][]string
	fields    map[rules.Field][]uint64
}

func (d *txData) Buffer(b rules.Buffer, toServer bool, i int) ([]byte, bool) {
	m := d.resp
	if toServer {
		m = d.req
	}
	items := m[b.String()]
	if i >= len(items) {
		return nil, false
	}
	return []byte(items[i]), true
}

func (d *txData) Field(f rules.Field, i int) (uint64, bool) {
	v := d.fields[f]
	if i >= len(v) {
		return 0, false
	}
	return v[i], true
}

type httpRecord struct{ URL string }

// txRun matches one side of a transaction on the harness's last flow.
func (h *harness) txRun(in TxInput) []uint32 {
	h.t.Helper()
	f := h.lastFlow(h.t.(*testing.T))
	in.F, in.TsNs = f, h.ts
	var sids []uint32
	h.eng.MatchTx(&in, func(a *alert.Alert) {
		h.got = append(h.got, *a)
		sids = append(sids, a.SID)
	})
	slices.Sort(sids)
	return sids
}

func TestMatchTxHTTP(t *testing.T) {
	const c, s = "192.0.2.1", "198.51.100.2"
	h := newHarness(t, `
alert http any any -> any any (msg:"uri"; flow:established,to_server; http.uri; content:"/evil"; startswith; sid:1;)
alert http any any -> any any (msg:"legacy"; content:"GET"; http_method; content:"evil"; http_uri; pcre:"/^Mozilla/V"; sid:2;)
alert http any any -> any any (msg:"mixed"; http.uri; content:"/evil"; http.stat_code; content:"404"; sid:3;)
alert http any any -> any any (msg:"header either side"; http.header; content:"X-Bad|3a|"; sid:4;)
alert http any any -> any any (msg:"body"; flow:to_client; file_data; content:"payload"; sid:5;)
alert http any any -> any any (msg:"urilen"; urilen:>100; sid:6;)
alert tcp any any -> any any (msg:"packet rule"; content:"evil"; sid:7;)
alert http any any -> any any (msg:"transform"; http.uri; to_uppercase; content:"/EVIL"; sid:8;)
alert dns any any -> any any (msg:"dns"; dns.query; content:"evil"; sid:9;)
`, Options{})
	h.handshake(c, s, 40000, 8080)
	tx := &txData{
		req:  map[string][]string{"http.uri": {"/evil.php"}, "http.method": {"GET"}, "http.user_agent": {"Mozilla/5.0"}, "http.header": {"Host: x\r\nX-Bad: 1\r\n"}},
		resp: map[string][]string{"http.stat_code": {"404"}, "http.header": {"Server: y\r\n"}, "file.data": {"the payload"}},
	}
	rec := &httpRecord{URL: "/evil.php"}
	if got := h.txRun(TxInput{ToServer: true, App: "http", Src: tx, Record: rec}); !slices.Equal(got, []uint32{1, 2, 4, 8}) {
		t.Errorf("request alerts %v, want [1 2 4 8]", got)
	}
	a := h.got[0]
	if a.AppProto != "http" || a.App != rec || a.Src.String() != c || a.DstPort != 8080 {
		t.Errorf("alert app %q %v from %v to port %d", a.AppProto, a.App, a.Src, a.DstPort)
	}
	if got := h.txRun(TxInput{ToServer: false, App: "http", Src: tx, Record: rec}); !slices.Equal(got, []uint32{3, 5}) {
		t.Errorf("response alerts %v, want [3 5]", got)
	}
	// the same buffers on a flow detected as another protocol: nothing
	if got := h.txRun(TxInput{ToServer: true, App: "tls", Src: tx}); len(got) != 0 {
		t.Errorf("http rules on a tls flow: %v", got)
	}
	// app rules never run on packets
	if got := h.send(frame(t, pkt{src: c, dst: s, sport: 40000, dport: 8080, flags: "PA", seq: 101, ack: 501, payload: "GET /evil.php HTTP/1.1\r\n\r\n"})); !slices.Equal(got, []uint32{7}) {
		t.Errorf("packet alerts %v, want [7]", got)
	}
}

func TestMatchTxDNSAndTLS(t *testing.T) {
	const c, s = "192.0.2.1", "198.51.100.2"
	h := newHarness(t, `
alert dns any any -> any any (msg:"query"; dns.query; dotprefix; content:".example.com"; endswith; sid:1;)
alert dns any any -> any any (msg:"nxdomain"; dns.rcode:3; sid:2;)
alert dns any any -> any any (msg:"aaaa"; dns.rrtype:AAAA; dns.opcode:0; sid:3;)
alert tls any any -> any any (msg:"sni"; tls.sni; content:"bad.test"; bsize:8; sid:4;)
alert tls any any -> any any (msg:"old"; ssl_version:sslv3,tls1.0; sid:5;)
alert tls any any -> any any (msg:"certs"; tls.certs; content:"EVILCA"; sid:6;)
alert tls any any -> any any (msg:"expired"; tls_cert_expired; sid:7;)
alert tcp any any -> any any (msg:"not tls"; app-layer-protocol:!tls; sid:8;)
alert tcp any any -> any any (msg:"is tls"; flow:to_server; app-layer-protocol:tls; sid:9;)
alert tls any any -> any any (msg:"tls with payload keywords"; content:"NOT-IN-PACKET"; byte_test:1,=,7,0; sid:10;)
`, Options{})
	h.handshake(c, s, 40000, 443)
	dns := &txData{
		req:    map[string][]string{"dns.query": {"other.org", "www.example.com"}},
		fields: map[rules.Field][]uint64{rules.FieldDNSRRType: {1, 28}, rules.FieldDNSOpcode: {0}, rules.FieldDNSRcode: {3}},
	}
	if got := h.txRun(TxInput{ToServer: true, App: "dns", Src: dns}); !slices.Equal(got, []uint32{1, 3}) {
		t.Errorf("dns request alerts %v, want [1 3]", got)
	}
	if got := h.txRun(TxInput{ToServer: false, App: "dns", Src: dns}); !slices.Equal(got, []uint32{2, 3}) {
		t.Errorf("dns response alerts %v, want [2 3]", got)
	}
	dns.req["dns.query"] = []string{"example.com.evil"}
	if got := h.txRun(TxInput{ToServer: true, App: "dns", Src: dns}); !slices.Equal(got, []uint32{3}) {
		t.Errorf("dns request alerts %v, want [3]", got)
	}
	tls := &txData{
		req:    map[string][]string{"tls.sni": {"bad.test"}},
		resp:   map[string][]string{"tls.certs": {"leaf", "EVILCA root"}},
		fields: map[rules.Field][]uint64{rules.FieldSSLVersion: {rules.SSLVersionBit(0x0301)}, rules.FieldCertExpired: {0}},
	}
	if got := h.txRun(TxInput{ToServer: true, App: "tls", Src: tls}); !slices.Equal(got, []uint32{4, 5}) {
		t.Errorf("tls client alerts %v, want [4 5]", got)
	}
	if got := h.txRun(TxInput{ToServer: false, App: "tls", Src: tls}); !slices.Equal(got, []uint32{5, 6}) {
		t.Errorf("tls server alerts %v, want [5 6]", got)
	}
	if got := h.txRun(TxInput{ToServer: true, App: "tls", Detected: true}); !slices.Equal(got, []uint32{9}) {
		t.Errorf("tls detection alerts %v, want [9] (10's payload keywords must match too)", got)
	}
	if got := h.txRun(TxInput{ToServer: false, App: "ssh", Detected: true}); !slices.Equal(got, []uint32{8}) {
		t.Errorf("ssh detection alerts %v, want [8]", got)
	}
}

func TestTransforms(t *testing.T) {
	var x transformer
	for _, c := range []struct {
		kinds []rules.TransformKind
		in    string
		want  string
	}{
		{[]rules.TransformKind{rules.XfDotPrefix}, "a.com", ".a.com"},
		{[]rules.TransformKind{rules.XfStripWhitespace}, " a \tb\r\n", "ab"},
		{[]rules.TransformKind{rules.XfCompressWhitespace}, "a  \t b", "a b"},
		{[]rules.TransformKind{rules.XfURLDecode, rules.XfToLower}, "%41b+%2", "ab %2"},
		{[]rules.TransformKind{rules.XfHeaderLowercase}, "Host: A\r\nX-Y: B\r\n", "host: A\r\nx-y: B\r\n"},
		{[]rules.TransformKind{rules.XfStripPseudoHeaders}, ":path: /\r\nA: b\r\n", "A: b\r\n"},
		{[]rules.TransformKind{rules.XfMD5, rules.XfToUpper}, "", "\xd4\x1d\x8c\xd9\x8f\x00\xb2\x04\xe9\x80\t\x98\xec\xf8B~"},
	} {
		var xf []rules.Transform
		for _, k := range c.kinds {
			xf = append(xf, rules.Transform{Kind: k})
		}
		if got := string(x.apply(xf, []byte(c.in))); got != c.want {
			t.Errorf("%v(%q) = %q, want %q", c.kinds, c.in, got, c.want)
		}
	}
	xf := []rules.Transform{{Kind: rules.XfDotPrefix}, {Kind: rules.XfToLower}, {Kind: rules.XfXor, Key: []byte{1}}}
	in := []byte("A.B")
	x.apply(xf, in)
	if n := testing.AllocsPerRun(100, func() { x.apply(xf, in) }); n != 0 {
		t.Errorf("apply allocates %.0f times", n)
	}
}

func TestMatchTxFiredOnce(t *testing.T) {
	const c, s = "192.0.2.1", "198.51.100.2"
	h := newHarness(t, `
alert tls any any -> any any (msg:"sni"; tls.sni; content:"a.test"; sid:1;)
alert tls any any -> any any (msg:"client cert"; tls.cert_subject; content:"CN=client"; sid:2;)
`, Options{})
	h.handshake(c, s, 40000, 443)
	tls := &txData{req: map[string][]string{"tls.sni": {"a.test"}}}
	var fired TxFired
	if got := h.txRun(TxInput{ToServer: true, App: "tls", Src: tls, Fired: &fired}); !slices.Equal(got, []uint32{1}) {
		t.Errorf("client hello alerts %v, want [1]", got)
	}
	tls.req["tls.cert_subject"] = []string{"CN=client"}
	if got := h.txRun(TxInput{ToServer: true, App: "tls", Src: tls, Fired: &fired}); !slices.Equal(got, []uint32{2}) {
		t.Errorf("client certificate alerts %v, want [2] (1 fired already)", got)
	}
	fired.Reset()
	if got := h.txRun(TxInput{ToServer: true, App: "tls", Src: tls, Fired: &fired}); !slices.Equal(got, []uint32{1, 2}) {
		t.Errorf("after Reset %v, want [1 2]", got)
	}
}

func TestFieldIndex(t *testing.T) {
	src := &txData{fields: map[rules.Field][]uint64{rules.FieldDNSRRType: {5, 1}}}
	for _, c := range []struct {
		index int
		val   uint64
		want  bool
	}{
		{rules.IndexAny, 1, true}, {rules.IndexAll, 1, false}, {rules.IndexAll, 5, false}, {0, 5, true}, {0, 1, false},
		{1, 1, true}, {-1, 1, true}, {-2, 5, true}, {-3, 5, false}, {2, 1, false},
	} {
		fm := rules.FieldMatch{Field: rules.FieldDNSRRType, N: rules.Num{A: c.val}, Index: c.index}
		if got := fieldMatch(&fm, src); got != c.want {
			t.Errorf("index %d value %d: %v, want %v", c.index, c.val, got, c.want)
		}
	}
	one := &txData{fields: map[rules.Field][]uint64{rules.FieldDNSRRType: {1, 1}}}
	if fm := (rules.FieldMatch{Field: rules.FieldDNSRRType, N: rules.Num{A: 1}, Index: rules.IndexAll}); !fieldMatch(&fm, one) {
		t.Error("all of [1 1] is not 1")
	}
}

// TestMatchTxAllocs: a transaction that matches no rule costs no
// allocation (the engine's per-call state is pooled).
func TestMatchTxAllocs(t *testing.T) {
	h := newHarness(t, `
alert http any any -> any any (msg:"uri"; flow:to_server; http.uri; content:"/evil"; sid:1;)
alert dns any any -> any any (msg:"q"; dns.query; dotprefix; content:".bad.test"; endswith; sid:2;)
alert http any any -> any any (msg:"ua"; http.user_agent; pcre:"/^curl/i"; sid:3;)
`, Options{})
	h.handshake("192.0.2.1", "198.51.100.2", 40000, 80)
	f := h.lastFlow(t)
	src := &staticSrc{uri: []byte("/index.html"), ua: []byte("Mozilla/5.0")}
	in := &TxInput{F: f, ToServer: true, App: "http", Src: src, TsNs: h.ts}
	emit := func(*alert.Alert) { t.Error("alert") }
	h.eng.MatchTx(in, emit)
	if n := testing.AllocsPerRun(200, func() { h.eng.MatchTx(in, emit) }); n != 0 && !testenv.Race {
		t.Errorf("MatchTx allocates %.1f times per call", n)
	}
}

// staticSrc is an HTTP request with a URI and a user agent.
type staticSrc struct{ uri, ua []byte }

func (s *staticSrc) Buffer(b rules.Buffer, toServer bool, i int) ([]byte, bool) {
	if i > 0 || !toServer {
		return nil, false
	}
	switch b.String() {
	case "http.uri":
		return s.uri, true
	case "http.user_agent":
		return s.ua, true
	}
	return nil, false
}

func (s *staticSrc) Field(rules.Field, int) (uint64, bool) { return 0, false }

// FuzzTransforms: any buffer through any transform chain, no panic, and
// a bounded result (at most a dot plus the input, or a digest).
func FuzzTransforms(f *testing.F) {
	f.Fuzz(func(t *testing.T, kinds []byte, key, data []byte) {
		var xf []rules.Transform
		re := regexp.MustCompile(`a(b*)`)
		for _, k := range kinds {
			x := rules.Transform{Kind: rules.TransformKind(k % (uint8(rules.XfPcrexform) + 1))}
			switch x.Kind {
			case rules.XfXor:
				if len(key) == 0 {
					continue
				}
				x.Key = key
			case rules.XfPcrexform:
				x.Re = re
			}
			xf = append(xf, x)
		}
		var tr transformer
		out := tr.apply(xf, data)
		if len(out) > len(data)+len(xf)+64 {
			t.Fatalf("%d bytes out of %d", len(out), len(data))
		}
	})
}
