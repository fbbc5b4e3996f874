package loader

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/internal/testenv"
)

// Table tests of the XDP program through BPF_PROG_TEST_RUN, in the style of
// cloudflare/xdpcap's filter tests and katran's test fixtures: each case is
// a list of frames built with gopacket, the run-time configuration, the
// list entries to install, and what must come out: the XDP verdict of every
// frame, the verdict/reason and protocol counters, and the ring buffer
// samples. Every case runs on a freshly loaded program, so counters, flows,
// buckets and the ring buffer start empty.

// XDP return codes (enum xdp_action).
const (
	actDrop = 1 // XDP_DROP
	actPass = 2 // XDP_PASS
)

// Test hosts, all in documentation ranges.
var (
	srcA    = netip.MustParseAddr("198.51.100.7")
	srcB    = netip.MustParseAddr("198.51.100.8")
	dst4    = netip.MustParseAddr("192.0.2.1")
	src6A   = netip.MustParseAddr("2001:db8:1:1::7")
	src6A2  = netip.MustParseAddr("2001:db8:1:1::8") // same /64 as src6A
	src6B   = netip.MustParseAddr("2001:db8:1:2::7") // next /64
	dst6    = netip.MustParseAddr("2001:db8:ffff::1")
	macSrc  = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	macDst  = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
	macZero = net.HardwareAddr{0, 0, 0, 0, 0, 0}
)

// TCP flag bits.
const (
	fin = 0x01
	syn = 0x02
	rst = 0x04
	psh = 0x08
	ack = 0x10
	urg = 0x20
)

// IPv6 extension header protocol numbers gopacket has no constant for.
const (
	protoMobility layers.IPProtocol = 135
	protoHIP      layers.IPProtocol = 139
	protoShim6    layers.IPProtocol = 140
	protoNoNext   layers.IPProtocol = 59
)

// --- packet builders ---

// frame serializes layers with FixLengths and ComputeChecksums, the first
// being the Ethernet header. Each header's "next protocol" field (Ethernet
// and 802.1Q types, IPv4 protocol, IPv6 and extension next header) is set
// from the layer after it; before a raw gopacket.Payload it is left as the
// builder set it. Transport checksums use the closest IP layer. frame panics
// on a serialization error: the inputs are fixed, like regexp.MustCompile's.
func frame(ls ...gopacket.SerializableLayer) []byte {
	var netLayer gopacket.NetworkLayer
	for i, l := range ls {
		var next gopacket.SerializableLayer
		if i+1 < len(ls) {
			next = ls[i+1]
		}
		linkNext(l, next)
		switch l := l.(type) {
		case *layers.IPv4:
			netLayer = l
		case *layers.IPv6:
			netLayer = l
		case *layers.TCP:
			must(l.SetNetworkLayerForChecksum(netLayer))
		case *layers.UDP:
			must(l.SetNetworkLayerForChecksum(netLayer))
		case *layers.ICMPv6:
			must(l.SetNetworkLayerForChecksum(netLayer))
		}
	}
	buf := gopacket.NewSerializeBuffer()
	must(gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...))
	return bytes.Clone(buf.Bytes())
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// linkNext sets l's next-protocol field from the type of next.
func linkNext(l, next gopacket.SerializableLayer) {
	var (
		etherType layers.EthernetType
		ipProto   layers.IPProtocol
		known     = true
	)
	switch n := next.(type) {
	case *layers.IPv4:
		etherType = layers.EthernetTypeIPv4
	case *layers.IPv6:
		etherType = layers.EthernetTypeIPv6
	case *layers.ARP:
		etherType = layers.EthernetTypeARP
	case *layers.Dot1Q:
		etherType = layers.EthernetTypeDot1Q
	case *sTag:
		etherType = layers.EthernetTypeQinQ
	case *layers.TCP:
		ipProto = layers.IPProtocolTCP
	case *layers.UDP:
		ipProto = layers.IPProtocolUDP
	case *layers.ICMPv4:
		ipProto = layers.IPProtocolICMPv4
	case *layers.ICMPv6:
		ipProto = layers.IPProtocolICMPv6
	case *layers.IPv6HopByHop:
		ipProto = layers.IPProtocolIPv6HopByHop
	case *layers.IPv6Routing:
		ipProto = layers.IPProtocolIPv6Routing
	case *layers.IPv6Destination:
		ipProto = layers.IPProtocolIPv6Destination
	case *layers.IPv6Fragment:
		ipProto = layers.IPProtocolIPv6Fragment
	case *ext6Raw:
		ipProto = n.proto
	default:
		known = false
	}
	if !known {
		return
	}
	switch l := l.(type) {
	case *layers.Ethernet:
		l.EthernetType = etherType
	case *layers.Dot1Q:
		l.Type = etherType
	case *sTag:
		l.Type = etherType
	case *layers.IPv4:
		l.Protocol = ipProto
	case *layers.IPv6:
		l.NextHeader = ipProto
	case *layers.IPv6HopByHop:
		l.NextHeader = ipProto
	case *layers.IPv6Routing:
		l.NextHeader = ipProto
	case *layers.IPv6Destination:
		l.NextHeader = ipProto
	case *layers.IPv6Fragment:
		l.NextHeader = ipProto
	case *ext6Raw:
		l.next = ipProto
	}
}

func eth() *layers.Ethernet { return &layers.Ethernet{SrcMAC: macSrc, DstMAC: macDst} }

// dot1q is an 802.1Q (customer) VLAN tag.
func dot1q(id uint16) *layers.Dot1Q { return &layers.Dot1Q{VLANIdentifier: id, Priority: 3} }

// sTag is an 802.1ad service tag: a Dot1Q header announced with TPID 0x88a8.
type sTag struct{ layers.Dot1Q }

func dot1ad(id uint16) *sTag { return &sTag{layers.Dot1Q{VLANIdentifier: id}} }

func ip4(src, dst netip.Addr) *layers.IPv4 {
	return &layers.IPv4{Version: 4, TTL: 64, Id: 0x1234, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
}

// ip4Frag makes ip a fragment; offset counts 8-byte units.
func ip4Frag(ip *layers.IPv4, more bool, offset uint16) *layers.IPv4 {
	if more {
		ip.Flags |= layers.IPv4MoreFragments
	}
	ip.FragOffset = offset
	return ip
}

// ip4Opts gives ip a router alert option (ihl 6), or with long set, a
// 40-byte record route option (ihl 15, the most there is).
func ip4Opts(ip *layers.IPv4, long bool) *layers.IPv4 {
	if long {
		ip.Options = []layers.IPv4Option{{OptionType: 7, OptionLength: 39, OptionData: append([]byte{4}, make([]byte, 36)...)}, {OptionType: 0}}
	} else {
		ip.Options = []layers.IPv4Option{{OptionType: 148, OptionLength: 4, OptionData: []byte{0, 0}}}
	}
	return ip
}

func ip6(src, dst netip.Addr) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, FlowLabel: 0x12345, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
}

// padOption is a PadN option filling an options header to 8 bytes (gopacket
// rejects an options header without options).
func padOption() (uint8, uint8, []byte) { return 1, 4, make([]byte, 4) }

func hopByHop() *layers.IPv6HopByHop {
	t, l, d := padOption()
	return &layers.IPv6HopByHop{Options: []*layers.IPv6HopByHopOption{{OptionType: t, OptionLength: l, OptionData: d}}}
}

func destOpts() *layers.IPv6Destination {
	t, l, d := padOption()
	return &layers.IPv6Destination{Options: []*layers.IPv6DestinationOption{{OptionType: t, OptionLength: l, OptionData: d}}}
}

// routing is a segment routing header with no segments left (8 bytes).
func routing() *layers.IPv6Routing { return &layers.IPv6Routing{RoutingType: 4} }

// frag6 is an IPv6 fragment header; offset counts 8-byte units.
func frag6(more bool, offset uint16) *layers.IPv6Fragment {
	return &layers.IPv6Fragment{FragmentOffset: offset, MoreFragments: more, Identification: 0xabcd}
}

// ext6Raw is an IPv6 extension header gopacket has no serializer for (AH,
// mobility, HIP, shim6): next header, length field, then zeros.
type ext6Raw struct {
	proto layers.IPProtocol // what this header is
	next  layers.IPProtocol
	size  int // bytes, a multiple of 8
}

func (e *ext6Raw) LayerType() gopacket.LayerType { return gopacket.LayerTypePayload }

func (e *ext6Raw) SerializeTo(b gopacket.SerializeBuffer, _ gopacket.SerializeOptions) error {
	p, err := b.PrependBytes(e.size)
	if err != nil {
		return err
	}
	clear(p)
	p[0] = byte(e.next)
	if e.proto == layers.IPProtocolAH {
		p[1] = byte(e.size/4 - 2) // AH counts 4-byte words, less 2 (RFC 4302)
		p[8] = 1                  // sequence number
	} else {
		p[1] = byte(e.size/8 - 1)
	}
	return nil
}

func ah() *ext6Raw { return &ext6Raw{proto: layers.IPProtocolAH, size: 24} } // 12 bytes + 12-byte ICV

func mobility() *ext6Raw { return &ext6Raw{proto: protoMobility, size: 16} }

func tcp(sport, dport uint16, flags uint8) *layers.TCP {
	return &layers.TCP{
		SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: 1000, Window: 64240,
		FIN: flags&fin != 0, SYN: flags&syn != 0, RST: flags&rst != 0, PSH: flags&psh != 0,
		ACK: flags&ack != 0, URG: flags&urg != 0,
	}
}

func udp(sport, dport uint16) *layers.UDP {
	return &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
}

func icmp4Echo() *layers.ICMPv4 {
	return &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 7, Seq: 1}
}

func icmp6Echo() *layers.ICMPv6 {
	return &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
}

func arp() *layers.ARP {
	return &layers.ARP{
		AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: layers.ARPRequest, SourceHwAddress: macSrc, SourceProtAddress: srcA.AsSlice(),
		DstHwAddress: macZero, DstProtAddress: dst4.AsSlice(),
	}
}

