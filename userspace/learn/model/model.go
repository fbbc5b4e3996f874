// Package model holds the learned detectors: a random forest (supervised,
// trained on labelled flows) and an isolation forest (unsupervised,
// trained on normal traffic only), their training, their versioned JSON
// file format, and scoring a feature vector without allocating.
//
// Hand-written: the served Go libraries do not fit. dmitryikh/leaves only
// runs LightGBM/XGBoost models trained elsewhere (no training in Go);
// sjwhitworth/golearn allocates per prediction through its instance
// grids, is unmaintained since 2022 and has no isolation forest; gonum
// has the linear algebra, not trees. A CART forest is a few hundred lines,
// and owning the flat node layout is what lets a tree be compiled into
// BPF maps later.
package model

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"

	"github.com/xdpids/xdpids/userspace/learn/features"
)

// Format and Version identify a model file.
const (
	Format  = "xdpids-model"
	Version = 1
)

// Kinds of model.
const (
	KindForest    = "forest"    // supervised random forest: Score is 1 - P(benign)
	KindIsolation = "isolation" // isolation forest: Score is the anomaly score in (0, 1)
)

// Benign is the class name of normal traffic.
const Benign = "benign"

// MaxClasses bounds a forest's classes (scoring sums them in a fixed array).
const MaxClasses = 16

// Model is a trained tree ensemble.
type Model struct {
	Format   string   `json:"format"`
	Version  int      `json:"version"`
	Kind     string   `json:"kind"`
	Features []string `json:"features"` // features.Names at training time
	// Classes (forest): class names, Benign first.
	Classes []string `json:"classes,omitempty"`
	// Threshold: a Score at or above it is an alert.
	Threshold float64 `json:"threshold"`
	// ClassThresholds (forest, optional): per class, Benign's unused, the
	// threshold of a vector whose most likely attack class it is
	// (chosen out of fold on the training captures: TrainForestCV);
	// Threshold is then their least.
	ClassThresholds []float64 `json:"class_thresholds,omitempty"`
	// Repeat (optional): alert on a source only once this many
	// of its feature points scored at or above Threshold within about
	// RepeatHalfLife (a damped count): an attack repeats (probes,
	// attempts, packets), one odd flow of a normal host does not.
	Repeat int `json:"repeat,omitempty"`
	// ClassRepeat (forest, optional): per class, Benign's unused, the
	// Repeat of a vector whose most likely attack class it is (chosen
	// out of fold: dataset.ChooseRepeats); Repeat is then unused.
	ClassRepeat []int `json:"class_repeat,omitempty"`
	// SampleSize (isolation): the subsample each tree was grown on.
	SampleSize int `json:"sample_size,omitempty"`
	// Fixed (isolation): features constant over all the training data,
	// with their value (squashed): a vector that differs from it is
	// isolated at the root, as a split on the feature would have done.
	Fixed []Fixed `json:"fixed,omitempty"`
	// Subspaces (isolation, optional): the trees in consecutive runs, one
	// per feature set. A vector's score is then z/(1+z), z the largest
	// over the subspaces of its subspace score over that subspace's Scale
	// (its training quantile): 0.5 where it is as unusual as the training
	// data's quantile in the subspace where it is most unusual.
	Subspaces []Subspace `json:"subspaces,omitempty"`
	Trees     []Tree     `json:"trees"`
	Info      Info       `json:"info"`

	norm float64     // isolation: c(SampleSize)
	iso  [][]isoNode // isolation: Trees, packed for scoring
}

// RepeatHalfLifeNs is the half-life of the per-source count of anomalous
// points (Model.Repeat).
const RepeatHalfLifeNs = 60e9

// Fixed is a feature constant in training.
type Fixed struct {
	Feature int     `json:"feature"`
	Value   float64 `json:"value"`
}

// Subspace is a run of an isolation forest's trees grown on a feature
// set.
type Subspace struct {
	Trees    int     `json:"trees"`
	Features []int   `json:"features"` // what its trees split on
	Scale    float64 `json:"scale"`    // its training quantile score
}

