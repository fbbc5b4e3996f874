package model

import (
	"errors"
	"fmt"

	"github.com/xdpids/xdpids/userspace/learn/features"
)

// MaxSet is how many models run side by side (each keeps its own
// per-source repeat count: features.MaxCounts).
const MaxSet = features.MaxCounts

// Set is the models a daemon runs side by side (model: A, B): typically a
// supervised forest, which names the attacks it was trained on, and an
// isolation forest learned from this network's normal traffic, which
// flags what no label described. Every model scores every feature point
// and keeps its own threshold and repeat gate; a point alerts when any
// model's verdict does, the alert being that of the first in order that
// alerted (the others that also did are named in its metadata).
type Set []*Model

// Check reports a set too large to run.
func (s Set) Check() error {
	if len(s) > MaxSet {
		return fmt.Errorf("%d models, at most %d run side by side", len(s), MaxSet)
	}
	for _, m := range s {
		if m == nil {
			return errors.New("nil model in set")
		}
	}
	return nil
}