// payload is n bytes of a pattern, so a sample's data can be told apart
// from zeros.
func payload(n int) gopacket.Payload {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + 3)
	}
	return p
}

// ext6Chain is an IPv6 frame with a chain of n (<= 7) extension headers
// (each kind once, destination options twice), then l4.
func ext6Chain(n int, l4 gopacket.SerializableLayer) []byte {
	kinds := []gopacket.SerializableLayer{hopByHop(), destOpts(), routing(), frag6(false, 0), ah(), destOpts(), mobility()}
	ls := append([]gopacket.SerializableLayer{eth(), ip6(src6A, dst6)}, kinds[:n]...)
	return frame(append(ls, l4)...)
}

// Common frames.
func tcp4(src netip.Addr, flags uint8) []byte {
	return frame(eth(), ip4(src, dst4), tcp(40000, 80, flags))
}

func udp4(src netip.Addr) []byte { return frame(eth(), ip4(src, dst4), udp(40000, 53), payload(8)) }

func tcp6(src netip.Addr, flags uint8) []byte {
	return frame(eth(), ip6(src, dst6), tcp(40000, 80, flags))
}

// sized is an IPv4 UDP frame of exactly n bytes (n >= 42).
func sized(n int, sport uint16) []byte {
	return frame(eth(), ip4(srcA, dst4), udp(sport, 9), payload(n-42))
}

// cut returns the first n bytes of b.
func cut(b []byte, n int) []byte {
	if n > len(b) {
		panic(fmt.Sprintf("cut %d of %d bytes", n, len(b)))
	}
	return bytes.Clone(b[:n])
}

// Header offsets for cut.
const (
	ethLen  = 14
	vlanLen = 4
	ip4Len  = 20
	ip6Len  = 40
)

// --- the case runner ---

type vr struct{ verdict, reason int }

var (
	passNone      = vr{bpf.VerdictPass, bpf.ReasonNone}
	passAllow     = vr{bpf.VerdictPass, bpf.ReasonAllow}
	passMalformed = vr{bpf.VerdictPass, bpf.ReasonMalformed}
	passNotIP     = vr{bpf.VerdictPass, bpf.ReasonNotIP}
	dropBlock     = vr{bpf.VerdictDrop, bpf.ReasonBlock}
	dropSYN       = vr{bpf.VerdictDrop, bpf.ReasonRateSYN}
	dropUDP       = vr{bpf.VerdictDrop, bpf.ReasonRateUDP}
	dropICMP      = vr{bpf.VerdictDrop, bpf.ReasonRateICMP}
	wouldBlock    = vr{bpf.VerdictWouldDrop, bpf.ReasonBlock}
	wouldSYN      = vr{bpf.VerdictWouldDrop, bpf.ReasonRateSYN}
)

// send is a frame run `times` times (0: once); every run must return want.
type send struct {
	pkt   []byte
	times int
	want  uint32
}

func pass(pkt []byte) send { return send{pkt: pkt, want: actPass} }
func drop(pkt []byte) send { return send{pkt: pkt, want: actDrop} }

// wantSample is a ring buffer record: of the frame of send[send], with the
// header fields below. The data, wire_len and cap_len are checked against
// the frame and the snaplen; ts_ns against the time of the run.
type wantSample struct {
	send    int
	flags   uint8
	verdict uint8
	reason  uint8
	vlan    uint16
}

// smp is a sample of a passed packet.
func smp(send int, flags uint8) wantSample { return wantSample{send: send, flags: flags} }

// malformedSmp is the sample of a passed packet with a cut or bad header.
func malformedSmp(send int, flags uint8) wantSample {
	return wantSample{send: send, flags: flags, reason: bpf.ReasonMalformed}
}

type xdpCase struct {
	name    string
	cfg     func(*Config)                   // tweaks testConfig()
	setup   func(t *testing.T, d *Datapath) // list entries, map writes
	ifindex uint32                          // ingress_ifindex given in the context; 0: none (test_run uses 1, lo)
	slot    int                             // stats slot the packets count in
	sends   []send

	verdicts   map[vr]uint64                   // packets per verdict/reason; absent ones must be 0
	protos     map[int]uint64                  // packets per protocol counter; absent ones must be 0
	samples    []wantSample                    // ring buffer records, in order
	overBudget uint64                          // samples_over_budget
	check      func(t *testing.T, d *Datapath) // more checks of the maps after the runs
}

// testConfig is the base configuration of the table tests: no limits, an
// unlimited sample budget, every sample reason on but no new-flow samples,
// so a case only sees the samples it is about.
func testConfig() Config {
	return Config{Snaplen: 256, SampleMask: bpf.SampleAll, RateLimitSampleEach: time.Second}
}

// loadDatapath loads a fresh program and maps, closed when the test ends.
func loadDatapath(t testing.TB, cfg Config) *Datapath {
	t.Helper()
	d, err := Load(Options{})
	if err != nil {
		t.Fatalf("load: %+v", err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Maps().SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	return d
}

// pinCPU keeps the test goroutine on one OS thread and that thread on one
// CPU until the test ends. BPF_PROG_TEST_RUN runs the program on the
// calling CPU, and some state is per CPU (the sample budget): without this
// the scheduler could move the test between runs and give it a second budget.
func pinCPU(t testing.TB, cpu int) {
	t.Helper()
	runtime.LockOSThread()
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		t.Fatalf("sched_getaffinity: %v", err)
	}
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		t.Fatalf("pin to cpu %d: %v", cpu, err)
	}
	t.Cleanup(func() {
		if err := unix.SchedSetaffinity(0, &old); err == nil {
			runtime.UnlockOSThread() // else the thread stays locked and dies with the goroutine
		}
	})
}

// firstCPU is the lowest CPU this process may run on.
func firstCPU(t testing.TB) int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatalf("sched_getaffinity: %v", err)
	}
	for cpu := 0; cpu < 1024; cpu++ {
		if set.IsSet(cpu) {
			return cpu
		}
	}
	t.Fatal("no CPU in the affinity mask")
	return 0
}

// xdpMd is struct xdp_md, the context of an XDP program; BPF_PROG_TEST_RUN
// takes data_end = len(frame), data = data_meta = 0, and an ingress_ifindex
// of an existing device.
type xdpMd struct {
	Data, DataEnd, DataMeta, IngressIfindex, RxQueueIndex, EgressIfindex uint32
}

// runXDP runs one frame through the program and returns the XDP action.
func runXDP(t testing.TB, prog *ebpf.Program, pkt []byte, ifindex uint32) uint32 {
	t.Helper()
	opts := ebpf.RunOptions{Data: pkt}
	if ifindex != 0 {
		opts.Context = xdpMd{DataEnd: uint32(len(pkt)), IngressIfindex: ifindex}
	}
	ret, err := prog.Run(&opts)
	if err != nil {
		t.Fatalf("run %d-byte frame: %v", len(pkt), err)
	}
	return ret
}

func actionName(a uint32) string {
	switch a {
	case actDrop:
		return "XDP_DROP"
	case actPass:
		return "XDP_PASS"
	}
	return fmt.Sprintf("action %d", a)
}

func vrName(k vr) string { return bpf.VerdictNames[k.verdict] + "/" + bpf.ReasonNames[k.reason] }

// sample is one decoded ring buffer record.
type sample struct {
	hdr  bpf.XdpidsSampleHdr
	data []byte
}

// readSamples returns every record in the ring buffer without waiting.
func readSamples(t testing.TB, rd *ringbuf.Reader) []sample {
	t.Helper()
	rd.SetDeadline(time.Now()) // return what is there, then ErrDeadlineExceeded
	var out []sample
	hdrLen := binary.Size(bpf.XdpidsSampleHdr{})
	for {
		rec, err := rd.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return out
		}
		if err != nil {
			t.Fatalf("read ring buffer: %v", err)
		}
		var s sample
		if _, err := binary.Decode(rec.RawSample, binary.NativeEndian, &s.hdr); err != nil {
			t.Fatalf("decode %d-byte sample: %v", len(rec.RawSample), err)
		}
		if len(rec.RawSample) != hdrLen+int(s.hdr.CapLen) {
			t.Fatalf("sample of %d bytes, header says %d + cap_len %d", len(rec.RawSample), hdrLen, s.hdr.CapLen)
		}
		s.data = rec.RawSample[hdrLen:]
		out = append(out, s)
	}
}

func runXDPCases(t *testing.T, cases []xdpCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runXDPCase(t, c) })
	}
}

func runXDPCase(t *testing.T, c xdpCase) {
	pinCPU(t, firstCPU(t))
	cfg := testConfig()
	if c.cfg != nil {
		c.cfg(&cfg)
	}
	d := loadDatapath(t, cfg)
	if c.setup != nil {
		c.setup(t, d)
	}
	rd, err := ringbuf.NewReader(d.SamplesMap())
	if err != nil {
		t.Fatalf("ring buffer reader: %v", err)
	}
	defer rd.Close()

	start := KernelNow()
	var sent Counter
	for i, s := range c.sends {
		for n := range max(s.times, 1) {
			if got := runXDP(t, d.Program(), s.pkt, c.ifindex); got != s.want {
				t.Errorf("send %d, run %d: %s, want %s", i, n+1, actionName(got), actionName(s.want))
			}
			sent.Add(Counter{Packets: 1, Bytes: uint64(len(s.pkt))})
		}
	}
	end := KernelNow()

	st, err := d.Maps().SlotStats(c.slot)
	if err != nil {
		t.Fatal(err)
	}
	checkStats(t, &st, sent, c.verdicts, c.protos)
	if c.slot != 0 {
		if other, err := d.Maps().SlotStats(0); err != nil || other.Total().Packets != 0 {
			t.Errorf("slot 0 counted %d packets (%v), want all in slot %d", other.Total().Packets, err, c.slot)
		}
	}

	got := readSamples(t, rd)
	if st.SamplesSent != uint64(len(got)) || st.SamplesLost != 0 || st.SamplesOverBudget != c.overBudget {
		t.Errorf("samples sent/lost/over budget = %d/%d/%d, want %d/0/%d (records read: %d)",
			st.SamplesSent, st.SamplesLost, st.SamplesOverBudget, len(c.samples), c.overBudget, len(got))
	}
	ifindex := c.ifindex
	if ifindex == 0 {
		ifindex = 1
	}
	checkSamples(t, got, c.samples, c.sends, cfg.Snaplen, ifindex, start, end)
	if c.check != nil {
		c.check(t, d)
	}
}

