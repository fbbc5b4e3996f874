package xdptree

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/run/pipeline"
)

// Format, Version and Kind identify a model file (the format and version
// of userspace/learn/model's files, another kind).
const (
	Format  = "xdpids-model"
	Version = 1
	Kind    = "xdp-forest"
)

// Benign is the class name of normal traffic, class 0.
const Benign = "benign"

// Actions of a malicious verdict.
const (
	ActionAlert = "alert" // count it and record it on the flow entry
	ActionDrop  = "drop"  // and drop the flow in the kernel (not in monitor mode)
)

// Model is a tree ensemble for the XDP program.
type Model struct {
	Format   string   `json:"format"`
	Version  int      `json:"version"`
	Kind     string   `json:"kind"`
	Features []string `json:"features"` // Names at training time
	Classes  []string `json:"classes"`  // benign first
	// Packets: a flow direction is judged at this packet.
	Packets int `json:"packets"`
	// Threshold: malicious when the trees' mean leaf score (1 - P(benign))
	// is at least this; the program compares integer sums (IntThreshold).
	Threshold float64 `json:"threshold"`
	Action    string  `json:"action"`
	Trees     []Tree  `json:"trees"`
	Info      Info    `json:"info"`
}

// Info says how a model was trained.
type Info struct {
	Seed     uint64   `json:"seed"`
	MaxDepth int      `json:"max_depth"`
	Samples  int      `json:"samples"`
	Sources  []string `json:"sources,omitempty"`
	Counts   []int    `json:"counts,omitempty"` // samples per class
}

// Tree is one tree in flat arrays, node 0 its root. Feature is -1 at a
// leaf; a vector goes left when v[Feature] < Threshold. Children come
// after their parent (checked), so a walk ends.
type Tree struct {
	Feature   []int8   `json:"feature"`
	Threshold []uint32 `json:"threshold"`
	Left      []int32  `json:"left"`
	Right     []int32  `json:"right"`
	Class     []uint8  `json:"class"` // leaf: the likeliest class other than benign (0 when none)
	Score     []uint16 `json:"score"` // leaf: 1 - P(benign), in 1/bpf.TreeScoreOne
}

// Load reads a model file.
func Load(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load xdp model: %w", err)
	}
	m, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("load xdp model %s: %w", path, err)
	}
	return m, nil
}

// IsXDP reports whether b is a model file of this kind (any other kind
// is userspace/learn/model's).
func IsXDP(b []byte) bool {
	var h struct {
		Kind string `json:"kind"`
	}
	return json.Unmarshal(b, &h) == nil && h.Kind == Kind
}

// Parse decodes and checks a model file: any damage is one error.
func Parse(b []byte) (*Model, error) {
	var m Model
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("bad xdp model file: %w", err)
	}
	if d.More() {
		return nil, errors.New("bad xdp model file: data after the model")
	}
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("bad xdp model file: %w", err)
	}
	return &m, nil
}

// Verdicts says what the program's verdicts of m mean, for the pipeline's
// alerts on model samples.
func (m *Model) Verdicts() *pipeline.KernelModel {
	return &pipeline.KernelModel{Kind: m.Kind, Classes: m.Classes, Threshold: m.Threshold, Trees: len(m.Trees), Packets: m.Packets}
}

// Marshal encodes m as its file format.
func (m *Model) Marshal() ([]byte, error) { return json.MarshalIndent(m, "", " ") }

// Check validates m: what the program can run, and nothing else.
func (m *Model) Check() error {
	switch {
	case m.Format != Format:
		return fmt.Errorf("format %q, want %q", m.Format, Format)
	case m.Version != Version:
		return fmt.Errorf("version %d, this build reads %d", m.Version, Version)
	case m.Kind != Kind:
		return fmt.Errorf("kind %q, want %q", m.Kind, Kind)
	case len(m.Features) != NumFeatures:
		return fmt.Errorf("%d features, this build's program computes %d: retrain it", len(m.Features), NumFeatures)
	case len(m.Classes) < 2 || len(m.Classes) > bpf.TreeMaxClasses || m.Classes[0] != Benign:
		return fmt.Errorf("%d classes: want 2 to %d, benign first", len(m.Classes), bpf.TreeMaxClasses)
	case m.Packets < 1 || m.Packets > bpf.TreeMaxPackets:
		return fmt.Errorf("judged at packet %d, want 1 to %d", m.Packets, bpf.TreeMaxPackets)
	case math.IsNaN(m.Threshold) || m.Threshold <= 0 || m.Threshold > 1:
		return fmt.Errorf("threshold %v out of (0, 1]", m.Threshold)
	case m.Action != ActionAlert && m.Action != ActionDrop:
		return fmt.Errorf("action %q, want %q or %q", m.Action, ActionAlert, ActionDrop)
	case len(m.Trees) < 1 || len(m.Trees) > bpf.TreeMaxTrees:
		return fmt.Errorf("%d trees, the program runs 1 to %d", len(m.Trees), bpf.TreeMaxTrees)
	}
	for i, n := range m.Features {
		if n != Names[i] {
			return fmt.Errorf("feature %d is %q, this build's is %q: retrain it", i, n, Names[i])
		}
	}
	total := 0
	for i := range m.Trees {
		if err := m.Trees[i].check(len(m.Classes)); err != nil {
			return fmt.Errorf("tree %d: %w", i, err)
		}
		total += len(m.Trees[i].Feature)
	}
	if total > bpf.TreeMaxNodes {
		return fmt.Errorf("%d nodes, the program holds %d", total, bpf.TreeMaxNodes)
	}
	return nil
}

