package apptls

import (
	"crypto/sha1"
	"crypto/tls"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func record(c *Conn) Record {
	var r Record
	c.Record(&r)
	return r
}

func fingerprintOf(der []byte) string {
	sum := sha1.Sum(der)
	return string(appendHexSep(nil, sum[:], false))
}

// TestTLS12 parses a real crypto/tls TLS 1.2 handshake.
func TestTLS12(t *testing.T) {
	p := getPKI(t)
	s := handshake(t, tls.VersionTLS12, []string{"h2", "http/1.1"})
	var c Conn
	evs := s.feed(&c)
	want := []Event{{EvClientHello, true}, {EvServerHello, false}, {EvCertificate, false}}
	if len(evs) < 3 || !reflect.DeepEqual(evs[:3], want) {
		t.Fatalf("events %v, want %v first", evs, want)
	}
	if !c.Encrypted(true) || !c.Encrypted(false) {
		t.Errorf("encrypted %v %v after application data, want both", c.Encrypted(true), c.Encrypted(false))
	}
	r := record(&c)
	if r.SNI != "www.example.test" || r.Version != "TLS 1.2" {
		t.Errorf("sni %q version %q", r.SNI, r.Version)
	}
	if r.Subject != "C=US, ST=CA, O=Example, Inc., CN=www.example.test" {
		t.Errorf("subject %q", r.Subject)
	}
	if r.IssuerDN != "C=FR, O=Test CA, CN=Test Root" {
		t.Errorf("issuer %q", r.IssuerDN)
	}
	if r.Serial != "00:AB:CD:01" {
		t.Errorf("serial %q", r.Serial)
	}
	if r.Fingerprint != fingerprintOf(p.leafDER) {
		t.Errorf("fingerprint %q, want %q", r.Fingerprint, fingerprintOf(p.leafDER))
	}
	if r.NotBefore != "2020-01-02T03:04:05" || r.NotAfter != "2030-06-07T08:09:10" {
		t.Errorf("validity %q %q", r.NotBefore, r.NotAfter)
	}
	if !reflect.DeepEqual(r.ClientALPNs, []string{"h2", "http/1.1"}) || !reflect.DeepEqual(r.ServerALPNs, []string{"h2"}) {
		t.Errorf("alpns %q %q", r.ClientALPNs, r.ServerALPNs)
	}
	if r.JA3 == nil || r.JA3S == nil || !strings.HasPrefix(r.JA3.String, "771,") || len(r.JA3.Hash) != 32 {
		t.Errorf("ja3 %+v ja3s %+v", r.JA3, r.JA3S)
	}
	if !strings.HasPrefix(r.JA4, "t12d") || len(r.JA4) != 36 { // MaxVersion 1.2: no supported_versions 1.3
		t.Errorf("ja4 %q", r.JA4)
	}
	cs := c.Certs(false)
	if cs.ChainLen != 2 || cs.Len() != 2 || string(cs.DER(1)) != string(p.caDER) {
		t.Errorf("chain %d kept %d", cs.ChainLen, cs.Len())
	}
	var sans []string
	for i := 0; ; i++ {
		b, ok := c.BufferDir(BufSubjectAltName, false, i)
		if !ok {
			break
		}
		sans = append(sans, string(b))
	}
	if !reflect.DeepEqual(sans, []string{"www.example.test", "example.test", "192.0.2.7"}) {
		t.Errorf("sans %q", sans)
	}
	if c.Version(false) != tls.VersionTLS12 || c.ServerHello().CipherSuites[0] == 0 {
		t.Errorf("negotiated %x cipher %x", c.Version(false), c.ServerHello().CipherSuites)
	}
	if c.Anomalies() != 0 {
		t.Errorf("anomalies %b", c.Anomalies())
	}
}

// TestTLS13 parses a real TLS 1.3 handshake: the certificates are
// encrypted, the server turns encrypted right after its ServerHello.
func TestTLS13(t *testing.T) {
	s := handshake(t, tls.VersionTLS13, nil)
	var c Conn
	evs := s.feed(&c)
	for _, ev := range evs {
		if ev.Kind == EvCertificate {
			t.Errorf("a certificate event in TLS 1.3: %v", evs)
		}
	}
	r := record(&c)
	if r.Version != "TLS 1.3" || r.Subject != "" || r.SNI != "www.example.test" {
		t.Errorf("record %+v", r)
	}
	if !c.Encrypted(false) || !c.Encrypted(true) || !c.Loggable() {
		t.Errorf("encrypted %v %v loggable %v", c.Encrypted(false), c.Encrypted(true), c.Loggable())
	}
	if c.Anomalies() != 0 {
		t.Errorf("anomalies %b", c.Anomalies())
	}
}

// TestSplitAnywhere feeds a TLS 1.2 handshake split at every offset of
// each direction, and byte by byte, and wants the same record.
func TestSplitAnywhere(t *testing.T) {
	s := handshake(t, tls.VersionTLS12, []string{"h2"})
	var whole Conn
	s.feed(&whole)
	want := record(&whole)
	cli, srv := s.dirBytes(true), s.dirBytes(false)
	check := func(name string, c *Conn) {
		t.Helper()
		if got := record(c); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: record %+v, want %+v", name, got, want)
		}
		if !c.Encrypted(true) || !c.Encrypted(false) {
			t.Fatalf("%s: not encrypted", name)
		}
	}
	var c Conn
	for i := 0; i <= len(cli); i++ {
		c.Reset()
		c.Feed(true, cli[:i], nil)
		c.Feed(false, srv, nil)
		c.Feed(true, cli[i:], nil)
		check("client split", &c)
	}
	for i := 0; i <= len(srv); i += 3 {
		c.Reset()
		c.Feed(true, cli, nil)
		c.Feed(false, srv[:i], nil)
		c.Feed(false, srv[i:], nil)
		check("server split", &c)
	}
	c.Reset()
	for _, ch := range s {
		for i := range ch.data {
			c.Feed(ch.toServer, ch.data[i:i+1], nil)
		}
	}
	check("byte by byte", &c)
}

