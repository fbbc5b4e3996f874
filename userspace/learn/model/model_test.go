package model

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xdpids/xdpids/userspace/learn/features"
)

// toy is a separable dataset: "attack" vectors open many flows to many
// ports; benign ones a few.
func toy(seed uint64, n int) *Dataset {
	r := rand.New(rand.NewPCG(seed, 1))
	ds := &Dataset{Classes: []string{Benign, "scan"}}
	for i := range n {
		var v features.Vector
		y := i % 2
		base := features.SrcBase + 2*features.SrcLen
		if y == 1 {
			v[base+features.SrcPorts] = 100 + r.Float64()*100
			v[features.Fwd+features.DirPkts] = 1
		} else {
			v[base+features.SrcPorts] = r.Float64() * 5
			v[features.Fwd+features.DirPkts] = 3 + float64(r.IntN(20))
			v[features.Handshake] = 1
		}
		v[features.RespPort] = float64(r.IntN(65536))
		ds.X = append(ds.X, v)
		ds.Y = append(ds.Y, y)
	}
	return ds
}

func TestForestLearnsAndRoundTrips(t *testing.T) {
	m, err := TrainForest(toy(1, 400), ForestOptions{Trees: 10, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	test := toy(2, 200)
	var s Scratch
	var r Result
	wrong := 0
	for i := range test.X {
		m.Score(&test.X[i], &s, &r)
		if m.Alert(&r) != (test.Y[i] == 1) {
			wrong++
		}
	}
	if wrong > 2 {
		t.Errorf("%d of %d held-out vectors wrong", wrong, len(test.X))
	}
	m.Explain(&test.X[1], &s, &r)
	if m.ClassName(&r) != "scan" || r.Top[0] < 0 {
		t.Errorf("class %q, top %v", m.ClassName(&r), r.Top)
	}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	var r2 Result
	for i := range test.X {
		m.Score(&test.X[i], &s, &r)
		m2.Score(&test.X[i], &s, &r2)
		if r != r2 {
			t.Fatalf("vector %d: %+v after a round trip, %+v before", i, r2, r)
		}
	}
}

func TestTrainingDeterministic(t *testing.T) {
	ds := toy(3, 300)
	enc := func(seed uint64) []byte {
		m, err := TrainForest(ds, ForestOptions{Trees: 5, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := m.Marshal()
		return b
	}
	if !bytes.Equal(enc(5), enc(5)) {
		t.Error("two trainings with one seed differ")
	}
	if bytes.Equal(enc(5), enc(6)) {
		t.Error("two seeds gave the same forest")
	}
	var benign []features.Vector
	for i, v := range ds.X {
		if ds.Y[i] == 0 {
			benign = append(benign, v)
		}
	}
	a, _ := TrainIsolation(benign, IsolationOptions{Trees: 20, Seed: 9})
	b, _ := TrainIsolation(benign, IsolationOptions{Trees: 20, Seed: 9})
	ab, _ := a.Marshal()
	bb, _ := b.Marshal()
	if !bytes.Equal(ab, bb) {
		t.Error("two isolation forests with one seed differ")
	}
}

// Class thresholds chosen out of fold: one per attack class, from the
// grid, the same for the same data and seed, kept by a round trip, and
// used by Alert.
func TestForestCVThresholds(t *testing.T) {
	ds := toy(6, 400)
	group := make([]int, len(ds.X))
	for i := range group {
		group[i] = i / 50 // eight "captures"
	}
	train := func() *Model {
		m, _, err := TrainForestCV(ds, group, 4, ForestOptions{Trees: 5, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := train()
	if len(m.ClassThresholds) != 2 || m.ClassThresholds[1] < Grid[0] || m.ClassThresholds[1] > Grid[len(Grid)-1] {
		t.Fatalf("class thresholds %v", m.ClassThresholds)
	}
	a, _ := m.Marshal()
	b, _ := train().Marshal()
	if !bytes.Equal(a, b) {
		t.Error("two trainings with one seed differ")
	}
	m2, err := Parse(a)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(m2.ClassThresholds) != fmt.Sprint(m.ClassThresholds) {
		t.Errorf("thresholds %v after a round trip, %v before", m2.ClassThresholds, m.ClassThresholds)
	}
	r := Result{Score: m.ClassThresholds[1], Class: 1}
	if !m.Alert(&r) {
		t.Error("a score at its class threshold does not alert")
	}
	r.Score -= 0.01
	if m.Alert(&r) {
		t.Error("a score under its class threshold alerts")
	}
	bad := strings.Replace(string(a), `"class_thresholds":[`, `"class_thresholds":[0.5,`, 1)
	if _, err := Parse([]byte(bad)); err == nil || !strings.Contains(err.Error(), "class thresholds") {
		t.Errorf("a threshold per class too many: %v", err)
	}
	if _, _, err := TrainForestCV(ds, group[:10], 4, ForestOptions{}); err == nil {
		t.Error("groups of the wrong length accepted")
	}
	// A repeat per class round-trips, wins over the model's, and is checked.
	m.Repeat, m.ClassRepeat = 3, []int{0, 2}
	c, _ := m.Marshal()
	m3, err := Parse(c)
	if err != nil {
		t.Fatal(err)
	}
	if got := m3.RepeatOf(&Result{Class: 1}); got != 2 || m3.RepeatOfClass(m3.Classes[1]) != 2 || m3.RepeatOf(&Result{}) != 3 {
		t.Errorf("repeat of class 1 %d, of benign %d (want 2, 3)", got, m3.RepeatOf(&Result{}))
	}
	for _, bad := range []string{`"class_repeat":[0,2,2]`, `"class_repeat":[0,-1]`} {
		if _, err := Parse([]byte(strings.Replace(string(c), `"class_repeat":[0,2]`, bad, 1))); err == nil || !strings.Contains(err.Error(), "repeat") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestIsolationFlagsUnseen(t *testing.T) {
	ds := toy(4, 600)
	var benign []features.Vector
	for i, v := range ds.X {
		if ds.Y[i] == 0 {
			benign = append(benign, v)
		}
	}
	m, err := TrainIsolation(benign, IsolationOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := m.Marshal()
	if m, err = Parse(b); err != nil {
		t.Fatal(err)
	}
	test := toy(5, 200)
	var s Scratch
	var r Result
	hits, falses := 0, 0
	for i := range test.X {
		m.Score(&test.X[i], &s, &r)
		switch {
		case test.Y[i] == 1 && m.Alert(&r):
			hits++
		case test.Y[i] == 0 && m.Alert(&r):
			falses++
		}
	}
	if hits < 95 || falses > 5 {
		t.Errorf("isolation forest: %d of 100 attacks, %d of 100 benign flagged", hits, falses)
	}
}

func TestBadModelFiles(t *testing.T) {
	m, err := TrainForest(toy(1, 100), ForestOptions{Trees: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	good, _ := m.Marshal()
	dir := t.TempDir()
	cases := map[string]string{
		"truncated":     string(good[:len(good)/2]),
		"empty":         "",
		"not json":      "model: forest\n",
		"wrong format":  strings.Replace(string(good), Format, "other", 1),
		"wrong version": strings.Replace(string(good), `"version":1`, `"version":99`, 1),
		"bad threshold": strings.Replace(string(good), `"threshold":0.6`, `"threshold":7`, 1),
		"child loop":    strings.Replace(string(good), `"left":[1`, `"left":[0`, 1),
		"unknown field": strings.Replace(string(good), `{"format"`, `{"extra":1,"format"`, 1),
	}
	for name, text := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(p)
		if err == nil {
			t.Errorf("%s: loaded", name)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "load model "+p+": bad model file") || strings.Count(msg, "\n") > 0 {
			t.Errorf("%s: error %q", name, msg)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file loaded")
	}
}

func TestDefaultModel(t *testing.T) {
	m := Default()
	if m.Kind != KindForest || len(m.Trees) == 0 {
		t.Fatalf("default model: %s with %d trees", m.Kind, len(m.Trees))
	}
	for _, tr := range m.Trees {
		if depth(&tr, 0) > 13 {
			t.Errorf("a tree deeper than 12 splits")
		}
	}
}

func depth(t *Tree, i int32) int {
	if t.Feature[i] < 0 {
		return 1
	}
	return 1 + max(depth(t, t.Left[i]), depth(t, t.Right[i]))
}

func TestScoreNoAlloc(t *testing.T) {
	m := Default()
	var v features.Vector
	var s Scratch
	var r Result
	if n := testing.AllocsPerRun(100, func() { m.Score(&v, &s, &r); m.Explain(&v, &s, &r) }); n > 0 {
		t.Errorf("%v allocations per score", n)
	}
}

func BenchmarkScoreForest(b *testing.B) {
	m := Default()
	bench(b, m)
}

func BenchmarkScoreIsolation(b *testing.B) {
	ds := toy(1, 1000)
	m, _ := TrainIsolation(ds.X, IsolationOptions{Seed: 1})
	bench(b, m)
}

// BenchmarkScoreIsolationSubspaces is model learn's default: two
// subspaces (the host windows; the responder port and the service
// windows), 100 trees each, a large sample, depth 10.
func BenchmarkScoreIsolationSubspaces(b *testing.B) {
	ds := toy(1, 20000)
	var host, svc []int
	for f := features.SrcBase; f < features.SvcBase; f++ {
		host = append(host, f)
	}
	svc = append(svc, features.RespPort)
	for f := features.SvcBase; f < features.NumFeatures; f++ {
		svc = append(svc, f)
	}
	m, _ := TrainIsolation(ds.X, IsolationOptions{Seed: 1, SampleSize: 65536, MaxDepth: 10, Subspaces: [][]int{host, svc}})
	bench(b, m)
}

func bench(b *testing.B, m *Model) {
	ds := toy(2, 256)
	var s Scratch
	var r Result
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.Score(&ds.X[i%len(ds.X)], &s, &r)
	}
}

func FuzzParse(f *testing.F) {
	m, _ := TrainForest(toy(1, 60), ForestOptions{Trees: 2, Seed: 1})
	b, _ := m.Marshal()
	f.Add(b)
	f.Add([]byte(`{"format":"xdpids-model","version":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			return
		}
		var v features.Vector
		var s Scratch
		var r Result
		m.Score(&v, &s, &r)
		_ = fmt.Sprint(r.Score)
	})
}

// Two classes apart by one ulp of a feature: the split between them
// still puts each on its own side (the midpoint rounds to the lower one,
// which would leave the left child empty and its distribution 0/0).
func TestForestAdjacentValues(t *testing.T) {
	ds := &Dataset{Classes: []string{Benign, "attack"}}
	a := 1e6 + 0.1
	b := math.Nextafter(a, math.Inf(1))
	for i := range 40 {
		var v features.Vector
		v[0] = a
		y := 0
		if i%2 == 1 {
			v[0], y = b, 1
		}
		ds.X = append(ds.X, v)
		ds.Y = append(ds.Y, y)
	}
	m, err := TrainForest(ds, ForestOptions{Trees: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Marshal(); err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var sc Scratch
	var r Result
	m.Score(&ds.X[1], &sc, &r)
	if r.Class != 1 || math.IsNaN(r.Score) {
		t.Errorf("the attack value scores %v as class %d", r.Score, r.Class)
	}
}

// TestIsolationSubspaces: normal vectors have one of two features high,
// never both, and noise in twenty others; an attack has both high. Trees
// over a subspace holding the two isolate it; the model round-trips, its
// Explain names one of the two, and scoring allocates nothing.
func TestIsolationSubspaces(t *testing.T) {
	a, b := features.SvcBase+features.SvcFlows, features.SvcBase+features.SvcFwdMean
	gen := func(seed uint64, n int, attack bool) []features.Vector {
		r := rand.New(rand.NewPCG(seed, 2))
		out := make([]features.Vector, n)
		for i := range out {
			v := &out[i]
			for f := features.Fwd; f < features.Fwd+20; f++ {
				v[f] = r.Float64() * 1000
			}
			hi, lo := 50+r.Float64()*50, r.Float64()*2
			switch {
			case attack:
				v[a], v[b] = hi, 50+r.Float64()*50
			case i%2 == 0:
				v[a], v[b] = hi, lo
			default:
				v[a], v[b] = lo, hi
			}
		}
		return out
	}
	benign := gen(1, 4000, false)
	var noise []int
	for f := features.Fwd; f < features.Fwd+20; f++ {
		noise = append(noise, f)
	}
	m, err := TrainIsolation(benign, IsolationOptions{Seed: 1, SampleSize: 2048, MaxDepth: 10, Quantile: 0.995,
		Subspaces: [][]int{noise, {a, b}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Subspaces) != 2 || len(m.Trees) != 200 {
		t.Fatalf("%d subspaces, %d trees", len(m.Subspaces), len(m.Trees))
	}
	// Each subspace's scale is the 99.5th percentile of its own trees'
	// scores on the training data (not of a score through another's).
	at := 0
	for g, sp := range m.Subspaces {
		var scores []float64
		for i := range benign {
			var x features.Vector
			for f := range benign[i] {
				x[f] = squash(benign[i][f])
			}
			scores = append(scores, math.Exp2(-pathMean(m.iso[at:at+sp.Trees], &x, math.Inf(1), nil)/m.norm))
		}
		at += sp.Trees
		slices.Sort(scores)
		if q := scores[int(0.995*float64(len(scores)))]; q != sp.Scale {
			t.Errorf("subspace %d: scale %v, its own quantile %v", g, sp.Scale, q)
		}
	}
	raw, _ := m.Marshal()
	if m, err = Parse(raw); err != nil {
		t.Fatal(err)
	}
	var s Scratch
	var r Result
	count := func(x []features.Vector) int {
		n := 0
		for i := range x {
			m.Score(&x[i], &s, &r)
			if m.Alert(&r) {
				n++
			}
		}
		return n
	}
	attacks := gen(3, 200, true)
	if hits, falses := count(attacks), count(gen(2, 200, false)); hits < 180 || falses > 10 {
		t.Errorf("subspaces: %d of 200 attacks, %d of 200 normal flagged", hits, falses)
	}
	m.Explain(&attacks[0], &s, &r)
	if r.Top[0] != a && r.Top[0] != b {
		t.Errorf("explain: top feature %d, want %d or %d", r.Top[0], a, b)
	}
	if n := testing.AllocsPerRun(100, func() { m.Score(&attacks[0], &s, &r); m.Explain(&attacks[0], &s, &r) }); n > 0 {
		t.Errorf("%v allocations per score", n)
	}
	// A file whose subspaces do not hold its trees is refused.
	m.Subspaces[1].Trees++
	raw, _ = m.Marshal()
	if _, err := Parse(raw); err == nil || !strings.Contains(err.Error(), "subspaces hold") {
		t.Errorf("bad subspaces: %v", err)
	}
}
