package offline_test

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xdpids/xdpids/userspace/run/offline"
)

// appEvent is the part of an EVE line the app-record expectations judge.
type appEvent struct {
	EventType string          `json:"event_type"`
	SrcPort   uint16          `json:"src_port"`
	DestPort  uint16          `json:"dest_port"`
	AppProto  string          `json:"app_proto"`
	HTTP      json.RawMessage `json:"http"`
	DNS       json.RawMessage `json:"dns"`
	TLS       json.RawMessage `json:"tls"`
	SSH       json.RawMessage `json:"ssh"`
	Alert     *struct {
		SignatureID uint32 `json:"signature_id"`
	} `json:"alert"`
	Direction string `json:"direction"`
	Flow      *struct {
		Reason       string `json:"reason"`
		SrcIP        string `json:"src_ip"`
		DestPort     uint16 `json:"dest_port"`
		PktsToServer uint64 `json:"pkts_toserver"`
	} `json:"flow"`
	Metadata *struct {
		Flowvars []map[string]string `json:"flowvars"`
	} `json:"metadata"`
}

func readApp(t *testing.T, name string) []appEvent {
	t.Helper()
	_, out, err := readRun(t, filepath.Join(goldenDir(t), name+".pcap"), offline.ModeUserspace)
	if err != nil {
		t.Fatalf("offline.Run: %v", err)
	}
	var evs []appEvent
	for i, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		var e appEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		evs = append(evs, e)
	}
	return evs
}

// fields decodes an app record into a flat map of the fields judged.
func fields(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("record %s: %v", raw, err)
	}
	return m
}

// expect compares the fields named in want (JSON values as Go decodes
// them) with got and says each one that differs.
func expect(t *testing.T, what string, got map[string]any, want map[string]any) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if w == nil {
			if ok {
				t.Errorf("%s: %s = %v, want absent", what, k, g)
			}
			continue
		}
		gj, _ := json.Marshal(g)
		wj, _ := json.Marshal(w)
		if !ok || string(gj) != string(wj) {
			t.Errorf("%s: %s = %s, want %s", what, k, gj, wj)
		}
	}
}

// TestAppRecordsHTTP: the http events of app_http, one per transaction,
// with what internal/testgen/app.go sends (not the golden file): the
// keep-alive connection's three requests (the gzip+chunked 200, the 302,
// the 304), the 8081 connection found by content, and the path traversal,
// whose alerts (of the built-in packet-level rules, matched on the
// stream) carry its http record, as Suricata logs a stream match with
// the transaction of its direction.
func TestAppRecordsHTTP(t *testing.T) {
	evs := readApp(t, "app_http")
	ua := "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	want := []struct {
		port   uint16
		fields map[string]any
	}{
		{80, map[string]any{"hostname": "www.example.com", "url": "/search?q=caf%C3%A9&lang=en", "http_user_agent": ua,
			"http_method": "GET", "protocol": "HTTP/1.1", "status": 200, "http_content_type": "text/html", "http_refer": "https://www.example.com/"}},
		{80, map[string]any{"hostname": "www.example.com", "url": "/login", "http_user_agent": ua, "http_method": "POST",
			"protocol": "HTTP/1.1", "status": 302, "redirect": "/home", "length": 0}},
		{80, map[string]any{"hostname": "www.example.com", "url": "/static/app.js", "http_method": "GET", "status": 304, "http_user_agent": nil}},
		{8081, map[string]any{"hostname": "api.example.com", "http_port": 8081, "url": "/api/v1/status", "http_user_agent": "curl/8.5.0",
			"http_method": "GET", "status": 200, "http_content_type": "application/json", "length": len(`{"status":"ok","uptime":86400}`)}},
		{80, map[string]any{"hostname": "198.51.100.80", "url": "/index.php?page=../../../../etc/passwd", "http_user_agent": "python-requests/2.31.0",
			"http_method": "GET", "status": 404, "http_content_type": "text/html", "length": 9}},
	}
	var got []appEvent
	for _, e := range evs {
		if e.EventType == "http" {
			got = append(got, e)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d http events, want %d", len(got), len(want))
	}
	for i, w := range want {
		expect(t, fmt.Sprintf("http event %d (port %d)", i, w.port), fields(t, got[i].HTTP), w.fields)
		if got[i].DestPort != w.port {
			t.Errorf("http event %d: dest_port %d, want %d", i, got[i].DestPort, w.port)
		}
	}
	// The gzip+chunked response: Suricata's length is the body as sent
	// (after de-chunking, before decompression), so it is neither 0 nor
	// the decoded page's size.
	page := len(strings.Repeat("<li>café results: lorem ipsum dolor sit amet</li>\n", 60))
	if l, _ := fields(t, got[0].HTTP)["length"].(float64); l == 0 || int(l) >= page {
		t.Errorf("gzip response length %v: want the compressed body's size (0 < length < %d)", l, page)
	}
	for _, e := range evs {
		if e.EventType == "flow" && e.AppProto != "http" {
			t.Errorf("flow %d->%d app_proto %q, want http", e.SrcPort, e.DestPort, e.AppProto)
		}
	}
	if n := checkTraversalAlerts(t, evs, true); n != 2 {
		t.Errorf("%d alerts, want 2 (8500101 and 8500102 on the traversal)", n)
	}
}

