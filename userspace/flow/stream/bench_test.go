package stream

import (
	"net/netip"
	"testing"

	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

// longFlow is one established connection fed 1460-byte segments.
type longFlow struct {
	r       *Reassembler
	f       *flows.Flow
	p       decode.Packet
	seq     uint32
	payload []byte
	n       uint64 // bytes delivered
}

func newLongFlow(tb testing.TB, captured int) *longFlow {
	l := &longFlow{payload: make([]byte, 1460)}
	l.r = New(Config{Depth: NoDepth, OnData: func(_ *flows.Flow, _ bool, data []byte, _ uint64) { l.n += uint64(len(data)) }})
	c := newConv(40000)
	tab := flows.NewTable(16, flows.DefaultTimeouts)
	ts := t0
	for _, p := range c.handshake() {
		ts += 1e3
		p.TsNs = ts
		f, fromOrig, _ := tab.Track(p)
		l.r.Feed(p, f, fromOrig)
		l.f = f
	}
	l.p = *c.c2s(0, "")
	l.p.Payload = l.payload[:captured]
	l.p.PayloadLen = 1460
	l.seq = l.p.Seq
	return l
}

// next feeds the next segment (or, with swap, the one after it first).
func (l *longFlow) feed(seq uint32) {
	l.p.Seq = seq
	l.p.TsNs += 1e3
	l.r.Feed(&l.p, l.f, true)
}

func TestSteadyStateAllocs(t *testing.T) {
	for _, tc := range []struct {
		name     string
		captured int
		swap     bool
		max      float64
	}{
		{"in order", 1460, false, 0},
		{"in order, cut to a 256-byte snap length", 200, false, 0},
		// Each filled hole is handed over by gopacket's Fetch, which
		// concatenates the chunks into a new slice: one allocation per
		// out-of-order pair. The buffer pages come from a sync.Pool.
		{"every pair swapped", 1460, true, 1.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLongFlow(t, tc.captured)
			step := func() {
				if tc.swap {
					l.feed(l.seq + 1460)
					l.feed(l.seq)
					l.seq += 2 * 1460
				} else {
					l.feed(l.seq)
					l.seq += 1460
				}
			}
			for range 100 {
				step()
			}
			before := l.n
			allocs := testing.AllocsPerRun(1000, step)
			if allocs > tc.max {
				t.Errorf("%.2f allocations per step, want <= %.1f", allocs, tc.max)
			}
			if l.n == before {
				t.Error("nothing delivered")
			}
			t.Logf("%.2f allocations per step", allocs)
		})
	}
}

// BenchmarkInOrder feeds one established flow 1460-byte segments in order
// (Feed only; the flow is tracked once).
func BenchmarkInOrder(b *testing.B) {
	for _, bc := range []struct {
		name     string
		captured int
		swap     bool
	}{
		{"1460", 1460, false},
		{"1460-swapped-pairs", 1460, true},
		{"1460-snaplen256", 200, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			l := newLongFlow(b, bc.captured)
			b.SetBytes(int64(bc.captured))
			b.ReportAllocs()
			for b.Loop() {
				if bc.swap {
					l.feed(l.seq + 1460)
					l.feed(l.seq)
					l.seq += 2 * 1460
					continue
				}
				l.feed(l.seq)
				l.seq += 1460
			}
			if bc.swap {
				b.SetBytes(2 * 1460)
			}
		})
	}
}

// BenchmarkShortFlows runs whole HTTP-like connections through the flow
// table and the Reassembler: handshake, a 300-byte request, a 3420-byte
// response in three segments (two in order, the last two swapped in one
// flow out of four), both FINs and the last ACK, then FlowEnd as the flow
// table's expiry would. One op is one connection (10 segments); the
// tuple changes every op and the tables are bounded, so it measures the
// steady state of stream creation and freeing too.
func BenchmarkShortFlows(b *testing.B) {
	tab := flows.NewTable(65536, flows.DefaultTimeouts)
	r := New(Config{MaxFlows: 65536})
	req := make([]byte, 300)
	resp := make([]byte, 3*1460)
	var delivered uint64
	r.cfg.OnData = func(_ *flows.Flow, _ bool, data []byte, _ uint64) { delivered += uint64(len(data)) }
	ts := t0
	var ps [10]decode.Packet
	i := 0
	b.SetBytes(300 + 3*1460)
	b.ReportAllocs()
	for b.Loop() {
		c := conv{cli: netip.AddrFrom4([4]byte{10, 1, byte(i >> 16), byte(i >> 8)}), srv: srvAddr,
			cport: 1024 + uint16(i&0xff), sport: 80, cisn: uint32(i) * 7919, sisn: uint32(i) * 104729}
		c.fill(&ps[0], true, syn, 0, 0, nil)
		c.fill(&ps[1], false, synack, 0, 0, nil)
		c.fill(&ps[2], true, ack, 0, 0, nil)
		c.fill(&ps[3], true, psh, 0, 0, req)
		c.fill(&ps[4], false, psh, 0, 300, resp[:1460])
		c.fill(&ps[5], false, psh, 1460, 300, resp[1460:2920])
		c.fill(&ps[6], false, psh, 2920, 300, resp[2920:])
		if i%4 == 0 {
			ps[5], ps[6] = ps[6], ps[5]
		}
		c.fill(&ps[7], true, finack, 300, 4380, nil)
		c.fill(&ps[8], false, finack, 4380, 301, nil)
		c.fill(&ps[9], true, ack, 301, 4381, nil)
		var f *flows.Flow
		for k := range ps {
			ts += 1e4
			ps[k].TsNs = ts
			var fromOrig bool
			f, fromOrig, _ = tab.Track(&ps[k])
			r.Feed(&ps[k], f, fromOrig)
		}
		r.FlowEnd(f.ID)
		i++
	}
	if delivered != uint64(i)*(300+3*1460) {
		b.Fatalf("delivered %d of %d", delivered, uint64(i)*(300+3*1460))
	}
}