// checkStats compares the counters with the case's, and checks the
// invariant: every packet run is counted under exactly one verdict.
func checkStats(t *testing.T, st *IfaceStats, sent Counter, verdicts map[vr]uint64, protos map[int]uint64) {
	t.Helper()
	if tot := st.Total(); tot != sent {
		t.Errorf("verdict counters add up to %d packets / %d bytes, ran %d / %d", tot.Packets, tot.Bytes, sent.Packets, sent.Bytes)
	}
	for v := range bpf.VerdictMax {
		for r := range bpf.ReasonMax {
			k := vr{v, r}
			if got, want := st.Verdicts[v][r].Packets, verdicts[k]; got != want {
				t.Errorf("verdict %s: %d packets, want %d", vrName(k), got, want)
			}
		}
	}
	for p := range bpf.ProtoMax {
		if got, want := st.Protos[p].Packets, protos[p]; got != want {
			t.Errorf("protocol counter %s: %d packets, want %d", bpf.ProtoNames[p], got, want)
		}
	}
}

func checkSamples(t *testing.T, got []sample, want []wantSample, sends []send, snaplen, ifindex uint32, start, end uint64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d samples, want %d", len(got), len(want))
		for i, s := range got {
			t.Logf("sample %d: flags %#x verdict %d reason %d wire_len %d", i, s.hdr.Flags, s.hdr.Verdict, s.hdr.Reason, s.hdr.WireLen)
		}
		return
	}
	for i, w := range want {
		h, pkt := got[i].hdr, sends[w.send].pkt
		capLen := min(uint32(len(pkt)), snaplen)
		if h.Flags != w.flags || h.Verdict != w.verdict || h.Reason != w.reason || h.Vlan != w.vlan {
			t.Errorf("sample %d: flags %#x verdict %d reason %d vlan %d, want %#x %d %d %d",
				i, h.Flags, h.Verdict, h.Reason, h.Vlan, w.flags, w.verdict, w.reason, w.vlan)
		}
		if h.WireLen != uint32(len(pkt)) || h.CapLen != capLen {
			t.Errorf("sample %d: wire_len %d cap_len %d, want %d %d", i, h.WireLen, h.CapLen, len(pkt), capLen)
		}
		if !bytes.Equal(got[i].data, pkt[:capLen]) {
			t.Errorf("sample %d: data is not the first %d bytes of frame %d:\n got % x\nwant % x", i, capLen, w.send, got[i].data, pkt[:capLen])
		}
		if h.Ifindex != ifindex || h.RxQueue != 0 {
			t.Errorf("sample %d: ifindex %d rx_queue %d, want %d 0", i, h.Ifindex, h.RxQueue, ifindex)
		}
		if h.TsNs < start || h.TsNs > end {
			t.Errorf("sample %d: ts_ns %d outside the run [%d, %d]", i, h.TsNs, start, end)
		}
	}
}

// --- map helpers for setup and check ---

func block(p string, ttl time.Duration) func(*testing.T, *Datapath) {
	return func(t *testing.T, d *Datapath) {
		if err := d.Maps().Block(netip.MustParsePrefix(p), BlockOptions{TTL: ttl, Comment: "test"}); err != nil {
			t.Fatal(err)
		}
	}
}

func allow(p string) func(*testing.T, *Datapath) {
	return func(t *testing.T, d *Datapath) {
		if err := d.Maps().Allow(netip.MustParsePrefix(p)); err != nil {
			t.Fatal(err)
		}
	}
}

func setups(fs ...func(*testing.T, *Datapath)) func(*testing.T, *Datapath) {
	return func(t *testing.T, d *Datapath) {
		for _, f := range fs {
			f(t, d)
		}
	}
}

func checks(fs ...func(*testing.T, *Datapath)) func(*testing.T, *Datapath) {
	return setups(fs...)
}

// blockHits checks the hit counter of the block entry for exactly p.
func blockHits(p string, want uint64) func(*testing.T, *Datapath) {
	return func(t *testing.T, d *Datapath) {
		t.Helper()
		e, err := d.Maps().LookupBlock(netip.MustParsePrefix(p))
		if err != nil {
			t.Fatal(err)
		}
		if e.Hits != want {
			t.Errorf("block entry %s: %d hits, want %d", p, e.Hits, want)
		}
	}
}

// allowHits checks the hit counter of the allow entry for exactly p.
func allowHits(p string, want uint64) func(*testing.T, *Datapath) {
	return func(t *testing.T, d *Datapath) {
		t.Helper()
		entries, err := d.Maps().Allows()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Prefix == netip.MustParsePrefix(p) {
				if e.Hits != want {
					t.Errorf("allow entry %s: %d hits, want %d", p, e.Hits, want)
				}
				return
			}
		}
		t.Errorf("allow entry %s missing", p)
	}
}

func flowsOf(t *testing.T, d *Datapath) []Flow {
	t.Helper()
	var out []Flow
	if err := d.Maps().EachFlow(func(f Flow) bool { out = append(out, f); return true }); err != nil {
		t.Fatal(err)
	}
	return out
}

// oneFlow checks the flow table holds exactly the flow want (times are
// checked for order only; ifindex defaults to 1).
func oneFlow(want Flow) func(*testing.T, *Datapath) {
	return func(t *testing.T, d *Datapath) {
		t.Helper()
		fs := flowsOf(t, d)
		if len(fs) != 1 {
			t.Fatalf("flow table has %d flows, want 1: %+v", len(fs), fs)
		}
		got := fs[0]
		if got.FirstNs == 0 || got.LastNs < got.FirstNs {
			t.Errorf("flow times first %d last %d", got.FirstNs, got.LastNs)
		}
		got.FirstNs, got.LastNs = 0, 0
		if want.Ifindex == 0 {
			want.Ifindex = 1
		}
		if got != want {
			t.Errorf("flow\n got %+v\nwant %+v", got, want)
		}
	}
}

// noFlows checks the flow table is empty.
func noFlows(t *testing.T, d *Datapath) {
	t.Helper()
	if fs := flowsOf(t, d); len(fs) != 0 {
		t.Errorf("flow table has %d flows, want none: %+v", len(fs), fs)
	}
}

// flowVLAN checks there is one flow and it carries VLAN id.
func flowVLAN(id uint16) func(*testing.T, *Datapath) {
	return func(t *testing.T, d *Datapath) {
		t.Helper()
		fs := flowsOf(t, d)
		if len(fs) != 1 || fs[0].VLAN != id {
			t.Errorf("flows %+v, want one with VLAN %d", fs, id)
		}
	}
}

// --- the tables ---

func TestXDPParse(t *testing.T) {
	testenv.RequireBPF(t)
	runXDPCases(t, parseCases())
}