// checkTraversalAlerts judges the alerts of app_http and returns how many
// there are; withRecord: each must carry the request's http record.
func checkTraversalAlerts(t *testing.T, evs []appEvent, withRecord bool) int {
	t.Helper()
	n := 0
	for _, e := range evs {
		if e.EventType != "alert" {
			continue
		}
		n++
		// The request's packet, from the client: after the handshake's
		// two packets from it, this is its third.
		if e.Direction != "to_server" || e.Flow == nil || e.Flow.SrcIP != "203.0.113.44" || e.Flow.DestPort != 80 || e.Flow.PktsToServer != 3 {
			t.Errorf("alert %d: direction %q, flow %+v; want to_server, client 203.0.113.44 to port 80 at its 3rd packet", e.Alert.SignatureID, e.Direction, e.Flow)
		}
		if e.AppProto != "http" {
			t.Errorf("alert %d: app_proto %q, want http", e.Alert.SignatureID, e.AppProto)
		}
		if len(e.HTTP) == 0 {
			if withRecord {
				t.Errorf("alert %d carries no http record", e.Alert.SignatureID)
			}
			continue
		}
		expect(t, fmt.Sprintf("alert %d http", e.Alert.SignatureID), fields(t, e.HTTP),
			map[string]any{"hostname": "198.51.100.80", "url": "/index.php?page=../../../../etc/passwd", "http_method": "GET"})
	}
	return n
}

