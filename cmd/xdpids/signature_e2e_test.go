package main

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xdpids/xdpids/internal/testenv"
)

// TestSignaturesEndToEnd: a drop rule matching a TCP payload from host A
// alerts with action "blocked" and the kernel drops the rest of that flow
// (the server stops hearing from it), while a new connection and host C
// are unaffected; an alert rule from the built-in set fires on a request
// for /etc/passwd.
func TestSignaturesEndToEnd(t *testing.T) {
	testenv.Short(t)
	l := newLab(t)
	rulesFile := filepath.Join(t.TempDir(), "test.rules")
	if err := os.WriteFile(rulesFile, []byte(
		`drop tcp any any -> any 8080 (msg:"E2E evil payload"; flow:to_server,established; content:"EVIL-PAYLOAD"; sid:9100001; rev:1;)`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := l.start(t, `
response:
  enabled: false
`, "--rules", rulesFile)

	srvAddr := net.JoinHostPort(l.serverEnds["a"].IP(), "8080")
	l.listen(t, srvAddr, echoConn)
	dial := func() net.Conn {
		t.Helper()
		c, err := l.dial("a", srvAddr)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	echo := func(c net.Conn, msg string, wait time.Duration) bool {
		_ = c.SetDeadline(time.Now().Add(wait))
		if _, err := c.Write([]byte(msg)); err != nil {
			return false
		}
		buf := make([]byte, len(msg))
		_, err := io.ReadFull(c, buf)
		return err == nil && string(buf) == msg
	}

	c := dial()
	defer c.Close()
	if !echo(c, "hello\n", 2*time.Second) {
		t.Fatal("clean data did not pass")
	}
	_ = echo(c, "EVIL-PAYLOAD\n", 500*time.Millisecond) // the matching segment itself passes
	// Inspection is asynchronous: the verdict lands in the kernel a moment
	// after the match (the alert says when); from then on the flow drops.
	deadline := time.Now().Add(3 * time.Second)
	for !eveHas(d.eve, `"signature_id":9100001`) {
		if time.Now().After(deadline) {
			t.Fatal("no alert for the drop rule within 3s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if echo(c, "after\n", time.Second) {
		t.Error("data after the drop rule matched still reached the server")
	}
	c2 := dial()
	defer c2.Close()
	if !echo(c2, "/etc/passwd\n", 2*time.Second) { // a new flow is not dropped; the built-in rule alerts
		t.Error("a new connection was dropped too")
	}
	if ok, out := l.ping("c", 2); !ok {
		t.Errorf("host C affected:\n%s", out)
	}
	d.stop(t)
	var evil, passwd bool
	for _, e := range readEVE(t, d.eve) {
		if e.Alert.SignatureID == 9100001 && e.Alert.Action == "blocked" {
			evil = true
		}
		if strings.Contains(e.Alert.Signature, "/etc/passwd") {
			passwd = true
		}
	}
	if !evil {
		t.Error("no blocked alert for the drop rule")
	}
	if !passwd {
		t.Error("the built-in /etc/passwd rule did not alert")
	}
	st := l.stats(t)[l.serverEnds["a"].Name]
	if st.Verdicts["drop"].Reasons["flow_drop"].Packets == 0 {
		t.Errorf("no packets dropped by the flow verdict: %+v", st.Verdicts["drop"])
	}
}

// eveHas reports whether the EVE file holds a line containing s.
func eveHas(path, s string) bool {
	data, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(data), s)
}