// parseCases: every header the parser knows, cut at every layer.
func parseCases() []xdpCase {
	tcpPkt := func(flags uint8) gopacket.SerializableLayer { return tcp(40000, 80, flags) }
	ip4tcp := counts(bpf.ProtoIPv4, bpf.ProtoTCP)
	ip6tcp := counts(bpf.ProtoIPv6, bpf.ProtoTCP)
	ip6udp := counts(bpf.ProtoIPv6, bpf.ProtoUDP)
	onePass := map[vr]uint64{passNone: 1}
	oneMalformed := map[vr]uint64{passMalformed: 1}

	chain := ext6Chain
	ip4Opt := frame(eth(), ip4Opts(ip4(srcA, dst4), true), tcpPkt(syn))

	return []xdpCase{
		{
			name:     "ipv4 tcp",
			sends:    []send{pass(tcp4(srcA, syn))},
			verdicts: onePass, protos: ip4tcp,
			check: oneFlow(Flow{Src: srcA, Dst: dst4, Sport: 40000, Dport: 80, Proto: 6, Packets: 1, Bytes: 60, TCPFlags: syn}),
		},
		{
			name:     "ipv4 udp",
			sends:    []send{pass(udp4(srcA))},
			verdicts: onePass, protos: counts(bpf.ProtoIPv4, bpf.ProtoUDP),
		},
		{
			name:     "ipv4 icmp",
			sends:    []send{pass(frame(eth(), ip4(srcA, dst4), icmp4Echo(), payload(16)))},
			verdicts: onePass, protos: counts(bpf.ProtoIPv4, bpf.ProtoICMP),
			samples: []wantSample{smp(0, bpf.SampleICMP)},
			check:   oneFlow(Flow{Src: srcA, Dst: dst4, Sport: 8, Dport: 0, Proto: 1, Packets: 1, Bytes: 60}),
		},
		{
			name:     "ipv4 unparsed protocol (gre)",
			sends:    []send{pass(frame(eth(), &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolGRE, SrcIP: srcA.AsSlice(), DstIP: dst4.AsSlice()}, payload(24)))},
			verdicts: onePass, protos: counts(bpf.ProtoIPv4, bpf.ProtoOther),
			check: oneFlow(Flow{Src: srcA, Dst: dst4, Proto: 47, Packets: 1, Bytes: 60}),
		},
		{
			name:     "ipv6 tcp",
			sends:    []send{pass(tcp6(src6A, syn|ack))},
			verdicts: onePass, protos: ip6tcp,
			check: oneFlow(Flow{Src: src6A, Dst: dst6, Sport: 40000, Dport: 80, Proto: 6, Packets: 1, Bytes: 74, TCPFlags: syn | ack}),
		},
		{
			name:     "ipv6 icmpv6",
			sends:    []send{pass(frame(eth(), ip6(src6A, dst6), icmp6Echo(), payload(8)))},
			verdicts: onePass, protos: counts(bpf.ProtoIPv6, bpf.ProtoICMPv6),
			samples: []wantSample{smp(0, bpf.SampleICMP)},
		},
		{
			name:     "ipv4 protocol 58 is not icmpv6",
			sends:    []send{pass(frame(eth(), withProto(ip4(srcA, dst4), layers.IPProtocolICMPv6), payload(8)))},
			verdicts: onePass, protos: counts(bpf.ProtoIPv4, bpf.ProtoOther),
		},
		{
			name:     "ipv6 next header 1 is not icmp",
			sends:    []send{pass(frame(eth(), ip6(src6A, dst6), icmp4Echo()))},
			verdicts: onePass, protos: counts(bpf.ProtoIPv6, bpf.ProtoOther),
		},
		{
			name:     "ipv6 no next header",
			sends:    []send{pass(frame(eth(), &layers.IPv6{Version: 6, HopLimit: 1, NextHeader: protoNoNext, SrcIP: src6A.AsSlice(), DstIP: dst6.AsSlice()}))},
			verdicts: onePass, protos: counts(bpf.ProtoIPv6, bpf.ProtoOther),
		},

		// VLAN tags: counted, and the flow key and samples carry the outer id.
		{
			name:     "one 802.1q tag",
			sends:    []send{pass(frame(eth(), dot1q(100), ip4(srcA, dst4), tcpPkt(ack)))},
			verdicts: onePass, protos: counts(bpf.ProtoVLAN, bpf.ProtoIPv4, bpf.ProtoTCP),
			check: flowVLAN(100),
		},
		{
			name:     "802.1ad outer and 802.1q inner tag",
			cfg:      func(c *Config) { c.FlowSamples = 1 },
			sends:    []send{pass(frame(eth(), dot1ad(300), dot1q(100), ip6(src6A, dst6), udp(1, 2)))},
			verdicts: onePass, protos: counts(bpf.ProtoVLAN, bpf.ProtoIPv6, bpf.ProtoUDP),
			samples: []wantSample{{send: 0, flags: bpf.SampleNewFlow, vlan: 300}},
			check:   flowVLAN(300),
		},
		{
			name:     "two 802.1q tags",
			sends:    []send{pass(frame(eth(), dot1q(7), dot1q(4094), ip4(srcA, dst4), tcpPkt(ack)))},
			verdicts: onePass, protos: counts(bpf.ProtoVLAN, bpf.ProtoIPv4, bpf.ProtoTCP),
			check: flowVLAN(7),
		},
		{
			name:     "three tags (Suricata keeps 3): parsed, the outer one keys the flow",
			sends:    []send{pass(frame(eth(), dot1ad(1), dot1q(2), dot1q(3), ip4(srcA, dst4), tcpPkt(ack)))},
			verdicts: onePass, protos: counts(bpf.ProtoVLAN, bpf.ProtoIPv4, bpf.ProtoTCP),
			check: oneFlow(Flow{Src: srcA, Dst: dst4, Sport: 40000, Dport: 80, Proto: 6, VLAN: 1, Packets: 1, Bytes: 66, TCPFlags: ack}),
		},
		{
			name:     "four tags: not parsed past three",
			sends:    []send{pass(frame(eth(), dot1ad(1), dot1q(2), dot1q(3), dot1q(4), ip4(srcA, dst4), tcpPkt(ack)))},
			verdicts: map[vr]uint64{passNotIP: 1}, protos: counts(bpf.ProtoVLAN, bpf.ProtoOther),
			check: noFlows,
		},

		// IPv4 options and fragments.
		{
			name:     "ipv4 options ihl 6",
			sends:    []send{pass(frame(eth(), ip4Opts(ip4(srcA, dst4), false), tcpPkt(syn)))},
			verdicts: onePass, protos: ip4tcp,
			check: oneFlow(Flow{Src: srcA, Dst: dst4, Sport: 40000, Dport: 80, Proto: 6, Packets: 1, Bytes: 60, TCPFlags: syn}),
		},
		{
			name:     "ipv4 options ihl 15",
			sends:    []send{pass(ip4Opt)},
			verdicts: onePass, protos: ip4tcp,
			check: oneFlow(Flow{Src: srcA, Dst: dst4, Sport: 40000, Dport: 80, Proto: 6, Packets: 1, Bytes: 94, TCPFlags: syn}),
		},
		{
			name:     "ipv4 first fragment",
			sends:    []send{pass(frame(eth(), ip4Frag(ip4(srcA, dst4), true, 0), udp(5000, 53), payload(64)))},
			verdicts: onePass, protos: counts(bpf.ProtoIPv4, bpf.ProtoFragment, bpf.ProtoUDP),
			samples: []wantSample{smp(0, bpf.SampleFragment)},
			check:   oneFlow(Flow{Src: srcA, Dst: dst4, Sport: 5000, Dport: 53, Proto: 17, Packets: 1, Bytes: 106}),
		},
		{
			name:     "ipv4 later fragment",
			sends:    []send{pass(frame(eth(), withProto(ip4Frag(ip4(srcA, dst4), false, 9), layers.IPProtocolUDP), payload(64)))},
			verdicts: onePass, protos: counts(bpf.ProtoIPv4, bpf.ProtoFragment),
			samples: []wantSample{smp(0, bpf.SampleFragment)},
			check:   noFlows,
		},

		// IPv6 extension headers, one of each kind.
		{
			name:     "ipv6 hop-by-hop",
			sends:    []send{pass(frame(eth(), ip6(src6A, dst6), hopByHop(), udp(1, 2)))},
			verdicts: onePass, protos: ip6udp,
		},
		{
			name:     "ipv6 routing",
			sends:    []send{pass(frame(eth(), ip6(src6A, dst6), routing(), tcpPkt(ack)))},
			verdicts: onePass, protos: ip6tcp,
		},
		{
			name:     "ipv6 destination options",
			sends:    []send{pass(frame(eth(), ip6(src6A, dst6), destOpts(), udp(1, 2)))},
			verdicts: onePass, protos: ip6udp,
		},
		{
			name:     "ipv6 first fragment",
			sends:    []send{pass(frame(eth(), ip6(src6A, dst6), frag6(true, 0), udp(1, 2), payload(32)))},
			verdicts: onePass, protos: counts(bpf.ProtoIPv6, bpf.ProtoFragment, bpf.ProtoUDP),
			samples: []wantSample{smp(0, bpf.SampleFragment)},
			check:   oneFlow(Flow{Src: src6A, Dst: dst6, Sport: 1, Dport: 2, Proto: 17, Packets: 1, Bytes: 102}),
		},
		{
			name:     "ipv6 later fragment",
			sends:    []send{pass(frame(eth(), ip6(src6A, dst6), withNext(frag6(false, 4), layers.IPProtocolUDP), payload(32)))},
			verdicts: onePass, protos: counts(bpf.ProtoIPv6, bpf.ProtoFragment),
			samples: []wantSample{smp(0, bpf.SampleFragment)},
			check:   noFlows,
		},
		{
			name:     "ipv6 atomic fragment",
			sends:    []send{pass(frame(eth(), ip6(src6A, dst6), frag6(false, 0), tcpPkt(ack)))},
			verdicts: onePass, protos: ip6tcp,
		},
		{
			name:     "ipv6 authentication header",
			sends:    []send{pass(frame(eth(), ip6(src6A, dst6), ah(), tcpPkt(ack)))},
			verdicts: onePass, protos: ip6tcp,
		},
		{
			name:     "ipv6 mobility header",
			sends:    []send{pass(frame(eth(), ip6(src6A, dst6), &ext6Raw{proto: protoMobility, next: protoNoNext, size: 16}))},
			verdicts: onePass, protos: counts(bpf.ProtoIPv6, bpf.ProtoOther),
			check: oneFlow(Flow{Src: src6A, Dst: dst6, Proto: 59, Packets: 1, Bytes: 70}),
		},
		{
			name:     "ipv6 hip and shim6 headers",
			sends:    []send{pass(frame(eth(), ip6(src6A, dst6), &ext6Raw{proto: protoHIP, size: 16}, &ext6Raw{proto: protoShim6, size: 8}, udp(1, 2)))},
			verdicts: onePass, protos: ip6udp,
		},
		{
			name:     "ipv6 chain of 6 then tcp",
			sends:    []send{pass(chain(6, tcpPkt(ack)))},
			verdicts: onePass, protos: ip6tcp,
			check: oneFlow(Flow{Src: src6A, Dst: dst6, Sport: 40000, Dport: 80, Proto: 6, Packets: 1, Bytes: 14 + 40 + 8 + 8 + 8 + 8 + 24 + 8 + 20, TCPFlags: ack}),
		},
		{
			name:     "ipv6 chain of 6 then udp",
			sends:    []send{pass(chain(6, udp(1, 2)))},
			verdicts: onePass, protos: ip6udp,
		},
		{
			name:     "ipv6 chain of 7: other",
			sends:    []send{pass(chain(7, tcpPkt(ack)))},
			verdicts: onePass, protos: counts(bpf.ProtoIPv6, bpf.ProtoOther),
		},

		// Truncation at every layer: counted malformed, passed.
		{
			name:     "14-byte frame announcing a vlan tag",
			sends:    []send{pass(cut(frame(eth(), dot1q(5), ip4(srcA, dst4), tcpPkt(ack)), ethLen))},
			verdicts: oneMalformed, protos: counts(bpf.ProtoMalformed),
		},
		{
			name:     "vlan tag cut",
			sends:    []send{pass(cut(frame(eth(), dot1q(5), ip4(srcA, dst4), tcpPkt(ack)), ethLen+2))},
			verdicts: oneMalformed, protos: counts(bpf.ProtoMalformed),
		},
		{
			name:     "second vlan tag cut",
			sends:    []send{pass(cut(frame(eth(), dot1ad(5), dot1q(6), ip4(srcA, dst4), tcpPkt(ack)), ethLen+vlanLen+3))},
			verdicts: oneMalformed, protos: counts(bpf.ProtoVLAN, bpf.ProtoMalformed),
		},
		{
			name:     "ipv4 header cut",
			sends:    []send{pass(cut(tcp4(srcA, ack), ethLen+ip4Len-1))},
			verdicts: oneMalformed, protos: counts(bpf.ProtoMalformed),
		},
		{
			name:     "ipv4 header cut after a vlan tag",
			sends:    []send{pass(cut(frame(eth(), dot1q(5), ip4(srcA, dst4), tcpPkt(ack)), ethLen+vlanLen+10))},
			verdicts: oneMalformed, protos: counts(bpf.ProtoVLAN, bpf.ProtoMalformed),
		},
		{
			name:     "ipv4 options cut",
			sends:    []send{pass(cut(ip4Opt, ethLen+ip4Len+20))},
			verdicts: oneMalformed, protos: counts(bpf.ProtoMalformed),
		},
		{
			name:     "ipv4 ihl below 5",
			sends:    []send{pass(setByte(tcp4(srcA, ack), ethLen, 0x44))},
			verdicts: oneMalformed, protos: counts(bpf.ProtoMalformed),
		},
		{
			name:     "ipv4 ethertype with version 6",
			sends:    []send{pass(setByte(tcp4(srcA, ack), ethLen, 0x65))},
			verdicts: oneMalformed, protos: counts(bpf.ProtoMalformed),
		},
		{
			name:     "ipv6 header cut",
			sends:    []send{pass(cut(tcp6(src6A, ack), ethLen+ip6Len-1))},
			verdicts: oneMalformed, protos: counts(bpf.ProtoMalformed),
		},
		{
			name:     "ipv6 extension header cut",
			sends:    []send{pass(cut(frame(eth(), ip6(src6A, dst6), hopByHop(), udp(1, 2)), ethLen+ip6Len+1))},
			verdicts: oneMalformed, protos: counts(bpf.ProtoIPv6, bpf.ProtoMalformed),
			samples: []wantSample{malformedSmp(0, bpf.SampleAnomaly)},
		},
		{
			name:     "ipv6 extension header cut inside its length",
			sends:    []send{pass(cut(frame(eth(), ip6(src6A, dst6), &ext6Raw{proto: protoMobility, next: protoNoNext, size: 16}), ethLen+ip6Len+12))},
			verdicts: oneMalformed, protos: counts(bpf.ProtoIPv6, bpf.ProtoMalformed),
			samples: []wantSample{malformedSmp(0, bpf.SampleAnomaly)},
		},
		{
			name:     "ipv6 fragment header cut",
			sends:    []send{pass(cut(frame(eth(), ip6(src6A, dst6), frag6(true, 0), udp(1, 2)), ethLen+ip6Len+7))},
			verdicts: oneMalformed, protos: counts(bpf.ProtoIPv6, bpf.ProtoMalformed),
			samples: []wantSample{malformedSmp(0, bpf.SampleAnomaly)},
		},
		{
			name:     "tcp header cut",
			sends:    []send{pass(cut(tcp4(srcA, ack), ethLen+ip4Len+19))},
			verdicts: oneMalformed, protos: counts(bpf.ProtoIPv4, bpf.ProtoMalformed),
			check:   noFlows,
			samples: []wantSample{malformedSmp(0, bpf.SampleAnomaly)},
		},
		{
			name:     "tcp data offset below 5",
			sends:    []send{pass(setByte(tcp4(srcA, ack), ethLen+ip4Len+12, 0x40))},
			verdicts: oneMalformed, protos: counts(bpf.ProtoIPv4, bpf.ProtoMalformed),
			samples: []wantSample{malformedSmp(0, bpf.SampleAnomaly)},
		},
		{
			name:     "tcp header cut after an ipv6 chain",
			sends:    []send{pass(cut(chain(6, tcpPkt(ack)), ethLen+ip6Len+64+10))},
			verdicts: oneMalformed, protos: counts(bpf.ProtoIPv6, bpf.ProtoMalformed),
			samples: []wantSample{malformedSmp(0, bpf.SampleAnomaly)},
		},
		{
			name:     "udp header cut",
			sends:    []send{pass(cut(frame(eth(), ip6(src6A, dst6), udp(1, 2)), ethLen+ip6Len+7))},
			verdicts: oneMalformed, protos: counts(bpf.ProtoIPv6, bpf.ProtoMalformed),
			samples: []wantSample{malformedSmp(0, bpf.SampleAnomaly)},
		},
		{
			name:     "icmp header cut",
			sends:    []send{pass(cut(frame(eth(), ip4(srcA, dst4), icmp4Echo()), ethLen+ip4Len+7))},
			verdicts: oneMalformed, protos: counts(bpf.ProtoIPv4, bpf.ProtoMalformed),
			samples: []wantSample{malformedSmp(0, bpf.SampleAnomaly)},
		},
		{
			name:     "icmpv6 header cut",
			sends:    []send{pass(cut(frame(eth(), ip6(src6A, dst6), icmp6Echo(), payload(8)), ethLen+ip6Len+7))},
			verdicts: oneMalformed, protos: counts(bpf.ProtoIPv6, bpf.ProtoMalformed),
			samples: []wantSample{malformedSmp(0, bpf.SampleAnomaly)},
		},
		{
			name:     "first fragment with its udp header cut",
			sends:    []send{pass(cut(frame(eth(), ip4Frag(ip4(srcA, dst4), true, 0), udp(1, 2), payload(32)), ethLen+ip4Len+4))},
			verdicts: oneMalformed, protos: counts(bpf.ProtoIPv4, bpf.ProtoFragment, bpf.ProtoMalformed),
			samples: []wantSample{malformedSmp(0, bpf.SampleAnomaly|bpf.SampleFragment)},
		},

		// Not IP.
		{
			// ARP is sampled (sweeps are only visible there), not tracked.
			name:     "arp",
			sends:    []send{pass(frame(eth(), arp()))},
			verdicts: map[vr]uint64{passNotIP: 1}, protos: counts(bpf.ProtoOther),
			samples: []wantSample{{send: 0, flags: bpf.SampleNonIP, reason: bpf.ReasonNotIP}},
			check:   noFlows,
		},
		{
			name:     "arp in a vlan",
			sends:    []send{pass(frame(eth(), dot1q(9), arp()))},
			verdicts: map[vr]uint64{passNotIP: 1}, protos: counts(bpf.ProtoVLAN, bpf.ProtoOther),
			samples: []wantSample{{send: 0, flags: bpf.SampleNonIP, reason: bpf.ReasonNotIP, vlan: 9}},
		},
		{
			// MPLS and NSH are not IP here; userspace decapsulates them.
			name:     "mpls and nsh frames are sampled as non-ip",
			sends:    []send{pass(etherType(0x8847, 64)), pass(etherType(0x894f, 64)), pass(etherType(0x88cc, 64))},
			verdicts: map[vr]uint64{passNotIP: 3}, protos: scaled(counts(bpf.ProtoOther), 3),
			samples: []wantSample{{send: 0, flags: bpf.SampleNonIP, reason: bpf.ReasonNotIP}, {send: 1, flags: bpf.SampleNonIP, reason: bpf.ReasonNotIP}},
			check:   noFlows,
		},
		{
			name:     "bare ethernet header",
			sends:    []send{pass(cut(frame(eth(), arp()), ethLen))},
			verdicts: map[vr]uint64{passNotIP: 1}, protos: counts(bpf.ProtoOther),
		},
	}
}