// Info says how a model was trained.
type Info struct {
	Seed    uint64   `json:"seed"`
	Samples int      `json:"samples"`
	Sources []string `json:"sources,omitempty"` // captures or CSVs trained on
	Counts  []int    `json:"counts,omitempty"`  // samples per class
}

// Tree is one tree in flat arrays, node 0 the root. Feature is -1 at a
// leaf; a vector goes left when v[Feature] < Split. Children come after
// their parent (checked at load), so a walk always ends.
type Tree struct {
	Feature []int16   `json:"feature"`
	Split   []float64 `json:"split"`
	Left    []int32   `json:"left"`
	Right   []int32   `json:"right"`
	// Value (forest): per node, the class distribution, len(Classes)
	// values a node, flattened. (isolation): per node, the path length a
	// vector ending there scores (depth plus c(size) of the leaf).
	Value []float32 `json:"value"`
	// Lo and Hi (isolation): per split node, the range of its feature
	// over the node's training sample. A vector outside it (by more than
	// rangeTol) is in space no normal vector reached: isolated there.
	Lo []float64 `json:"lo,omitempty"`
	Hi []float64 `json:"hi,omitempty"`
}

// Load reads a model file.
func Load(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	m, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	return m, nil
}

// Parse decodes and checks a model file: any damage is one error.
func Parse(b []byte) (*Model, error) {
	var m Model
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("bad model file: %w", err)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("bad model file: %w", err)
	}
	m.init()
	return &m, nil
}

// Marshal encodes m as its file format.
func (m *Model) Marshal() ([]byte, error) { return json.Marshal(m) }

func (m *Model) check() error {
	if m.Format != Format {
		return fmt.Errorf("format %q, want %q", m.Format, Format)
	}
	if m.Version != Version {
		return fmt.Errorf("version %d, this build reads %d", m.Version, Version)
	}
	if len(m.Features) != features.NumFeatures {
		return fmt.Errorf("%d features, this build computes %d: retrain it", len(m.Features), features.NumFeatures)
	}
	for i, n := range m.Features {
		if n != features.Names[i] {
			return fmt.Errorf("feature %d is %q, this build's is %q: retrain it", i, n, features.Names[i])
		}
	}
	if math.IsNaN(m.Threshold) || m.Threshold <= 0 || m.Threshold > 1 {
		return fmt.Errorf("threshold %v out of (0, 1]", m.Threshold)
	}
	if m.Repeat < 0 || m.Repeat > 1000 {
		return fmt.Errorf("repeat %d out of [0, 1000]", m.Repeat)
	}
	width := 1
	switch m.Kind {
	case KindForest:
		if len(m.Classes) < 2 || len(m.Classes) > MaxClasses || m.Classes[0] != Benign {
			return fmt.Errorf("a forest needs 2 to %d classes, benign first", MaxClasses)
		}
		width = len(m.Classes)
		if len(m.ClassThresholds) != 0 && len(m.ClassThresholds) != len(m.Classes) {
			return fmt.Errorf("%d class thresholds for %d classes", len(m.ClassThresholds), len(m.Classes))
		}
		for c, t := range m.ClassThresholds {
			if c > 0 && (math.IsNaN(t) || t <= 0 || t > 1) {
				return fmt.Errorf("class %s: threshold %v out of (0, 1]", m.Classes[c], t)
			}
		}
		if len(m.ClassRepeat) != 0 && len(m.ClassRepeat) != len(m.Classes) {
			return fmt.Errorf("%d class repeats for %d classes", len(m.ClassRepeat), len(m.Classes))
		}
		for c, r := range m.ClassRepeat {
			if r < 0 || r > 1000 {
				return fmt.Errorf("class %s: repeat %d out of [0, 1000]", m.Classes[c], r)
			}
		}
	case KindIsolation:
		if len(m.ClassThresholds) != 0 || len(m.ClassRepeat) != 0 {
			return errors.New("class thresholds or repeats on an isolation forest")
		}
		if m.SampleSize < 2 {
			return fmt.Errorf("sample size %d", m.SampleSize)
		}
		if len(m.Subspaces) != 0 {
			n := 0
			for i, sp := range m.Subspaces {
				if sp.Trees < 1 || math.IsNaN(sp.Scale) || sp.Scale <= 0 || sp.Scale > 1 {
					return fmt.Errorf("subspace %d: %d trees, scale %v", i, sp.Trees, sp.Scale)
				}
				for _, f := range sp.Features {
					if f < 0 || f >= features.NumFeatures {
						return fmt.Errorf("subspace %d: feature %d out of range", i, f)
					}
				}
				n += sp.Trees
			}
			if n != len(m.Trees) {
				return fmt.Errorf("subspaces hold %d trees, the model %d", n, len(m.Trees))
			}
		}
	default:
		return fmt.Errorf("unknown kind %q", m.Kind)
	}
	if len(m.Trees) == 0 {
		return errors.New("no trees")
	}
	for _, fx := range m.Fixed {
		if fx.Feature < 0 || fx.Feature >= features.NumFeatures || math.IsNaN(fx.Value) {
			return fmt.Errorf("fixed feature %d", fx.Feature)
		}
	}
	for i := range m.Trees {
		t := &m.Trees[i]
		if m.Kind == KindIsolation && (len(t.Lo) != len(t.Feature) || len(t.Hi) != len(t.Feature)) {
			return fmt.Errorf("tree %d: ranges differ in length from nodes", i)
		}
		if err := t.check(width); err != nil {
			return fmt.Errorf("tree %d: %w", i, err)
		}
	}
	return nil
}

