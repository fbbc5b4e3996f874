package pipeline_test

import (
	"slices"
	"testing"
	"time"

	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/learn/model"
	"github.com/xdpids/xdpids/userspace/run/pipeline"
)

// BenchmarkPipelineModel measures, in one run (alternating rounds, the
// realistic mix of BenchmarkPipeline), the pipeline without learned
// detection (base), with flow features only (a features consumer, no
// model: features-ratio), and with features and the embedded model
// (model-ratio, also cost-ratio), each against base; and the allocations
// per sample with the model on. Model alerts on the mix are a metric.
func BenchmarkPipelineModel(b *testing.B) {
	mixes := [3][][]byte{realisticMix(b), realisticMix(b), realisticMix(b)}
	var workers [3]*pipeline.Worker
	modelAlerts := 0
	for i := range workers {
		cfg := pipeline.Config{Workers: 1, QueueLen: 1, FlowsPerWorker: 65536, Timeouts: pipeline.DefaultConfig().Timeouts,
			Detect: pipeline.DefaultConfig().Detect}
		if i == 1 {
			cfg.Learn.OnFeatures = func(*pipeline.FeatureRecord) {}
		}
		p := pipeline.New(cfg, func(a *alert.Alert) {
			if a.Detector == "model" {
				modelAlerts++
			}
		})
		if i == 2 {
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
		for i := range workers {
			pass(i)
		}
	}
	var d [3][]time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for i := range workers {
			d[i] = append(d[i], pass(i))
		}
	}
	b.StopTimer()
	per := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(ds[len(ds)/2].Nanoseconds()) / float64(len(mixes[0]))
	}
	base, withFeatures, withModel := per(d[0]), per(d[1]), per(d[2])
	b.ReportMetric(withModel, "ns/sample")
	b.ReportMetric(base, "base-ns/sample")
	b.ReportMetric(withFeatures/base, "features-ratio")
	b.ReportMetric(withModel/base, "model-ratio")
	b.ReportMetric(withModel/base, "cost-ratio")
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(testing.AllocsPerRun(5, func() { pass(2) })/float64(len(mixes[2])), "allocs/sample")
	b.ReportMetric(float64(modelAlerts), "model-alerts")
}
