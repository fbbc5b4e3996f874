package loader

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/gopacket/gopacket/layers"

	xbpf "github.com/xdpids/xdpids/bpf"
)

// Benchmarks of the in-kernel model: the XDP program on a stream of
// flows of a few packets each, with a tree ensemble loaded and without,
// in one run.

// benchFlowStreamChain is benchNewFlowChain with flows of 2^shift
// packets: the counter c, shifted right by shift, is written as the low
// 16 bits of the IPv4 source and the TCP source port, so 2^shift
// consecutive packets share a 5-tuple, then the next flow begins.
func benchFlowStreamChain(b *testing.B, target *ebpf.Program, shift int32) *ebpf.Program {
	b.Helper()
	counter, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { counter.Close() })
	progs, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { progs.Close() })
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:       "bench_flowstream",
		AttachType: ebpf.AttachXDP,
		Type:       ebpf.XDP,
		License:    "Dual BSD/GPL",
		Instructions: asm.Instructions{
			asm.Mov.Reg(asm.R6, asm.R1),
			asm.StoreImm(asm.RFP, -4, 0, asm.Word),
			asm.LoadMapPtr(asm.R1, counter.FD()),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, -4),
			asm.FnMapLookupElem.Call(),
			asm.JEq.Imm(asm.R0, 0, "tail"),
			asm.LoadMem(asm.R7, asm.R0, 0, asm.DWord),
			asm.Add.Imm(asm.R7, 1),
			asm.StoreMem(asm.R0, 0, asm.R7, asm.DWord),
			asm.RSh.Imm(asm.R7, shift),
			asm.LoadMem(asm.R2, asm.R6, 0, asm.Word), // data
			asm.LoadMem(asm.R3, asm.R6, 4, asm.Word), // data_end
			asm.Mov.Reg(asm.R4, asm.R2),
			asm.Add.Imm(asm.R4, 14+20+20),
			asm.JGT.Reg(asm.R4, asm.R3, "tail"),
			asm.StoreMem(asm.R2, 14+14, asm.R7, asm.Half), // IPv4 source, last 2 bytes
			asm.RSh.Imm(asm.R7, 16),
			asm.StoreMem(asm.R2, 14+20, asm.R7, asm.Half), // TCP source port
			asm.Mov.Reg(asm.R1, asm.R6).WithSymbol("tail"),
			asm.LoadMapPtr(asm.R2, progs.FD()),
			asm.Mov.Imm(asm.R3, 0),
			asm.FnTailCall.Call(),
			asm.Mov.Imm(asm.R0, benchXDPAborted),
			asm.Return(),
		},
	})
	if err != nil {
		b.Fatalf("load flow-stream chain program: %v", err)
	}
	b.Cleanup(func() { prog.Close() })
	if err := progs.Update(uint32(0), target, ebpf.UpdateAny); err != nil {
		b.Fatalf("prog array: %v", err)
	}
	return prog
}

// benchChainTree is trees trees, each a chain of depth splits the
// benchmark's flows all go down (x < 2^31, on the left each time), ending
// in a benign leaf, so every flow walks depth+1 nodes of every tree and
// passes. With bpf.TreeMaxTrees and bpf.TreeMaxDepth it is the longest
// walk the program allows.
func benchChainTree(packets uint32, trees, depth int) *Tree {
	t := &Tree{Packets: packets, Threshold: 1, Classes: 2}
	for range trees {
		base := uint32(len(t.Nodes))
		t.Roots = append(t.Roots, base)
		for i := range uint32(depth) {
			// node base+2i splits; base+2i+1 is its right leaf; its left the next split
			t.Nodes = append(t.Nodes, TreeNode{Feature: uint8(i % uint32(TreeFeatures)), Threshold: 1 << 31,
				Left: base + 2*i + 2, Right: base + 2*i + 1}, TreeNode{Feature: xbpf.TreeLeaf})
		}
		t.Nodes = append(t.Nodes, TreeNode{Feature: xbpf.TreeLeaf})
	}
	return t
}

// BenchmarkTestRunTree: ns per packet of the XDP program on streams of
// new TCP flows of 8 packets each (the model judges each flow at its 8th
// packet; flow table full, so each new flow evicts one) and of 1 packet
// each (every packet judged), with a model loaded against the same
// program with no model, in one run. Models: the longest walk the program
// allows (max: 8 trees x 12 splits, 104 node lookups a flow) and one the
// size of a trained one (4 trees x 6 splits, 28 lookups). The tail-call harness is
// measured in front of bare_pass and taken off both. ratio is no-model
// over model time (1 = free).
func BenchmarkTestRunTree(b *testing.B) {
	for _, c := range []struct {
		name         string
		shift        int32
		trees, depth int
	}{
		{"max/flows_of_8", 3, xbpf.TreeMaxTrees, xbpf.TreeMaxDepth},
		{"max/flows_of_1", 0, xbpf.TreeMaxTrees, xbpf.TreeMaxDepth},
		{"4x6/flows_of_8", 3, 4, 6},
		{"4x6/flows_of_1", 0, 4, 6},
	} {
		b.Run(c.name, func(b *testing.B) {
			plain, base := benchDatapath(b)
			withTree, err := Load(Options{})
			if err != nil {
				b.Fatalf("%+v", err)
			}
			b.Cleanup(func() { withTree.Close() })
			if err := withTree.Maps().SetConfig(benchConfig()); err != nil {
				b.Fatal(err)
			}
			if err := withTree.Maps().LoadTree(benchChainTree(1<<c.shift, c.trees, c.depth)); err != nil {
				b.Fatal(err)
			}
			pkt := benchPacket(b, nil, nil, netip.MustParseAddr("198.18.0.0"), benchDst, layers.IPProtocolTCP, 0, 80, false, true)
			chainPlain := benchFlowStreamChain(b, plain.Program(), c.shift)
			chainTree := benchFlowStreamChain(b, withTree.Program(), c.shift)
			chainBare := benchFlowStreamChain(b, base.BarePass, c.shift)
			// fill both flow tables first: the rounds see the steady state
			for _, p := range []*ebpf.Program{chainPlain, chainTree} {
				if _, err := p.Run(&ebpf.RunOptions{Data: slices.Clone(pkt), Repeat: 300_000 << c.shift}); err != nil {
					b.Fatal(err)
				}
			}
			before := benchStats(b, withTree, 0)
			s := benchRounds(b, []benchRun{
				{"bare_pass", base.BarePass, pkt, benchXDPPass},
				{"chain→bare_pass", chainBare, slices.Clone(pkt), benchXDPPass},
				{"chain→xdpids", chainPlain, slices.Clone(pkt), benchXDPPass},
				{"chain→xdpids+tree", chainTree, slices.Clone(pkt), benchXDPPass},
			}, benchRepeat)
			after := benchStats(b, withTree, 0)
			judged := after.TreeVerdicts[0] - before.TreeVerdicts[0]
			total := after.Total().Packets - before.Total().Packets
			if want := total >> c.shift; judged+1 < want || judged > want+1 {
				b.Fatalf("%d flows judged of %d packets, want %d", judged, total, want)
			}
			bare, chainB := benchMedian(s[0]), benchMedian(s[1])
			plainNs, treeNs := bare+benchMedian(s[2])-chainB, bare+benchMedian(s[3])-chainB
			b.ReportMetric(treeNs, "ns/pkt")
			b.ReportMetric(plainNs, "no-model-ns/pkt")
			b.ReportMetric(plainNs/treeNs, "ratio")
			b.ReportMetric((treeNs-plainNs)*float64(int(1)<<c.shift), "model-ns/flow")
		})
	}
}
