package rules

import (
	"testing"
)

func buf(t *testing.T, name string) Buffer {
	t.Helper()
	b, ok := BufferByName(name)
	if !ok {
		t.Fatalf("no buffer %s", name)
	}
	return b
}

func TestAppBuffers(t *testing.T) {
	r := parseOne(t, `alert http any any -> any any (flow:established,to_server; http.method; content:"POST"; http.uri; content:"/a"; startswith; content:"b"; distance:0; http.header; content:"X-Y|3a|"; nocase; file_data; content:"z"; sid:1;)`)
	if r.Proto.App != "http" || r.Proto.L4 != 6 || !r.IsApp() {
		t.Fatalf("proto %+v", r.Proto)
	}
	want := []string{"http.method", "http.uri", "http.uri", "http.header", "file.data"}
	for i, m := range r.Matches {
		if m.Buf().String() != want[i] {
			t.Errorf("match %d on %s, want %s", i, m.Buf(), want[i])
		}
	}
	if i := buf(t, "http.uri").Info(); i.App != "http" || i.Dir != DirToServer || i.Multi {
		t.Errorf("http.uri info %+v", i)
	}
	if i := buf(t, "tls.certs").Info(); !i.Multi || i.Dir != DirBoth {
		t.Errorf("tls.certs info %+v", i)
	}
	if buf(t, "file_data") != buf(t, "file.data") || buf(t, "dns_query") != buf(t, "dns.query") {
		t.Error("aliases")
	}
	if BufPayload.App() || !buf(t, "ssh.proto").App() || NumBuffers > 256 {
		t.Error("App()")
	}
}

func TestLegacyModifiers(t *testing.T) {
	r := parseOne(t, `alert tcp any any -> any 80 (content:"GET"; http_method; content:"/x.php"; http_uri; nocase; content:"a"; http_raw_header; uricontent:"u"; sid:1;)`)
	want := []string{"http.method", "http.uri", "http.header.raw", "http.uri"}
	for i, m := range r.Matches {
		if m.Buf().String() != want[i] {
			t.Errorf("match %d on %s, want %s", i, m.Buf(), want[i])
		}
	}
	if r.Proto.App != "http" || r.Proto.L4 != 6 {
		t.Errorf("proto %+v", r.Proto)
	}
	for _, bad := range []string{
		`http_uri; content:"a";`,                       // no content before
		`http.uri; content:"a"; http_header;`,          // content already on a buffer
		`tls.sni; content:"a"; http.uri; content:"b";`, // two protocols
	} {
		if set, _ := Parse(`alert tcp any any -> any any (`+bad+` sid:1;)`, "f", Vars{}); set.Len() != 0 {
			t.Errorf("%s loaded", bad)
		}
	}
}

func TestPCREHTTPFlagsAndBacktracking(t *testing.T) {
	r := parseOne(t, `alert http any any -> any any (pcre:"/^\/a\.php/Ui"; pcre:"/(a)\1/H"; pcre:"/x(?=y)/"; pcre:"/a{1001,}/"; sid:1;)`)
	p := r.Matches[0].(*PCRE)
	if p.Buffer != buf(t, "http.uri") || p.Re == nil || p.Backtrack != nil {
		t.Errorf("pcre U: %+v", p)
	}
	p = r.Matches[1].(*PCRE)
	if p.Buffer != buf(t, "http.header") || p.Backtrack == nil {
		t.Errorf("pcre H backreference: %+v", p)
	}
	if m, _ := p.Backtrack.MatchRunes([]rune("xaay")); !m {
		t.Error("backreference does not match")
	}
	if p := r.Matches[2].(*PCRE); p.Backtrack == nil || p.Buffer != BufPayload {
		t.Errorf("lookahead: %+v", p)
	}
	if p := r.Matches[3].(*PCRE); p.Backtrack == nil {
		t.Errorf("repeat count: %+v", p)
	}
}

