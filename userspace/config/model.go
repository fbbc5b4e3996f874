package config

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/xdpids/xdpids/userspace/learn/model"
)

// LoadModel loads the learned models the file names (model:), run side
// by side (see LoadModel).
func (f *File) LoadModel() (model.Set, error) {
	return LoadModel(f.Model)
}

// LoadModel loads the models a model: or --model value names: a
// comma-separated list of "builtin" (or empty: the embedded default) and
// model files, or "none" (no model: nil). A bad file is one error; the
// caller keeps the models it runs.
func LoadModel(v string) (model.Set, error) {
	switch strings.TrimSpace(v) {
	case "":
		return model.Set{model.Default()}, nil
	case "none", "off":
		return nil, nil
	}
	var s model.Set
	for _, name := range strings.Split(v, ",") {
		name = strings.TrimSpace(name)
		switch name {
		case "builtin":
			s = append(s, model.Default())
			continue
		case "", "none", "off":
			return nil, fmt.Errorf("model: %q in a list %q: name builtin or model files", name, v)
		}
		m, err := model.Load(name)
		if err != nil {
			return nil, fmt.Errorf("model: %w", err)
		}
		s = append(s, m)
	}
	if err := s.Check(); err != nil {
		return nil, fmt.Errorf("model %q: %w", v, err)
	}
	return s, nil
}

// Learn configures the live learning period: for Period after the daemon
// starts it keeps the feature records of its flows (not those an alert
// was raised on), then learns the unsupervised model from them as
// xdpids model learn does (its defaults), writes it to Output and runs it
// beside model:. An Output that exists is loaded at start instead: the
// network was learned before (delete it to learn again).
type Learn struct {
	Period time.Duration `yaml:"period"` // 0: no learning
	Output string        `yaml:"output"` // the model file
	// MaxRecords ends the period early: the records kept (about 0.7 KB
	// each while learning).
	MaxRecords int `yaml:"max_records"`
}

// MinLearnRecords is the least a learning period learns from: it goes on
// past Period until it has them.
const MinLearnRecords = 200

// LoadLearned loads the learned model of a past learning period (nil:
// none yet, or no learning configured).
func (l *Learn) LoadLearned() (*model.Model, error) {
	if l.Output == "" {
		return nil, nil
	}
	m, err := model.Load(l.Output)
	if err != nil {
		if l.Period > 0 && errors.Is(err, fs.ErrNotExist) {
			return nil, nil // to be learned
		}
		return nil, fmt.Errorf("learn.output: %w", err)
	}
	return m, nil
}
