package main

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/userspace/detect/alert"
)

// ipsConfig shortens ban TTLs so the test can watch them expire.
const ipsConfig = `
sweep_interval: 500ms
detectors:
  scan_ban_ttl: 4s
  flood_ban_ttl: 4s
  flags_ban_ttl: 4s
response:
  escalation: [4s]
`

// eveLine is an EVE alert as these tests judge it. Subject is the address
// a response acts on: alert.source.ip (an attacker) or alert.target.ip
// (a flood's target).
type eveLine struct {
	EventType string `json:"event_type"`
	SrcIP     string `json:"src_ip"`
	DestIP    string `json:"dest_ip"`
	Alert     struct {
		Action      string `json:"action"`
		SignatureID uint32 `json:"signature_id"`
		Signature   string `json:"signature"`
		Source      struct {
			IP string `json:"ip"`
		} `json:"source"`
		Target struct {
			IP string `json:"ip"`
		} `json:"target"`
	} `json:"alert"`
	Subject string `json:"-"`
}

// readEVE returns the alerts of the EVE file at path.
func readEVE(t *testing.T, path string) []eveLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open eve: %v", err)
	}
	defer f.Close()
	var out []eveLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l eveLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("bad EVE line %q: %v", sc.Text(), err)
		}
		if l.EventType != "alert" {
			continue // flow, anomaly, drop, stats events
		}
		if l.Subject = l.Alert.Source.IP; l.Subject == "" {
			l.Subject = l.Alert.Target.IP
		}
		out = append(out, l)
	}
	return out
}

// waitBanned polls `xdpids blocks` until addr is banned or the deadline
// passes, and returns how long it took.
func (l *lab) waitBanned(t *testing.T, addr string, start time.Time, within time.Duration) time.Duration {
	t.Helper()
	for {
		var rows []blockJSON
		out := l.mustCLI(t, "blocks", "--json")
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r.Prefix == addr+"/32" && !r.Expired {
				return time.Since(start)
			}
		}
		if time.Since(start) > within {
			t.Fatalf("%s not banned within %s; blocks:\n%s", addr, within, l.mustCLI(t, "blocks"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPreventionEndToEnd: real nmap (-sS, -sT) and hping3 floods are
// detected and their sources banned in the kernel within 2 s; a third
// host's ping and TCP are never alerted on or banned; bans expire.
func TestPreventionEndToEnd(t *testing.T) {
	testenv.Short(t)
	for _, tool := range []string{"ping", "hping3", "nmap", "timeout"} {
		testenv.RequireTool(t, tool)
	}
	l := newLab(t)
	a, b, c := l.clientEnds["a"].IP(), l.clientEnds["b"].IP(), l.clientEnds["c"].IP()

	// Host C talks to a TCP service in S during everything that follows.
	srv := l.serverEnds["c"].IP()
	l.listen(t, net.JoinHostPort(srv, "8080"), func(conn net.Conn) { conn.Write([]byte("ok\n")); conn.Close() })
	stopC := make(chan struct{})
	cDone := make(chan []string)
	go func() {
		var failures []string
		for {
			select {
			case <-stopC:
				cDone <- failures
				return
			case <-time.After(300 * time.Millisecond):
			}
			if ok, out := l.ping("c", 1); !ok {
				failures = append(failures, "ping: "+out)
			}
			conn, err := l.dial("c", net.JoinHostPort(srv, "8080"))
			if err != nil {
				failures = append(failures, "tcp: "+err.Error())
				continue
			}
			conn.Close()
		}
	}()

	for _, scan := range []string{"-sS", "-sT"} {
		t.Run("nmap "+scan+" is banned within 2s", func(t *testing.T) {
			d := l.start(t, ipsConfig)
			start := time.Now()
			nmap := l.clients["a"].Cmd("nmap", scan, "-p", "1-1000", "-n", "-Pn", "--max-retries", "0", l.serverEnds["a"].IP())
			if err := nmap.Start(); err != nil {
				t.Fatal(err)
			}
			took := l.waitBanned(t, a, start, 2*time.Second)
			if ok, _ := l.ping("a", 1); ok {
				t.Errorf("A still reaches S while banned")
			}
			// A connect scan against a banned host waits out its timeouts:
			// no need to watch that.
			_ = nmap.Process.Kill()
			_ = nmap.Wait()
			t.Logf("nmap %s from %s banned %s after the scan started", scan, a, took)
			d.stop(t)
			var found bool
			for _, e := range readEVE(t, d.eve) {
				if e.Alert.SignatureID == alert.ScanVerticalTCP.SID && e.Subject == a && e.Alert.Action == "blocked" {
					found = true
				}
			}
			if !found {
				t.Errorf("no blocked vertical-scan alert naming %s in EVE", a)
			}
			l.mustCLI(t, "unblock", a)
		})
	}

	t.Run("hping3 SYN flood is banned and bans expire", func(t *testing.T) {
		d := l.start(t, ipsConfig)
		start := time.Now()
		flood := l.clients["b"].Cmd("timeout", "2", "hping3", "-S", "--flood", "-p", "80", l.serverEnds["b"].IP())
		if err := flood.Start(); err != nil {
			t.Fatal(err)
		}
		took := l.waitBanned(t, b, start, 2*time.Second)
		_ = flood.Wait()
		t.Logf("hping3 flood from %s banned %s after it started", b, took)
		var found bool
		for _, e := range readEVE(t, d.eve) {
			if e.Alert.SignatureID == alert.SynFloodSrc.SID && e.Subject == b && e.Alert.Action == "blocked" {
				found = true
			}
		}
		if !found {
			t.Errorf("no blocked SYN-flood alert naming %s in EVE", b)
		}
		// The ban TTL is 4 s here: after it the sweeper removes it and B
		// gets through again.
		deadline := time.Now().Add(8 * time.Second)
		for {
			out := l.mustCLI(t, "blocks")
			if !strings.Contains(out, b+"/32") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("ban on %s still listed 8s after a 4s TTL:\n%s", b, out)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if ok, out := l.ping("b", 2); !ok {
			t.Errorf("B still blocked after its ban expired:\n%s", out)
		}
		d.stop(t)

		close(stopC)
		if failures := <-cDone; len(failures) > 0 {
			t.Errorf("host C was disturbed %d times: %v", len(failures), failures)
		}
		for _, e := range readEVE(t, d.eve) {
			if e.SrcIP == c || e.Subject == c {
				t.Errorf("alert on host C: %+v", e)
			}
		}
	})
	out := l.lastRunCLI(t, "blocks") // the daemon has stopped: exit 1, the list still printed
	if strings.Contains(out, c+"/32") {
		t.Errorf("host C was banned:\n%s", out)
	}
}
