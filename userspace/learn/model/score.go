package model

import (
	"math"
	"slices"

	"github.com/xdpids/xdpids/userspace/learn/features"
)

// TopN is how many features a Result names.
const TopN = 3

// Result is a scored vector.
type Result struct {
	Score float64
	Class int // forest: the most likely class other than benign; isolation: 0
	// Top are the features that drove the score most, strongest first
	// (-1: none), with their contributions.
	Top    [TopN]int
	TopVal [TopN]float64
}

// Scratch is a scorer's reusable state (one per goroutine).
type Scratch struct {
	contrib [features.NumFeatures]float64
	x       features.Vector
	sub     [features.NumFeatures]float64 // a subspace's contributions
	best    [features.NumFeatures]float64 // the most unusual subspace's
}

// Alert reports whether r is at or above m's threshold (of r's class).
func (m *Model) Alert(r *Result) bool { return r.Score >= m.ThresholdOf(r) }

// ThresholdOf is the threshold r is held to: its class's, or the model's.
func (m *Model) ThresholdOf(r *Result) float64 {
	if r.Class > 0 && r.Class < len(m.ClassThresholds) {
		return m.ClassThresholds[r.Class]
	}
	return m.Threshold
}

// RepeatOf is the Repeat r is held to: its class's, or the model's.
func (m *Model) RepeatOf(r *Result) int {
	if r.Class > 0 && r.Class < len(m.ClassRepeat) {
		return m.ClassRepeat[r.Class]
	}
	return m.Repeat
}

// RepeatOfClass is RepeatOf by class name ("anomaly": the model's).
func (m *Model) RepeatOfClass(name string) int {
	if len(m.ClassRepeat) > 0 {
		if i := slices.Index(m.Classes, name); i > 0 {
			return m.ClassRepeat[i]
		}
	}
	return m.Repeat
}

// ClassName names r's class.
func (m *Model) ClassName(r *Result) string {
	if m.Kind == KindIsolation {
		return "anomaly"
	}
	return m.Classes[r.Class]
}

// Score scores v into r (r.Top is left to Explain). It allocates nothing.
func (m *Model) Score(v *features.Vector, s *Scratch, r *Result) {
	m.score(v, s, r, false)
}

// Explain scores v into r with the features that drove the score
// (r.Top): a little dearer than Score, for the vectors that alert.
func (m *Model) Explain(v *features.Vector, s *Scratch, r *Result) {
	s.contrib = [features.NumFeatures]float64{}
	m.score(v, s, r, true)
	top(&s.contrib, r)
}

func (m *Model) score(v *features.Vector, s *Scratch, r *Result, explain bool) {
	r.Top = [TopN]int{-1, -1, -1}
	r.TopVal = [TopN]float64{}
	switch m.Kind {
	case KindForest:
		m.scoreForest(v, s, r, explain)
	default:
		m.scoreIsolation(v, s, r, explain)
	}
}

// scoreForest averages the trees' class distributions. Contributions are
// Saabas's: along each vector's path, the change in P(not benign) at a
// split is credited to the split's feature.
func (m *Model) scoreForest(v *features.Vector, s *Scratch, r *Result, explain bool) {
	k := len(m.Classes)
	var sum [MaxClasses]float64
	for ti := range m.Trees {
		t := &m.Trees[ti]
		i := int32(0)
		prev := 1 - float64(t.Value[0])
		for t.Feature[i] >= 0 {
			f := t.Feature[i]
			if v[f] < t.Split[i] {
				i = t.Left[i]
			} else {
				i = t.Right[i]
			}
			if explain {
				p := 1 - float64(t.Value[int(i)*k])
				s.contrib[f] += p - prev
				prev = p
			}
		}
		for c := range k {
			sum[c] += float64(t.Value[int(i)*k+c])
		}
	}
	n := float64(len(m.Trees))
	r.Score = 1 - sum[0]/n
	r.Class = 1
	for c := 2; c < k; c++ {
		if sum[c] > sum[r.Class] {
			r.Class = c
		}
	}
	if explain {
		for i := range s.contrib {
			s.contrib[i] /= n
		}
	}
}

// scoreIsolation is Liu et al.'s score 2^(-E[h]/c(ψ)). A split that
// isolates the vector early says more: each split on its path credits its
// feature 1/depth.
func (m *Model) scoreIsolation(v *features.Vector, s *Scratch, r *Result, explain bool) {
	x := &s.x
	for i := range v {
		x[i] = squash(v[i])
	}
	capAt := math.Inf(1)
	for _, fx := range m.Fixed {
		if math.Abs(x[fx.Feature]-fx.Value) > rangeTol {
			s.contrib[fx.Feature] += float64(len(m.Trees))
			capAt = 1
		}
	}
	var contrib *[features.NumFeatures]float64
	if explain {
		contrib = &s.contrib
	}
	if len(m.Subspaces) == 0 {
		r.Score = math.Exp2(-pathMean(m.iso, x, capAt, contrib) / m.norm)
		r.Class = 0
		return
	}
	// Subspaces: the one where v is most unusual for its scale; Explain
	// credits that one's splits only.
	z, at := -1.0, 0
	if explain {
		contrib, s.best = &s.sub, [features.NumFeatures]float64{}
	}
	for _, sp := range m.Subspaces {
		if explain {
			s.sub = [features.NumFeatures]float64{}
		}
		zg := math.Exp2(-pathMean(m.iso[at:at+sp.Trees], x, capAt, contrib)/m.norm) / sp.Scale
		at += sp.Trees
		if zg > z {
			z = zg
			if explain {
				s.best = s.sub
			}
		}
	}
	if explain {
		for i, c := range s.best {
			s.contrib[i] += c
		}
	}
	r.Score = z / (1 + z)
	r.Class = 0
}

// pathMean is the mean path length of x (squashed) over trees, capped at
// capAt; with contrib, each split on the path credits its feature
// 1/depth there.
func pathMean(trees [][]isoNode, x *features.Vector, capAt float64, contrib *[features.NumFeatures]float64) float64 {
	h := 0.0
	for _, t := range trees {
		i, depth := int32(0), 1.0
		end := -1.0
		for {
			n := &t[i]
			if n.feature < 0 {
				end = float64(n.value)
				break
			}
			f := n.feature
			if contrib != nil {
				contrib[f] += 1 / depth
			}
			if x[f] < n.lo-rangeTol || x[f] > n.hi+rangeTol {
				end = depth - 1
				break
			}
			if x[f] < n.split {
				i = n.left
			} else {
				i = n.right
			}
			depth++
		}
		h += min(end, capAt)
	}
	return h / float64(len(trees))
}

// rangeTol is how far (in squashed units: about a factor 1.3) a feature
// may stray outside the range normal training data had at a node before
// the vector counts as isolated there.
const rangeTol = 0.25

// squash is the isolation forest's view of a feature: sign(x)·log1p(|x|),
// so counts spanning decades split as evenly as ratios do.
func squash(x float64) float64 {
	if x < 0 {
		return -math.Log1p(-x)
	}
	return math.Log1p(x)
}

func top(c *[features.NumFeatures]float64, r *Result) {
	for j := range r.Top {
		r.Top[j], r.TopVal[j] = -1, 0
	}
	for i, v := range c {
		if v <= 0 {
			continue
		}
		for j := range r.Top {
			if r.Top[j] < 0 || v > r.TopVal[j] {
				copy(r.Top[j+1:], r.Top[j:TopN-1])
				copy(r.TopVal[j+1:], r.TopVal[j:TopN-1])
				r.Top[j], r.TopVal[j] = i, v
				break
			}
		}
	}
}
