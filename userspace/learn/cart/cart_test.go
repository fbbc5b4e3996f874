package cart

import (
	"math"
	"testing"
)

// TestBest: on one feature that separates the classes at 3|10 and one
// that does not, the split is the first feature's, cut where Cut says.
func TestBest(t *testing.T) {
	x := [][2]float64{{1, 5}, {2, 1}, {3, 5}, {10, 1}, {11, 5}, {12, 1}}
	y := []int{0, 0, 0, 1, 1, 1}
	s := Splitter{Y: y, W: []float64{1, 1, 1, 1, 1, 1}, MinLeaf: 1,
		Value: func(i, f int) float64 { return x[i][f] },
		Cut:   func(a, b float64) float64 { return (a + b) / 2 }}
	idx := []int{0, 1, 2, 3, 4, 5}
	for _, order := range [][]int{{0, 1}, {1, 0}} {
		f, cut := s.Best(idx, []float64{3, 3}, 6, order, 2)
		if f != 0 || cut != 6.5 {
			t.Fatalf("order %v: split on %d at %v, want 0 at 6.5", order, f, cut)
		}
	}
	// mtry 1 with the useless feature first: it decreases the impurity
	// (a little: 5,5,5 | 1,1,1 holds 2:1 and 1:2), so the search stops there.
	if f, _ := s.Best(idx, []float64{3, 3}, 6, []int{1, 0}, 1); f != 1 {
		t.Fatalf("mtry 1: split on %d, want 1", f)
	}
	// A pure node has nothing to gain.
	if f, _ := s.Best([]int{0, 1, 2}, []float64{3, 0}, 3, []int{0, 1}, 2); f >= 0 {
		t.Fatalf("pure node split on %d", f)
	}
	if g := Gini([]float64{1, 1}, 2); math.Abs(g-0.5) > 1e-12 {
		t.Fatalf("gini %v, want 0.5", g)
	}
}

// TestWeights: each class present gets the same total weight.
func TestWeights(t *testing.T) {
	w, counts, err := Weights([]int{0, 0, 2, 2, 2, 2}, 3)
	if err != nil || counts[0] != 2 || counts[1] != 0 || counts[2] != 4 {
		t.Fatalf("counts %v, %v", counts, err)
	}
	want := []float64{1.5, 1.5, 0.75, 0.75, 0.75, 0.75}
	for i := range want {
		if math.Abs(w[i]-want[i]) > 1e-12 {
			t.Fatalf("weights %v, want %v", w, want)
		}
	}
	if _, _, err := Weights([]int{0, 2}, 2); err == nil {
		t.Fatal("a class out of range: no error")
	}
}
