package main

import (
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/loader"
)

// handshakeConfig: no SYN cookies at all, so the only way a source becomes
// verified is the tcx egress path (the host's SYN-ACK, the client's final
// ACK). sweep_interval short so a ban is visible quickly.
const handshakeConfig = `
sweep_interval: 500ms
syn_cookies:
  threshold: 0
signatures:
  builtin: false
`

// TestHandshakeVerifiedEndToEnd: outside any flood and without cookies, a
// client that completes one ordinary TCP connection to a real server is
// verified in the kernel (stats shows it under verification.handshake);
// a forged SYN scan in its name from another host then neither bans it nor
// breaks its session. A brute force of completed connections from a third
// host is verified evidence: a ban of the detector's full TTL (not a
// challenge ban capped at the first escalation step).
func TestHandshakeVerifiedEndToEnd(t *testing.T) {
	testenv.Short(t)
	for _, tool := range []string{"hping3", "timeout"} {
		testenv.RequireTool(t, tool)
	}
	l := newLab(t)
	a, c := l.clientEnds["a"].IP(), l.clientEnds["c"].IP()
	srv := net.JoinHostPort(l.serverEnds["a"].IP(), "8080")
	l.listen(t, srv, echoConn)
	ssh := net.JoinHostPort(l.serverEnds["c"].IP(), "22")
	l.listen(t, ssh, func(c net.Conn) { c.Close() })
	d := l.start(t, handshakeConfig)
	for _, i := range d.ready.Interfaces {
		if !i.Egress {
			t.Fatalf("no egress program on %s (kernel without tcx?): ready %+v", i.Name, d.ready)
		}
	}
	m, err := loader.OpenPinned(l.pin)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	// One ordinary connection verifies A.
	session, err := l.dial("a", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close()
	echo := func(msg string) error {
		_ = session.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := session.Write([]byte(msg)); err != nil {
			return err
		}
		buf := make([]byte, len(msg))
		_, err := session.Read(buf)
		return err
	}
	if err := echo("hello"); err != nil {
		t.Fatalf("session: %v", err)
	}
	var v loader.VerifiedSource
	deadline := time.Now().Add(2 * time.Second)
	for {
		if v, err = m.LookupVerified(netip.MustParseAddr(a)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("client A not verified by its handshake:\n%s", d.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if v.TTL != 64 {
		t.Errorf("A verified with TTL %d, want 64", v.TTL)
	}
	st := l.stats(t)[l.serverEnds["a"].Name]
	if st.Verification["handshake"] < 1 || st.Verification["synack_recorded"] < 1 || st.Verification["cookie"] != 0 {
		t.Errorf("A's interface verification counters %v, want a handshake, a SYN-ACK recorded and no cookie", st.Verification)
	}
	if out := l.mustCLI(t, "stats"); !strings.Contains(out, "verification: cookie=0 handshake=") {
		t.Errorf("stats prints no verification line:\n%s", out)
	}

	// B forges a SYN scan in A's name.
	scan := l.clients["b"].Cmd("timeout", "5", "hping3", "-q", "-a", a, "-S", "--scan", "1-1000", l.serverEnds["b"].IP())
	_ = scan.Run() // timeout's status 124, or no replies
	time.Sleep(time.Second)
	for _, r := range blocks(t, l) {
		if r.Prefix == a+"/32" {
			t.Errorf("client A banned after a forged scan: %+v", r)
		}
	}
	if err := echo("after"); err != nil {
		t.Errorf("A's session after the forged scan: %v", err)
	}
	if conn, err := l.dial("a", srv); err != nil {
		t.Errorf("A's new connection after the forged scan: %v", err)
	} else {
		conn.Close()
	}

	// C's brute force of completed connections to port 22.
	start := time.Now()
	banned := false
	for i := 0; i < 20 && !banned; i++ {
		var conn net.Conn
		err := l.clients["c"].Do(func() (err error) { conn, err = net.DialTimeout("tcp", ssh, time.Second); return err })
		if err == nil {
			conn.Close()
		}
		time.Sleep(50 * time.Millisecond)
		for _, r := range blocks(t, l) {
			banned = banned || r.Prefix == c+"/32" && !r.Expired
		}
	}
	if !banned {
		t.Fatalf("C's brute force not banned after 20 connections:\n%s", l.mustCLI(t, "blocks"))
	}
	t.Logf("C banned %s after its first connection", time.Since(start))
	d.stop(t)

	var spoofAllowed, bruteVerified int
	banTTLs := banTTLsOf(t, d.eve, c)
	for _, e := range readTrustEVE(t, d.eve) {
		switch e.Alert.Source.IP {
		case a:
			if e.Alert.Action != "allowed" {
				t.Errorf("alert against A %s: %+v", e.Alert.Action, e)
			}
			if e.flowvar("xdpids.source_verified") == "true" && e.flowvar("xdpids.trust") == "forgeable" {
				spoofAllowed++
			}
		case c:
			if e.Alert.Action == "blocked" && e.flowvar("xdpids.detector") == "brute_force" {
				if ttl := banTTLs[e.Alert.SignatureID]; e.flowvar("xdpids.trust") != "verified" || e.flowvar("xdpids.ban_kind") != "" || ttl != 3600 {
					t.Errorf("C's brute force ban: trust %q ban_kind %q ttl %d s, want verified, not a challenge, 3600 s",
						e.flowvar("xdpids.trust"), e.flowvar("xdpids.ban_kind"), ttl)
				}
				bruteVerified++
			}
		}
	}
	if spoofAllowed == 0 {
		t.Errorf("no alert on the forged scan against verified A")
	}
	if bruteVerified == 0 {
		t.Errorf("no blocked brute force alert against C")
	}
}

// banTTLsOf reads the xdpids.ban_ttl_seconds of the blocked alerts
// against src in the EVE log, by signature id.
func banTTLsOf(t *testing.T, path, src string) map[uint32]uint64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint32]uint64{}
	for _, line := range strings.Split(string(data), "\n") {
		var e struct {
			EventType string `json:"event_type"`
			Alert     struct {
				Action      string `json:"action"`
				SignatureID uint32 `json:"signature_id"`
				Source      struct {
					IP string `json:"ip"`
				} `json:"source"`
			} `json:"alert"`
			Metadata struct {
				Flowints map[string]uint64 `json:"flowints"`
			} `json:"metadata"`
		}
		if json.Unmarshal([]byte(line), &e) != nil || e.EventType != "alert" || e.Alert.Source.IP != src || e.Alert.Action != "blocked" {
			continue
		}
		out[e.Alert.SignatureID] = e.Metadata.Flowints["xdpids.ban_ttl_seconds"]
	}
	return out
}

// blocks is `xdpids blocks --json`.
func blocks(t *testing.T, l *lab) []blockJSON {
	t.Helper()
	out, _, err := l.cli("blocks", "--json")
	var rows []blockJSON
	if err == nil {
		_ = json.Unmarshal([]byte(out), &rows)
	}
	return rows
}
