package detect

import (
	"sync"
	"testing"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

func TestNonIPIgnored(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	h.e.Observe(&Input{P: &decode.Packet{TsNs: t0}})
	if st := h.e.Stats(); st.Keys != 0 || len(h.alerts) != 0 {
		t.Fatalf("non-IP packet left state: %+v", st)
	}
}

func TestConcurrentObserve(t *testing.T) {
	var mu sync.Mutex
	n := 0
	e := New(DefaultConfig(), func(*alert.Alert) { mu.Lock(); n++; mu.Unlock() })
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tb := flows.NewTable(4096, flows.DefaultTimeouts)
			src := nthAddr(100, w)
			for i := range 2000 {
				p := tcp(src, victim, 40000, uint16(i%100), fSYN, t0+int64(i)*1e5)
				in := Input{P: p}
				in.F, in.FromOrig, in.Ev = tb.Track(p)
				e.Observe(&in)
			}
		}()
	}
	wg.Wait()
	if st := e.Stats(); n != 4 || st.Alerts != 4 {
		t.Fatalf("%d alerts (stats %+v), want one vertical scan per source", n, st)
	}
}

// benchObserve runs established traffic from 64 clients to one server,
// one packet every step ns.
func benchObserve(b *testing.B, step int64) {
	e := New(DefaultConfig(), func(*alert.Alert) {})
	tb := flows.NewTable(1<<16, flows.DefaultTimeouts)
	var pkts []*decode.Packet
	for i := range 1024 {
		src := nthAddr(100, i%64)
		// Each client's resolver queries from a port of its own (64 clients
		// on one source port would be a reflection).
		pkts = append(pkts, tcp(src, victim, uint16(1024+i), 443, fPSH|fACK, 0), udp(src, victim, uint16(5000+i%64), 53, 0, 40))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := pkts[i%len(pkts)]
		p.TsNs = t0 + int64(i)*step
		in := Input{P: p}
		in.F, in.FromOrig, in.Ev = tb.Track(p)
		e.Observe(&in)
	}
}

// BenchmarkObserve: 1000 packets/s to the server, below every threshold.
func BenchmarkObserve(b *testing.B) { benchObserve(b, 1e6) }

// BenchmarkObserveFlood: 1M packets/s, a UDP flood to the server from 64
// sources: every packet past the threshold is a suppressed alert.
func BenchmarkObserveFlood(b *testing.B) { benchObserve(b, 1e3) }

// TestObserveNoAllocs: every packet class goes through the detectors
// without allocating once their state exists, the Input on the caller's
// stack included (the engine copies it rather than let it escape through
// the Detector interface).
func TestObserveNoAllocs(t *testing.T) {
	e := New(DefaultConfig(), func(*alert.Alert) {})
	tb := flows.NewTable(1<<12, flows.DefaultTimeouts)
	rate := tcp(attacker, victim, 1, 80, fSYN, 0)
	rate.Reason, rate.Verdict = bpf.ReasonRateSYN, bpf.VerdictDrop
	pkts := []*decode.Packet{
		tcp(attacker, victim, 40000, 80, fSYN, 0), tcp(victim, attacker, 80, 40000, fSYN|fACK, 0),
		tcp(attacker, victim, 40000, 80, fACK, 0), tcp(attacker, victim, 40000, 80, fPSH|fACK, 0),
		tcp(attacker, victim, 40001, 22, 0, 0), // NULL: an alert, then suppressed
		udp(attacker, victim, 40000, 53, 0, 40), udp(nthAddr(100, 1), victim, 19, 40000, 0, 400),
		icmp(attacker, victim, 8, 0, 1, 0), icmp(attacker, victim, 13, 0, 1, 0),
		ipProto(attacker, victim, 47, 0), laterFrag(attacker, victim, 0), rate,
	}
	arp := arpRequest(attacker, victim, 0)
	i := 0
	step := func() {
		p := pkts[i%len(pkts)]
		p.TsNs = t0 + int64(i)*1e6
		arp.TsNs = p.TsNs
		i++
		in := Input{P: p}
		if p.HasL4 || p.LaterFrag || !isPortProto(p.Proto) {
			in.F, in.FromOrig, in.Ev = tb.Track(p)
		}
		e.Observe(&in)
		e.ObserveARP(arp)
	}
	for range 4 * len(pkts) {
		step()
	}
	if n := testing.AllocsPerRun(1000, step); n != 0 {
		t.Errorf("%v allocations per packet", n)
	}
}
