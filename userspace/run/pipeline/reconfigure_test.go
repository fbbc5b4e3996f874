package pipeline

import (
	"net/netip"
	"testing"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/userspace/detect/alert"
)

// TestReconfigureLive: Reconfigure changes mode, drop_ban_ttl, the
// detectors' thresholds and the stream depth between two samples of a
// running worker; the flows, the detector state and the rules stay.
func TestReconfigureLive(t *testing.T) {
	const c, s = "203.0.113.7", "198.51.100.10"
	res := loadRules(t, false, `drop tcp any any -> any 80 (msg:"evil"; content:"EVIL"; sid:1;)`+"\n")
	cfg := testConfig()
	cfg.Detect.ScanVerticalPorts = 100
	var got []*alert.Alert
	var p *Pipeline
	p = New(cfg, func(a *alert.Alert) {
		// Not under the detector lock: the callback may use the engine.
		_ = p.Engine().Stats()
		got = append(got, a)
	})
	drops := 0
	p.OnFlowAction = func(_, _ netip.Addr, _, _ uint16, _ uint8, _ uint16, action uint32) {
		if action == bpf.FlowDrop {
			drops++
		}
	}
	p.SetRules(res.Engine)
	w := p.Worker(0)
	ts := uint64(1e9)
	send := func(seg tcpSeg) {
		t.Helper()
		ts += 1e6
		if !w.Process(rawRecord(seg.frame(t), ts, 0)) {
			t.Fatal("record rejected")
		}
	}
	evil := func(sport uint16) {
		send(tcpSeg{src: c, dst: s, sport: sport, dport: 80, flags: "S", seq: 0})
		send(tcpSeg{src: s, dst: c, sport: 80, dport: sport, flags: "SA", seq: 0, ack: 1})
		send(tcpSeg{src: c, dst: s, sport: sport, dport: 80, flags: "PA", seq: 1, ack: 1, payload: "EVIL"})
	}
	scan := func(from, to uint16) {
		for port := from; port <= to; port++ {
			send(tcpSeg{src: c, dst: s, sport: 50000, dport: port, flags: "S", seq: 0})
		}
	}
	last := func() *alert.Alert {
		t.Helper()
		if len(got) == 0 {
			t.Fatal("no alert")
		}
		return got[len(got)-1]
	}

	evil(40000)
	if a := last(); a.Action != "allowed" || drops != 0 {
		t.Fatalf("monitor: action %q, %d drops", a.Action, drops)
	}
	scan(1000, 1019)
	n := len(got)

	next := cfg
	next.Prevent, next.DropBanTTL = true, 60e9
	next.Detect.ScanVerticalPorts = 10
	next.StreamDepth = 4096
	next.Workers = 7 // a size: not applied
	if err := p.Reconfigure(next); err != nil {
		t.Fatal(err)
	}
	if need := p.RestartNeeded(next); len(need) != 1 || need[0] != "workers" {
		t.Errorf("RestartNeeded = %v, want [workers]", need)
	}
	if st := p.Settings(); st.Workers != cfg.Workers || !st.Prevent {
		t.Errorf("settings %+v", st)
	}
	scan(1020, 1020) // the 21st port of the same scan: over the new threshold
	if len(got) != n+1 || got[n].SID != alert.ScanVerticalTCP.SID {
		t.Fatalf("after lowering the threshold: %d new alerts (%v)", len(got)-n, got[n:])
	}
	evil(40001)
	if a := last(); a.Action != "blocked" || a.BanTTLNs != 60e9 || drops == 0 {
		t.Errorf("prevent: action %q ban %d, %d drops", a.Action, a.BanTTLNs, drops)
	}
	if w.cfg.StreamDepth != 4096 {
		t.Errorf("worker stream depth %d", w.cfg.StreamDepth)
	}
}
