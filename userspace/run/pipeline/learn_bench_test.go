package pipeline_test

import (
	"slices"
	"testing"
	"time"

	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/learn/model"
	"github.com/xdpids/xdpids/userspace/run/pipeline"
)

// BenchmarkPipelineModel measures the pipeline with flow features and the
// embedded model against the same pipeline without them, in one run
// (alternating rounds, the realistic mix of BenchmarkPipeline), and the
// allocations per sample with the model on. Model alerts on the mix are
// reported as a metric.
func BenchmarkPipelineModel(b *testing.B) {
	mixes := [2][][]byte{realisticMix(b), realisticMix(b)}
	var workers [2]*pipeline.Worker
	modelAlerts := 0
	for i := range workers {
		p := pipeline.New(pipeline.Config{Workers: 1, QueueLen: 1, FlowsPerWorker: 65536, Timeouts: pipeline.DefaultConfig().Timeouts,
			Detect: pipeline.DefaultConfig().Detect}, func(a *alert.Alert) {
			if a.Detector == "model" {
				modelAlerts++
			}
		})
		if i == 1 {
			p.SetModel(model.Default())
		}
		workers[i] = p.Worker(0)
	}
	pass := func(i int) time.Duration {
		t0 := time.Now()
		for _, r := range mixes[i] {
			workers[i].Process(r)
		}
		d := time.Since(t0)
		for _, r := range mixes[i] {
			retime(r, 1e9)
		}
		return d
	}
	for range 3 {
		pass(0)
		pass(1)
	}
	var d [2][]time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		d[0] = append(d[0], pass(0))
		d[1] = append(d[1], pass(1))
	}
	b.StopTimer()
	per := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(ds[len(ds)/2].Nanoseconds()) / float64(len(mixes[0]))
	}
	base, withModel := per(d[0]), per(d[1])
	b.ReportMetric(withModel, "ns/sample")
	b.ReportMetric(base, "base-ns/sample")
	b.ReportMetric(withModel/base, "cost-ratio")
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(testing.AllocsPerRun(5, func() { pass(1) })/float64(len(mixes[1])), "allocs/sample")
	b.ReportMetric(float64(modelAlerts), "model-alerts")
}
