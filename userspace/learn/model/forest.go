package model

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/xdpids/xdpids/userspace/learn/features"
)

// Dataset is labelled vectors: Y[i] indexes Classes, Benign first.
type Dataset struct {
	X       []features.Vector
	Y       []int
	Classes []string
	Sources []string
}

// ForestOptions tune TrainForest.
type ForestOptions struct {
	Trees     int     // default 30
	MaxDepth  int     // default 12 (what a BPF map walk can afford)
	MinLeaf   int     // samples a leaf keeps at least; default 2
	Threshold float64 // alert at 1-P(benign) >= it; default 0.6 (0.5 alerted more benign flows held out for no more attacks)
	Seed      uint64
}

// TrainForest grows a random forest of CART trees (Gini impurity,
// bootstrap samples, sqrt(features) candidates per split), with classes
// weighted to balance (a scan gives a thousand flows where a benign
// session gives one). The same data and seed give the same model.
func TrainForest(ds *Dataset, o ForestOptions) (*Model, error) {
	if len(ds.X) == 0 || len(ds.X) != len(ds.Y) {
		return nil, errors.New("train forest: no samples")
	}
	if len(ds.Classes) < 2 || len(ds.Classes) > MaxClasses || ds.Classes[0] != Benign {
		return nil, errors.New("train forest: need 2 to 16 classes, benign first")
	}
	if o.Trees <= 0 {
		o.Trees = 30
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = 12
	}
	if o.MinLeaf <= 0 {
		o.MinLeaf = 2
	}
	if o.Threshold <= 0 {
		o.Threshold = 0.6
	}
	k := len(ds.Classes)
	counts := make([]int, k)
	for _, y := range ds.Y {
		if y < 0 || y >= k {
			return nil, errors.New("train forest: label out of range")
		}
		counts[y]++
	}
	weight := make([]float64, k)
	present := 0
	for _, c := range counts {
		if c > 0 {
			present++
		}
	}
	for c, n := range counts {
		if n > 0 {
			weight[c] = float64(len(ds.Y)) / float64(present*n)
		}
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x9e3779b97f4a7c15))
	m := &Model{Format: Format, Version: Version, Kind: KindForest, Features: slices.Clone(features.Names),
		Classes: slices.Clone(ds.Classes), Threshold: o.Threshold,
		Info: Info{Seed: o.Seed, Samples: len(ds.X), Sources: ds.Sources, Counts: counts}}
	g := &grower{ds: ds, k: k, w: weight, o: o, rng: rng, mtry: max(1, int(math.Sqrt(features.NumFeatures)))}
	for range o.Trees {
		idx := make([]int, len(ds.X))
		for i := range idx {
			idx[i] = rng.IntN(len(ds.X))
		}
		g.t = Tree{}
		g.grow(idx, 0)
		m.Trees = append(m.Trees, g.t)
	}
	m.init()
	return m, nil
}

type grower struct {
	ds   *Dataset
	k    int
	w    []float64
	o    ForestOptions
	rng  *rand.Rand
	mtry int
	t    Tree
	ord  []int
}

func (g *grower) dist(idx []int) []float64 {
	d := make([]float64, g.k)
	for _, i := range idx {
		d[g.ds.Y[i]] += g.w[g.ds.Y[i]]
	}
	return d
}

func gini(d []float64, tot float64) float64 {
	if tot <= 0 {
		return 0
	}
	s := 0.0
	for _, v := range d {
		p := v / tot
		s += p * p
	}
	return 1 - s
}

func (g *grower) node(d []float64) int32 {
	tot := 0.0
	for _, v := range d {
		tot += v
	}
	t := &g.t
	n := int32(len(t.Feature))
	t.Feature = append(t.Feature, -1)
	t.Split = append(t.Split, 0)
	t.Left = append(t.Left, 0)
	t.Right = append(t.Right, 0)
	for _, v := range d {
		t.Value = append(t.Value, float32(v/tot))
	}
	return n
}

func (g *grower) grow(idx []int, depth int) int32 {
	d := g.dist(idx)
	n := g.node(d)
	tot := 0.0
	for _, v := range d {
		tot += v
	}
	imp := gini(d, tot)
	if depth >= g.o.MaxDepth || len(idx) < 2*g.o.MinLeaf || imp < 1e-12 {
		return n
	}
	bestF, bestS, bestGain := -1, 0.0, 1e-9
	// mtry candidate features that vary in the node, in random order; past
	// them, more until one splits (as scikit-learn does): a node whose
	// drawn features are all constant or useless is not a leaf for that.
	examined := 0
	left := make([]float64, g.k)
	for _, f := range g.rng.Perm(features.NumFeatures) {
		if examined >= g.mtry && bestF >= 0 {
			break
		}
		g.ord = append(g.ord[:0], idx...)
		slices.SortFunc(g.ord, func(a, b int) int {
			va, vb := g.ds.X[a][f], g.ds.X[b][f]
			switch {
			case va < vb:
				return -1
			case va > vb:
				return 1
			}
			return a - b
		})
		if g.ds.X[g.ord[0]][f] == g.ds.X[g.ord[len(g.ord)-1]][f] {
			continue // constant here
		}
		examined++
		clear(left)
		lt := 0.0
		for j := 0; j < len(g.ord)-1; j++ {
			y := g.ds.Y[g.ord[j]]
			left[y] += g.w[y]
			lt += g.w[y]
			a, b := g.ds.X[g.ord[j]][f], g.ds.X[g.ord[j+1]][f]
			if a == b || j+1 < g.o.MinLeaf || len(g.ord)-j-1 < g.o.MinLeaf {
				continue
			}
			gl := gini(left, lt)
			right := 0.0
			for c := range left {
				right += (d[c] - left[c]) * (d[c] - left[c])
			}
			rt := tot - lt
			gr := 0.0
			if rt > 0 {
				gr = 1 - right/(rt*rt)
			}
			gain := imp - (lt*gl+rt*gr)/tot
			if gain > bestGain {
				bestF, bestS, bestGain = f, a+(b-a)/2, gain
			}
		}
	}
	if bestF < 0 {
		return n
	}
	var li, ri []int
	for _, i := range idx {
		if g.ds.X[i][bestF] < bestS {
			li = append(li, i)
		} else {
			ri = append(ri, i)
		}
	}
	g.t.Feature[n], g.t.Split[n] = int16(bestF), bestS
	l := g.grow(li, depth+1)
	r := g.grow(ri, depth+1)
	g.t.Left[n], g.t.Right[n] = l, r
	return n
}
