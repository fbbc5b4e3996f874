package xdptree

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/capture/pcapfile"
	"github.com/xdpids/xdpids/userspace/capture/samples"
	"github.com/xdpids/xdpids/userspace/learn/dataset"
)

// The XDP program's verdicts on flows, through BPF_PROG_TEST_RUN with the
// program's clock at each packet's time, against Classify on the vectors
// the Tracker computes from the same frames: they must agree on every
// flow direction, and so must the counters.

// replayConfig: no limits, cookies or samples in the way of the flow table.
func replayConfig() loader.Config {
	return loader.Config{Snaplen: 256}
}

func loadTree(t *testing.T, tree *loader.Tree, monitor bool) *loader.Datapath {
	t.Helper()
	d, err := loader.Load(loader.Options{})
	if err != nil {
		t.Fatalf("load: %+v", err)
	}
	t.Cleanup(func() { d.Close() })
	cfg := replayConfig()
	cfg.Monitor = monitor
	if err := d.Maps().SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if tree != nil {
		if err := d.Maps().LoadTree(tree); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// run runs one frame at nowNs and returns the XDP action.
func run(t *testing.T, d *loader.Datapath, frame []byte, nowNs uint64) uint32 {
	t.Helper()
	if err := d.SetReplayClock(nowNs); err != nil {
		t.Fatal(err)
	}
	ret, err := d.Program().Run(&ebpf.RunOptions{Data: frame})
	if err != nil {
		t.Fatalf("run %d-byte frame: %v", len(frame), err)
	}
	return ret
}

func kernelFlow(t *testing.T, d *loader.Datapath, dir *Direction) (bpf.XdpidsFlowStats, bool) {
	t.Helper()
	k := loader.FlowKey(dir.Key())
	var v bpf.XdpidsFlowStats
	err := d.Maps().Flows.Lookup(&k, &v)
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		return v, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return v, true
}

// resetFlows empties the flow table (the next capture's flows start anew,
// as in a fresh program) and returns the verdict counters so far.
func resetFlows(t *testing.T, d *loader.Datapath) [bpf.TreeMaxClasses]uint64 {
	t.Helper()
	var keys []bpf.XdpidsFlowKey
	var k bpf.XdpidsFlowKey
	var v bpf.XdpidsFlowStats
	it := d.Maps().Flows.Iterate()
	for it.Next(&k, &v) {
		keys = append(keys, k)
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	for i := range keys {
		if err := d.Maps().Flows.Delete(&keys[i]); err != nil {
			t.Fatal(err)
		}
	}
	st, err := d.Maps().SlotStats(0)
	if err != nil {
		t.Fatal(err)
	}
	return st.TreeVerdicts
}

// agree replays path through the program d (m loaded) and through a
// Tracker, and compares every direction; it returns the judged count.
func agree(t *testing.T, d *loader.Datapath, path string, m *Model) int {
	t.Helper()
	c, err := pcapfile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return agreeSeq(t, d, path, m, func() ([]byte, uint64, bool) {
		frame, ts, _, err := c.Next()
		if errors.Is(err, io.EOF) {
			return nil, 0, false
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return frame, uint64(max(ts.UnixNano(), 1)), true
	})
}

// agreeSeq is agree on the frames next returns, with their times.
func agreeSeq(t *testing.T, d *loader.Datapath, path string, m *Model, next func() ([]byte, uint64, bool)) int {
	t.Helper()
	tree := m.Compile()
	before := resetFlows(t, d)
	tr := NewTracker(m.Packets)
	for {
		frame, now, ok := next()
		if !ok {
			break
		}
		if len(frame) >= 14 { // BPF_PROG_TEST_RUN refuses shorter frames (and they make no flow)
			run(t, d, frame, now)
		}
		tr.Packet(frame, now)
	}
	kernel := 0
	var k bpf.XdpidsFlowKey
	var v bpf.XdpidsFlowStats
	for it := d.Maps().Flows.Iterate(); it.Next(&k, &v); {
		kernel++
	}
	if n := len(tr.dirs); n != kernel {
		t.Errorf("%s: the kernel has %d flow directions, Go %d", filepath.Base(path), kernel, n)
	}
	var judged int
	var want [bpf.TreeMaxClasses]uint64
	tr.Directions(func(dir *Direction) {
		v, ok := kernelFlow(t, d, dir)
		src, dst, sp, dp, proto, _ := dir.Key()
		name := func() string {
			return netip.AddrPortFrom(src, sp).String() + ">" + netip.AddrPortFrom(dst, dp).String() + "/" + string(rune('0'+proto%10))
		}
		if !ok {
			t.Errorf("%s: no kernel flow for %s", filepath.Base(path), name())
			return
		}
		if v.Packets != dir.Packets() {
			t.Errorf("%s %s: kernel counted %d packets, Go %d", filepath.Base(path), name(), v.Packets, dir.Packets())
		}
		state := uint8(bpf.TreePending)
		if dir.Judged {
			c := Classify(tree, &dir.Vec)
			state = uint8(bpf.TreeClass + c)
			want[c]++
			judged++
		}
		if v.Tree != state {
			t.Errorf("%s %s: kernel verdict %d, Go %d (vector %v; kernel len %d-%d iat %d flags %v win %d first %#x)",
				filepath.Base(path), name(), v.Tree, state, dir.Vec, v.LenMin, v.LenMax, v.IatMax, v.FlagCounts, v.WinFirst, v.FirstFlags)
		}
	})
	st, err := d.Maps().SlotStats(0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		want[i] += before[i]
	}
	if st.TreeVerdicts != want {
		t.Errorf("%s: verdict counters %v, Go %v", filepath.Base(path), st.TreeVerdicts, want)
	}
	return judged
}

func goldenCaptures(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(testenv.RootPath(t, "testdata", "golden", "*.pcap"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no golden captures: %v", err)
	}
	return paths
}

func goldenLabels(t *testing.T) *dataset.Labels {
	t.Helper()
	rs, err := dataset.ReadFile(testenv.RootPath(t, "testdata", "learn-golden.labels"))
	if err != nil {
		t.Fatal(err)
	}
	return &dataset.Labels{Rules: rs}
}

// trainGolden trains a model on the golden captures at packet n.
func trainGolden(t *testing.T, n int, threshold float64) *Model {
	t.Helper()
	labels := goldenLabels(t)
	var caps []*Capture
	for _, p := range goldenCaptures(t) {
		c, err := ReadCapture(p, labels, n)
		if err != nil {
			t.Fatal(err)
		}
		caps = append(caps, c)
	}
	m, err := Train(Training(caps), Options{Packets: n, Trees: 5, MaxDepth: 12, Threshold: threshold, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestXDPAgreesWithGo: every flow direction of every golden capture gets
// the same verdict from the program as from Classify, at packet 1 (every
// new flow judged as it is inserted), 4 and 8.
func TestXDPAgreesWithGo(t *testing.T) {
	testenv.RequireBPF(t)
	for _, n := range []int{1, 4, 8} {
		m := trainGolden(t, n, 0.5)
		d := loadTree(t, m.Compile(), false)
		judged := 0
		for _, p := range goldenCaptures(t) {
			judged += agree(t, d, p, m)
		}
		t.Logf("packet %d: %d flow directions judged alike", n, judged)
		if judged == 0 {
			t.Errorf("packet %d: no direction judged", n)
		}
	}
}

// TestXDPAgreesWithGoCorpus: the same on the corpus attack captures,
// where present.
func TestXDPAgreesWithGoCorpus(t *testing.T) {
	testenv.RequireBPF(t)
	dir := testenv.Corpus(t, "attack-pcaps")
	paths, _ := filepath.Glob(filepath.Join(dir, "*", "*.pcap"))
	m := trainGolden(t, 8, 0.5)
	d := loadTree(t, m.Compile(), false)
	for _, p := range paths {
		agree(t, d, p, m)
	}
}

// --- hand-built trees ---

var (
	hostA = netip.MustParseAddr("198.51.100.7")
	hostB = netip.MustParseAddr("192.0.2.1")
)

func tcpFrame(sport, dport uint16, flags uint8, payload int) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IP(hostA.AsSlice()), DstIP: net.IP(hostB.AsSlice())}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Window: 1024,
		SYN: flags&0x02 != 0, ACK: flags&0x10 != 0, FIN: flags&0x01 != 0, RST: flags&0x04 != 0, PSH: flags&0x08 != 0}
	_ = tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, tcp, gopacket.Payload(make([]byte, payload))); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func leaf(class uint8, score uint16) loader.TreeNode {
	return loader.TreeNode{Feature: bpf.TreeLeaf, Class: class, Score: score}
}

func split(f uint8, thr, l, r uint32) loader.TreeNode {
	return loader.TreeNode{Feature: f, Threshold: thr, Left: l, Right: r}
}

// chain is a tree of depth splits on bytes < 1e9 (always left), its
// deepest leaf malicious, every right leaf benign.
func chain(depth int) []loader.TreeNode {
	var ns []loader.TreeNode
	for i := range depth {
		// node 2i: split; 2i+1: its right leaf; its left is 2i+2
		ns = append(ns, split(Bytes, 1e9, uint32(2*i+2), uint32(2*i+1)), leaf(0, 0))
	}
	return append(ns, leaf(1, 1000))
}

func TestTreeTable(t *testing.T) {
	testenv.RequireBPF(t)
	one := func(nodes ...loader.TreeNode) *loader.Tree {
		return &loader.Tree{Packets: 2, Threshold: 500, Classes: 4, Roots: []uint32{0}, Nodes: nodes}
	}
	byPort := one(split(DstPort, 80, 1, 2), leaf(0, 0), leaf(2, 1000))
	tie := &loader.Tree{Packets: 2, Threshold: 1200, Classes: 4, Roots: []uint32{0, 1},
		Nodes: []loader.TreeNode{leaf(3, 600), leaf(2, 600)}}
	sum := func(thr uint32) *loader.Tree {
		return &loader.Tree{Packets: 2, Threshold: thr, Classes: 2, Roots: []uint32{0, 1},
			Nodes: []loader.TreeNode{leaf(1, 500), leaf(1, 500)}}
	}
	deep := &loader.Tree{Packets: 2, Threshold: 1, Classes: 2, Roots: []uint32{0}, Nodes: chain(bpf.TreeMaxDepth)}
	syns := one(split(SYN, 2, 1, 2), leaf(0, 0), leaf(1, 900)) // two SYNs in two packets: right
	cases := []struct {
		name   string
		tree   *loader.Tree
		frames [][]byte
		want   uint8 // flow_stats.tree after the frames
	}{
		{"below threshold port", byPort, [][]byte{tcpFrame(4000, 79, 0x02, 0), tcpFrame(4000, 79, 0x10, 0)}, bpf.TreeClass},
		{"equal to the split goes right", byPort, [][]byte{tcpFrame(4000, 80, 0x02, 0), tcpFrame(4000, 80, 0x10, 0)}, bpf.TreeClass + 2},
		{"not yet at packet N", byPort, [][]byte{tcpFrame(4000, 80, 0x02, 0)}, bpf.TreePending},
		{"score sum equal to threshold", sum(1000), [][]byte{tcpFrame(1, 2, 0x02, 0), tcpFrame(1, 2, 0x02, 0)}, bpf.TreeClass + 1},
		{"score sum one below", sum(1001), [][]byte{tcpFrame(1, 2, 0x02, 0), tcpFrame(1, 2, 0x02, 0)}, bpf.TreeClass},
		{"tied classes: the lowest", tie, [][]byte{tcpFrame(1, 2, 0x02, 0), tcpFrame(1, 2, 0x02, 0)}, bpf.TreeClass + 2},
		{"max depth", deep, [][]byte{tcpFrame(1, 2, 0x02, 0), tcpFrame(1, 2, 0x02, 0)}, bpf.TreeClass + 1},
		{"flag counts", syns, [][]byte{tcpFrame(1, 2, 0x02, 0), tcpFrame(1, 2, 0x02, 10)}, bpf.TreeClass + 1},
		{"flag counts below", syns, [][]byte{tcpFrame(1, 2, 0x02, 0), tcpFrame(1, 2, 0x10, 10)}, bpf.TreeClass},
		{"frozen after packet N", byPort, [][]byte{tcpFrame(4000, 80, 0x02, 0), tcpFrame(4000, 80, 0x10, 0), tcpFrame(4000, 80, 0x10, 0)}, bpf.TreeClass + 2},
		{"empty model", nil, [][]byte{tcpFrame(4000, 80, 0x02, 0), tcpFrame(4000, 80, 0x10, 0)}, bpf.TreeNone},
	}
	d := loadTree(t, nil, false)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resetFlows(t, d)
			var err error
			if c.tree != nil {
				err = d.Maps().LoadTree(c.tree)
			} else {
				err = d.Maps().ClearTree()
			}
			if err != nil {
				t.Fatal(err)
			}
			tr := NewTracker(2)
			var dir *Direction
			for i, f := range c.frames {
				now := uint64(1e9 + i*1000)
				if got := run(t, d, f, now); got != 2 {
					t.Fatalf("frame %d: action %d, want pass", i, got)
				}
				dir, _ = tr.Packet(f, now)
			}
			v, ok := kernelFlow(t, d, dir)
			if !ok || v.Tree != c.want {
				t.Fatalf("kernel verdict %d (found %v), want %d", v.Tree, ok, c.want)
			}
			if c.tree != nil && dir.Judged {
				if g := uint8(bpf.TreeClass + Classify(c.tree, &dir.Vec)); g != c.want {
					t.Errorf("Go verdict %d, want %d", g, c.want)
				}
			}
		})
	}
}

// TestTreeDrop: with the drop action a malicious flow is dropped from its
// packet N on, in the kernel (REASON_MODEL, then the flow's FLOW_DROP);
// in monitor mode it passes and the verdict is recorded and counted.
func TestTreeDrop(t *testing.T) {
	testenv.RequireBPF(t)
	tree := &loader.Tree{Packets: 2, Threshold: 1, Classes: 2, Drop: true, Roots: []uint32{0},
		Nodes: []loader.TreeNode{split(DstPort, 80, 1, 2), leaf(0, 0), leaf(1, 1000)}}
	for _, monitor := range []bool{false, true} {
		d := loadTree(t, tree, monitor)
		bad := [][]byte{tcpFrame(4000, 80, 0x02, 0), tcpFrame(4000, 80, 0x10, 0), tcpFrame(4000, 80, 0x10, 0)}
		good := [][]byte{tcpFrame(4000, 22, 0x02, 0), tcpFrame(4000, 22, 0x10, 0), tcpFrame(4000, 22, 0x10, 0)}
		wantBad := []uint32{2, 1, 1}
		if monitor {
			wantBad = []uint32{2, 2, 2}
		}
		for i := range bad {
			if got := run(t, d, bad[i], uint64(1e9+i)); got != wantBad[i] {
				t.Errorf("monitor %v: malicious frame %d: action %d, want %d", monitor, i, got, wantBad[i])
			}
			if got := run(t, d, good[i], uint64(1e9+i)); got != 2 {
				t.Errorf("monitor %v: benign frame %d: action %d, want pass", monitor, i, got)
			}
		}
		st, err := d.Maps().SlotStats(0)
		if err != nil {
			t.Fatal(err)
		}
		if st.TreeVerdicts[0] != 1 || st.TreeVerdicts[1] != 1 {
			t.Errorf("monitor %v: verdicts %v, want one benign, one class 1", monitor, st.TreeVerdicts[:2])
		}
		drops := st.Verdicts[bpf.VerdictDrop][bpf.ReasonModel].Packets + st.Verdicts[bpf.VerdictDrop][bpf.ReasonFlow].Packets
		if !monitor && (st.Verdicts[bpf.VerdictDrop][bpf.ReasonModel].Packets != 1 || drops != 2) {
			t.Errorf("drops: model %d, flow %d; want 1 and 1", st.Verdicts[bpf.VerdictDrop][bpf.ReasonModel].Packets,
				st.Verdicts[bpf.VerdictDrop][bpf.ReasonFlow].Packets)
		}
		if monitor && drops != 0 {
			t.Errorf("monitor mode dropped %d", drops)
		}
	}
}

// TestTreeModelSample: the packet at which the program judges a flow
// direction malicious reaches userspace as a model sample (class and
// score sum), whatever the sample mask (here none): passed with the alert
// action, dropped (VERDICT_DROP, REASON_MODEL) with the drop action. A
// benign verdict and the packets after the verdict send nothing.
func TestTreeModelSample(t *testing.T) {
	testenv.RequireBPF(t)
	for _, drop := range []bool{false, true} {
		// two trees: 1000 + 600 on port 80 (malicious), 0 + 600 elsewhere
		tree := &loader.Tree{Packets: 2, Threshold: 1000, Classes: 3, Drop: drop, Roots: []uint32{0, 3},
			Nodes: []loader.TreeNode{split(DstPort, 80, 1, 2), leaf(0, 0), leaf(2, 1000), leaf(1, 600)}}
		d := loadTree(t, tree, false)
		rd, err := samples.NewReader(d.SamplesMap())
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range [][]byte{tcpFrame(4000, 80, 0x02, 0), tcpFrame(4000, 22, 0x02, 0),
			tcpFrame(4000, 80, 0x10, 0), tcpFrame(4000, 22, 0x10, 0), tcpFrame(4000, 80, 0x10, 0)} {
			run(t, d, f, uint64(1e9+i))
		}
		rd.SetDeadline(time.Unix(1, 0)) // never block: drain what is there
		var got []samples.Sample
		for {
			var s samples.Sample
			err := rd.Read(&s)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			s.Data = nil
			got = append(got, s)
		}
		rd.Close()
		if len(got) != 1 {
			t.Fatalf("drop %v: %d samples %+v, want the one model sample", drop, len(got), got)
		}
		s := got[0]
		wantVerdict, wantReason, wantAction := uint8(bpf.VerdictPass), uint8(bpf.ReasonNone), uint8(bpf.FlowInspect)
		if drop {
			wantVerdict, wantReason, wantAction = bpf.VerdictDrop, bpf.ReasonModel, bpf.FlowDrop
		}
		if !s.ModelVerdict() || s.ModelClass != 2 || s.ModelScore != 1600 || s.FlowPackets != 2 || s.Flags != 0 ||
			s.Verdict != wantVerdict || s.Reason != wantReason || s.Action != wantAction || s.L4Off == 0 {
			t.Errorf("drop %v: model sample %+v: want class 2, score 1600 at packet 2, verdict %d reason %d action %d",
				drop, s, wantVerdict, wantReason, wantAction)
		}
	}
}

// TestTreeReloadAndClear: a refused tree keeps the live one; ClearTree
// turns judging off for new flows.
func TestTreeReloadAndClear(t *testing.T) {
	testenv.RequireBPF(t)
	good := &loader.Tree{Packets: 1, Threshold: 1, Classes: 2, Roots: []uint32{0}, Nodes: []loader.TreeNode{leaf(1, 1000)}}
	d := loadTree(t, good, false)
	bad := &loader.Tree{Packets: 1, Threshold: 1, Classes: 2, Roots: []uint32{0}, Nodes: chain(bpf.TreeMaxDepth + 1)}
	if err := d.Maps().LoadTree(bad); err == nil {
		t.Fatal("a tree deeper than the program walks was loaded")
	}
	if n, err := d.Maps().TreeLive(); err != nil || n != 1 {
		t.Fatalf("live tree judges at %d (%v), want the previous one's 1", n, err)
	}
	tr := NewTracker(1)
	f := tcpFrame(1, 2, 0x02, 0)
	run(t, d, f, 1e9)
	dir, _ := tr.Packet(f, 1e9)
	if v, _ := kernelFlow(t, d, dir); v.Tree != bpf.TreeClass+1 {
		t.Errorf("verdict %d, want class 1", v.Tree)
	}
	if err := d.Maps().ClearTree(); err != nil {
		t.Fatal(err)
	}
	f = tcpFrame(3, 4, 0x02, 0)
	run(t, d, f, 2e9)
	dir, _ = tr.Packet(f, 2e9)
	if v, _ := kernelFlow(t, d, dir); v.Tree != bpf.TreeNone {
		t.Errorf("after ClearTree: verdict %d, want none", v.Tree)
	}
}

// TestXDPAgreesWithGoParser: frames the golden captures lack, through
// both parsers: VLAN tags (one, two, three and a fourth the program does
// not follow), IPv4 options, IPv6 extension headers (and a chain longer
// than the program follows), fragments (first and later), ICMP and ICMPv6
// (and ICMP in IPv6, which is not ICMP), UDP, cut headers, non-IP; each
// as a flow of N packets of growing sizes and gaps, with a model that
// splits on every feature.
func TestXDPAgreesWithGoParser(t *testing.T) {
	testenv.RequireBPF(t)
	m := parserModel()
	d := loadTree(t, m.Compile(), false)
	var frames [][]byte
	for i, f := range parserFrames() {
		for j := range m.Packets {
			fr := append([]byte(nil), f...)
			if j > 0 && len(fr) > 60 {
				fr = fr[:len(fr)-j%3] // sizes vary (cut IP datagrams included)
			}
			frames = append(frames, fr)
			_ = i
		}
	}
	i := 0
	judged := agreeSeq(t, d, "parser-frames", m, func() ([]byte, uint64, bool) {
		if i >= len(frames) {
			return nil, 0, false
		}
		i++
		return frames[i-1], uint64(1e9 + i*i*7919), true
	})
	if judged == 0 {
		t.Error("no direction judged")
	}
	t.Logf("%d flow directions judged alike", judged)
}

// parserModel splits on each feature in turn, at values the frames
// straddle.
func parserModel() *Model {
	ds := &Dataset{Classes: []string{Benign, "a", "b"}}
	for i := range 400 {
		var v Vector
		for f := range v {
			v[f] = uint32((i*(f+3)*2654435761)>>7) % []uint32{64, 70000, 70000, 3000, 400, 400, 1 << 20, 1 << 18, 9, 9, 9, 9, 9, 9, 64, 70000}[f]
		}
		ds.X = append(ds.X, v)
		ds.Y = append(ds.Y, i%3)
	}
	m, err := Train(ds, Options{Packets: 4, Trees: 8, MaxDepth: 12, MinLeaf: 1, Features: 16, Threshold: 0.3, Seed: 3})
	if err != nil {
		panic(err)
	}
	return m
}

func parserFrames() [][]byte {
	src, dst := net.IP(hostA.AsSlice()), net.IP(hostB.AsSlice())
	src6, dst6 := net.ParseIP("2001:db8:1::7"), net.ParseIP("2001:db8:2::1")
	eth := func(t layers.EthernetType) *layers.Ethernet {
		return &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: t}
	}
	ser := func(ls ...gopacket.SerializableLayer) []byte {
		buf := gopacket.NewSerializeBuffer()
		var nl gopacket.NetworkLayer
		for _, l := range ls {
			if n, ok := l.(gopacket.NetworkLayer); ok {
				nl = n
			}
		}
		for _, l := range ls {
			if x, ok := l.(interface {
				SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
			}); ok && nl != nil {
				_ = x.SetNetworkLayerForChecksum(nl)
			}
		}
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: nl != nil}, ls...); err != nil {
			panic(err)
		}
		return append([]byte(nil), buf.Bytes()...)
	}
	ip4 := func(p layers.IPProtocol) *layers.IPv4 {
		return &layers.IPv4{Version: 4, TTL: 64, Protocol: p, SrcIP: src, DstIP: dst}
	}
	ip6 := func(p layers.IPProtocol) *layers.IPv6 {
		return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: p, SrcIP: src6, DstIP: dst6}
	}
	tcp := func(sp, dp uint16, syn, ack, psh bool) *layers.TCP {
		return &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), SYN: syn, ACK: ack, PSH: psh, Window: sp}
	}
	pay := gopacket.Payload(make([]byte, 120))
	vlan := func(id uint16, t layers.EthernetType) *layers.Dot1Q {
		return &layers.Dot1Q{VLANIdentifier: id, Type: t}
	}
	var out [][]byte
	out = append(out,
		ser(eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(1001, 80, true, false, false), pay),
		ser(eth(layers.EthernetTypeDot1Q), vlan(7, layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(1002, 80, false, true, true), pay),
		ser(eth(layers.EthernetTypeDot1Q), vlan(8, layers.EthernetTypeDot1Q), vlan(9, layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP),
			&layers.UDP{SrcPort: 5353, DstPort: 53}, pay),
		ser(eth(layers.EthernetTypeQinQ), vlan(8, layers.EthernetTypeDot1Q), vlan(9, layers.EthernetTypeIPv4),
			ip4(layers.IPProtocolTCP), tcp(1007, 25, true, false, false), pay), // 802.1ad outer tag
		ser(eth(layers.EthernetTypeDot1Q), vlan(8, layers.EthernetTypeDot1Q), vlan(9, layers.EthernetTypeDot1Q),
			vlan(10, layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 5, DstPort: 6}, pay), // 3 tags
		ser(eth(layers.EthernetTypeDot1Q), vlan(8, layers.EthernetTypeDot1Q), vlan(9, layers.EthernetTypeDot1Q), vlan(10, layers.EthernetTypeDot1Q),
			vlan(11, layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 1, DstPort: 2}, pay),
		ser(eth(layers.EthernetTypeIPv4), &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: dst,
			Options: []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}}}, tcp(1003, 22, false, true, false), pay),
		ser(eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolICMPv4), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)}, pay),
		ser(eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolICMPv6), &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}, pay),
		ser(eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolICMPv4), pay), // ICMP in IPv6: no ports
		ser(eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolTCP), tcp(1004, 443, true, false, false), pay),
		ser(eth(layers.EthernetTypeIPv4), &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src, DstIP: dst,
			Flags: layers.IPv4MoreFragments}, &layers.UDP{SrcPort: 7, DstPort: 9}, pay), // first fragment
		ser(eth(layers.EthernetTypeIPv4), &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src, DstIP: dst,
			FragOffset: 100}, pay), // later fragment: no flow
		ser(eth(layers.EthernetTypeARP), pay), // not IP: no flow
	)
	// IPv6 with hop-by-hop and destination options, then TCP
	hbh := []byte{byte(layers.IPProtocolIPv6Destination), 0, 1, 4, 0, 0, 0, 0}
	dopt := []byte{byte(layers.IPProtocolTCP), 0, 1, 4, 0, 0, 0, 0}
	t6 := ser(tcp(1005, 8080, false, true, true), pay)
	out = append(out, raw6(ser(eth(layers.EthernetTypeIPv6)), layers.IPProtocolIPv6HopByHop, src6, dst6, append(append(hbh, dopt...), t6...)))
	// a chain of 7 destination-options headers: past the program's 6
	var chain []byte
	for range 6 {
		chain = append(chain, byte(layers.IPProtocolIPv6Destination), 0, 1, 4, 0, 0, 0, 0)
	}
	chain = append(chain, byte(layers.IPProtocolUDP), 0, 1, 4, 0, 0, 0, 0)
	out = append(out, raw6(ser(eth(layers.EthernetTypeIPv6)), layers.IPProtocolIPv6Destination, src6, dst6, append(chain, ser(&layers.UDP{SrcPort: 3, DstPort: 4}, pay)...)))
	// cut headers: a TCP header cut short (malformed, no flow), a cut IPv4 header
	whole := ser(eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(1006, 80, true, false, false))
	out = append(out, whole[:14+20+10], whole[:14+12], whole[:10])
	return out
}

// raw6 is an IPv6 packet after the Ethernet header e, next header nh,
// payload body (extension headers and what follows, built by hand).
func raw6(e []byte, nh layers.IPProtocol, src, dst net.IP, body []byte) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	h[4], h[5] = byte(len(body)>>8), byte(len(body))
	h[6], h[7] = byte(nh), 64
	copy(h[8:], src.To16())
	copy(h[24:], dst.To16())
	return append(append(append([]byte(nil), e[:14]...), h...), body...)
}
