package detect

import (
	"net/netip"
	"testing"

	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/flow/flows"
)

func TestStateBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxKeys = 200
	h := newHarness(t, cfg)
	// Spoofed sources, each probing a different port and host: every
	// packet wants new state in several tables.
	maxSeen := 0
	for i := range 20000 {
		src := nthAddr(100, i)
		ts := t0 + int64(i)*1e5
		switch i % 5 {
		case 0:
			h.feed(tcp(src, nthAddr(10, i), 40000, uint16(i), fSYN, ts))
		case 1:
			h.feed(udp(src, nthAddr(10, i), 40000, uint16(i), ts, 10))
		case 2:
			h.feed(icmp(src, nthAddr(10, i), 8, 0, 1, ts))
		case 3:
			h.feed(tcp(src, victim, 40000, 22, 0, ts)) // NULL probe: an alert per source
		case 4:
			h.feed(tcp(nthAddr(10, i), src, 80, 40000, fSYN|fACK, ts))
		}
		if k := h.e.Stats().Keys; k > maxSeen {
			maxSeen = k
		}
	}
	st := h.e.Stats()
	if maxSeen > cfg.MaxKeys {
		t.Errorf("%d keys > MaxKeys %d", maxSeen, cfg.MaxKeys)
	}
	if st.StateRefused == 0 {
		t.Errorf("StateRefused did not rise: %+v", st)
	}
	t.Logf("stats %+v", st)
}

func TestGC(t *testing.T) {
	cfg := DefaultConfig()
	h := newHarness(t, cfg)
	for i := range 500 {
		src := nthAddr(100, i)
		ts := t0 + int64(i)*1e6
		h.feed(tcp(src, victim, 40000, uint16(i), fSYN, ts))
		h.feed(udp(src, victim, 40000, uint16(i), ts, 10))
		h.feed(icmp(src, victim, 8, 0, 1, ts))
		h.feed(tcp(src, victim, 40000, 22, 0, ts))
		h.feed(laterFrag(src, victim, ts))
		h.feed(udp(src, victim, 53, 40000, ts, 100))
	}
	before := h.e.Stats().Keys
	if before < 2000 {
		t.Fatalf("only %d keys", before)
	}
	// A packet long after every window (twice the longest, suppression):
	// gc drops all the old state.
	h.feed(icmp(other, victim, 0, 0, 1, t0+2*int64(cfg.Suppress)+20e9))
	if after := h.e.Stats().Keys; after > 3 {
		t.Fatalf("%d keys after gc (%d before)", after, before)
	}
	// State in use survives a gc.
	h = newHarness(t, cfg)
	for port := 1; port < cfg.ScanVerticalPorts; port++ {
		h.feed(tcp(attacker, victim, 40000, uint16(port), fSYN, t0+int64(port)*1e9))
	}
	h.feed(icmp(other, victim, 0, 0, 1, t0+60e9)) // triggers gc
	h.feed(tcp(attacker, victim, 40000, 999, fSYN, t0+61e9))
	if h.count(alert.ScanVerticalTCP) != 1 {
		t.Fatalf("scan state lost to gc: %s", h.sids())
	}
}

// The exhaustion attack of issue 9: forged ACK probes from 14,000 sources
// (seven ports each: 98,000 horizontal and 14,000 vertical entries, which
// filled the shared 100,000-entry table for 10 minutes), then a real
// scanner. It is detected, state stays bounded, and the evictions count.
func TestForgedProbesDoNotExhaustState(t *testing.T) {
	cfg := DefaultConfig()
	h := newHarness(t, cfg)
	ts := forgedACKProbes(h, 14000, 7, t0, 20e9)
	st := h.e.Stats()
	if st.Keys > cfg.MaxKeys || st.ProbeKeys > cfg.MaxProbeKeys {
		t.Fatalf("state past its bounds: %+v", st)
	}
	if st.StateEvictedProbe == 0 {
		t.Errorf("no probe entry evicted: %+v", st)
	}
	realScan(h, ts)
	a := h.find(alert.ScanVerticalTCP)
	if a == nil || a.Subject != attacker {
		t.Fatalf("real scanner not detected after the forged probes: %s; stats %+v", h.sids(), h.e.Stats())
	}
	t.Logf("after forged probes %+v; after scan %+v", st, h.e.Stats())
}

// Forged sources that send two probes each fill the evidence partition
// too: the entries with the least evidence make room for the real scan.
func TestForgedTwoProbeSourcesEvictedFirst(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxKeys, cfg.MaxProbeKeys = 2000, 500
	h := newHarness(t, cfg)
	ts := forgedACKProbes(h, 5000, 2, t0, 10e9)
	if st := h.e.Stats(); st.StateRefused == 0 && st.StateEvictedEvidence == 0 {
		t.Fatalf("evidence partition never full: %+v", st)
	}
	realScan(h, ts)
	if a := h.find(alert.ScanVerticalTCP); a == nil || a.Subject != attacker {
		t.Fatalf("real scanner not detected: %s; stats %+v", h.sids(), h.e.Stats())
	}
	st := h.e.Stats()
	if st.Keys > cfg.MaxKeys || st.StateEvictedEvidence == 0 {
		t.Errorf("stats %+v", st)
	}
	t.Logf("stats %+v", st)
}

