package detect

import (
	"sync"
	"testing"
	"time"

	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/flow/flows"
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
	for _, bad := range []func(*Config){
		func(c *Config) { c.MaxKeys = 0 },
		func(c *Config) { c.FloodWindow = 0 },
		func(c *Config) { c.ScanWindow = -time.Second },
		func(c *Config) { c.AmpReflectors = 0 },
	} {
		c := cfg
		bad(&c)
		if err := h.e.Reconfigure(c); err == nil {
			t.Errorf("%+v accepted", c.SharedConfig)
		}
	}
	// A refused config leaves the engine as it was.
	if got := h.e.Detectors()[0].Config; got == nil {
		t.Fatal("no config described")
	}
	if h.e.cfg.MaxProbeKeys != 100 || h.e.cfg.FloodWindow != cfg.FloodWindow {
		t.Errorf("refused config applied: %+v", h.e.cfg.SharedConfig)
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

// Reconfigure while workers observe (run with -race): every packet sees
// one config or the other, and the engine's counters stay whole.
func TestReconfigureConcurrent(t *testing.T) {
	e := New(DefaultConfig(), func(*alert.Alert) {})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tb := flows.NewTable(4096, flows.DefaultTimeouts)
			for i := range 3000 {
				p := tcp(nthAddr(100, w), victim, 40000, uint16(i%200), fSYN, t0+int64(i)*1e5)
				in := Input{P: p}
				in.F, in.FromOrig, in.Ev = tb.Track(p)
				e.Observe(&in)
			}
		}()
	}
	cfg := DefaultConfig()
	for i := range 50 {
		cfg.ScanVerticalPorts = 15 + i%10
		cfg.MaxProbeKeys = 1000 + 100*(i%5)
		if err := e.Reconfigure(cfg); err != nil {
			t.Fatal(err)
		}
		_ = e.Detectors()
	}
	wg.Wait()
	if st := e.Stats(); st.Alerts != 2 {
		t.Errorf("stats %+v, want one vertical scan alert per source", st)
	}
	// Descriptions are copies: changing one changes nothing.
	d := e.Detectors()
	for _, x := range d {
		if c, ok := x.Config.(*PortScanConfig); ok {
			c.ScanVerticalPorts = 1
		}
	}
	if e.cfg.ScanVerticalPorts == 1 {
		t.Error("Detectors handed out the engine's own config")
	}
}