// chromeHello is a ClientHello with Chrome's cipher and extension lists
// (and GREASE), whose JA4 is FoxIO's documented example.
func chromeHello() []byte {
	ciphers := []uint16{0x2a2a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8,
		0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035}
	exts := []ext{
		{0x8a8a, nil}, sniExt("example.com"), {0x0017, nil}, {0xff01, []byte{0}},
		{0x000a, u16list(0x2a2a, 0x001d, 0x0017, 0x0018)}, pointFormatsExt(0),
		{0x0023, nil}, alpnExt("h2", "http/1.1"), {0x0005, []byte{1, 0, 0, 0, 0}},
		{0x000d, u16list(0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)},
		{0x0012, nil}, {0x0033, []byte{0, 0}}, {0x002d, []byte{1, 1}},
		versionsExt(0x3a3a, 0x0304, 0x0303), {0x001b, []byte{2, 0, 2}}, {0x4469, []byte{0, 0}},
		{0x0015, []byte{0, 0}},
	}
	return clientHelloMsg(0x0303, make([]byte, 32), ciphers, exts)
}

func TestFingerprints(t *testing.T) {
	tests := []struct {
		name, ja3, ja3hash, ja4 string
		hello                   []byte
	}{
		{
			// salesforce/ja3's README example.
			name:    "ja3 readme",
			hello:   clientHelloMsg(0x0301, nil, []uint16{47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4}, []ext{{0, nil}, {10, u16list(23, 24, 25)}, pointFormatsExt(0)}),
			ja3:     "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0",
			ja3hash: "ada70206e40642a3e4461f35503241d5",
		},
		{
			// FoxIO's JA4 technical details example; GREASE left out.
			name:  "chrome",
			hello: chromeHello(),
			ja4:   "t13d1516h2_8daaf6152771_e5627efa2ab1",
		},
		{
			// No extensions at all: Suricata's empty-list hashes.
			name:  "bare",
			hello: clientHelloMsg(0x0302, nil, []uint16{0x0a0a}, nil),
			ja3:   "770,,,,",
			ja4:   "t11i000000_e3b0c44298fc_d2e2adf7177b",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Conn
			c.Feed(true, records(recHandshake, 0x0301, tt.hello, 1<<14), nil)
			s, h, ok := c.JA3()
			if !ok {
				t.Fatalf("no ja3; anomalies %b", c.Anomalies())
			}
			if tt.ja3 != "" && string(s) != tt.ja3 {
				t.Errorf("ja3 %q, want %q", s, tt.ja3)
			}
			if tt.ja3hash != "" && string(h) != tt.ja3hash {
				t.Errorf("ja3 hash %q, want %q", h, tt.ja3hash)
			}
			j, _ := c.JA4()
			if tt.ja4 != "" && string(j) != tt.ja4 {
				t.Errorf("ja4 %q, want %q", j, tt.ja4)
			}
		})
	}
}