// Probe entries live ProbeIdle, not twice the scan window.
func TestProbeEntriesExpire(t *testing.T) {
	cfg := DefaultConfig()
	h := newHarness(t, cfg)
	ts := forgedACKProbes(h, 1000, 1, t0, 1e9)
	h.feed(tcp(attacker, victim, 40000, 80, fSYN, ts+1e6))
	h.feed(tcp(attacker, victim, 40000, 81, fSYN, ts+2e6)) // evidence: lives the window
	if st := h.e.Stats(); st.ProbeKeys < 2000 {
		t.Fatalf("stats %+v", st)
	}
	h.feed(icmp(other, victim, 0, 0, 1, ts+int64(cfg.ProbeIdle)+11e9)) // gc
	st := h.e.Stats()
	if st.ProbeKeys > 4 || st.StateExpiredProbe < 2000 {
		t.Fatalf("probe entries not expired: %+v", st)
	}
	if unitOf[*portScan](h.e).vertical.lookup(pairKey{attacker, victim}) == nil {
		t.Fatalf("entry with evidence expired with the probes")
	}
}

// A small probe partition under a long run of forged probes stays at its
// bound, evicting oldest first.
func TestProbeEvictionBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxKeys, cfg.MaxProbeKeys = 1000, 100
	h := newHarness(t, cfg)
	forgedACKProbes(h, 3000, 1, t0, 3e9)
	st := h.e.Stats()
	if st.ProbeKeys > 100 || st.Keys > 1000 || st.StateEvictedProbe < 5000 {
		t.Fatalf("stats %+v", st)
	}
}

// Forged SYNs from ever new sources, to the SSH port and to random ports,
// would fill the flood windows, the brute force windows and the scan
// state; a real scanner and a real brute forcer arriving during the load
// are still detected, and the flood partition recycles its windows.
func TestForgedSYNsDoNotExhaustState(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxKeys, cfg.MaxProbeKeys = 4000, 1000
	h := newHarness(t, cfg)
	ts := t0
	forged := func(n int) {
		for i := range n {
			ts += 1e5
			src := netip.AddrFrom4([4]byte{198, 18 + byte(i>>16&1), byte(i >> 8), byte(i)})
			port := uint16(22)
			if i%2 == 1 {
				port = uint16(1024 + i%30000)
			}
			h.feed(tcp(src, victim, 40000, port, fSYN, ts))
		}
	}
	forged(20000)
	if st := h.e.Stats(); st.Keys > cfg.MaxKeys || st.StateEvictedFlood == 0 || st.StateEvictedProbe == 0 {
		t.Fatalf("stats %+v", st)
	}
	// The real scanner and brute forcer, the forged load interleaved.
	for i := range 100 {
		ts += 1e6
		h.feed(tcp(attacker, victim, 40000, uint16(2000+i), fSYN, ts))
		if i < cfg.BruteConnections {
			h.feed(tcp(other, victim, uint16(50000+i), 22, fSYN, ts+1))
		}
		forged(50)
	}
	if a := h.find(alert.ScanVerticalTCP); a == nil || a.Subject != attacker {
		t.Errorf("real scanner not detected; stats %+v", h.e.Stats())
	}
	if a := h.find(alert.BruteSSH); a == nil || a.Subject != other {
		t.Errorf("real brute force not detected; stats %+v", h.e.Stats())
	}
	if n := len(h.alerts); n > 3 {
		t.Errorf("%d alerts, want the scan, the brute force and one destination SYN flood", n)
	}
	st := h.e.Stats()
	if st.Keys > cfg.MaxKeys {
		t.Errorf("%d keys > %d", st.Keys, cfg.MaxKeys)
	}
	t.Logf("stats %+v", st)
}

// BenchmarkObserveForgedProbes: forged ACK probes from ever new sources
// with the probe partition full, each admitting a probe entry by evicting
// the oldest (a new scan entry allocates its set, as before partitions).
func BenchmarkObserveForgedProbes(b *testing.B) {
	cfg := DefaultConfig()
	e := New(cfg, func(*alert.Alert) {})
	tb := flows.NewTable(1<<16, flows.DefaultTimeouts)
	p := tcp(attacker, victim, 40000, 80, fACK, 0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p.Src = netip.AddrFrom4([4]byte{198, 18 + byte(i>>16&1), byte(i >> 8), byte(i)})
		p.DstPort = uint16(1 + i%7)
		p.TsNs = t0 + int64(i)*1e4
		in := Input{P: p}
		in.F, in.FromOrig, in.Ev = tb.Track(p)
		e.Observe(&in)
	}
	st := e.Stats()
	b.ReportMetric(float64(st.StateEvictedProbe)/float64(b.N), "evictions/op")
}

// Once the probe partition is full, a forged probe from a new source
// evicts the oldest probe entries and reuses their sets: no allocation
// per packet in the detector (the flow table is outside this test).
func TestForgedProbesNoAllocs(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxKeys, cfg.MaxProbeKeys = 20000, 5000
	e := New(cfg, func(*alert.Alert) {})
	p := tcp(attacker, victim, 40000, 80, fACK, 0)
	i := 0
	step := func() {
		i++
		p.Src = netip.AddrFrom4([4]byte{198, 18 + byte(i>>16&1), byte(i >> 8), byte(i)})
		p.DstPort = uint16(1 + i%7)
		p.TsNs = t0 + int64(i)*1e3 // 1M probes/s: nothing expires, everything evicts
		e.Observe(&Input{P: p, Ev: flows.EvNew, FromOrig: true})
	}
	for range 50000 {
		step()
	}
	if n := testing.AllocsPerRun(5000, step); n != 0 {
		t.Fatalf("%v allocations per forged probe", n)
	}
	if st := e.Stats(); st.StateEvictedProbe < 50000 || st.ProbeKeys > 5000 {
		t.Fatalf("stats %+v", st)
	}
}
