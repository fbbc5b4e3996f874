package detect

import (
	"sync"
	"testing"

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