// TestAppRecordsDNS: a request and a response event per message, with the
// CNAME chain, the AAAA answer, the NXDOMAIN rcode and the TXT answer over
// TCP.
func TestAppRecordsDNS(t *testing.T) {
	type q struct{ name, typ string }
	want := []struct {
		typ     string
		id      int
		rcode   string
		query   q
		answers []string // rrname rrtype ttl rdata
	}{
		{"request", 0x1a01, "", q{"www.example.com", "A"}, nil},
		{"response", 0x1a01, "NOERROR", q{"www.example.com", "A"}, []string{"www.example.com CNAME 3600 web.example.net", "web.example.net A 300 198.51.100.80"}},
		{"request", 0x1a02, "", q{"www.example.com", "AAAA"}, nil},
		{"response", 0x1a02, "NOERROR", q{"www.example.com", "AAAA"}, []string{"www.example.com AAAA 300 2001:0db8:0001:0000:0000:0000:0000:0080"}},
		{"request", 0x1a03, "", q{"nosuchhost.example.com", "A"}, nil},
		{"response", 0x1a03, "NXDOMAIN", q{"nosuchhost.example.com", "A"}, nil},
		{"request", 0x1a04, "", q{"example.com", "TXT"}, nil},
		{"response", 0x1a04, "NOERROR", q{"example.com", "TXT"}, []string{"example.com TXT 300 v=spf1 -all"}},
	}
	type rec struct {
		Type    string `json:"type"`
		ID      int    `json:"id"`
		Rcode   string `json:"rcode"`
		QR      bool   `json:"qr"`
		RD      bool   `json:"rd"`
		Queries []struct {
			RRName string `json:"rrname"`
			RRType string `json:"rrtype"`
		} `json:"queries"`
		Answers []struct {
			RRName string `json:"rrname"`
			RRType string `json:"rrtype"`
			TTL    int    `json:"ttl"`
			RData  string `json:"rdata"`
		} `json:"answers"`
	}
	var got []rec
	var ports []uint16
	for _, e := range readApp(t, "app_dns") {
		if e.EventType != "dns" {
			continue
		}
		var r rec
		if err := json.Unmarshal(e.DNS, &r); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
		ports = append(ports, e.SrcPort)
	}
	if len(got) != len(want) {
		t.Fatalf("%d dns events, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		what := fmt.Sprintf("dns event %d (%s id %#x)", i, w.typ, w.id)
		if g.Type != w.typ || g.ID != w.id || g.QR != (w.typ == "response") || !g.RD {
			t.Errorf("%s: type %s id %#x qr %v rd %v", what, g.Type, g.ID, g.QR, g.RD)
		}
		if w.rcode != "" && g.Rcode != w.rcode {
			t.Errorf("%s: rcode %s, want %s", what, g.Rcode, w.rcode)
		}
		if len(g.Queries) != 1 || g.Queries[0].RRName != w.query.name || g.Queries[0].RRType != w.query.typ {
			t.Errorf("%s: queries %+v, want %+v", what, g.Queries, w.query)
		}
		var ans []string
		for _, a := range g.Answers {
			ans = append(ans, fmt.Sprintf("%s %s %d %s", a.RRName, a.RRType, a.TTL, a.RData))
		}
		if !slices.Equal(ans, w.answers) {
			t.Errorf("%s: answers %q, want %q", what, ans, w.answers)
		}
	}
	if ports[6] != 41003 || ports[7] != 53 {
		t.Errorf("TXT over TCP: ports %d, %d, want 41003 then 53", ports[6], ports[7])
	}
}

// appCertB64 is the certificate internal/testgen/app.go sends (appCertDER),
// copied so the expected fields are derived here by crypto/x509.
const appCertB64 = "MIIB6zCCAZCgAwIBAgIGGis8TV5vMAoGCCqGSM49BAMCMD0xCzAJBgNVBAYTAlVTMRQwEgYDVQQK" +
	"DAt4ZHBpZHMgdGVzdDEYMBYGA1UEAwwPd3d3LmV4YW1wbGUuY29tMB4XDTI2MTIwMTIxMTIzOVoX" +
	"DTM2MTEyODIxMTIzOVowPTELMAkGA1UEBhMCVVMxFDASBgNVBAoMC3hkcGlkcyB0ZXN0MRgwFgYD" +
	"VQQDDA93d3cuZXhhbXBsZS5jb20wWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQdRyXRQljM5Y7h" +
	"KWyyHyhsTJErHtyAwFfwDJFkrvfIcvf3ZNlIbhS7iba8KPodJG+GfRRsu2sxVMwOAbpNFV6Uo3ww" +
	"ejAdBgNVHQ4EFgQUgZnzsBfxS14zWWsKwMcDy7iFRecwHwYDVR0jBBgwFoAUgZnzsBfxS14zWWsK" +
	"wMcDy7iFRecwDwYDVR0TAQH/BAUwAwEB/zAnBgNVHREEIDAegg93d3cuZXhhbXBsZS5jb22CC2V4" +
	"YW1wbGUuY29tMAoGCCqGSM49BAMCA0kAMEYCIQDR2TdMDzkoI+EpzGbK5oJlrKFV8FcYIwKAMk1g" +
	"9Gfy8wIhAKOaea/a9myNHdw6EkKLy9xJfM5lZ9oBvPPOuOv9rxty"

// ja3 and ja4 of the generator's ClientHello, computed from its lists
// (GREASE left out) by the published algorithms.
func clientFingerprints(tls13 bool) (ja3, ja4 string) {
	ciphers := []int{0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035}
	exts := []int{0, 23, 0xff01, 10, 11, 35, 16, 5, 13}
	if tls13 {
		exts = append(exts, 51, 45, 43)
	}
	dec := func(v []int) string {
		var s []string
		for _, x := range v {
			s = append(s, fmt.Sprint(x))
		}
		return strings.Join(s, "-")
	}
	ja3s := "771," + dec(ciphers) + "," + dec(exts) + ",29-23-24,0"
	sum := md5.Sum([]byte(ja3s))
	hexs := func(v []int, skip ...int) string {
		var s []string
		for _, x := range v {
			if !slices.Contains(skip, x) {
				s = append(s, fmt.Sprintf("%04x", x))
			}
		}
		slices.Sort(s)
		return strings.Join(s, ",")
	}
	h12 := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:])[:12] }
	ver := "12"
	if tls13 {
		ver = "13"
	}
	a := fmt.Sprintf("t%sd%02d%02dh2", ver, len(ciphers), len(exts))
	sigs := "0403,0804,0401,0503,0805,0501,0806,0601"
	return hex.EncodeToString(sum[:]), a + "_" + h12(hexs(ciphers)) + "_" + h12(hexs(exts, 0, 16)+"_"+sigs)
}

