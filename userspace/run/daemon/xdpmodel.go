package daemon

import (
	"fmt"
	"log/slog"

	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/learn/xdptree"
	"github.com/xdpids/xdpids/userspace/run/pipeline"
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
// model off) and tells pipe what its verdicts mean. A tree the kernel
// refuses leaves the running one live.
func installXDPModel(maps *loader.Maps, pipe *pipeline.Pipeline, m *xdptree.Model) error {
	if m == nil {
		if err := maps.ClearTree(); err != nil {
			return err
		}
		pipe.SetKernelModel(nil)
		return nil
	}
	if err := maps.LoadTree(m.Compile()); err != nil {
		return err
	}
	pipe.SetKernelModel(m.Verdicts())
	slog.Info("in-kernel model loaded", "trees", len(m.Trees), "packets", m.Packets, "threshold", m.Threshold,
		"action", m.Action, "classes", m.Classes)
	return nil
}