// etherType is an Ethernet frame of type t with n bytes of payload (LLDP,
// MPLS, NSH, ...: what the program does not parse).
func etherType(t uint16, n int) []byte {
	f := frame(eth(), payload(n))
	binary.BigEndian.PutUint16(f[12:14], t)
	return f
}

// counts makes a protocol counter map with one packet in each of ps.
func counts(ps ...int) map[int]uint64 {
	m := map[int]uint64{}
	for _, p := range ps {
		m[p]++
	}
	return m
}

// scaled multiplies every count of m by n.
func scaled[K comparable](m map[K]uint64, n uint64) map[K]uint64 {
	out := map[K]uint64{}
	for k, v := range m {
		out[k] = v * n
	}
	return out
}

// withProto sets an IPv4 protocol, for a header followed by raw bytes.
func withProto(ip *layers.IPv4, p layers.IPProtocol) *layers.IPv4 { ip.Protocol = p; return ip }

// withNext sets a fragment header's next header, for one followed by raw bytes.
func withNext(f *layers.IPv6Fragment, p layers.IPProtocol) *layers.IPv6Fragment {
	f.NextHeader = p
	return f
}

// setByte returns a copy of b with b[i] = v.
func setByte(b []byte, i int, v byte) []byte {
	b = bytes.Clone(b)
	b[i] = v
	return b
}

func TestXDPLists(t *testing.T) {
	testenv.RequireBPF(t)
	runXDPCases(t, listCases())
}