// TestFragmentedHandshake: a ClientHello spread over records of a few
// bytes (as tls-client-hello-frag-01), and a ServerHello, Certificate and
// ServerHelloDone packed in one record.
func TestFragmentedHandshake(t *testing.T) {
	p := getPKI(t)
	hello := chromeHello()
	for _, size := range []int{1, 7, 100, len(hello) - 1} {
		var c Conn
		c.Feed(true, records(recHandshake, 0x0301, hello, size), nil)
		if sni, _ := c.Buffer(BufSNI, 0); string(sni) != "example.com" {
			t.Errorf("size %d: sni %q, anomalies %b", size, sni, c.Anomalies())
		}
		if j, _ := c.JA4(); string(j) != "t13d1516h2_8daaf6152771_e5627efa2ab1" {
			t.Errorf("size %d: ja4 %q", size, j)
		}
	}
	flight := append(serverHelloMsg(0x0303, nil, 0xc02f, nil), certificateMsg(p.leafDER, p.caDER)...)
	flight = append(flight, hsServerHelloDone, 0, 0, 0)
	var c Conn
	c.Feed(true, records(recHandshake, 0x0301, hello, 1<<14), nil)
	var evs []Event
	c.Feed(false, records(recHandshake, 0x0303, flight, 1<<14), func(ev Event) { evs = append(evs, ev) })
	if len(evs) != 2 || c.Certs(false).ChainLen != 2 {
		t.Errorf("events %v chain %d", evs, c.Certs(false).ChainLen)
	}
	if !c.Flags().has(FlagServerHello) || c.cur != FlagServerHello {
		t.Errorf("flags %b cur %b", c.Flags(), c.cur)
	}
}

func (f StateFlags) has(g StateFlags) bool { return f&g == g }

// TestSSLv3 is a crafted SSLv3 handshake (no library speaks it now).
func TestSSLv3(t *testing.T) {
	p := getPKI(t)
	var c Conn
	c.Feed(true, records(recHandshake, 0x0300, clientHelloMsg(0x0300, nil, []uint16{0x000a, 0x0005}, nil), 1<<14), nil)
	flight := append(serverHelloMsg(0x0300, []byte{1, 2, 3}, 0x000a, nil), certificateMsg(p.leafDER)...)
	c.Feed(false, records(recHandshake, 0x0300, flight, 1<<14), nil)
	c.Feed(false, records(recChangeCipherSpec, 0x0300, []byte{1}, 1), nil)
	c.Feed(false, records(recHandshake, 0x0300, []byte("encrypted finished, not parsed"), 1<<14), nil)
	if c.Anomalies() != 0 {
		t.Errorf("anomalies %b", c.Anomalies())
	}
	r := record(&c)
	if r.Version != "SSLv3" || r.JA3.String != "768,10-5,,," || r.JA3S.String != "768,10," {
		t.Errorf("record %+v ja3 %+v ja3s %+v", r, r.JA3, r.JA3S)
	}
	m, err := MatchSSLVersion("sslv3")
	if err != nil || !m(&c, false) || !m(&c, true) {
		t.Errorf("ssl_version:sslv3 does not match (%v)", err)
	}
	c.Feed(false, records(recApplicationData, 0x0300, []byte("x"), 1), nil)
	if !c.Encrypted(false) || c.Encrypted(true) {
		t.Errorf("encrypted %v %v", c.Encrypted(false), c.Encrypted(true))
	}
}

