package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/learn/model"
)

// reloadEVE is an EVE alert with what the reload test judges.
type reloadEVE struct {
	EventType string `json:"event_type"`
	FlowID    uint64 `json:"flow_id"`
	SrcIP     string `json:"src_ip"`
	SrcPort   int    `json:"src_port"`
	Alert     struct {
		Action      string `json:"action"`
		SignatureID uint32 `json:"signature_id"`
	} `json:"alert"`
}

// eveAlerts reads the alerts in the EVE file so far.
func eveAlerts(t *testing.T, path string) []reloadEVE {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []reloadEVE
	for _, line := range strings.Split(string(data), "\n") {
		var e reloadEVE
		if json.Unmarshal([]byte(line), &e) == nil && e.EventType == "alert" {
			out = append(out, e)
		}
	}
	return out
}

// findAlert returns the first alert of sid from src, if any.
func findAlert(t *testing.T, path string, sid uint32, src string) (reloadEVE, bool) {
	for _, e := range eveAlerts(t, path) {
		if e.Alert.SignatureID == sid && e.SrcIP == src {
			return e, true
		}
	}
	return reloadEVE{}, false
}

// waitAlert waits for an alert of sid from src.
func waitAlert(t *testing.T, path string, sid uint32, src string, within time.Duration) reloadEVE {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if e, ok := findAlert(t, path, sid, src); ok {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("no alert sid %d from %s within %s", sid, src, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hup rewrites the daemon's config file, sends SIGHUP and waits for the
// daemon to log that the reload is applied.
func (d *daemonProc) hup(t *testing.T, configYAML string) {
	t.Helper()
	if configYAML != "" {
		if err := os.WriteFile(d.config, []byte(configYAML), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before := strings.Count(d.log.String(), "configuration reloaded")
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(d.log.String(), "configuration reloaded") == before {
		if time.Now().After(deadline) {
			t.Fatalf("no reload within 5s of SIGHUP:\n%s", d.log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// connectScan tries TCP connections from a client to ports on S where
// nothing listens (each refused): a small, real vertical scan.
func (l *lab) connectScan(t *testing.T, client string, from, to int) {
	t.Helper()
	ip := l.serverEnds[client].IP()
	for p := from; p <= to; p++ {
		if c, err := l.dial(client, net.JoinHostPort(ip, itoa(p))); err == nil {
			c.Close()
			t.Fatalf("port %d open on S", p)
		}
	}
}

// TestReloadAppliesOnSIGHUP: SIGHUP applies a changed detector threshold
// and mode to live traffic, then changed rules, without detaching, and
// the flowbits a connection set before the rule swap are seen by the new
// rules on that same connection.
func TestReloadAppliesOnSIGHUP(t *testing.T) {
	testenv.Short(t)
	testenv.RequireTool(t, "ping")
	l := newLab(t)
	a, b, c := l.clientEnds["a"].IP(), l.clientEnds["b"].IP(), l.clientEnds["c"].IP()
	rulesFile := filepath.Join(t.TempDir(), "reload.rules")
	const setter = `alert tcp any any -> any 8080 (msg:"reload: login sets a flowbit"; flow:to_server,established; content:"LOGIN"; flowbits:set,reload.auth; sid:9400001; rev:1;)` + "\n"
	const reader = `alert tcp any any -> any 8080 (msg:"reload: command after login"; flow:to_server,established; content:"CMD"; flowbits:isset,reload.auth; sid:9400002; rev:1;)` + "\n"
	if err := os.WriteFile(rulesFile, []byte(setter), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := func(mode string, ports int) string {
		return "mode: " + mode + `
sweep_interval: 500ms
detectors:
  scan_vertical_ports: ` + itoa(ports) + `
  scan_ban_ttl: 30s
response:
  escalation: [30s]
signatures:
  builtin: false
`
	}
	d := l.start(t, conf("monitor", 40), "--rules", rulesFile)
	vscan := alert.ScanVerticalTCP.SID

	// Monitor, threshold 40. A's 20-port scan stays under it; B's 50-port
	// scan alerts, and the ban it asks for is only reported.
	l.connectScan(t, "a", 2001, 2020)
	l.connectScan(t, "b", 2001, 2050)
	if e := waitAlert(t, d.eve, vscan, b, 3*time.Second); e.Alert.Action == "blocked" {
		t.Errorf("monitor mode: B's scan alert says %q", e.Alert.Action)
	}
	if ok, out := l.ping("b", 1); !ok {
		t.Errorf("monitor mode: B banned:\n%s", out)
	}
	if _, ok := findAlert(t, d.eve, vscan, a); ok {
		t.Fatal("A's 20-port scan alerted under a threshold of 40")
	}

	// SIGHUP: threshold 10, prevent. The same small scan from A now
	// alerts, and the ban drops A's traffic.
	ready := d.ready
	d.hup(t, conf("prevent", 10))
	l.connectScan(t, "a", 2021, 2030)
	if e := waitAlert(t, d.eve, vscan, a, 3*time.Second); e.Alert.Action != "blocked" {
		t.Errorf("after the reload: A's scan alert says %q, want blocked", e.Alert.Action)
	}
	l.waitBanned(t, a, time.Now(), 2*time.Second)
	if ok, _ := l.ping("a", 1); ok {
		t.Error("prevent mode after the reload: A still reaches S while banned")
	}
	if !strings.Contains(d.log.String(), "mode=prevent") {
		t.Errorf("the reload did not log the new mode:\n%s", d.log)
	}

	// Rules: C's connection logs in (the setter sets reload.auth and
	// alerts, so the test knows it ran), then SIGHUP adds a rule that reads the bit; the next command
	// on that same connection alerts. A connection that never logged in
	// does not.
	srv := net.JoinHostPort(l.serverEnds["c"].IP(), "8080")
	l.listen(t, srv, echoConn)
	dial := func() net.Conn {
		t.Helper()
		conn, err := l.dial("c", srv)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	login, other := dial(), dial()
	if !echoOn(login, "LOGIN alice\n", 2*time.Second) || !echoOn(other, "hello\n", 2*time.Second) {
		t.Fatal("echo failed")
	}
	// Inspection is asynchronous: the bit is set once the setter alerted.
	waitAlert(t, d.eve, 9400001, c, 3*time.Second)
	if err := os.WriteFile(rulesFile, []byte(setter+reader), 0o644); err != nil {
		t.Fatal(err)
	}
	d.hup(t, "")
	if !echoOn(login, "CMD ls\n", 2*time.Second) || !echoOn(other, "CMD ls\n", 2*time.Second) {
		t.Fatal("echo failed after the reload")
	}
	e := waitAlert(t, d.eve, 9400002, c, 3*time.Second)
	loginPort := login.LocalAddr().(*net.TCPAddr).Port
	if e.SrcPort != loginPort {
		t.Errorf("the isset rule fired on port %d, want the login connection's %d", e.SrcPort, loginPort)
	}
	time.Sleep(300 * time.Millisecond) // the other connection's segment had its chance
	for _, x := range eveAlerts(t, d.eve) {
		if x.Alert.SignatureID == 9400002 && x.SrcPort != loginPort {
			t.Errorf("the isset rule fired on a connection that never logged in: %+v", x)
		}
	}
	// Never detached: the ready file still names the same attachment.
	if got := l.mustCLI(t, "stats"); !strings.Contains(got, l.serverEnds["c"].Name) {
		t.Errorf("stats after the reloads lack %s:\n%s", l.serverEnds["c"].Name, got)
	}
	if d.ready.PID != ready.PID {
		t.Errorf("daemon pid changed")
	}
	d.stop(t)
}

// TestReloadBadModelKeepsModel: a model file damaged between reloads
// (truncated) fails the SIGHUP reload with one error naming the file, and
// the daemon runs on with the model it had; a good file then reloads.
func TestReloadBadModelKeepsModel(t *testing.T) {
	testenv.Short(t)
	l := newLab(t)
	mf := filepath.Join(t.TempDir(), "model.json")
	good, err := model.Default().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mf, good, 0o644); err != nil {
		t.Fatal(err)
	}
	conf := "mode: monitor\nmodel: " + mf + "\n"
	d := l.start(t, conf)
	if !strings.Contains(d.log.String(), "learned model loaded") {
		t.Fatalf("no model loaded at start:\n%s", d.log)
	}
	if err := os.WriteFile(mf, good[:len(good)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	before := strings.Count(d.log.String(), "reload: keeping the running configuration")
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(d.log.String(), "reload: keeping the running configuration") == before {
		if time.Now().After(deadline) {
			t.Fatalf("a truncated model file did not fail the reload:\n%s", d.log)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var failed string
	for _, line := range strings.Split(d.log.String(), "\n") {
		if strings.Contains(line, "reload: keeping the running configuration") {
			failed = line
		}
	}
	if !strings.Contains(failed, "bad model file") || !strings.Contains(failed, mf) {
		t.Errorf("reload error does not name the bad model file: %s", failed)
	}
	if got := l.mustCLI(t, "stats"); !strings.Contains(got, l.serverEnds["a"].Name) {
		t.Errorf("stats after the failed reload lack %s:\n%s", l.serverEnds["a"].Name, got)
	}
	if err := os.WriteFile(mf, good, 0o644); err != nil {
		t.Fatal(err)
	}
	pid := d.ready.PID
	d.hup(t, "")
	if d.ready.PID != pid {
		t.Error("daemon pid changed")
	}
	d.stop(t)
}
