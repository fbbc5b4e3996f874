package loader

import (
	"testing"

	"github.com/cilium/ebpf/ringbuf"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/internal/testenv"
)

// TestFullInspection: with flow_samples = every packet, each packet of a
// flow is sampled with the kernel's count, however long the flow, until
// userspace bypasses it; then only the flow's milestones (2^k-th packet,
// then every 1024th) come, headers only and marked bypassed, while a drop
// action ends the samples and the flow.
func TestFullInspection(t *testing.T) {
	testenv.RequireBPF(t)
	pinCPU(t, firstCPU(t))
	cfg := testConfig()
	cfg.Snaplen = bpf.MaxSnaplen
	cfg.FlowSamples = bpf.FlowSamplesAll
	d := loadDatapath(t, cfg)
	rd, err := ringbuf.NewReader(d.SamplesMap())
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	pkt := frame(eth(), ip4(srcA, dst4), tcp(40000, 80, ack), payload(1000))
	for range 200 {
		if got := runXDP(t, d.Program(), pkt, 0); got != actPass {
			t.Fatalf("verdict %s", actionName(got))
		}
	}
	got := readSamples(t, rd)
	if len(got) != 200 {
		t.Fatalf("%d samples of 200 packets, want every one", len(got))
	}
	for i, s := range got {
		if s.hdr.FlowPackets != uint64(i+1) || s.hdr.CapLen != uint32(len(pkt)) || s.hdr.Action != bpf.FlowInspect {
			t.Fatalf("sample %d: flow_packets %d cap_len %d action %d, want %d, %d, inspect", i, s.hdr.FlowPackets, s.hdr.CapLen, s.hdr.Action, i+1, len(pkt))
		}
	}

	// Bypassed: packets 201..2100 give milestones 256, 512, 1024, 2048 only.
	if err := d.Maps().SetFlowAction(FlowKey(srcA, dst4, 40000, 80, 6, 0), bpf.FlowBypass, 0); err != nil {
		t.Fatal(err)
	}
	for range 1900 {
		runXDP(t, d.Program(), pkt, 0)
	}
	got = readSamples(t, rd)
	var counts []uint64
	for _, s := range got {
		counts = append(counts, s.hdr.FlowPackets)
		if s.hdr.Action != bpf.FlowBypass || s.hdr.Flags != bpf.SampleMilestone || s.hdr.CapLen != bpf.BypassSnaplen {
			t.Errorf("bypassed milestone %d: action %d flags %#x cap_len %d, want bypass, milestone, %d", s.hdr.FlowPackets, s.hdr.Action, s.hdr.Flags, s.hdr.CapLen, bpf.BypassSnaplen)
		}
	}
	if want := []uint64{257, 513, 1025, 2049}; len(counts) != len(want) || counts[0] != want[0] || counts[3] != want[3] {
		t.Errorf("bypassed flow's samples at counts %v, want %v", counts, want)
	}

	// Another flow still gets every packet; a drop action ends it.
	other := frame(eth(), ip4(srcB, dst4), tcp(40001, 80, ack), payload(10))
	for range 3 {
		runXDP(t, d.Program(), other, 0)
	}
	if err := d.Maps().SetFlowAction(FlowKey(srcB, dst4, 40001, 80, 6, 0), bpf.FlowDrop, 0); err != nil {
		t.Fatal(err)
	}
	if got := runXDP(t, d.Program(), other, 0); got != actDrop {
		t.Errorf("dropped flow: %s", actionName(got))
	}
	if got := readSamples(t, rd); len(got) != 3 {
		t.Errorf("%d samples of the other flow, want 3 (none after the drop)", len(got))
	}
	st, _ := d.Maps().SlotStats(0)
	if st.SamplesOverBudget != 0 || st.SamplesLost != 0 {
		t.Errorf("over budget %d, lost %d", st.SamplesOverBudget, st.SamplesLost)
	}
}