func (t *Tree) check(width int) error {
	n := len(t.Feature)
	if n == 0 || len(t.Split) != n || len(t.Left) != n || len(t.Right) != n || len(t.Value) != n*width {
		return errors.New("node arrays differ in length")
	}
	for i := range n {
		f := t.Feature[i]
		if f < 0 {
			if f != -1 {
				return fmt.Errorf("node %d: feature %d", i, f)
			}
			continue
		}
		if int(f) >= features.NumFeatures {
			return fmt.Errorf("node %d: feature %d out of range", i, f)
		}
		l, r := t.Left[i], t.Right[i]
		if l <= int32(i) || r <= int32(i) || int(l) >= n || int(r) >= n {
			return fmt.Errorf("node %d: children %d, %d", i, l, r)
		}
		if math.IsNaN(t.Split[i]) {
			return fmt.Errorf("node %d: split is NaN", i)
		}
	}
	for _, v := range t.Value {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return errors.New("value not finite")
		}
	}
	return nil
}

func (m *Model) init() {
	if m.Kind == KindIsolation {
		m.norm = avgPath(float64(m.SampleSize))
		m.iso = make([][]isoNode, len(m.Trees))
		for i := range m.Trees {
			t := &m.Trees[i]
			nodes := make([]isoNode, len(t.Feature))
			for j := range nodes {
				nodes[j] = isoNode{split: t.Split[j], lo: t.Lo[j], hi: t.Hi[j], left: t.Left[j], right: t.Right[j],
					feature: t.Feature[j], value: t.Value[j]}
			}
			m.iso[i] = nodes
		}
	}
}

// isoNode is an isolation tree node as scoring reads it: one node in
// one place (a cache line), where the file's flat arrays put its fields
// in six.
type isoNode struct {
	split, lo, hi float64
	left, right   int32
	value         float32
	feature       int16
}

// avgPath is c(n), the average path length of an unsuccessful search in
// a binary search tree of n points (Liu, Ting and Zhou 2008).
func avgPath(n float64) float64 {
	switch {
	case n <= 1:
		return 0
	case n == 2:
		return 1
	}
	return 2*(math.Log(n-1)+0.5772156649) - 2*(n-1)/n
}

//go:embed default.json
var defaultModel []byte

// Default is the embedded model, trained on the project's dataset.
func Default() *Model {
	m, err := Parse(defaultModel)
	if err != nil {
		panic("embedded model: " + err.Error()) // a build that fails its own test
	}
	return m
}
