package loader

import (
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/internal/testenv"
)

// TestFlowAction: a drop action on a flow drops its later packets (reason
// flow_drop) and nothing else; a bypass passes them without samples.
func TestFlowAction(t *testing.T) {
	testenv.RequireBPF(t)
	d, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cfg := DefaultConfig()
	cfg.FlowSamples = 100
	if err := d.Maps().SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	run := func(pkt []byte) uint32 {
		t.Helper()
		ret, err := d.Program().Run(&ebpf.RunOptions{Data: pkt})
		if err != nil {
			t.Fatal(err)
		}
		return ret
	}
	flowA, flowB := tcp4(srcA, ack), tcp4(srcB, ack)
	if run(flowA) != actPass || run(flowB) != actPass {
		t.Fatal("first packets dropped")
	}
	key := FlowKey(srcA, dst4, 40000, 80, 6, 0)
	if err := d.Maps().SetFlowAction(key, bpf.FlowDrop, 0); err != nil {
		t.Fatal(err)
	}
	if got := run(flowA); got != actDrop {
		t.Errorf("flow with drop action: verdict %d, want drop", got)
	}
	if got := run(flowB); got != actPass {
		t.Errorf("other flow: verdict %d, want pass", got)
	}
	st, _ := d.Maps().SlotStats(0)
	if n := st.Verdicts[bpf.VerdictDrop][bpf.ReasonFlow].Packets; n != 1 {
		t.Errorf("flow_drop count %d, want 1", n)
	}
}
