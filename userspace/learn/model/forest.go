package model

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/xdpids/xdpids/userspace/learn/cart"
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
	Repeat    int // the model's Repeat (0: alert on each point at or above its threshold)
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
	weight, counts, err := cart.Weights(ds.Y, k)
	if err != nil {
		return nil, fmt.Errorf("train forest: %w", err)
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x9e3779b97f4a7c15))
	m := &Model{Format: Format, Version: Version, Kind: KindForest, Features: slices.Clone(features.Names),
		Classes: slices.Clone(ds.Classes), Threshold: o.Threshold, Repeat: o.Repeat,
		Info: Info{Seed: o.Seed, Samples: len(ds.X), Sources: ds.Sources, Counts: counts}}
	g := &grower{ds: ds, k: k, w: weight, o: o, rng: rng, mtry: max(1, int(math.Sqrt(features.NumFeatures)))}
	g.split = cart.Splitter{Y: ds.Y, W: weight, MinLeaf: o.MinLeaf,
		Value: func(i, f int) float64 { return ds.X[i][f] },
		// The midpoint, unless a and b are so close it rounds to a: then
		// x < a would send a's samples right and leave the left child empty.
		Cut: func(a, b float64) float64 {
			if s := a + (b-a)/2; s > a {
				return s
			}
			return b
		}}
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
	ds    *Dataset
	k     int
	w     []float64
	o     ForestOptions
	rng   *rand.Rand
	mtry  int
	t     Tree
	split cart.Splitter
}

func (g *grower) dist(idx []int) []float64 {
	d := make([]float64, g.k)
	for _, i := range idx {
		d[g.ds.Y[i]] += g.w[i]
	}
	return d
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
		p := 0.0
		if tot > 0 {
			p = v / tot
		}
		t.Value = append(t.Value, float32(p))
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
	if depth >= g.o.MaxDepth || len(idx) < 2*g.o.MinLeaf || cart.Gini(d, tot) < 1e-12 {
		return n
	}
	bestF, bestS := g.split.Best(idx, d, tot, g.rng.Perm(features.NumFeatures), g.mtry)
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

// TrainForestCV trains a forest on all of ds, with a threshold per attack
// class chosen on held-out data: ds is cut into folds by group (a capture:
// group[i] is sample i's), a forest trained on all folds but one scores
// that one, and each class's threshold is the one of Grid that gives the
// class the best F1 of alert against benign over these out-of-fold scores (the middle of those
// within PlateauF1 of the best). No
// sample is scored by a forest that trained on its capture.
//
// It also returns those out-of-fold scores, one per sample (nil without
// folds), for choices made on held-out data elsewhere (ChooseRepeats).
func TrainForestCV(ds *Dataset, group []int, folds int, o ForestOptions) (*Model, []Scored, error) {
	if len(group) != len(ds.X) {
		return nil, nil, errors.New("train forest: a group per sample needed")
	}
	m, err := TrainForest(ds, o)
	if err != nil || folds < 2 {
		return m, nil, err
	}
	k := len(ds.Classes)
	out := make([]Scored, len(ds.X))
	var sc Scratch
	var r Result
	for f := range folds {
		var tr Dataset
		tr.Classes = ds.Classes
		var held []int
		for i := range ds.X {
			if group[i]%folds == f {
				held = append(held, i)
				continue
			}
			tr.X = append(tr.X, ds.X[i])
			tr.Y = append(tr.Y, ds.Y[i])
		}
		if len(held) == 0 || len(tr.X) == 0 {
			continue
		}
		fm, err := TrainForest(&tr, o)
		if err != nil {
			return nil, nil, err
		}
		for _, i := range held {
			fm.Score(&ds.X[i], &sc, &r)
			out[i] = Scored{r.Score, r.Class}
		}
	}
	m.ClassThresholds = make([]float64, k)
	m.ClassThresholds[0] = m.Threshold
	least := 1.0
	for c := 1; c < k; c++ {
		f1s := make([]float64, len(Grid))
		bestF1 := 0.0
		for j, t := range Grid {
			tp, fp, fn := 0, 0, 0
			for i, s := range out {
				hit := s.Class == c && s.Score >= t
				switch {
				case hit && ds.Y[i] == c:
					tp++
				case hit && ds.Y[i] == 0:
					fp++ // a false alert (another attack named c is alerted all the same)
				case ds.Y[i] == c:
					fn++
				}
			}
			if tp > 0 {
				f1s[j] = 2 * float64(tp) / float64(2*tp+fp+fn)
			}
			bestF1 = max(bestF1, f1s[j])
		}
		var best []float64 // the thresholds within PlateauF1 of the best F1
		for j, t := range Grid {
			if f1s[j] >= bestF1-PlateauF1 {
				best = append(best, t)
			}
		}
		// The middle of the best plateau: as far as the held-out data
		// allow from both missing attacks and alerting on others.
		m.ClassThresholds[c] = best[len(best)/2]
		least = min(least, m.ClassThresholds[c])
	}
	m.Threshold = least
	m.ClassThresholds[0] = least
	return m, out, nil
}

// Scored is a sample's score and most likely class (Result's Score and
// Class) by a forest that did not train on its capture.
type Scored struct {
	Score float64
	Class int
}

// PlateauF1 is how far below the best out-of-fold F1 a threshold may be
// and still count as as good: differences that small are the held-out
// data's noise, and the middle of the plateau is the safer choice.
const PlateauF1 = 0.005

// Grid is the thresholds TrainForestCV tries.
var Grid = []float64{0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9}
