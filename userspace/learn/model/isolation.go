package model

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/xdpids/xdpids/userspace/learn/features"
)

// IsolationOptions tune TrainIsolation.
type IsolationOptions struct {
	Trees      int // default 100
	SampleSize int // default 256 (Liu et al.)
	// MaxDepth is the trees' height limit (default: log2 SampleSize, as
	// Liu et al.). A limit below it keeps a large sample's trees small:
	// a leaf at the limit scores by how many samples it still holds.
	MaxDepth int
	// Quantile of the training scores the threshold is set at (default
	// 0.99), times Margin (default 1): normal traffic alerts about
	// (1-Quantile) of the time, less with the margin.
	Quantile, Margin float64
	Seed             uint64
	Sources          []string
	// Features, when set, are the only features the trees split on (the
	// others are ignored): e.g. the per-host behaviour windows, which
	// say what a source does rather than what its stack looks like.
	Features []int
	// Subspaces, when set (two or more), replace Features: Trees trees
	// are grown on each feature set, and a vector's score is that of the
	// subspace where it is most unusual (Model.Subspaces). An attack
	// unusual in two features of thirty gets a middling score from trees
	// that mostly split on the other 28; trees on a small set that holds
	// those two isolate it (Kitsune's ensemble over feature clusters,
	// with isolation forests for its autoencoders).
	Subspaces [][]int
	// Repeat is the model's Repeat (0: alert on each anomalous point).
	Repeat int
}

// TrainIsolation grows an isolation forest (Liu, Ting and Zhou, ICDM
// 2008) on normal traffic only: anomalies are the vectors few random
// splits isolate. Features are squashed (log1p) first.
func TrainIsolation(x []features.Vector, o IsolationOptions) (*Model, error) {
	if len(x) < 2 {
		return nil, errors.New("train isolation forest: need at least two samples")
	}
	if o.Trees <= 0 {
		o.Trees = 100
	}
	if o.SampleSize <= 0 {
		o.SampleSize = 256
	}
	o.SampleSize = min(o.SampleSize, len(x))
	if o.Quantile <= 0 || o.Quantile >= 1 {
		o.Quantile = 0.99
	}
	if o.Margin <= 0 {
		o.Margin = 1
	}
	sq := make([]features.Vector, len(x))
	for i := range x {
		for j := range x[i] {
			sq[i][j] = squash(x[i][j])
		}
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x2545f4914f6cdd1d))
	m := &Model{Format: Format, Version: Version, Kind: KindIsolation, Features: slices.Clone(features.Names),
		SampleSize: o.SampleSize, Threshold: 1, Repeat: o.Repeat, Info: Info{Seed: o.Seed, Samples: len(x), Sources: o.Sources}}
	groups := slices.Clone(o.Subspaces) // the defaults below are not the caller's
	if len(groups) < 2 {
		groups = [][]int{o.Features}
	}
	var use []int // every feature a tree may split on
	for g := range groups {
		if len(groups[g]) == 0 {
			groups[g] = nil
			for f := range features.NumFeatures {
				groups[g] = append(groups[g], f)
			}
		}
		for _, f := range groups[g] {
			if f < 0 || f >= features.NumFeatures {
				return nil, errors.New("train isolation forest: feature out of range")
			}
			if !slices.Contains(use, f) {
				use = append(use, f)
			}
		}
	}
	slices.Sort(use)
	for _, f := range use {
		lo, hi := sq[0][f], sq[0][f]
		for i := range sq {
			lo, hi = min(lo, sq[i][f]), max(hi, sq[i][f])
		}
		if lo == hi {
			m.Fixed = append(m.Fixed, Fixed{Feature: f, Value: lo})
		}
	}
	maxDepth := 0
	for s := 1; s < o.SampleSize; s <<= 1 {
		maxDepth++
	}
	if o.MaxDepth > 0 {
		maxDepth = min(maxDepth, o.MaxDepth)
	}
	for _, g := range groups {
		for range o.Trees {
			perm := rng.Perm(len(x))[:o.SampleSize]
			t := &Tree{}
			isoGrow(t, sq, perm, 0, maxDepth, rng, g)
			m.Trees = append(m.Trees, *t)
		}
	}
	m.init()
	// Each subspace's scale is its own quantile of the training scores,
	// then the threshold the combined score's.
	quantile := func(score func(v *features.Vector, s *Scratch) float64) float64 {
		scores := make([]float64, len(x))
		var s Scratch
		for i := range x {
			scores[i] = score(&x[i], &s)
		}
		sort.Float64s(scores)
		return scores[min(len(scores)-1, int(o.Quantile*float64(len(scores))))]
	}
	if len(groups) > 1 {
		for g, feats := range groups {
			at := g * o.Trees
			scale := quantile(func(v *features.Vector, s *Scratch) float64 {
				for i := range v {
					s.x[i] = squash(v[i])
				}
				return math.Exp2(-pathMean(m.iso[at:at+o.Trees], &s.x, math.Inf(1), nil) / m.norm)
			})
			m.Subspaces = append(m.Subspaces, Subspace{Trees: o.Trees, Features: slices.Clone(feats), Scale: scale})
		}
	}
	var r Result
	m.Threshold = min(1, o.Margin*quantile(func(v *features.Vector, s *Scratch) float64 {
		m.Score(v, s, &r)
		return r.Score
	}))
	return m, nil
}

func isoGrow(t *Tree, x []features.Vector, idx []int, depth, maxDepth int, rng *rand.Rand, use []int) int32 {
	n := int32(len(t.Feature))
	t.Feature = append(t.Feature, -1)
	t.Split = append(t.Split, 0)
	t.Left = append(t.Left, 0)
	t.Right = append(t.Right, 0)
	t.Value = append(t.Value, float32(float64(depth)+avgPath(float64(len(idx)))))
	t.Lo = append(t.Lo, 0)
	t.Hi = append(t.Hi, 0)
	if depth >= maxDepth || len(idx) <= 1 {
		return n
	}
	// A random feature that varies here, a uniform split in its range.
	for _, j := range rng.Perm(len(use)) {
		f := use[j]
		lo, hi := x[idx[0]][f], x[idx[0]][f]
		for _, i := range idx[1:] {
			lo, hi = min(lo, x[i][f]), max(hi, x[i][f])
		}
		if hi <= lo {
			continue
		}
		s := lo + rng.Float64()*(hi-lo)
		if s <= lo {
			s = lo + (hi-lo)/2
		}
		var li, ri []int
		for _, i := range idx {
			if x[i][f] < s {
				li = append(li, i)
			} else {
				ri = append(ri, i)
			}
		}
		t.Feature[n], t.Split[n], t.Lo[n], t.Hi[n] = int16(f), s, lo, hi
		l := isoGrow(t, x, li, depth+1, maxDepth, rng, use)
		r := isoGrow(t, x, ri, depth+1, maxDepth, rng, use)
		t.Left[n], t.Right[n] = l, r
		return n
	}
	return n
}
