// Package cart is the split search of a CART tree (Gini impurity,
// weighted classes, exhaustive over each candidate feature's sorted
// values), shared by the trainers of the userspace random forest
// (userspace/learn/model, float64 features) and of the in-kernel tree
// ensemble (userspace/learn/xdptree, integer features): they differ only
// in where between two training values a split is cut.
package cart

import (
	"errors"
	"slices"
)

// Gini is the Gini impurity of the class weights d, whose sum is tot.
func Gini(d []float64, tot float64) float64 {
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

// Weights gives each of the samples of classes y (0 to k-1) its weight
// in training, and counts each class's samples: each class present gets
// the same total weight (a scan gives a thousand flows where a benign
// session gives one), the weights averaging 1. It errs on a class out of
// range. (Sharing a class's weight equally among its captures instead was
// tried: worse out of fold and on the test captures, 2026-12-03.)
func Weights(y []int, k int) ([]float64, []int, error) {
	counts := make([]int, k)
	for _, c := range y {
		if c < 0 || c >= k {
			return nil, nil, errors.New("label out of range")
		}
		counts[c]++
	}
	present := 0
	for _, n := range counts {
		if n > 0 {
			present++
		}
	}
	per := make([]float64, k)
	for c, n := range counts {
		if n > 0 {
			per[c] = float64(len(y)) / float64(present*n)
		}
	}
	w := make([]float64, len(y))
	for i, c := range y {
		w[i] = per[c]
	}
	return w, counts, nil
}

// Splitter finds a node's best split. One serves a whole training: its
// buffers are reused from node to node.
type Splitter struct {
	Y       []int     // each sample's class
	W       []float64 // each sample's weight (Weights)
	MinLeaf int       // samples each side keeps at least
	// Value is sample i's feature f.
	Value func(i, f int) float64
	// Cut is the split between adjacent training values a < b: samples
	// with a value below it go left.
	Cut func(a, b float64) float64

	ord  []int
	vals []float64
	left []float64
}

// Best searches the features of order until mtry of them varied among
// idx and one of them splits (past mtry, more until one does, as
// scikit-learn does): d are idx's class weights, tot their sum. It
// returns the feature and cut with the largest impurity decrease, or
// f < 0 when no split decreases it.
func (s *Splitter) Best(idx []int, d []float64, tot float64, order []int, mtry int) (f int, cut float64) {
	imp := Gini(d, tot)
	f, gainBest := -1, 1e-9
	if cap(s.left) < len(d) {
		s.left = make([]float64, len(d))
	}
	left := s.left[:len(d)]
	examined := 0
	for _, c := range order {
		if examined >= mtry && f >= 0 {
			break
		}
		s.vals = slices.Grow(s.vals[:0], len(idx))[:0]
		s.ord = s.ord[:0]
		for j, i := range idx {
			s.vals = append(s.vals, s.Value(i, c))
			s.ord = append(s.ord, j)
		}
		vals := s.vals
		// Ties in sample order, so the same data give the same tree.
		slices.SortFunc(s.ord, func(a, b int) int {
			va, vb := vals[a], vals[b]
			switch {
			case va < vb:
				return -1
			case va > vb:
				return 1
			}
			return idx[a] - idx[b]
		})
		n := len(s.ord)
		if vals[s.ord[0]] == vals[s.ord[n-1]] {
			continue // constant here
		}
		examined++
		clear(left)
		lt := 0.0
		for j := 0; j < n-1; j++ {
			i := idx[s.ord[j]]
			left[s.Y[i]] += s.W[i]
			lt += s.W[i]
			a, b := vals[s.ord[j]], vals[s.ord[j+1]]
			if a == b || j+1 < s.MinLeaf || n-j-1 < s.MinLeaf {
				continue
			}
			rt := tot - lt
			gr, rs := 0.0, 0.0
			for k := range left {
				rs += (d[k] - left[k]) * (d[k] - left[k])
			}
			if rt > 0 {
				gr = 1 - rs/(rt*rt)
			}
			gain := imp - (lt*Gini(left, lt)+rt*gr)/tot
			if gain > gainBest {
				f, cut, gainBest = c, s.Cut(a, b), gain
			}
		}
	}
	return f, cut
}
