package xdptree

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/userspace/learn/cart"
)

// Dataset is labelled vectors: Y[i] indexes Classes, Benign first.
type Dataset struct {
	X       []Vector
	Y       []int
	Classes []string
	Sources []string
}

// Options tune Train.
type Options struct {
	Packets   int     // the packet a direction is judged at (default 8)
	Trees     int     // default 4
	MaxDepth  int     // default 10, at most bpf.TreeMaxDepth
	MinLeaf   int     // samples a leaf keeps at least (default 2)
	Features  int     // candidate features per split (default 6 of 16)
	Threshold float64 // mean leaf score that is malicious (default 0.6)
	Action    string  // ActionAlert (default) or ActionDrop
	Seed      uint64
}

// Train grows a random forest of CART trees (Gini impurity, bootstrap
// samples, classes weighted to balance) with integer thresholds: a split
// between values a < b is "x < a + (b-a+1)/2", so it sends the training
// values exactly as the program's integer compare does. The same data and
// seed give the same model. The split search is userspace/learn/cart's,
// which the userspace forest uses too; the trees differ (integer cuts,
// one class and score per leaf for the program's maps).
func Train(ds *Dataset, o Options) (*Model, error) {
	if len(ds.X) == 0 || len(ds.X) != len(ds.Y) {
		return nil, errors.New("train xdp forest: no samples")
	}
	if len(ds.Classes) < 2 || len(ds.Classes) > bpf.TreeMaxClasses || ds.Classes[0] != Benign {
		return nil, errors.New("train xdp forest: need 2 to 16 classes, benign first")
	}
	if o.Packets <= 0 {
		o.Packets = 8
	}
	if o.Trees <= 0 {
		o.Trees = 4
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = 10
	}
	o.MaxDepth = min(o.MaxDepth, bpf.TreeMaxDepth)
	if o.MinLeaf <= 0 {
		o.MinLeaf = 2
	}
	if o.Features <= 0 {
		o.Features = 6
	}
	if o.Threshold <= 0 {
		o.Threshold = 0.6
	}
	if o.Action == "" {
		o.Action = ActionAlert
	}
	k := len(ds.Classes)
	w, counts, err := cart.Weights(ds.Y, k)
	if err != nil {
		return nil, fmt.Errorf("train xdp forest: %w", err)
	}
	m := &Model{Format: Format, Version: Version, Kind: Kind, Features: Names[:], Classes: slices.Clone(ds.Classes),
		Packets: o.Packets, Threshold: o.Threshold, Action: o.Action,
		Info: Info{Seed: o.Seed, MaxDepth: o.MaxDepth, Samples: len(ds.X), Sources: ds.Sources, Counts: counts}}
	g := &grower{ds: ds, k: k, w: w, o: o, rng: rand.New(rand.NewPCG(o.Seed, 0x6a09e667f3bcc909))}
	g.split = cart.Splitter{Y: ds.Y, W: w, MinLeaf: o.MinLeaf,
		Value: func(i, f int) float64 { return float64(ds.X[i][f]) },
		// Integer cuts: x < a + (b-a+1)/2 sends the training values as
		// the program's integer compare does.
		Cut: func(a, b float64) float64 { return float64(uint64(a) + (uint64(b)-uint64(a)+1)/2) }}
	for range o.Trees {
		idx := make([]int, len(ds.X))
		for i := range idx {
			idx[i] = g.rng.IntN(len(ds.X))
		}
		g.t = Tree{}
		g.grow(idx, 0)
		m.Trees = append(m.Trees, g.t)
	}
	if err := m.Check(); err != nil {
		return nil, err // a trainer bug
	}
	return m, nil
}

type grower struct {
	ds    *Dataset
	k     int
	w     []float64
	o     Options
	rng   *rand.Rand
	t     Tree
	split cart.Splitter
}

// leaf appends a node with d's class and score.
func (g *grower) node(d []float64) int32 {
	tot := 0.0
	for _, v := range d {
		tot += v
	}
	t := &g.t
	n := int32(len(t.Feature))
	class, score := uint8(0), uint16(0)
	if tot > 0 {
		score = uint16(math.Round(bpf.TreeScoreOne * (1 - d[0]/tot)))
		best := 0
		for c := 1; c < len(d); c++ {
			if d[c] > 0 && (best == 0 || d[c] > d[best]) {
				best = c
			}
		}
		class = uint8(best)
	}
	if class == 0 {
		score = 0 // nothing but benign here
	}
	t.Feature = append(t.Feature, -1)
	t.Threshold = append(t.Threshold, 0)
	t.Left = append(t.Left, 0)
	t.Right = append(t.Right, 0)
	t.Class = append(t.Class, class)
	t.Score = append(t.Score, score)
	return n
}

func (g *grower) grow(idx []int, depth int) int32 {
	d := make([]float64, g.k)
	tot := 0.0
	for _, i := range idx {
		d[g.ds.Y[i]] += g.w[i]
		tot += g.w[i]
	}
	n := g.node(d)
	if depth >= g.o.MaxDepth || len(idx) < 2*g.o.MinLeaf || cart.Gini(d, tot) < 1e-12 {
		return n
	}
	bestF, cut := g.split.Best(idx, d, tot, g.rng.Perm(NumFeatures), g.o.Features)
	bestT := uint32(cut)
	if bestF < 0 {
		return n
	}
	var li, ri []int
	for _, i := range idx {
		if g.ds.X[i][bestF] < bestT {
			li = append(li, i)
		} else {
			ri = append(ri, i)
		}
	}
	g.t.Feature[n], g.t.Threshold[n] = int8(bestF), bestT
	l := g.grow(li, depth+1)
	r := g.grow(ri, depth+1)
	g.t.Left[n], g.t.Right[n] = l, r
	return n
}
