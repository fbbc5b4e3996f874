package signature

import (
	"testing"

	"github.com/xdpids/xdpids/userspace/signature/rules"
)

// BenchmarkEngineParallel is BenchmarkEngine with one engine shared by
// GOMAXPROCS workers, each with its own flow table (as the pipeline's
// workers): what the engine's shared state costs them, per packet.
func BenchmarkEngineParallel(b *testing.B) {
	tr := makeTraffic(b)
	def, _ := rules.Parse(rules.DefaultRules, "default.rules", rules.Vars{})
	for _, c := range []struct {
		name string
		set  func(b *testing.B) *rules.Set
	}{
		{"rules=default", func(*testing.B) *rules.Set { return def }},
		{"rules=et-1000", func(b *testing.B) *rules.Set { return scaled(etLoadable(b), 1000) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			eng, err := Compile(c.set(b))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				l := newBenchLoop(eng, tr)
				for i := 0; pb.Next(); i++ {
					l.one(tr.data[i%len(tr.data)])
				}
			})
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(1e9/ns, "pkts/s")
		})
	}
}