// listCases: allow and block lists.
func listCases() []xdpCase {
	other4 := netip.MustParseAddr("203.0.113.5")
	other6 := netip.MustParseAddr("2001:db8:2::1")
	ip4tcp := counts(bpf.ProtoIPv4, bpf.ProtoTCP)
	ip6tcp := counts(bpf.ProtoIPv6, bpf.ProtoTCP)

	return []xdpCase{
		{
			name:     "blocked source dropped",
			setup:    block("198.51.100.7/32", 0),
			sends:    []send{{pkt: tcp4(srcA, syn), times: 3, want: actDrop}},
			verdicts: map[vr]uint64{dropBlock: 3}, protos: scaled(ip4tcp, 3),
			check: checks(blockHits("198.51.100.7/32", 3), noFlows),
		},
		{
			name:     "other source passes",
			setup:    block("198.51.100.7/32", 0),
			sends:    []send{pass(tcp4(srcB, syn))},
			verdicts: map[vr]uint64{passNone: 1}, protos: ip4tcp,
			check: blockHits("198.51.100.7/32", 0),
		},
		{
			name:     "a blocked destination does not drop",
			setup:    block("192.0.2.1/32", 0),
			sends:    []send{pass(tcp4(srcA, syn))},
			verdicts: map[vr]uint64{passNone: 1}, protos: ip4tcp,
		},
		{
			name:     "ipv4 /24 blocks hosts inside it",
			setup:    block("198.51.100.0/24", 0),
			sends:    []send{drop(tcp4(srcA, syn)), drop(udp4(srcB)), pass(tcp4(other4, syn))},
			verdicts: map[vr]uint64{dropBlock: 2, passNone: 1},
			protos:   map[int]uint64{bpf.ProtoIPv4: 3, bpf.ProtoTCP: 2, bpf.ProtoUDP: 1},
			check:    blockHits("198.51.100.0/24", 2),
		},
		{
			name:     "ipv6 /48 blocks hosts inside it",
			setup:    block("2001:db8:1::/48", 0),
			sends:    []send{drop(tcp6(src6A, syn)), drop(tcp6(src6B, ack)), pass(tcp6(other6, syn))},
			verdicts: map[vr]uint64{dropBlock: 2, passNone: 1}, protos: scaled(ip6tcp, 3),
			check: blockHits("2001:db8:1::/48", 2),
		},
		{
			name:     "ipv6 host block",
			setup:    block("2001:db8:1:1::7/128", 0),
			sends:    []send{drop(tcp6(src6A, syn)), pass(tcp6(src6A2, syn))},
			verdicts: map[vr]uint64{dropBlock: 1, passNone: 1}, protos: scaled(ip6tcp, 2),
			check: blockHits("2001:db8:1:1::7/128", 1),
		},
		{
			name:     "allow wins over block",
			setup:    setups(block("198.51.100.7/32", 0), allow("198.51.100.7/32")),
			sends:    []send{{pkt: tcp4(srcA, syn), times: 2, want: actPass}},
			verdicts: map[vr]uint64{passAllow: 2}, protos: scaled(ip4tcp, 2),
			check: checks(allowHits("198.51.100.7/32", 2), blockHits("198.51.100.7/32", 0), noFlows),
		},
		{
			name:     "ipv6 allowed prefix wins over host block",
			setup:    setups(block("2001:db8:1:1::7/128", 0), allow("2001:db8:1::/48")),
			sends:    []send{pass(tcp6(src6A, syn))},
			verdicts: map[vr]uint64{passAllow: 1}, protos: ip6tcp,
			check: checks(allowHits("2001:db8:1::/48", 1), blockHits("2001:db8:1:1::7/128", 0)),
		},
		{
			name:     "allowed source skips rate limits",
			cfg:      func(c *Config) { c.SYN = Bucket{Rate: 1, Burst: 1} },
			setup:    allow("198.51.100.0/24"),
			sends:    []send{{pkt: tcp4(srcA, syn), times: 5, want: actPass}},
			verdicts: map[vr]uint64{passAllow: 5}, protos: scaled(ip4tcp, 5),
		},
		{
			name:     "ban with a ttl drops until it expires",
			setup:    block("198.51.100.7/32", time.Hour),
			sends:    []send{drop(tcp4(srcA, syn))},
			verdicts: map[vr]uint64{dropBlock: 1}, protos: ip4tcp,
		},
		{
			name: "expired ban passes",
			setup: func(t *testing.T, d *Datapath) {
				block("198.51.100.7/32", time.Millisecond)(t, d)
				time.Sleep(25 * time.Millisecond) // the program clock is coarse: a tick (<= 10 ms) behind
			},
			sends:    []send{pass(tcp4(srcA, syn))},
			verdicts: map[vr]uint64{passNone: 1}, protos: ip4tcp,
			check: blockHits("198.51.100.7/32", 0),
		},
		{
			name: "ban that expired a moment ago passes",
			setup: func(t *testing.T, d *Datapath) {
				now := KernelNow()
				e := bpf.XdpidsBlockEntry{CreatedNs: now - 2, ExpiresNs: now - 1}
				k := bpf.XdpidsLpmV6Key{Prefixlen: 128, Addr: src6A.As16()}
				if err := d.Maps().BlockV6.Update(k, &e, ebpf.UpdateAny); err != nil {
					t.Fatal(err)
				}
			},
			sends:    []send{pass(tcp6(src6A, syn))},
			verdicts: map[vr]uint64{passNone: 1}, protos: ip6tcp,
		},
		{
			name:     "blocked source's later ipv4 fragment dropped",
			setup:    block("198.51.100.7/32", 0),
			sends:    []send{drop(frame(eth(), withProto(ip4Frag(ip4(srcA, dst4), true, 100), layers.IPProtocolUDP), payload(64)))},
			verdicts: map[vr]uint64{dropBlock: 1}, protos: counts(bpf.ProtoIPv4, bpf.ProtoFragment),
		},
		{
			name:     "blocked source's later ipv6 fragment dropped",
			setup:    block("2001:db8:1:1::/64", 0),
			sends:    []send{drop(frame(eth(), ip6(src6A, dst6), withNext(frag6(true, 4), layers.IPProtocolTCP), payload(64)))},
			verdicts: map[vr]uint64{dropBlock: 1}, protos: counts(bpf.ProtoIPv6, bpf.ProtoFragment),
		},
		{
			name:     "blocked source's cut tcp header dropped",
			setup:    block("198.51.100.7/32", 0),
			sends:    []send{drop(cut(tcp4(srcA, syn), ethLen+ip4Len+10))},
			verdicts: map[vr]uint64{dropBlock: 1}, protos: counts(bpf.ProtoIPv4, bpf.ProtoMalformed),
		},
	}
}

// limitState reads the rate-limit bucket of an IPv4 source.
func limitDropped(src netip.Addr, kind uint8, want uint64) func(*testing.T, *Datapath) {
	return func(t *testing.T, d *Datapath) {
		t.Helper()
		k := bpf.XdpidsLimitKey{Family: 4, Kind: kind}
		a := src.As4()
		copy(k.Addr[:], a[:])
		var st bpf.XdpidsLimitState
		if err := d.Maps().Limits.Lookup(&k, &st); err != nil {
			t.Fatalf("bucket of %s: %v", src, err)
		}
		if st.Dropped != want {
			t.Errorf("bucket of %s: dropped %d, want %d", src, st.Dropped, want)
		}
	}
}

func TestXDPRateLimit(t *testing.T) {
	testenv.RequireBPF(t)
	runXDPCases(t, rateLimitCases())
}

// rateLimitCases: the per-source token buckets.
func rateLimitCases() []xdpCase {
	ip4tcp := counts(bpf.ProtoIPv4, bpf.ProtoTCP)
	ip6tcp := counts(bpf.ProtoIPv6, bpf.ProtoTCP)
	ip4udp := counts(bpf.ProtoIPv4, bpf.ProtoUDP)
	onlyRateSamples := func(c *Config) { c.SampleMask = bpf.SampleRateLimit }
	rlSample := func(send int, reason uint8) wantSample {
		return wantSample{send: send, flags: bpf.SampleRateLimit, verdict: bpf.VerdictDrop, reason: reason}
	}
	icmp4 := func(src netip.Addr) []byte { return frame(eth(), ip4(src, dst4), icmp4Echo(), payload(8)) }

	return []xdpCase{
		{
			name: "syn bucket: burst passes, then drops",
			cfg:  func(c *Config) { onlyRateSamples(c); c.SYN = Bucket{Rate: 1, Burst: 3} },
			sends: []send{
				{pkt: tcp4(srcA, syn), times: 3, want: actPass},
				{pkt: tcp4(srcA, syn), times: 2, want: actDrop},
				pass(tcp4(srcB, syn)),
			},
			verdicts: map[vr]uint64{passNone: 4, dropSYN: 2}, protos: scaled(ip4tcp, 6),
			samples: []wantSample{rlSample(1, bpf.ReasonRateSYN)},
			check:   limitDropped(srcA, bpf.LimitSYN, 2),
		},
		{
			name:     "syn+ack is not syn-limited",
			cfg:      func(c *Config) { c.SYN = Bucket{Rate: 1, Burst: 1} },
			sends:    []send{{pkt: tcp4(srcA, syn|ack), times: 4, want: actPass}},
			verdicts: map[vr]uint64{passNone: 4}, protos: scaled(ip4tcp, 4),
		},
		{
			name:     "empty syn bucket passes established traffic",
			cfg:      func(c *Config) { onlyRateSamples(c); c.SYN = Bucket{Rate: 1, Burst: 1} },
			sends:    []send{pass(tcp4(srcA, syn)), drop(tcp4(srcA, syn)), pass(tcp4(srcA, ack)), pass(tcp4(srcA, psh|ack))},
			verdicts: map[vr]uint64{passNone: 3, dropSYN: 1}, protos: scaled(ip4tcp, 4),
			samples: []wantSample{rlSample(1, bpf.ReasonRateSYN)},
		},
		{
			name: "udp bucket",
			cfg:  func(c *Config) { onlyRateSamples(c); c.UDP = Bucket{Rate: 1, Burst: 2} },
			sends: []send{
				{pkt: udp4(srcA), times: 2, want: actPass},
				drop(udp4(srcA)),
				pass(udp4(srcB)),
			},
			verdicts: map[vr]uint64{passNone: 3, dropUDP: 1}, protos: scaled(ip4udp, 4),
			samples: []wantSample{rlSample(1, bpf.ReasonRateUDP)},
			check:   limitDropped(srcA, bpf.LimitUDP, 1),
		},
		{
			name: "icmp bucket",
			cfg:  func(c *Config) { onlyRateSamples(c); c.ICMP = Bucket{Rate: 1, Burst: 2} },
			sends: []send{
				{pkt: icmp4(srcA), times: 2, want: actPass},
				{pkt: icmp4(srcA), times: 2, want: actDrop},
				pass(icmp4(srcB)),
			},
			verdicts: map[vr]uint64{passNone: 3, dropICMP: 2}, protos: scaled(counts(bpf.ProtoIPv4, bpf.ProtoICMP), 5),
			samples: []wantSample{rlSample(1, bpf.ReasonRateICMP)},
		},
		{
			name: "icmpv6 shares the icmp bucket kind",
			cfg:  func(c *Config) { onlyRateSamples(c); c.ICMP = Bucket{Rate: 1, Burst: 1} },
			sends: []send{
				pass(frame(eth(), ip6(src6A, dst6), icmp6Echo(), payload(8))),
				drop(frame(eth(), ip6(src6A, dst6), icmp6Echo(), payload(8))),
			},
			verdicts: map[vr]uint64{passNone: 1, dropICMP: 1}, protos: scaled(counts(bpf.ProtoIPv6, bpf.ProtoICMPv6), 2),
			samples: []wantSample{rlSample(1, bpf.ReasonRateICMP)},
		},
		{
			name: "ipv6 sources share their /64",
			cfg:  func(c *Config) { onlyRateSamples(c); c.SYN = Bucket{Rate: 1, Burst: 2} },
			sends: []send{
				{pkt: tcp6(src6A, syn), times: 2, want: actPass},
				drop(tcp6(src6A2, syn)),
				pass(tcp6(src6B, syn)),
			},
			verdicts: map[vr]uint64{passNone: 3, dropSYN: 1}, protos: scaled(ip6tcp, 4),
			samples: []wantSample{rlSample(1, bpf.ReasonRateSYN)},
		},
		{
			name: "buckets are per kind",
			cfg: func(c *Config) {
				onlyRateSamples(c)
				c.SYN, c.UDP = Bucket{Rate: 1, Burst: 1}, Bucket{Rate: 1, Burst: 1}
			},
			sends:    []send{pass(tcp4(srcA, syn)), drop(tcp4(srcA, syn)), pass(udp4(srcA)), drop(udp4(srcA))},
			verdicts: map[vr]uint64{passNone: 2, dropSYN: 1, dropUDP: 1},
			protos:   map[int]uint64{bpf.ProtoIPv4: 4, bpf.ProtoTCP: 2, bpf.ProtoUDP: 2},
			samples:  []wantSample{rlSample(1, bpf.ReasonRateSYN), rlSample(3, bpf.ReasonRateUDP)},
		},
		{
			name: "one rate-limit sample per source and interval",
			cfg: func(c *Config) {
				onlyRateSamples(c)
				c.SYN, c.RateLimitSampleEach = Bucket{Rate: 1, Burst: 1}, time.Hour
			},
			sends: []send{
				pass(tcp4(srcA, syn)), {pkt: tcp4(srcA, syn), times: 3, want: actDrop},
				pass(tcp4(srcB, syn)), {pkt: tcp4(srcB, syn), times: 2, want: actDrop},
			},
			verdicts: map[vr]uint64{passNone: 2, dropSYN: 5}, protos: scaled(ip4tcp, 7),
			samples: []wantSample{rlSample(1, bpf.ReasonRateSYN), rlSample(3, bpf.ReasonRateSYN)},
		},
		{
			name: "interval 0 samples every rate-limit drop",
			cfg: func(c *Config) {
				onlyRateSamples(c)
				c.UDP, c.RateLimitSampleEach = Bucket{Rate: 1, Burst: 1}, 0
			},
			sends:    []send{pass(udp4(srcA)), {pkt: udp4(srcA), times: 3, want: actDrop}},
			verdicts: map[vr]uint64{passNone: 1, dropUDP: 3}, protos: scaled(ip4udp, 4),
			samples: []wantSample{rlSample(1, bpf.ReasonRateUDP), rlSample(1, bpf.ReasonRateUDP), rlSample(1, bpf.ReasonRateUDP)},
		},
	}
}

