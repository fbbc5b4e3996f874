package features

import "math"

// Welford keeps the count, mean, variance, minimum and maximum of a stream
// of values in constant space (Welford's online algorithm): no buffer of
// values, nothing allocated.
type Welford struct {
	N        uint32
	Mean, M2 float64
	Min, Max float64
}

// Add adds x.
func (w *Welford) Add(x float64) {
	w.N++
	if w.N == 1 {
		w.Mean, w.M2, w.Min, w.Max = x, 0, x, x
		return
	}
	d := x - w.Mean
	w.Mean += d / float64(w.N)
	w.M2 += d * (x - w.Mean)
	w.Min = min(w.Min, x)
	w.Max = max(w.Max, x)
}

// Std is the population standard deviation (0 below two values).
func (w *Welford) Std() float64 {
	if w.N < 2 {
		return 0
	}
	return math.Sqrt(w.M2 / float64(w.N))
}
