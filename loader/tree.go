package loader

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"

	"github.com/xdpids/xdpids/bpf"
)

// TreeFeatures is the length of the feature vector the XDP program's
// trees split on (enum tree_feature; userspace/learn/xdptree names them).
const TreeFeatures = int(bpf.XdpidsTreeFeatureTF_MAX)

// Tree is a tree ensemble compiled for the XDP program: nodes in one flat
// array, trees by their root. userspace/learn/xdptree compiles a model
// file into one.
type Tree struct {
	Packets   uint32 // judge a flow direction at this packet, 1..bpf.TreeMaxPackets
	Threshold uint32 // malicious when the leaves' scores sum to at least this (>= 1)
	Drop      bool   // drop a malicious flow in the kernel (not in monitor mode); else count and record it
	Classes   int    // 2..bpf.TreeMaxClasses, benign (0) first
	Roots     []uint32
	Nodes     []TreeNode
}

// TreeNode is one node: a split (Feature < TreeFeatures: go Left when
// x[Feature] < Threshold, else Right) or a leaf (Feature == bpf.TreeLeaf:
// Score, 1 - P(benign) in 1/bpf.TreeScoreOne, for Class).
type TreeNode struct {
	Feature   uint8
	Class     uint8
	Score     uint16
	Threshold uint32
	Left      uint32
	Right     uint32
}

// Check validates t as the program needs it: every walk from a root ends
// in a leaf within bpf.TreeMaxDepth splits.
func (t *Tree) Check() error {
	switch {
	case t.Packets < 1 || t.Packets > bpf.TreeMaxPackets:
		return fmt.Errorf("tree: judged at packet %d, want 1..%d", t.Packets, bpf.TreeMaxPackets)
	case len(t.Roots) < 1 || len(t.Roots) > bpf.TreeMaxTrees:
		return fmt.Errorf("tree: %d trees, want 1..%d", len(t.Roots), bpf.TreeMaxTrees)
	case len(t.Nodes) > bpf.TreeMaxNodes:
		return fmt.Errorf("tree: %d nodes, the program holds %d", len(t.Nodes), bpf.TreeMaxNodes)
	case t.Classes < 2 || t.Classes > bpf.TreeMaxClasses:
		return fmt.Errorf("tree: %d classes, want 2..%d", t.Classes, bpf.TreeMaxClasses)
	case t.Threshold < 1:
		return errors.New("tree: threshold 0")
	}
	for i, n := range t.Nodes {
		switch {
		case n.Feature == bpf.TreeLeaf:
			if int(n.Class) >= t.Classes || n.Score > bpf.TreeScoreOne {
				return fmt.Errorf("tree: leaf %d: class %d, score %d", i, n.Class, n.Score)
			}
		case int(n.Feature) >= TreeFeatures:
			return fmt.Errorf("tree: node %d: feature %d out of range", i, n.Feature)
		case int(n.Left) >= len(t.Nodes) || int(n.Right) >= len(t.Nodes):
			return fmt.Errorf("tree: node %d: children %d, %d out of range", i, n.Left, n.Right)
		}
	}
	for r, root := range t.Roots {
		if int(root) >= len(t.Nodes) {
			return fmt.Errorf("tree %d: root %d out of range", r, root)
		}
		if err := t.checkDepth(root, 0); err != nil {
			return fmt.Errorf("tree %d: %w", r, err)
		}
	}
	return nil
}

func (t *Tree) checkDepth(i uint32, depth int) error {
	n := t.Nodes[i]
	if n.Feature == bpf.TreeLeaf {
		return nil
	}
	if depth >= bpf.TreeMaxDepth {
		return fmt.Errorf("node %d: deeper than %d splits", i, bpf.TreeMaxDepth)
	}
	if err := t.checkDepth(n.Left, depth+1); err != nil {
		return err
	}
	return t.checkDepth(n.Right, depth+1)
}

func (m *Maps) treeBank() (uint32, error) {
	if m.TreeBank == nil || m.TreeConfigs == nil || m.TreeNodes == nil {
		return 0, errors.New("the in-kernel model's maps belong to the daemon that loaded the program (not pinned)")
	}
	var b uint32
	if err := m.TreeBank.Lookup(uint32(0), &b); err != nil {
		return 0, fmt.Errorf("read tree bank: %w", err)
	}
	return b & 1, nil
}

// LoadTree checks t and installs it: written to the idle bank, then made
// live with one store, so a packet never sees half of it. The previous
// tree stays live when t is refused or cannot be written. Flows that
// began before a model was loaded are not judged.
func (m *Maps) LoadTree(t *Tree) error {
	if err := t.Check(); err != nil {
		return fmt.Errorf("load tree: %w", err)
	}
	live, err := m.treeBank()
	if err != nil {
		return err
	}
	idle := live ^ 1
	keys := make([]uint32, len(t.Nodes))
	vals := make([]bpf.XdpidsTreeNode, len(t.Nodes))
	for i, n := range t.Nodes {
		keys[i] = idle*bpf.TreeMaxNodes + uint32(i)
		vals[i] = bpf.XdpidsTreeNode{Threshold: n.Threshold, Left: n.Left, Right: n.Right, Feature: n.Feature,
			Class: n.Class, Score: n.Score}
	}
	if _, err := m.TreeNodes.BatchUpdate(keys, vals, nil); err != nil {
		return fmt.Errorf("load tree: write nodes: %w", err)
	}
	c := bpf.XdpidsTreeConfig{Packets: t.Packets, Trees: uint32(len(t.Roots)), Threshold: t.Threshold,
		Classes: uint32(t.Classes), Action: bpf.TreeAlert}
	if t.Drop {
		c.Action = bpf.TreeDrop
	}
	copy(c.Roots[:], t.Roots)
	if err := m.TreeConfigs.Update(idle, &c, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("load tree: write config: %w", err)
	}
	if err := m.TreeBank.Update(uint32(0), idle, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("load tree: switch bank: %w", err)
	}
	return nil
}

// ClearTree turns the in-kernel model off (flows already judged keep
// their verdict and action).
func (m *Maps) ClearTree() error {
	live, err := m.treeBank()
	if err != nil {
		return err
	}
	idle := live ^ 1
	if err := m.TreeConfigs.Update(idle, &bpf.XdpidsTreeConfig{}, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("clear tree: %w", err)
	}
	if err := m.TreeBank.Update(uint32(0), idle, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("clear tree: switch bank: %w", err)
	}
	return nil
}

// TreeLive reports whether a model is loaded, and at which packet it
// judges flows.
func (m *Maps) TreeLive() (packets uint32, err error) {
	live, err := m.treeBank()
	if err != nil {
		return 0, err
	}
	var c bpf.XdpidsTreeConfig
	if err := m.TreeConfigs.Lookup(live, &c); err != nil {
		return 0, fmt.Errorf("read tree config: %w", err)
	}
	return c.Packets, nil
}
