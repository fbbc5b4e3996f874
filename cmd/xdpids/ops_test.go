package main

import (
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/run/daemon"
)

// TestPinPathLock: a second daemon on the same pin path (another
// interface, --mode monitor by mistake) fails with one error line naming
// the pin path and the running daemon's pid, and writes nothing: the
// running daemon stays in prevent mode.
func TestPinPathLock(t *testing.T) {
	l := newLab(t)
	d := l.start(t, labConfig)
	out, err := l.s.Cmd(l.bin, "run", "--pin-path", l.pin, "--mode", "monitor", "-i", "lo").CombinedOutput()
	if err == nil {
		t.Fatalf("second daemon on %s started:\n%s", l.pin, out)
	}
	msg := strings.TrimSpace(string(out))
	want := "pin path " + l.pin + " is in use by another xdpids daemon (pid " + strconv.Itoa(d.ready.PID) + ")"
	if !strings.Contains(msg, want) || strings.Count(msg, "\n") != 0 {
		t.Fatalf("second daemon said:\n%s\nwant one line with %q", msg, want)
	}
	m, err := loader.OpenPinned(l.pin)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c, err := m.ReadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if c.Monitor {
		t.Fatal("the second daemon switched the running one to monitor mode")
	}
	if ifs, _ := loader.FindAttached("lo"); len(ifs) != 0 {
		t.Errorf("the second daemon attached to lo: %+v", ifs)
	}

	// Another pin path, an interface the first daemon holds: refused
	// before anything is loaded or written.
	pin2 := l.pin + "-2"
	t.Cleanup(func() { os.RemoveAll(pin2) })
	busy := l.serverEnds["a"].Name
	out, err = l.s.Cmd(l.bin, "run", "--pin-path", pin2, "-i", busy).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "attach to "+busy+": an XDP program") {
		t.Fatalf("daemon on a busy interface: %v\n%s", err, out)
	}
	if m2, err := loader.OpenPinned(pin2); err == nil {
		m2.Close()
		t.Error("maps were pinned for a daemon that could not attach")
	}
}

// floodConfig: one worker with a queue of one, every packet of a flow
// sampled, rate limits and sample budget out of the way.
const floodConfig = `
response:
  enabled: false
signatures:
  builtin: false
pipeline: {workers: 1, queue_len: 1}
eve: {stats_interval: 1s}
sampling: {flow_packets: 1000, budget_per_cpu: 1000000, budget_burst: 1000000}
rate_limits:
  syn:  {rate: 1000000, burst: 1000000}
  udp:  {rate: 1000000, burst: 1000000}
  icmp: {rate: 1000000, burst: 1000000}
`

// TestStatsUserspaceLosses: samples the pipeline drops (a queue of one
// under a UDP flood) show in `stats` and `stats --json`, not only in
// metrics; after kill -9 the stale status and ready files are reported as
// such, the lock is gone with the process, and a new daemon starts.
func TestStatsUserspaceLosses(t *testing.T) {
	l := newLab(t)
	d := l.start(t, floodConfig)
	flood := l.clients["a"].Cmd("timeout", "2", "hping3", "--udp", "--flood", "-p", "9", l.serverEnds["a"].IP())
	_ = flood.Run()
	var us daemon.UserspaceStatus
	deadline := time.Now().Add(5 * time.Second)
	for {
		var r statsJSON
		if err := json.Unmarshal([]byte(l.mustCLI(t, "stats", "--json")), &r); err != nil {
			t.Fatal(err)
		}
		if r.Userspace == nil {
			t.Fatal("stats --json has no userspace section")
		}
		us = *r.Userspace
		if us.Overflow > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if us.Overflow == 0 {
		t.Fatalf("no overflow counted after a flood into a queue of one: %+v", us)
	}
	text := l.mustCLI(t, "stats")
	if !strings.Contains(text, "userspace: samples=") || !strings.Contains(text, "overflow=") || strings.Contains(text, "overflow=0 ") {
		t.Fatalf("stats does not show the overflow:\n%s", text)
	}
	t.Logf("userspace %+v", us)
	if n := eveOverflow(t, d.eve, 5*time.Second); n == 0 {
		t.Error("no EVE stats event with metadata.flowints xdpids.samples_overflow > 0")
	}

	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-d.done
	d.exited = true
	if _, err := daemon.ReadReady(d.readyPath); !errors.Is(err, daemon.ErrStale) {
		t.Errorf("ready file after kill -9: %v, want stale", err)
	}
	if text := l.lastRunCLI(t, "stats"); !strings.Contains(text, "userspace: no daemon running") {
		t.Errorf("stats after kill -9:\n%s", text)
	}
	d2 := l.start(t, labConfig)
	if d2.ready.PID == d.ready.PID {
		t.Fatal("restart took the old ready file")
	}
	if _, err := os.Stat(daemon.StatusPath(l.pin)); err != nil {
		t.Errorf("new daemon has no status file: %v", err)
	}
}

// eveOverflow waits for an EVE stats event with a non-zero
// xdpids.samples_overflow (in metadata.flowints, beside Suricata's
// schema) and returns it (0 after wait).
func eveOverflow(t *testing.T, path string, wait time.Duration) uint64 {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		data, _ := os.ReadFile(path)
		for _, line := range strings.Split(string(data), "\n") {
			var ev struct {
				EventType string `json:"event_type"`
				Metadata  struct {
					Flowints map[string]uint64 `json:"flowints"`
				} `json:"metadata"`
			}
			if json.Unmarshal([]byte(line), &ev) == nil && ev.EventType == "stats" && ev.Metadata.Flowints["xdpids.samples_overflow"] > 0 {
				return ev.Metadata.Flowints["xdpids.samples_overflow"]
			}
		}
		if time.Now().After(deadline) {
			return 0
		}
		time.Sleep(200 * time.Millisecond)
	}
}