func TestTransforms(t *testing.T) {
	r := parseOne(t, `alert dns any any -> any any (dns.query; dotprefix; to_lowercase; content:".example.com"; endswith; sid:1;)`)
	x := r.TransformsOf(buf(t, "dns.query"))
	if len(x) != 2 || x[0].Kind != XfDotPrefix || x[1].Kind != XfToLower || r.Proto.App != "dns" || r.Proto.L4 != 0 {
		t.Fatalf("transforms %+v proto %+v", x, r.Proto)
	}
	r = parseOne(t, `alert http any any -> any any (http.uri; xor:"0d0ac8ff"; content:"a"; sid:1;)`)
	if x := r.TransformsOf(buf(t, "http.uri")); len(x) != 1 || string(x[0].Key) != "\x0d\x0a\xc8\xff" {
		t.Errorf("xor %+v", x)
	}
	for _, bad := range []string{
		`content:"a"; to_lowercase;`, // packet buffer
		`http.uri; to_md5; content:"a"; http.header; content:"b"; http.uri; content:"c";`, // reselected
	} {
		if set, _ := Parse(`alert http any any -> any any (`+bad+` sid:1;)`, "f", Vars{}); set.Len() != 0 {
			t.Errorf("%s loaded", bad)
		}
	}
}

func TestFieldKeywords(t *testing.T) {
	r := parseOne(t, `alert dns any any -> any any (dns.opcode:!0; dns.rcode:3; dns.rrtype:AAAA; sid:1;)`)
	if len(r.Fields) != 3 || !r.Fields[0].Match(1) || r.Fields[0].Match(0) || r.Fields[2].N.A != 28 || !r.IsApp() {
		t.Errorf("dns fields %+v", r.Fields)
	}
	r = parseOne(t, `alert tls any any -> any any (ssl_version:!sslv2,tls1.2; ssl_state:client_hello|server_hello,!client_keyx; tls.version:1.2; tls_cert_notafter:<2015-10-22; tls_cert_expired; tls.store; sid:1;)`)
	f := r.Fields
	if len(f) != 6 || f[0].Any != SSLVerTLS12 || f[0].None != SSLVer2 || !f[0].Match(SSLVersionBit(0x0303)) || f[0].Match(SSLVer2) {
		t.Fatalf("ssl_version %+v", f)
	}
	if f[1].Any != SSLStateClientHello|SSLStateServerHello || f[2].None != SSLStateClientKeyx || f[3].N.A != 0x0303 {
		t.Errorf("ssl_state/tls.version %+v", f)
	}
	if f[4].N.Op != NumLt || f[4].N.A != 1445472000 || f[5].Field != FieldCertExpired {
		t.Errorf("cert dates %+v", f[4:])
	}
	r = parseOne(t, `alert http any any -> any any (urilen:>100,raw; app-layer-protocol:!tls; sid:1;)`)
	if b, ok := r.Matches[0].(*BSize); !ok || b.Buffer != buf(t, "http.uri.raw") || b.Size.Op != NumGt {
		t.Errorf("urilen %+v", r.Matches[0])
	}
	if len(r.AppLayer) != 1 || r.AppLayer[0] != (AppLayerProto{Name: "tls", Negated: true}) {
		t.Errorf("app-layer-protocol %+v", r.AppLayer)
	}
	for _, bad := range []string{`ssl_version:tls9;`, `ssl_state:hello;`, `tls_cert_notafter:yesterday;`, `dns.opcode:99;`} {
		if set, _ := Parse(`alert tls any any -> any any (`+bad+` sid:1;)`, "f", Vars{}); set.Len() != 0 {
			t.Errorf("%s loaded", bad)
		}
	}
}

func TestLegacyTLSAndIndexedFields(t *testing.T) {
	r := parseOne(t, `alert tls any any -> any any (tls.issuerdn:!"CN=Evil"; tls.subject:"CN=a"; tls.cert_chain_len:>2; sid:1;)`)
	c := r.Matches[0].(*Content)
	if c.Buffer != buf(t, "tls.cert_issuer") || !c.Negated || string(c.Pattern) != "CN=Evil" {
		t.Errorf("tls.issuerdn %+v", c)
	}
	if c := r.Matches[1].(*Content); c.Buffer != buf(t, "tls.cert_subject") || c.Negated {
		t.Errorf("tls.subject %+v", c)
	}
	if f := r.Fields[0]; f.Field != FieldCertChainLen || f.N.Op != NumGt || f.N.A != 2 {
		t.Errorf("chain len %+v", f)
	}
	r = parseOne(t, `alert dns any any -> any any (dns.rrtype:1,0; dns.rrtype:A,all; dns.rrtype:28,-1; dns.rrtype:5; sid:1;)`)
	for i, want := range []int{0, IndexAll, -1, IndexAny} {
		if r.Fields[i].Index != want {
			t.Errorf("rrtype %d index %d, want %d", i, r.Fields[i].Index, want)
		}
	}
}