// TestAppRecordsTLS: the TLS 1.2 sessions (443 and 4443, found by
// content) log the certificate's subject, issuer, serial, fingerprint and
// validity with sni, ja3 and ja4; TLS 1.3 logs sni, ja3 and ja4 and no
// certificate (it is encrypted). Every flow ends bypassed as encrypted.
func TestAppRecordsTLS(t *testing.T) {
	der, err := base64.StdEncoding.DecodeString(appCertB64)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	fp := sha1.Sum(der)
	var fps []string
	for _, b := range fp {
		fps = append(fps, fmt.Sprintf("%02x", b))
	}
	var serial []string
	for _, b := range cert.SerialNumber.Bytes() {
		serial = append(serial, fmt.Sprintf("%02X", b))
	}
	certFields := map[string]any{
		"subject":     "C=US, O=xdpids test, CN=www.example.com",
		"issuerdn":    "C=US, O=xdpids test, CN=www.example.com",
		"serial":      strings.Join(serial, ":"),
		"fingerprint": strings.Join(fps, ":"),
		"notbefore":   cert.NotBefore.UTC().Format("2006-01-02T15:04:05"),
		"notafter":    cert.NotAfter.UTC().Format("2006-01-02T15:04:05"),
	}
	ja3_12, ja4_12 := clientFingerprints(false)
	ja3_13, ja4_13 := clientFingerprints(true)
	with := func(m map[string]any, kv ...any) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}
	none := map[string]any{"subject": nil, "issuerdn": nil, "serial": nil, "fingerprint": nil, "notbefore": nil, "notafter": nil}
	want := []struct {
		port   uint16
		fields map[string]any
	}{
		{443, with(certFields, "sni", "www.example.com", "version", "TLS 1.2", "ja4", ja4_12, "session_resumed", nil)},
		{4443, with(certFields, "sni", "admin.example.com", "version", "TLS 1.2", "ja4", ja4_12, "session_resumed", nil)},
		{443, with(none, "sni", "www.example.com", "version", "TLS 1.3", "ja4", ja4_13)},
	}
	ja3 := []string{ja3_12, ja3_12, ja3_13}
	var got []appEvent
	evs := readApp(t, "app_tls")
	for _, e := range evs {
		if e.EventType == "tls" {
			got = append(got, e)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d tls events, want %d", len(got), len(want))
	}
	for i, w := range want {
		what := fmt.Sprintf("tls event %d (port %d)", i, w.port)
		f := fields(t, got[i].TLS)
		expect(t, what, f, w.fields)
		if j, _ := f["ja3"].(map[string]any); j == nil || j["hash"] != ja3[i] {
			t.Errorf("%s: ja3 %v, want hash %s", what, f["ja3"], ja3[i])
		}
		if got[i].DestPort != w.port {
			t.Errorf("%s: dest_port %d", what, got[i].DestPort)
		}
	}
	checkEncryptedBypass(t, evs, "tls")
}

// checkEncryptedBypass: every flow of the capture is of proto and was
// bypassed with reason encrypted, both ways.
func checkEncryptedBypass(t *testing.T, evs []appEvent, proto string) {
	t.Helper()
	n := 0
	for _, e := range evs {
		if e.EventType != "flow" {
			continue
		}
		n++
		var vars []string
		if e.Metadata != nil {
			for _, v := range e.Metadata.Flowvars {
				for k, x := range v {
					vars = append(vars, k+"="+x)
				}
			}
		}
		slices.Sort(vars)
		if e.AppProto != proto || !slices.Equal(vars, []string{"xdpids.bypass_toclient=encrypted", "xdpids.bypass_toserver=encrypted"}) {
			t.Errorf("flow %d->%d: app_proto %q flowvars %v, want %s bypassed as encrypted both ways", e.SrcPort, e.DestPort, e.AppProto, vars, proto)
		}
	}
	if n == 0 {
		t.Error("no flow events")
	}
}

// TestAppRecordsSSH: one ssh event with both banners' software and the
// HASSH of both KEXINITs (md5 of kex;enc;mac;comp, client to server
// lists for the client, server to client for the server), then the flow
// bypassed as encrypted.
func TestAppRecordsSSH(t *testing.T) {
	enc := "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com"
	mac := "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com"
	comp := "none,zlib@openssh.com"
	cKex := "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,diffie-hellman-group16-sha512,ext-info-c,kex-strict-c-v00@openssh.com"
	sKex := "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,diffie-hellman-group16-sha512,kex-strict-s-v00@openssh.com"
	hassh := func(kex string) map[string]any {
		s := kex + ";" + enc + ";" + mac + ";" + comp
		h := md5.Sum([]byte(s))
		return map[string]any{"hash": hex.EncodeToString(h[:]), "string": s}
	}
	evs := readApp(t, "app_ssh")
	var got []appEvent
	for _, e := range evs {
		if e.EventType == "ssh" {
			got = append(got, e)
		}
	}
	if len(got) != 1 {
		t.Fatalf("%d ssh events, want 1", len(got))
	}
	f := fields(t, got[0].SSH)
	c, _ := f["client"].(map[string]any)
	s, _ := f["server"].(map[string]any)
	expect(t, "ssh client", c, map[string]any{"proto_version": "2.0", "software_version": "OpenSSH_9.6", "hassh": hassh(cKex)})
	expect(t, "ssh server", s, map[string]any{"proto_version": "2.0", "software_version": "OpenSSH_9.6p1", "hassh": hassh(sKex)})
	checkEncryptedBypass(t, evs, "ssh")
}