func TestXDPMonitor(t *testing.T) {
	testenv.RequireBPF(t)
	runXDPCases(t, monitorCases())
}

// monitorCases: monitor mode never drops.
func monitorCases() []xdpCase {
	ip4tcp := counts(bpf.ProtoIPv4, bpf.ProtoTCP)
	monitor := func(c *Config) { c.Monitor = true }

	return []xdpCase{
		{
			name:     "block list would drop",
			cfg:      monitor,
			setup:    block("198.51.100.0/24", 0),
			sends:    []send{{pkt: tcp4(srcA, syn), times: 2, want: actPass}, pass(tcp4(netip.MustParseAddr("203.0.113.9"), syn))},
			verdicts: map[vr]uint64{wouldBlock: 2, passNone: 1}, protos: scaled(ip4tcp, 3),
			check: blockHits("198.51.100.0/24", 2),
		},
		{
			name: "syn limit would drop",
			cfg: func(c *Config) {
				monitor(c)
				c.SYN, c.SampleMask = Bucket{Rate: 1, Burst: 1}, bpf.SampleRateLimit
			},
			sends:    []send{pass(tcp4(srcA, syn)), {pkt: tcp4(srcA, syn), times: 2, want: actPass}},
			verdicts: map[vr]uint64{passNone: 1, wouldSYN: 2}, protos: scaled(ip4tcp, 3),
			samples: []wantSample{{send: 1, flags: bpf.SampleRateLimit, verdict: bpf.VerdictWouldDrop, reason: bpf.ReasonRateSYN}},
			check:   limitDropped(srcA, bpf.LimitSYN, 2),
		},
		{
			name: "udp limit would drop",
			cfg: func(c *Config) {
				monitor(c)
				c.UDP, c.SampleMask = Bucket{Rate: 1, Burst: 1}, 0
			},
			sends:    []send{{pkt: udp4(srcA), times: 3, want: actPass}},
			verdicts: map[vr]uint64{passNone: 1, {bpf.VerdictWouldDrop, bpf.ReasonRateUDP}: 2},
			protos:   scaled(counts(bpf.ProtoIPv4, bpf.ProtoUDP), 3),
		},
	}
}

// otherIfindex is the index of a network device other than lo, for a
// context's ingress_ifindex (the device must exist); lo when there is none.
func otherIfindex() uint32 {
	ifs, _ := net.Interfaces()
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagLoopback == 0 && ifi.Index < bpf.MaxIfindex {
			return uint32(ifi.Index)
		}
	}
	return 1
}

func TestXDPSamples(t *testing.T) {
	testenv.RequireBPF(t)
	runXDPCases(t, sampleCases())
}

