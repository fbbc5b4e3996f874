package xdptree

import (
	"testing"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/userspace/config"
	"github.com/xdpids/xdpids/userspace/run/offline"
)

// TestOfflineReadWithTree: `read` with an in-kernel model (offline.Options.
// Tree) runs it in the XDP pass: the program judges the flow directions
// the Go tracker judges, with the same classes, and with the drop action
// drops the malicious ones in the kernel.
func TestOfflineReadWithTree(t *testing.T) {
	testenv.RequireBPF(t)
	m := trainGolden(t, 8, 0.5)
	m.Action = ActionDrop
	path := testenv.RootPath(t, "testdata", "golden", "brute_ssh.pcap")
	c, err := ReadCapture(path, goldenLabels(t), m.Packets)
	if err != nil {
		t.Fatal(err)
	}
	tree := m.Compile()
	var want [bpf.TreeMaxClasses]uint64
	for _, s := range c.Samples {
		want[Classify(tree, &s.Vec)]++
	}
	if want[0] == uint64(len(c.Samples)) {
		t.Fatal("the model judges nothing malicious here: no drop to check")
	}
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	rc := cfg.ResponseConfig()
	rc.DryRun = true // no bans: the block list would stop packets before the flow table
	sum, err := offline.Run(offline.Options{Path: path, Mode: offline.ModeXDP, Datapath: replayConfig(),
		Pipeline: cfg.PipelineConfig(), Respond: rc, Tree: tree})
	if err != nil {
		t.Fatal(err)
	}
	if sum.XDPStats == nil || sum.XDPStats.TreeVerdicts != want {
		t.Fatalf("kernel verdicts %v, Go %v", sum.XDPStats.TreeVerdicts, want)
	}
	if d := sum.XDPStats.Verdicts[bpf.VerdictDrop][bpf.ReasonModel].Packets; d == 0 {
		t.Error("no packet dropped by the model")
	}
}
