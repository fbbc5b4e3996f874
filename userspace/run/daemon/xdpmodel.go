package daemon

import (
	"fmt"
	"log/slog"

	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/learn/xdptree"
)

// loadXDPModel loads the in-kernel model an xdp_model: or --xdp-model
// value names: "" or "none" no model, else an xdp-forest file, checked
// as the program will run it. A bad file is one error; the caller keeps
// the tree the kernel runs.
func loadXDPModel(v string) (*xdptree.Model, error) {
	switch v {
	case "", "none", "off":
		return nil, nil
	}
	m, err := xdptree.Load(v)
	if err != nil {
		return nil, fmt.Errorf("xdp_model: %w", err)
	}
	if err := m.Compile().Check(); err != nil {
		return nil, fmt.Errorf("xdp_model %s: %w", v, err)
	}
	return m, nil
}

// installXDPModel loads m into the XDP program (nil: turns the in-kernel
// model off). A tree the kernel refuses leaves the running one live.
func installXDPModel(maps *loader.Maps, m *xdptree.Model) error {
	if m == nil {
		return maps.ClearTree()
	}
	if err := maps.LoadTree(m.Compile()); err != nil {
		return err
	}
	slog.Info("in-kernel model loaded", "trees", len(m.Trees), "packets", m.Packets, "threshold", m.Threshold,
		"action", m.Action, "classes", m.Classes)
	return nil
}