func (t *Tree) check(classes int) error {
	n := len(t.Feature)
	if n == 0 || len(t.Threshold) != n || len(t.Left) != n || len(t.Right) != n || len(t.Class) != n || len(t.Score) != n {
		return errors.New("node arrays differ in length")
	}
	depth := make([]int, n)
	for i := range n {
		f := t.Feature[i]
		if f < 0 {
			if f != -1 || int(t.Class[i]) >= classes || t.Score[i] > bpf.TreeScoreOne {
				return fmt.Errorf("leaf %d: feature %d, class %d, score %d", i, f, t.Class[i], t.Score[i])
			}
			continue
		}
		if int(f) >= NumFeatures {
			return fmt.Errorf("node %d: feature %d out of range", i, f)
		}
		l, r := t.Left[i], t.Right[i]
		if l <= int32(i) || r <= int32(i) || int(l) >= n || int(r) >= n {
			return fmt.Errorf("node %d: children %d, %d", i, l, r)
		}
		if depth[i] >= bpf.TreeMaxDepth {
			return fmt.Errorf("node %d: deeper than %d splits", i, bpf.TreeMaxDepth)
		}
		// children come after their parent, so each node's depth is final
		// before its own children are looked at
		depth[l] = max(depth[l], depth[i]+1)
		depth[r] = max(depth[r], depth[i]+1)
	}
	return nil
}

// IntThreshold is the score sum the program compares: the least integer
// at or above Threshold × TreeScoreOne × trees (at least 1).
func (m *Model) IntThreshold() uint32 {
	v := math.Ceil(m.Threshold*bpf.TreeScoreOne*float64(len(m.Trees)) - 1e-9)
	return uint32(max(v, 1))
}

// Compile turns m into the program's node array.
func (m *Model) Compile() *loader.Tree {
	t := &loader.Tree{Packets: uint32(m.Packets), Threshold: m.IntThreshold(), Drop: m.Action == ActionDrop,
		Classes: len(m.Classes)}
	for i := range m.Trees {
		tr := &m.Trees[i]
		base := uint32(len(t.Nodes))
		t.Roots = append(t.Roots, base)
		for j := range tr.Feature {
			n := loader.TreeNode{Feature: bpf.TreeLeaf, Class: tr.Class[j], Score: tr.Score[j]}
			if tr.Feature[j] >= 0 {
				n = loader.TreeNode{Feature: uint8(tr.Feature[j]), Threshold: tr.Threshold[j],
					Left: base + uint32(tr.Left[j]), Right: base + uint32(tr.Right[j])}
			}
			t.Nodes = append(t.Nodes, n)
		}
	}
	return t
}

// Classify is the program's verdict on v (tree_classify in
// bpf/xdpids.c): 0 benign, else the malicious class. Integers only,
// so it decides exactly as the program does.
func Classify(t *loader.Tree, v *Vector) int {
	var sum [bpf.TreeMaxClasses]uint32
	var total uint32
	for _, root := range t.Roots {
		i := root
		for range bpf.TreeMaxDepth + 1 {
			if int(i) >= len(t.Nodes) {
				break
			}
			n := &t.Nodes[i]
			if n.Feature == bpf.TreeLeaf {
				total += uint32(n.Score)
				sum[n.Class&(bpf.TreeMaxClasses-1)] += uint32(n.Score)
				break
			}
			if int(n.Feature) >= NumFeatures {
				break
			}
			if v[n.Feature] < n.Threshold {
				i = n.Left
			} else {
				i = n.Right
			}
		}
	}
	if total < t.Threshold {
		return 0
	}
	best := 1
	for c := 2; c < bpf.TreeMaxClasses; c++ {
		if sum[c] > sum[best] {
			best = c
		}
	}
	return best
}
