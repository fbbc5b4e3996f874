package main

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/learn/model"
)

// TestLearnPeriodEndToEnd: `run --learn` keeps the feature records of the
// daemon's live flows (clients A and B talking to echo services on S)
// for the period, learns the unsupervised model from them, writes it to
// --learn-output and runs it; a vertical scan from C, which nothing in the
// learning period resembled, then raises its anomaly alert. Started
// again, the daemon loads the learned file instead of learning.
func TestLearnPeriodEndToEnd(t *testing.T) {
	testenv.Short(t)
	l := newLab(t)
	out := filepath.Join(t.TempDir(), "normal.json")
	for _, n := range []string{"a", "b", "c"} {
		l.listen(t, net.JoinHostPort(l.serverEnds[n].IP(), "8001"), echoConn)
	}
	d := l.start(t, "mode: monitor\nmodel: none\n", "--learn", "4s", "--learn-output", out)
	if !strings.Contains(d.log.String(), "learning normal traffic") {
		t.Fatalf("no learning period at start:\n%s", d.log)
	}
	// Normal: short echo conversations, again and again, until the
	// daemon has learned (the period goes on until 200 records).
	talk := func(client string) {
		c, err := l.dial(client, net.JoinHostPort(l.serverEnds[client].IP(), "8001"))
		if err != nil {
			t.Fatalf("%s: %v", client, err)
		}
		defer c.Close()
		buf := make([]byte, 16)
		for range 2 {
			if _, err := c.Write([]byte("hello\n")); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, err := c.Read(buf); err != nil {
				t.Fatal(err)
			}
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(d.log.String(), "learned normal traffic") {
		if time.Now().After(deadline) {
			t.Fatalf("nothing learned within 90 s:\n%s", d.log)
		}
		talk("a")
		talk("b")
		time.Sleep(20 * time.Millisecond)
	}
	m, err := model.Load(out)
	if err != nil {
		t.Fatalf("learned model file: %v", err)
	}
	if m.Kind != model.KindIsolation || !strings.HasPrefix(m.Info.Sources[0], "live ") {
		t.Errorf("learned model: kind %s, sources %v; want an isolation forest learned live", m.Kind, m.Info.Sources)
	}
	// The scan: C tries 300 ports where nothing listens. Its refused
	// flows end (and are judged) 10 s of packet time after their reset:
	// C talks on meanwhile, A and B are done (their last conversations of
	// the period end, and are judged, as well).
	l.connectScan(t, "c", 3001, 3300)
	scanner := l.clientEnds["c"].IP()
	deadline = time.Now().Add(60 * time.Second)
	for {
		if _, ok := findAlert(t, d.eve, alert.ModelAnomaly.SID, scanner); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no anomaly alert on the scanner %s within 60 s:\n%s", scanner, d.log)
		}
		talk("c")
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	for _, e := range eveAlerts(t, d.eve) {
		if e.Alert.SignatureID == alert.ModelAnomaly.SID && e.SrcIP != scanner {
			t.Errorf("anomaly alert on normal client %s", e.SrcIP)
		}
	}
	d.stop(t)

	// Learned before: loaded, not learned again.
	d = l.start(t, "mode: monitor\nmodel: none\n", "--learn", "4s", "--learn-output", out)
	if log := d.log.String(); strings.Contains(log, "learning normal traffic") || !strings.Contains(log, "kind=isolation") {
		t.Errorf("restart with the learned file: want it loaded and no learning period:\n%s", log)
	}
	d.stop(t)
}