// v2ClientHelloRecord is an SSLv2-framed ClientHello offering TLS 1.0.
func v2ClientHelloRecord() []byte {
	specs := []byte{0x00, 0x00, 0x04, 0x01, 0x00, 0x80, 0x00, 0x00, 0x2f}
	chal := make([]byte, 16)
	body := []byte{v2ClientHello, 0x03, 0x01, 0, byte(len(specs)), 0, 0, 0, byte(len(chal))}
	body = append(append(body, specs...), chal...)
	return append([]byte{0x80 | byte(len(body)>>8), byte(len(body))}, body...)
}

// TestSSLv2Upgrade is an SSLv2-compatible ClientHello answered in TLS 1.0
// (as the corpus's sslv2-tls-upgrade-01), and a pure SSLv2 server.
func TestSSLv2Upgrade(t *testing.T) {
	p := getPKI(t)
	var c Conn
	hello := v2ClientHelloRecord()
	for i := range hello { // split anywhere
		c.Feed(true, hello[i:i+1], nil)
	}
	if ch := c.ClientHello(); !ch.Seen || !ch.SSLv2 || ch.Version != 0x0301 || !reflect.DeepEqual(ch.CipherSuites, []uint16{0x0004, 0x002f}) {
		t.Fatalf("v2 hello %+v, anomalies %b", ch, c.Anomalies())
	}
	flight := append(serverHelloMsg(0x0301, nil, 0x0004, nil), certificateMsg(p.leafDER)...)
	c.Feed(false, records(recHandshake, 0x0301, flight, 1<<14), nil)
	c.Feed(true, records(recHandshake, 0x0301, []byte{hsClientKeyExchange, 0, 0, 2, 0, 0}, 1<<14), nil)
	if r := record(&c); r.Version != "TLSv1" || r.Serial != "00:AB:CD:01" {
		t.Errorf("record %+v", r)
	}
	if c.State(true) != Clear || c.cur != FlagClientKeyExchange {
		t.Errorf("client state %d cur %b", c.State(true), c.cur)
	}

	// A pure SSLv2 server: its hello carries the certificate.
	c.Reset()
	c.Feed(true, hello, nil)
	cert := p.leafDER
	sh := []byte{v2ServerHello, 0, 1, 0x00, 0x02, byte(len(cert) >> 8), byte(len(cert)), 0, 3, 0, 16}
	sh = append(append(append(sh, cert...), 0x01, 0x00, 0x80), make([]byte, 16)...)
	c.Feed(false, append([]byte{0x80 | byte(len(sh)>>8), byte(len(sh))}, sh...), nil)
	if r := record(&c); r.Version != "SSLv2" || r.Fingerprint != fingerprintOf(cert) {
		t.Errorf("v2 server record %+v", r)
	}
	c.Feed(false, []byte{0x80, 3, 5, 1, 2}, nil) // server verify: encrypted
	if !c.Encrypted(false) {
		t.Errorf("v2 server not encrypted after its hello")
	}
}