// sampleCases: what is sampled, with which header.
func sampleCases() []xdpCase {
	ip4tcp := counts(bpf.ProtoIPv4, bpf.ProtoTCP)
	ip4udp := counts(bpf.ProtoIPv4, bpf.ProtoUDP)
	flowSamples := func(n uint32) func(*Config) { return func(c *Config) { c.FlowSamples = n } }
	anomaly := func(name string, flags uint8) xdpCase {
		return xdpCase{
			name:     "anomalous tcp flags: " + name,
			sends:    []send{pass(tcp4(srcA, flags))},
			verdicts: map[vr]uint64{passNone: 1}, protos: ip4tcp,
			samples: []wantSample{smp(0, bpf.SampleAnomaly)},
		}
	}
	ifindex := otherIfindex()
	icmp4 := frame(eth(), ip4(srcA, dst4), icmp4Echo(), payload(8))

	return []xdpCase{
		{
			name:     "first packets of a new flow",
			cfg:      flowSamples(3),
			sends:    []send{{pkt: tcp4(srcA, ack), times: 5, want: actPass}},
			verdicts: map[vr]uint64{passNone: 5}, protos: scaled(ip4tcp, 5),
			samples: []wantSample{smp(0, bpf.SampleNewFlow), smp(0, bpf.SampleNewFlow), smp(0, bpf.SampleNewFlow)},
			check: checks(
				oneFlow(Flow{Src: srcA, Dst: dst4, Sport: 40000, Dport: 80, Proto: 6, Packets: 5, Bytes: 300, TCPFlags: ack}),
				flowsNew(1)),
		},
		{
			name:     "every new flow",
			cfg:      flowSamples(1),
			sends:    []send{pass(tcp4(srcA, ack)), pass(tcp4(srcB, ack)), pass(tcp4(srcA, ack)), pass(udp4(srcA))},
			verdicts: map[vr]uint64{passNone: 4},
			protos:   map[int]uint64{bpf.ProtoIPv4: 4, bpf.ProtoTCP: 3, bpf.ProtoUDP: 1},
			samples:  []wantSample{smp(0, bpf.SampleNewFlow), smp(1, bpf.SampleNewFlow), smp(3, bpf.SampleNewFlow)},
			check:    flowsNew(3),
		},
		{
			name:     "flow table ors the tcp flags",
			sends:    []send{pass(tcp4(srcA, syn)), pass(tcp4(srcA, ack)), pass(tcp4(srcA, psh|ack))},
			verdicts: map[vr]uint64{passNone: 3}, protos: scaled(ip4tcp, 3),
			check: oneFlow(Flow{Src: srcA, Dst: dst4, Sport: 40000, Dport: 80, Proto: 6, Packets: 3, Bytes: 180, TCPFlags: syn | ack | psh}),
		},
		anomaly("null", 0),
		anomaly("syn+fin", syn|fin),
		anomaly("syn+rst", syn|rst),
		anomaly("fin without ack", fin),
		anomaly("xmas", fin|psh|urg),
		{
			name:     "fin+ack is not anomalous",
			sends:    []send{pass(tcp4(srcA, fin|ack))},
			verdicts: map[vr]uint64{passNone: 1}, protos: ip4tcp,
		},
		{
			name:     "anomalous flags over ipv6 and a new flow",
			cfg:      flowSamples(1),
			sends:    []send{pass(tcp6(src6A, fin|psh|urg))},
			verdicts: map[vr]uint64{passNone: 1}, protos: counts(bpf.ProtoIPv6, bpf.ProtoTCP),
			samples: []wantSample{smp(0, bpf.SampleNewFlow|bpf.SampleAnomaly)},
		},
		{
			name: "fragments",
			cfg:  flowSamples(1),
			sends: []send{
				pass(frame(eth(), ip4Frag(ip4(srcA, dst4), true, 0), udp(5000, 53), payload(64))),
				pass(frame(eth(), withProto(ip4Frag(ip4(srcA, dst4), false, 9), layers.IPProtocolUDP), payload(64))),
			},
			verdicts: map[vr]uint64{passNone: 2},
			protos:   map[int]uint64{bpf.ProtoIPv4: 2, bpf.ProtoFragment: 2, bpf.ProtoUDP: 1},
			samples:  []wantSample{smp(0, bpf.SampleNewFlow|bpf.SampleFragment), smp(1, bpf.SampleFragment)},
		},
		{
			name:     "icmp, and no random flag where a reason is there",
			cfg:      func(c *Config) { c.SampleOneIn = 1 },
			sends:    []send{pass(icmp4)},
			verdicts: map[vr]uint64{passNone: 1}, protos: counts(bpf.ProtoIPv4, bpf.ProtoICMP),
			samples: []wantSample{smp(0, bpf.SampleICMP)},
		},
		{
			name:     "masked reasons are not sampled",
			cfg:      func(c *Config) { c.FlowSamples, c.SampleMask = 4, bpf.SampleAll&^(bpf.SampleICMP|bpf.SampleNewFlow) },
			sends:    []send{pass(icmp4), pass(tcp4(srcA, ack))},
			verdicts: map[vr]uint64{passNone: 2},
			protos:   map[int]uint64{bpf.ProtoIPv4: 2, bpf.ProtoICMP: 1, bpf.ProtoTCP: 1},
		},
		{
			name:     "1 in 1 random sampling",
			cfg:      func(c *Config) { c.SampleOneIn = 1 },
			sends:    []send{{pkt: udp4(srcA), times: 3, want: actPass}},
			verdicts: map[vr]uint64{passNone: 3}, protos: scaled(ip4udp, 3),
			samples: []wantSample{smp(0, bpf.SampleRandom), smp(0, bpf.SampleRandom), smp(0, bpf.SampleRandom)},
		},
		{
			name:     "blocked packets are not sampled, malformed ones are (as anomalies)",
			cfg:      func(c *Config) { c.FlowSamples, c.SampleOneIn = 4, 1 },
			setup:    block("198.51.100.8/32", 0),
			sends:    []send{drop(tcp4(srcB, 0)), pass(cut(tcp4(srcA, 0), ethLen+ip4Len+12))},
			verdicts: map[vr]uint64{dropBlock: 1, passMalformed: 1},
			protos:   map[int]uint64{bpf.ProtoIPv4: 2, bpf.ProtoTCP: 1, bpf.ProtoMalformed: 1},
			samples:  []wantSample{malformedSmp(1, bpf.SampleAnomaly)},
		},
		{
			name:     "snaplen shorter than the frame",
			cfg:      func(c *Config) { c.FlowSamples, c.Snaplen = 1, 64 },
			sends:    []send{pass(sized(300, 1))},
			verdicts: map[vr]uint64{passNone: 1}, protos: ip4udp,
			samples: []wantSample{smp(0, bpf.SampleNewFlow)},
		},
		{
			name:     "snaplen longer than the frame",
			cfg:      func(c *Config) { c.FlowSamples, c.Snaplen = 1, 1536 },
			sends:    []send{pass(sized(1514, 1)), pass(sized(60, 2))},
			verdicts: map[vr]uint64{passNone: 2}, protos: scaled(ip4udp, 2),
			samples: []wantSample{smp(0, bpf.SampleNewFlow), smp(1, bpf.SampleNewFlow)},
		},
		{
			name:     "frame longer than the largest snaplen",
			cfg:      func(c *Config) { c.FlowSamples, c.Snaplen = 1, bpf.MaxSnaplen },
			sends:    []send{pass(sized(3000, 1))},
			verdicts: map[vr]uint64{passNone: 1}, protos: ip4udp,
			samples: []wantSample{smp(0, bpf.SampleNewFlow)},
		},
		{
			name:     "ingress ifindex from the context",
			cfg:      flowSamples(1),
			ifindex:  ifindex,
			sends:    []send{pass(tcp4(srcA, ack))},
			verdicts: map[vr]uint64{passNone: 1}, protos: ip4tcp,
			samples: []wantSample{smp(0, bpf.SampleNewFlow)},
			check:   oneFlow(Flow{Src: srcA, Dst: dst4, Sport: 40000, Dport: 80, Proto: 6, Packets: 1, Bytes: 60, TCPFlags: ack, Ifindex: ifindex}),
		},
		{
			name:    "counted in the interface's stats slot",
			ifindex: ifindex,
			slot:    5,
			setup: func(t *testing.T, d *Datapath) {
				if err := d.Maps().IfSlots.Update(ifindex, uint32(5), ebpf.UpdateAny); err != nil {
					t.Fatal(err)
				}
			},
			sends:    []send{pass(tcp4(srcA, ack)), pass(frame(eth(), arp()))},
			verdicts: map[vr]uint64{passNone: 1, passNotIP: 1},
			protos:   map[int]uint64{bpf.ProtoIPv4: 1, bpf.ProtoTCP: 1, bpf.ProtoOther: 1},
			samples:  []wantSample{{send: 1, flags: bpf.SampleNonIP, reason: bpf.ReasonNotIP}},
		},
		{
			name:     "sample budget",
			cfg:      func(c *Config) { c.SampleRate, c.SampleBurst = 1, 3 },
			sends:    []send{{pkt: icmp4, times: 10, want: actPass}},
			verdicts: map[vr]uint64{passNone: 10}, protos: scaled(counts(bpf.ProtoIPv4, bpf.ProtoICMP), 10),
			samples:    []wantSample{smp(0, bpf.SampleICMP), smp(0, bpf.SampleICMP), smp(0, bpf.SampleICMP)},
			overBudget: 7,
		},
	}
}

// flowsNew checks the flows_new counter of slot 0.
func flowsNew(want uint64) func(*testing.T, *Datapath) {
	return func(t *testing.T, d *Datapath) {
		t.Helper()
		st, err := d.Maps().SlotStats(0)
		if err != nil {
			t.Fatal(err)
		}
		if st.FlowsNew != want {
			t.Errorf("flows_new %d, want %d", st.FlowsNew, want)
		}
	}
}

// TestXDPSampleRingFull fills the 32 MiB ring buffer without reading it: the
// samples that do not fit are counted lost, and none goes unaccounted.
func TestXDPSampleRingFull(t *testing.T) {
	testenv.RequireBPF(t)
	d := loadDatapath(t, Config{Snaplen: bpf.MaxSnaplen, FlowSamples: 1, SampleMask: bpf.SampleNewFlow})
	const flows = 24000 // 32 MiB / (8 + 40 + 1536) ~ 21180 records
	for i := range flows {
		if got := runXDP(t, d.Program(), sized(bpf.MaxSnaplen, uint16(1000+i)), 0); got != actPass {
			t.Fatalf("flow %d: %s", i, actionName(got))
		}
	}
	st, err := d.Maps().SlotStats(0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Total().Packets != flows || st.FlowsNew != flows {
		t.Errorf("counted %d packets, %d new flows, want %d", st.Total().Packets, st.FlowsNew, flows)
	}
	if st.SamplesLost == 0 || st.SamplesSent+st.SamplesLost != flows || st.SamplesOverBudget != 0 {
		t.Errorf("samples sent %d lost %d over budget %d: want some lost and sent + lost = %d", st.SamplesSent, st.SamplesLost, st.SamplesOverBudget, flows)
	}
	rd, err := ringbuf.NewReader(d.SamplesMap())
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	if got := readSamples(t, rd); uint64(len(got)) != st.SamplesSent {
		t.Errorf("read %d samples, counter says %d sent", len(got), st.SamplesSent)
	}
	t.Logf("ring of %d bytes held %d samples of %d bytes; %d lost", rd.BufferSize(), st.SamplesSent, bpf.MaxSnaplen, st.SamplesLost)
}

// TestXDPRateLimitAcrossCPUs floods one source's SYN bucket from two CPUs at
// once. The bucket is shared without a lock, so a lost update may let an
// odd packet through, but never a refill: a CPU whose clock reading is older
// than the bucket's last refill must not see a negative elapsed time as an
// 8-second idle (that refilled the whole bucket on every such race).
func TestXDPRateLimitAcrossCPUs(t *testing.T) {
	testenv.RequireBPF(t)
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	var cpus []int
	for cpu := 0; cpu < 1024 && len(cpus) < 2; cpu++ {
		if set.IsSet(cpu) {
			cpus = append(cpus, cpu)
		}
	}
	if len(cpus) < 2 {
		t.Skip("needs two CPUs")
	}
	const burst, repeat = 10, 200_000
	d := loadDatapath(t, Config{Snaplen: 256, RateLimitSampleEach: time.Second, SYN: Bucket{Rate: 1, Burst: burst}})
	pkt := tcp4(srcA, syn)
	start := time.Now()
	errs := make(chan error, len(cpus))
	for _, cpu := range cpus {
		go func() {
			runtime.LockOSThread() // not unlocked: the thread exits with the goroutine
			var one unix.CPUSet
			one.Set(cpu)
			if err := unix.SchedSetaffinity(0, &one); err != nil {
				errs <- err
				return
			}
			_, err := d.Program().Run(&ebpf.RunOptions{Data: pkt, Repeat: repeat})
			errs <- err
		}()
	}
	for range cpus {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	st, err := d.Maps().SlotStats(0)
	if err != nil {
		t.Fatal(err)
	}
	passed := st.Verdicts[bpf.VerdictPass][bpf.ReasonNone].Packets
	dropped := st.Verdicts[bpf.VerdictDrop][bpf.ReasonRateSYN].Packets
	if passed+dropped != st.Total().Packets || st.Total().Packets < uint64(len(cpus)*repeat) {
		t.Fatalf("passed %d + dropped %d of %d packets run", passed, dropped, len(cpus)*repeat)
	}
	// burst, the refill at 1/s, and a margin for lost updates of the tokens
	limit := burst + uint64(elapsed.Seconds()+1) + 10
	t.Logf("%d SYNs from two CPUs in %s: %d passed, %d dropped", st.Total().Packets, elapsed, passed, dropped)
	if passed > limit {
		t.Errorf("%d SYNs passed a bucket of burst %d, rate 1/s in %s; want at most %d", passed, burst, elapsed, limit)
	}
}
