package detect

import (
	"testing"

	"github.com/xdpids/xdpids/userspace/detect/alert"
)

// A threshold lowered on a running engine applies to the state it already
// holds: the ports seen before the reload count.
func TestReconfigureKeepsState(t *testing.T) {
	cfg := DefaultConfig()
	h := newHarness(t, cfg)
	ts := t0
	for port := 1; port <= 5; port++ {
		ts += 1e6
		h.feed(tcp(attacker, victim, 40000, uint16(port), fSYN, ts))
	}
	if len(h.alerts) != 0 {
		t.Fatalf("alerts before reload: %s", h.sids())
	}
	cfg.ScanVerticalPorts = 6
	if err := h.e.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	h.feed(tcp(attacker, victim, 40000, 6, fSYN, ts+1e6))
	if h.count(alert.ScanVerticalTCP) != 1 {
		t.Fatalf("no alert at the new threshold after reload: %s", h.sids())
	}
	if a := h.find(alert.ScanVerticalTCP); a.Metadata["distinct_ports"] != "6" {
		t.Errorf("metadata %v", a.Metadata)
	}
	// Suppression state survived too: the same scan does not alert again.
	h.feed(tcp(attacker, victim, 40000, 7, fSYN, ts+2e6))
	if h.count(alert.ScanVerticalTCP) != 1 {
		t.Fatalf("suppression lost on reload: %s", h.sids())
	}
}

// A smaller probe partition evicts the oldest probe entries, counted, and
// stays bounded; a larger one keeps them all.
func TestReconfigureProbePartition(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxKeys, cfg.MaxProbeKeys = 4000, 2000
	h := newHarness(t, cfg)
	ts := forgedACKProbes(h, 800, 1, t0, 1e9)
	if st := h.e.Stats(); st.ProbeKeys < 1500 {
		t.Fatalf("stats %+v", st)
	}
	cfg.MaxKeys, cfg.MaxProbeKeys = 8000, 4000
	if err := h.e.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	before := h.e.Stats()
	if before.ProbeKeys < 1500 || before.StateEvictedProbe != 0 {
		t.Fatalf("growing the partition lost entries: %+v", before)
	}
	cfg.MaxProbeKeys = 100
	if err := h.e.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	st := h.e.Stats()
	if st.ProbeKeys > 100 || st.StateEvictedProbe-before.StateEvictedProbe < uint64(before.ProbeKeys-100) {
		t.Fatalf("after shrinking: %+v (before %+v)", st, before)
	}
	forgedACKProbes(h, 500, 1, ts, 1e9)
	if st := h.e.Stats(); st.ProbeKeys > 100 {
		t.Fatalf("probe partition past its new bound: %+v", st)
	}
	realScan(h, ts+2e9)
	if h.count(alert.ScanVerticalTCP) == 0 {
		t.Fatalf("real scan not detected after the reload: %s", h.sids())
	}
	if err := h.e.Reconfigure(Config{}); err == nil {
		t.Fatal("max_keys 0 accepted")
	}
}

// More reflectors required after a reload: the per-target lists grow with
// the next window, and the alert waits for the new count.
func TestReconfigureReflectors(t *testing.T) {
	cfg := DefaultConfig()
	h := newHarness(t, cfg)
	send := func(ts int64, reflectors int) {
		for i := range cfg.AmpPackets {
			h.feed(udp(nthAddr(198, i%reflectors), victim, 3702, 40000, ts+int64(i)*1e6, 400))
		}
	}
	send(t0, 5)
	if h.count(alert.AmpOther) != 1 {
		t.Fatalf("no reflection alert: %s", h.sids())
	}
	cfg.AmpReflectors, cfg.Suppress = 8, 1
	if err := h.e.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	send(t0+20e9, 5)
	if h.count(alert.AmpOther) != 1 {
		t.Fatalf("alert from 5 reflectors with 8 required: %s", h.sids())
	}
	send(t0+40e9, 8)
	if h.count(alert.AmpOther) != 2 {
		t.Fatalf("no alert from 8 reflectors: %s", h.sids())
	}
}