// TestLimits: an oversized message is skipped and recorded; the chain is
// cut at MaxCerts; the parser goes on.
func TestLimits(t *testing.T) {
	p := getPKI(t)
	c := NewConn(Limits{MaxHandshakeBytes: 1024, MaxCerts: 1})
	c.Feed(true, records(recHandshake, 0x0301, chromeHello(), 1<<14), nil)
	big := append([]byte{hsCertificateStatus, 0, 8, 0}, make([]byte, 2048)...)
	flight := append(serverHelloMsg(0x0303, nil, 0xc02f, nil), big...)
	flight = append(flight, certificateMsg(p.caDER)...) // ~400 bytes: fits
	c.Feed(false, records(recHandshake, 0x0303, flight, 300), nil)
	if c.Anomalies()&AnomalyHandshakeTooLarge == 0 {
		t.Errorf("oversized message not recorded: %b", c.Anomalies())
	}
	if cs := c.Certs(false); !cs.Seen || cs.Len() != 1 {
		t.Errorf("certificate after the skipped message: seen %v len %d", cs.Seen, cs.Len())
	}
	if cap(c.srv.hs) > 2048 {
		t.Errorf("reassembly buffer grew to %d", cap(c.srv.hs))
	}
	c.Reset()
	c.Feed(false, records(recHandshake, 0x0303, certificateMsg(p.leafDER, p.caDER), 1<<14), nil)
	if cs := c.Certs(false); cs.ChainLen != 2 || cs.Len() != 1 || c.Anomalies()&AnomalyTooManyCerts == 0 {
		t.Errorf("chain %d kept %d anomalies %b", cs.ChainLen, cs.Len(), c.Anomalies())
	}
}

// TestNotTLSAndGaps: what is not TLS, and gaps.
func TestNotTLSAndGaps(t *testing.T) {
	tests := []struct {
		name string
		feed func(c *Conn)
		want State
	}{
		{"http", func(c *Conn) { c.Feed(true, []byte("GET / HTTP/1.1\r\n"), nil) }, NotTLS},
		{"bad version", func(c *Conn) { c.Feed(true, []byte{22, 9, 9, 0, 1, 0}, nil) }, NotTLS},
		{"opens with app data", func(c *Conn) { c.Feed(true, []byte{23, 3, 3, 0, 1, 0}, nil) }, NotTLS},
		{"zero length", func(c *Conn) { c.Feed(true, []byte{22, 3, 1, 0, 0}, nil) }, NotTLS},
		{"gap in handshake", func(c *Conn) {
			c.Feed(true, records(recHandshake, 0x0301, chromeHello(), 1<<14)[:20], nil)
			c.Gap(true, 10)
		}, NotTLS},
		{"gap in alert body", func(c *Conn) {
			c.Feed(true, records(recHandshake, 0x0301, chromeHello(), 1<<14), nil)
			c.Feed(true, []byte{21, 3, 3, 0, 10, 1}, nil)
			c.Gap(true, 5)
			c.Feed(true, []byte{2, 3, 4, 5}, nil)
			c.Feed(true, []byte{23, 3, 3, 0, 1, 0}, nil)
		}, Encrypted},
		{"gap after encrypted", func(c *Conn) {
			c.Feed(true, records(recHandshake, 0x0301, chromeHello(), 1<<14), nil)
			c.Feed(true, []byte{23, 3, 3, 0, 1, 0}, nil)
			c.Gap(true, 1000)
		}, Encrypted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Conn
			tt.feed(&c)
			if got := c.State(true); got != tt.want {
				t.Errorf("state %d, want %d (anomalies %b)", got, tt.want, c.Anomalies())
			}
		})
	}
}

