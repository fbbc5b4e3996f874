package daemon

import (
	"cmp"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xdpids/xdpids/userspace/config"
	"github.com/xdpids/xdpids/userspace/learn/dataset"
	"github.com/xdpids/xdpids/userspace/learn/model"
	"github.com/xdpids/xdpids/userspace/run/pipeline"
)

// models is what the pipeline runs: the configured models (model:) and
// the one a learning period learned (learn.output), side by side. A
// reload sets the first, the learner the second.
type models struct {
	pipe       *pipeline.Pipeline
	mu         sync.Mutex // held for the store only
	configured model.Set
	learned    *model.Model
}

func (ms *models) setConfigured(s model.Set) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	ms.configured = s
	ms.install()
}

func (ms *models) setLearned(m *model.Model) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	ms.learned = m
	ms.install()
}

func (ms *models) install() {
	s := slices.Clone(ms.configured)
	if ms.learned != nil && len(s) < model.MaxSet {
		s = append(s, ms.learned)
	}
	ms.pipe.SetModel(s...)
	for _, m := range s {
		slog.Info("learned model loaded", "kind", m.Kind, "trees", len(m.Trees), "threshold", m.Threshold)
	}
}

// liveLearner is a learning period: it keeps the pipeline's feature
// records (pipeline.LearnConfig.OnFeatures) until the period is over,
// then learns the unsupervised model from them, writes it and installs
// it beside the configured models.
type liveLearner struct {
	cfg    config.Learn
	ms     *models
	start  time.Time
	mu     sync.Mutex // guards rows (appends only)
	rows   []dataset.Row
	done   atomic.Bool // no more records: learning or learned
	finish chan struct{}
	wg     sync.WaitGroup
}

// shortLearning is the period below which learning is warned about.
const shortLearning = 10 * time.Minute

// startLearning starts a learning period when one is configured and its
// model is not there yet (nil: none).
func startLearning(cfg config.Learn, ms *models, learned *model.Model) *liveLearner {
	if cfg.Period <= 0 || learned != nil {
		return nil
	}
	l := &liveLearner{cfg: cfg, ms: ms, start: time.Now(), finish: make(chan struct{}, 1)}
	slog.Info("learning normal traffic", "period", cfg.Period, "output", cfg.Output, "max_records", cfg.MaxRecords)
	if cfg.Period < shortLearning {
		slog.Warn("learning period short: the features' 60 s windows have not reached the values steady traffic gives them, so normal traffic may look unusual afterwards (learn for hours, a day's cycle at best)",
			"period", cfg.Period)
	}
	return l
}

// hook has pc's feature records reach the learner while it learns.
func (l *liveLearner) hook(pc *pipeline.Config) {
	if l == nil {
		return
	}
	unseen := pc.Learn.RepliesUnseen
	pc.Learn.OnFeatures = func(r *pipeline.FeatureRecord) {
		if l.done.Load() || r.Flow.Alerted {
			return // a flow a detector alerted on is not normal traffic
		}
		f := r.Flow
		resp, rp := f.Resp()
		if unseen != nil && unseen(f.Ifindex, resp) {
			return // the model does not judge these either
		}
		orig, op := f.Orig()
		row := dataset.Row{Capture: "live", Point: r.Point, TsNs: r.TsNs, FlowID: f.ID, Src: orig.String(), SrcPort: op,
			Dst: resp.String(), DstPort: rp, Proto: f.Proto, Vec: *r.Vec, Label: model.Benign}
		l.mu.Lock()
		l.rows = append(l.rows, row)
		full := len(l.rows) >= l.cfg.MaxRecords
		l.mu.Unlock()
		if full && l.done.CompareAndSwap(false, true) {
			l.finish <- struct{}{}
		}
	}
}

// run waits out the period (and the least records), then learns. It
// returns when stop closes (a period cut short learns nothing).
func (l *liveLearner) run(stop <-chan struct{}) {
	if l == nil {
		return
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		t := time.NewTimer(l.cfg.Period)
		defer t.Stop()
	wait:
		for {
			select {
			case <-stop:
				l.done.Store(true)
				slog.Warn("learning period cut short by shutdown: nothing learned", "records", l.records())
				return
			case <-l.finish:
				break wait
			case <-t.C:
				if n := l.records(); n < config.MinLearnRecords {
					slog.Info("learning period goes on: too few records yet", "records", n, "need", config.MinLearnRecords)
					t.Reset(min(l.cfg.Period, time.Minute))
					continue
				}
				l.done.Store(true)
				break wait
			}
		}
		if err := l.learn(); err != nil {
			slog.Error("learning period", "err", err)
		}
	}()
}

func (l *liveLearner) records() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.rows)
}

// learn learns from the records kept, as xdpids model learn does, then
// writes and installs the model.
func (l *liveLearner) learn() error {
	l.mu.Lock()
	rows := l.rows
	l.rows = nil
	l.mu.Unlock()
	// Workers append in turn: the calibration counts in packet time.
	slices.SortStableFunc(rows, func(a, b dataset.Row) int { return cmp.Compare(a.TsNs, b.TsNs) })
	m, perHour, err := dataset.Learn(rows, dataset.DefaultLearnOptions())
	if err != nil {
		return err
	}
	m.Info.Sources = []string{fmt.Sprintf("live %s, %s", l.start.UTC().Format(time.RFC3339), time.Since(l.start).Round(time.Second))}
	b, err := m.Marshal()
	if err == nil {
		err = writeAtomic(l.cfg.Output, b)
	}
	if err != nil {
		return fmt.Errorf("learn.output: %w", err)
	}
	slog.Info("learned normal traffic", "records", len(rows), "trees", len(m.Trees), "threshold", m.Threshold,
		"alerts_per_hour", perHour, "output", l.cfg.Output)
	l.ms.setLearned(m)
	return nil
}

// wait waits for a learning in progress.
func (l *liveLearner) wait() {
	if l != nil {
		l.wg.Wait()
	}
}
