package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/xdpids/xdpids/internal/testenv"
)

// appE2ERules: an alert and a drop rule on http.uri, for the daemon the
// app-layer end-to-end tests run.
const appE2ERules = `alert http any any -> any any (msg:"E2E http.uri alert"; flow:established,to_server; http.uri; content:"/xdpids-e2e/alert"; sid:9400001; rev:1;)
drop http any any -> any any (msg:"E2E http.uri drop"; flow:established,to_server; http.uri; content:"/xdpids-e2e/drop"; sid:9400002; rev:1;)
`

// eveAll reads every EVE line of path as a generic map.
func eveAll(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open eve: %v", err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("bad EVE line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// obj is the object at key of m (nil when absent).
func obj(m map[string]any, key string) map[string]any { v, _ := m[key].(map[string]any); return v }

// waitFor polls the EVE file until it holds s.
func waitFor(t *testing.T, eve, s string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !eveHas(eve, s) {
		if time.Now().After(deadline) {
			t.Fatalf("EVE has no %s within %v", s, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// routeThroughS makes S a router between A and B (the IPS in the path, as
// on a gateway): A reaches B's network through S and back, so the daemon
// sees both directions of a connection, each on the ingress of its link.
// It returns B's address, where the app-layer tests' servers run.
func (l *lab) routeThroughS(t *testing.T) string {
	t.Helper()
	l.s.Run(t, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
	l.clients["a"].Run(t, "ip", "route", "add", "198.18.2.0/24", "via", l.serverEnds["a"].IP())
	l.clients["b"].Run(t, "ip", "route", "add", "198.18.1.0/24", "via", l.serverEnds["b"].IP())
	return l.clientEnds["b"].IP()
}

// serveHTTP runs a Go net/http server in B on addr: /xdpids-e2e/drop
// answers after 700 ms (so the drop verdict is in the kernel before the
// response leaves), everything else at once.
func (l *lab) serveHTTP(t *testing.T, addr string, tlsCfg *tls.Config) {
	t.Helper()
	l.serveHTTPIn(t, l.clients["b"], addr, tlsCfg)
}

// serveHTTPIn is serveHTTP in namespace ns.
func (l *lab) serveHTTPIn(t *testing.T, ns *testenv.Netns, addr string, tlsCfg *tls.Config) {
	t.Helper()
	var ln net.Listener
	if err := ns.Do(func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/xdpids-e2e/drop") {
			time.Sleep(700 * time.Millisecond)
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("hello from S\n"))
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
}

// curl runs curl from client A; it returns the HTTP status curl saw ("000"
// when none came).
func (l *lab) curl(t *testing.T, args ...string) string {
	t.Helper()
	out, _ := l.clients["a"].Cmd("curl", append([]string{"-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3", "-A", "xdpids-e2e/1.0"}, args...)...).Output()
	return strings.TrimSpace(string(out))
}

// TestAppHTTPEndToEnd: real curl fetches from host A against a Go HTTP
// server in B, routed through S. A URI matching an http.uri alert rule raises the alert with
// the request's http record; a URI matching an http.uri drop rule gets no
// answer (the kernel drops the connection: the response, on its way
// back through S, is dropped) while the next request from
// the same host, on a new connection, is answered; every request is
// logged as an EVE http event.
func TestAppHTTPEndToEnd(t *testing.T) {
	testenv.Short(t)
	testenv.RequireTool(t, "curl")
	l := newLab(t)
	rules := filepath.Join(t.TempDir(), "app.rules")
	if err := os.WriteFile(rules, []byte(appE2ERules), 0o644); err != nil {
		t.Fatal(err)
	}
	d := l.start(t, "response:\n  enabled: false\n", "--rules", rules)
	host := l.routeThroughS(t)
	srv := net.JoinHostPort(host, "8080")
	l.serveHTTP(t, srv, nil)
	base := "http://" + srv

	if code := l.curl(t, base+"/xdpids-e2e/alert?q=1"); code != "200" {
		t.Fatalf("alert fetch: status %s, want 200", code)
	}
	waitFor(t, d.eve, `"signature_id":9400001`, 3*time.Second)
	if code := l.curl(t, base+"/xdpids-e2e/drop"); code != "000" {
		t.Errorf("drop fetch: status %s, want no answer (000)", code)
	}
	if code := l.curl(t, base+"/after-drop"); code != "200" {
		t.Errorf("fetch after the drop, new connection: status %s, want 200", code)
	}
	d.stop(t)

	var alerted, blocked bool
	urls := map[string]map[string]any{}
	for _, e := range eveAll(t, d.eve) {
		switch e["event_type"] {
		case "alert":
			a, h := obj(e, "alert"), obj(e, "http")
			switch a["signature_id"] {
			case 9400001.0:
				alerted = true
				if h == nil || h["url"] != "/xdpids-e2e/alert?q=1" || h["hostname"] != host ||
					h["http_user_agent"] != "xdpids-e2e/1.0" || h["http_method"] != "GET" || e["app_proto"] != "http" {
					t.Errorf("alert's http record %v (app_proto %v)", h, e["app_proto"])
				}
			case 9400002.0:
				blocked = a["action"] == "blocked"
				if h == nil || h["url"] != "/xdpids-e2e/drop" {
					t.Errorf("drop alert's http record %v", h)
				}
			}
		case "http":
			h := obj(e, "http")
			urls[h["url"].(string)] = h
		}
	}
	if !alerted {
		t.Error("no alert for the http.uri rule")
	}
	if !blocked {
		t.Error("no blocked alert for the http.uri drop rule")
	}
	for _, u := range []string{"/xdpids-e2e/alert?q=1", "/after-drop"} {
		h := urls[u]
		if h == nil {
			t.Errorf("no EVE http event for %s (have %v)", u, urls)
			continue
		}
		if h["status"] != 200.0 || h["http_user_agent"] != "xdpids-e2e/1.0" || h["hostname"] != host || h["http_content_type"] != "text/plain" {
			t.Errorf("http event for %s: %v", u, h)
		}
	}
	st := l.lastRunStats(t)[l.serverEnds["a"].Name]
	if st.Verdicts["drop"].Reasons["flow_drop"].Packets == 0 {
		t.Errorf("no packets dropped by the flow verdict: %+v", st.Verdicts["drop"])
	}
}

// serveDNS answers DNS over UDP on addr in S (golang.org/x/net's
// dnsmessage): www.example.test A 192.0.2.10 and AAAA 2001:db8::10,
// NXDOMAIN for any other name.
func (l *lab) serveDNS(t *testing.T, addr string) {
	t.Helper()
	var pc net.PacketConn
	if err := l.clients["b"].Do(func() (err error) { pc, err = net.ListenPacket("udp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var m dnsmessage.Message
			if m.Unpack(buf[:n]) != nil || len(m.Questions) != 1 {
				continue
			}
			q := m.Questions[0]
			m.Response, m.RecursionAvailable, m.Authoritative = true, true, true
			hdr := dnsmessage.ResourceHeader{Name: q.Name, Type: q.Type, Class: dnsmessage.ClassINET, TTL: 300}
			switch {
			case q.Name.String() != "www.example.test.":
				m.RCode = dnsmessage.RCodeNameError
			case q.Type == dnsmessage.TypeA:
				m.Answers = []dnsmessage.Resource{{Header: hdr, Body: &dnsmessage.AResource{A: netip.MustParseAddr("192.0.2.10").As4()}}}
			case q.Type == dnsmessage.TypeAAAA:
				m.Answers = []dnsmessage.Resource{{Header: hdr, Body: &dnsmessage.AAAAResource{AAAA: netip.MustParseAddr("2001:db8::10").As16()}}}
			}
			if out, err := m.Pack(); err == nil {
				_, _ = pc.WriteTo(out, from)
			}
		}
	}()
}

// TestAppDNSEndToEnd: dig queries from host A to a DNS responder in B, routed through S,
// appear as EVE dns records, queries and answers (A, AAAA, NXDOMAIN).
func TestAppDNSEndToEnd(t *testing.T) {
	testenv.Short(t)
	testenv.RequireTool(t, "dig")
	l := newLab(t)
	d := l.start(t, "response:\n  enabled: false\n")
	srv := l.routeThroughS(t)
	l.serveDNS(t, net.JoinHostPort(srv, "53"))
	dig := func(name, typ string) string {
		t.Helper()
		out, err := l.clients["a"].Cmd("dig", "+short", "+tries=1", "+time=2", "@"+srv, name, typ).Output()
		if err != nil {
			t.Fatalf("dig %s %s: %v", name, typ, err)
		}
		return strings.TrimSpace(string(out))
	}
	if got := dig("www.example.test", "A"); got != "192.0.2.10" {
		t.Errorf("dig A: %q", got)
	}
	if got := dig("www.example.test", "AAAA"); got != "2001:db8::10" {
		t.Errorf("dig AAAA: %q", got)
	}
	_ = dig("nosuch.example.test", "A")
	waitFor(t, d.eve, `"NXDOMAIN"`, 3*time.Second)
	d.stop(t)

	var got []string
	for _, e := range eveAll(t, d.eve) {
		if e["event_type"] != "dns" {
			continue
		}
		r := obj(e, "dns")
		s, _ := r["type"].(string)
		if qs, _ := r["queries"].([]any); len(qs) == 1 {
			q := qs[0].(map[string]any)
			s += " " + q["rrname"].(string) + " " + q["rrtype"].(string)
		}
		if s2, _ := r["rcode"].(string); r["type"] == "response" {
			s += " " + s2
		}
		as, _ := r["answers"].([]any)
		for _, a := range as {
			s += " " + a.(map[string]any)["rdata"].(string)
		}
		got = append(got, s)
	}
	want := []string{
		"request www.example.test A", "response www.example.test A NOERROR 192.0.2.10",
		"request www.example.test AAAA", "response www.example.test AAAA NOERROR 2001:0db8:0000:0000:0000:0000:0000:0010",
		"request nosuch.example.test A", "response nosuch.example.test A NXDOMAIN",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("dns events:\ngot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// selfSigned is a fresh self-signed certificate for name.
func selfSigned(t *testing.T, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0x5eed), Subject: pkix.Name{CommonName: name, Organization: []string{"xdpids e2e"}},
		DNSNames: []string{name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestAppTLSEndToEnd: curl -k to an HTTPS server in B, routed through S: the handshake is
// an EVE tls record with the sni, ja3 and ja4 (TLS 1.2, so the
// certificate's subject too), and the flow is bypassed after it, reason
// encrypted.
func TestAppTLSEndToEnd(t *testing.T) {
	testenv.Short(t)
	testenv.RequireTool(t, "curl")
	l := newLab(t)
	d := l.start(t, "response:\n  enabled: false\n")
	host := l.routeThroughS(t)
	srv := net.JoinHostPort(host, "8443")
	// TLS 1.2 at most: its certificate is in clear, for the record.
	l.serveHTTP(t, srv, &tls.Config{Certificates: []tls.Certificate{selfSigned(t, "tls.example.test")}, MaxVersion: tls.VersionTLS12})
	if code := l.curl(t, "-k", "--resolve", "tls.example.test:8443:"+host, "https://tls.example.test:8443/"); code != "200" {
		t.Fatalf("https fetch: status %s", code)
	}
	waitFor(t, d.eve, `"event_type":"tls"`, 3*time.Second)
	d.stop(t)
	var rec map[string]any
	bypassed := false
	for _, e := range eveAll(t, d.eve) {
		switch e["event_type"] {
		case "tls":
			rec = obj(e, "tls")
		case "flow":
			if e["dest_port"] != 8443.0 {
				continue
			}
			md, _ := obj(e, "metadata")["flowvars"].([]any)
			for _, v := range md {
				if v.(map[string]any)["xdpids.bypass_toserver"] == "encrypted" {
					bypassed = true
				}
			}
			if e["app_proto"] != "tls" {
				t.Errorf("flow app_proto %v", e["app_proto"])
			}
		}
	}
	if rec == nil {
		t.Fatal("no tls event")
	}
	ja3 := obj(rec, "ja3")
	ja4, _ := rec["ja4"].(string)
	if rec["sni"] != "tls.example.test" || rec["version"] != "TLS 1.2" || ja3 == nil || len(ja3["hash"].(string)) != 32 ||
		!strings.HasPrefix(ja4, "t1") || !strings.Contains(ja4, "d") || rec["subject"] != "O=xdpids e2e, CN=tls.example.test" {
		t.Errorf("tls record %v", rec)
	}
	if !bypassed {
		t.Error("the TLS flow was not bypassed as encrypted")
	}
}

// serverResponseRules: a rule on the response of a connection to the
// host itself, which only the egress samples show.
const serverResponseRules = `alert http any any -> any any (msg:"E2E http response to a client of this host"; flow:established,to_client; http.stat_code; content:"200"; sid:9400010; rev:1;)
`

// TestAppServerResponsesEndToEnd: the daemon on a server (no routing: the
// HTTP server runs in S itself, where the XDP program sees only what
// arrives) still sees the responses, through the tcx egress program's
// samples. A real curl from A gets an EVE http event with the response's
// status and content type, a to_client rule on http.stat_code alerts, and
// the flow record counts packets to the client. With sampling.egress off,
// none of that is seen.
func TestAppServerResponsesEndToEnd(t *testing.T) {
	testenv.Short(t)
	testenv.RequireTool(t, "curl")
	l := newLab(t)
	rules := filepath.Join(t.TempDir(), "server.rules")
	if err := os.WriteFile(rules, []byte(serverResponseRules), 0o644); err != nil {
		t.Fatal(err)
	}
	host := l.serverEnds["a"].IP()
	srv := net.JoinHostPort(host, "8080")
	l.serveHTTPIn(t, l.s, srv, nil)
	for _, egress := range []bool{true, false} {
		cfg := "response:\n  enabled: false\n"
		if !egress {
			cfg += "sampling:\n  egress: false\n"
		}
		d := l.start(t, cfg, "--rules", rules)
		if d.ready.Interfaces[0].Egress != true {
			t.Fatalf("no egress program attached: %+v", d.ready.Interfaces)
		}
		if code := l.curl(t, "http://"+srv+"/server-mode"); code != "200" {
			t.Fatalf("fetch: status %s, want 200", code)
		}
		if egress {
			waitFor(t, d.eve, `"signature_id":9400010`, 3*time.Second)
		} else {
			time.Sleep(time.Second)
		}
		d.stop(t)
		var alerted, logged bool
		var toClient float64
		for _, e := range eveAll(t, d.eve) {
			switch e["event_type"] {
			case "alert":
				alerted = alerted || obj(e, "alert")["signature_id"] == 9400010.0
			case "http":
				h := obj(e, "http")
				if h["url"] == "/server-mode" {
					logged = h["status"] == 200.0 && h["http_content_type"] == "text/plain"
				}
			case "flow":
				if e["dest_port"] == 8080.0 {
					toClient += obj(e, "flow")["pkts_toclient"].(float64)
				}
			}
		}
		if alerted != egress || logged != egress || (toClient > 0) != egress {
			t.Errorf("egress samples %v: response alert %v, http event with status %v, packets to the client %v; want all %v",
				egress, alerted, logged, toClient, egress)
		}
	}
}