// TestEarlyData: 0-RTT data before the ServerHello does not end the
// handshake, as in Suricata.
func TestEarlyData(t *testing.T) {
	var c Conn
	hello := clientHelloMsg(0x0303, nil, []uint16{0x1301}, []ext{versionsExt(0x0304), {extEarlyData, nil}})
	c.Feed(true, records(recHandshake, 0x0301, hello, 1<<14), nil)
	c.Feed(true, records(recChangeCipherSpec, 0x0303, []byte{1}, 1), nil)
	c.Feed(true, records(recApplicationData, 0x0303, []byte("0rtt"), 1<<14), nil)
	if c.Encrypted(true) {
		t.Errorf("encrypted on 0-RTT data")
	}
	c.Feed(false, records(recHandshake, 0x0303, serverHelloMsg(0x0303, nil, 0x1301, []ext{{extSupportedVersions, []byte{3, 4}}}), 1<<14), nil)
	c.Feed(true, records(recApplicationData, 0x0303, []byte("data"), 1<<14), nil)
	if !c.Encrypted(true) || VersionString(c.Version(false)) != "TLS 1.3" {
		t.Errorf("encrypted %v version %s", c.Encrypted(true), VersionString(c.Version(false)))
	}
}

func TestRecordJSON(t *testing.T) {
	s := handshake(t, tls.VersionTLS12, []string{"h2"})
	var c Conn
	s.feed(&c)
	b, err := json.Marshal(record(&c))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"subject":`, `"issuerdn":`, `"serial":`, `"fingerprint":`, `"sni":`, `"version":`,
		`"notbefore":`, `"notafter":`, `"ja3":{"hash":`, `"ja3s":{"hash":`, `"ja4":`, `"client_alpns":["h2"]`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("no %s in %s", k, b)
		}
	}
}

func TestHeartbeat(t *testing.T) {
	hello := records(recHandshake, 0x0301, chromeHello(), 1<<14)
	// A clear request claiming 16 KiB of payload in a 3-byte record.
	var c Conn
	c.Feed(true, hello, nil)
	c.Feed(true, []byte{recHeartbeat, 3, 3, 0, 3, 1, 0x40, 0x00}, nil)
	if c.Anomalies()&AnomalyOverflowHeartbeat == 0 {
		t.Errorf("heartbleed request not flagged: %b", c.Anomalies())
	}
	// Encrypted: a response longer than the request.
	c.Reset()
	c.Feed(true, hello, nil)
	c.Feed(false, records(recHandshake, 0x0303, serverHelloMsg(0x0303, nil, 0xc02f, nil), 1<<14), nil)
	c.Feed(true, records(recChangeCipherSpec, 0x0303, []byte{1}, 1), nil)
	c.Feed(true, records(recHeartbeat, 0x0303, make([]byte, 40), 1<<14), nil)
	c.Feed(false, records(recHeartbeat, 0x0303, make([]byte, 4000), 1<<14), nil)
	if c.Anomalies()&AnomalyDataleakHeartbeat == 0 {
		t.Errorf("encrypted heartbleed response not flagged: %b", c.Anomalies())
	}
	// A well-formed exchange flags nothing.
	c.Reset()
	c.Feed(true, hello, nil)
	c.Feed(false, records(recHandshake, 0x0303, serverHelloMsg(0x0303, nil, 0xc02f, nil), 1<<14), nil)
	req := append([]byte{1, 0, 4, 'p', 'i', 'n', 'g'}, make([]byte, 16)...)
	c.Feed(true, records(recHeartbeat, 0x0303, req, 1<<14), nil)
	req[0] = 2
	c.Feed(false, records(recHeartbeat, 0x0303, req, 1<<14), nil)
	if c.Anomalies() != 0 {
		t.Errorf("anomalies %b", c.Anomalies())
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		b    []byte
		want Detection
	}{
		{nil, DetectNeedMore},
		{[]byte{22}, DetectNeedMore},
		{[]byte{22, 3, 1}, DetectTLS},
		{[]byte{22, 3, 9}, DetectNotTLS},
		{[]byte("GET / HTTP/1.1"), DetectNotTLS},
		{[]byte("SSH-2.0-x"), DetectNotTLS},
		{v2ClientHelloRecord(), DetectTLS},
		{[]byte{0x80, 0x2e}, DetectNeedMore},
	}
	for _, tt := range tests {
		if got := Detect(tt.b); got != tt.want {
			t.Errorf("Detect(%q) = %d, want %d", tt.b, got, tt.want)
		}
	}
}
