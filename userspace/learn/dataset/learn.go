package dataset

import (
	"errors"
	"fmt"
	"strings"

	"github.com/xdpids/xdpids/userspace/learn/features"
	"github.com/xdpids/xdpids/userspace/learn/model"
)

// DefaultSubspaces are the unsupervised model's feature sets: what a host
// does (the flows it opens and gets: scans, floods) and what a source
// does with one service (how often it connects and how much it says:
// brute force, slow DoS, a web scanner), each against what is normal for
// it.
var DefaultSubspaces = []string{"src_*,dst_*", "resp_port,svc_*"}

// LearnOptions configure Learn: model learn's flags, the daemon's live
// learning period.
type LearnOptions struct {
	Isolation model.IsolationOptions
	// Subspaces are comma-separated feature globs, one set each (two or
	// more; nil, unless Features or Isolation.Features is set:
	// DefaultSubspaces).
	Subspaces []string
	// Features are feature globs the trees alone split on (one forest).
	Features []string
	// AlertsPerHour raises the threshold until the daemon would alert at
	// most this often an hour on the normal rows (Calibrate); negative:
	// the quantile's alone.
	AlertsPerHour float64
}

// DefaultLearnOptions are model learn's defaults (the README's
// "unsupervised" choices, made on the training side).
func DefaultLearnOptions() LearnOptions {
	return LearnOptions{
		Isolation: model.IsolationOptions{Trees: 100, SampleSize: 65536, MaxDepth: 10, Quantile: 0.99, Margin: 1,
			Repeat: 3, Seed: 1},
		AlertsPerHour: 0.5,
	}
}

// Learn learns the unsupervised model (an isolation forest) from rows
// taken to be normal, in capture and time order, then calibrates its
// threshold on them. It returns the model and the false alerts per hour
// the daemon would raise on those rows at its threshold (negative: not
// calibrated).
func Learn(rows []Row, o LearnOptions) (*model.Model, float64, error) {
	if len(rows) == 0 {
		return nil, 0, errors.New("learn: no records")
	}
	ds := Split(rows)
	opts := o.Isolation
	opts.Sources = ds.Sources
	var err error
	if len(o.Features) > 0 {
		if opts.Features, err = features.Select(o.Features); err != nil {
			return nil, 0, fmt.Errorf("learn: --features: %w", err)
		}
	}
	subspaces := o.Subspaces
	if subspaces == nil && len(opts.Features) == 0 {
		subspaces = DefaultSubspaces
	}
	if len(subspaces) == 1 {
		return nil, 0, errors.New("learn: --subspace: give two or more (one is --features)")
	}
	for _, sp := range subspaces {
		f, err := features.Select(strings.Split(sp, ","))
		if err != nil {
			return nil, 0, fmt.Errorf("learn: --subspace: %w", err)
		}
		opts.Subspaces = append(opts.Subspaces, f)
	}
	m, err := model.TrainIsolation(ds.X, opts)
	if err != nil {
		return nil, 0, err
	}
	perHour := -1.0
	if o.AlertsPerHour >= 0 {
		perHour = Calibrate(rows, m, o.AlertsPerHour)
	}
	return m, perHour, nil
}
