package pipeline

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/internal/testrec"
	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/capture/samples"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/signature"
)

var (
	tMacA = net.HardwareAddr{2, 0, 0, 0, 0, 1}
	tMacB = net.HardwareAddr{2, 0, 0, 0, 0, 2}
)

func serialize(tb testing.TB, ls ...gopacket.SerializableLayer) []byte {
	tb.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		tb.Fatal(err)
	}
	return slices.Clone(buf.Bytes())
}

type tcpSeg struct {
	src, dst     string
	sport, dport uint16
	flags        string // S, A, P, F, R
	seq, ack     uint32
	payload      string
	vlans        []uint16
}

func (s tcpSeg) frame(tb testing.TB) []byte {
	tb.Helper()
	src, dst := netip.MustParseAddr(s.src), netip.MustParseAddr(s.dst)
	var ls []gopacket.SerializableLayer
	eth := &layers.Ethernet{SrcMAC: tMacA, DstMAC: tMacB}
	ls = append(ls, eth)
	var ipL gopacket.SerializableLayer
	var netL gopacket.NetworkLayer
	et := layers.EthernetTypeIPv4
	if src.Is4() {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		ipL, netL = ip, ip
	} else {
		et = layers.EthernetTypeIPv6
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		ipL, netL = ip, ip
	}
	prev := &eth.EthernetType
	for i, v := range s.vlans {
		tpid := layers.EthernetTypeDot1Q
		if i == 0 && len(s.vlans) > 1 {
			tpid = layers.EthernetTypeQinQ
		}
		*prev = tpid
		q := &layers.Dot1Q{VLANIdentifier: v}
		ls = append(ls, q)
		prev = &q.Type
	}
	*prev = et
	tcp := &layers.TCP{SrcPort: layers.TCPPort(s.sport), DstPort: layers.TCPPort(s.dport), Seq: s.seq, Ack: s.ack, Window: 64240}
	for _, f := range s.flags {
		switch f {
		case 'S':
			tcp.SYN = true
		case 'A':
			tcp.ACK = true
		case 'P':
			tcp.PSH = true
		case 'F':
			tcp.FIN = true
		case 'R':
			tcp.RST = true
		}
	}
	if err := tcp.SetNetworkLayerForChecksum(netL); err != nil {
		tb.Fatal(err)
	}
	ls = append(ls, ipL, tcp, gopacket.Payload(s.payload))
	return serialize(tb, ls...)
}

// rawRecord prefixes a frame with a sample header as the XDP program writes it.
func rawRecord(f []byte, tsNs, flowPkts uint64) []byte {
	return testrec.Record(f, testrec.Header{TsNs: tsNs, Flags: bpf.SampleNewFlow, FlowPackets: flowPkts})
}

func TestShardOfSymmetric(t *testing.T) {
	pairs := [][2]string{
		{"203.0.113.7", "198.51.100.10"},
		{"10.0.0.1", "10.0.0.2"},
		{"192.0.2.200", "8.8.8.8"},
		{"2001:db8::1", "2001:db8:ffff::42"},
		{"fe80::1", "2001:db8::dead:beef"},
	}
	for _, p := range pairs {
		fwd := tcpSeg{src: p[0], dst: p[1], sport: 40000, dport: 443, flags: "S"}
		rev := tcpSeg{src: p[1], dst: p[0], sport: 443, dport: 40000, flags: "SA"}
		want := shardOf(rawRecord(fwd.frame(t), 0, 0))
		if want == 0 {
			t.Errorf("%s <-> %s: shard 0 (the fallback) for an IP pair", p[0], p[1])
		}
		for name, s := range map[string]tcpSeg{
			"reverse":              rev,
			"other ports":          {src: p[0], dst: p[1], sport: 1, dport: 2, flags: "A"},
			"dot1q":                {src: p[0], dst: p[1], sport: 40000, dport: 443, flags: "S", vlans: []uint16{7}},
			"dot1q reverse":        {src: p[1], dst: p[0], sport: 443, dport: 40000, flags: "SA", vlans: []uint16{7}},
			"qinq":                 {src: p[0], dst: p[1], sport: 40000, dport: 443, flags: "S", vlans: []uint16{100, 7}},
			"qinq reverse":         {src: p[1], dst: p[0], sport: 443, dport: 40000, flags: "SA", vlans: []uint16{100, 7}},
			"reverse with payload": {src: p[1], dst: p[0], sport: 443, dport: 40000, flags: "PA", payload: "hello"},
		} {
			if got := shardOf(rawRecord(s.frame(t), 0, 0)); got != want {
				t.Errorf("%s <-> %s %s: shard %#x, want %#x", p[0], p[1], name, got, want)
			}
		}
	}
	// Host pairs spread over workers.
	seen := map[uint32]bool{}
	for i := range 64 {
		s := tcpSeg{src: netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}).String(), dst: "198.51.100.10", sport: 1, dport: 2, flags: "S"}
		seen[shardOf(rawRecord(s.frame(t), 0, 0))%4] = true
	}
	if len(seen) < 3 {
		t.Errorf("64 clients of one server use %d of 4 shards", len(seen))
	}
}

func TestShardOfFallback(t *testing.T) {
	v4 := tcpSeg{src: "203.0.113.7", dst: "198.51.100.10", sport: 1, dport: 2, flags: "S"}.frame(t)
	v6 := tcpSeg{src: "2001:db8::1", dst: "2001:db8::2", sport: 1, dport: 2, flags: "S"}.frame(t)
	arp := serialize(t,
		&layers.Ethernet{SrcMAC: tMacA, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: tMacA, SourceProtAddress: []byte{10, 0, 0, 1},
			DstHwAddress: make([]byte, 6), DstProtAddress: []byte{10, 0, 0, 2}})
	vlanOnly := slices.Clone(v4[:18])
	copy(vlanOnly[12:], []byte{0x81, 0x00, 0x00, 0x07, 0x81, 0x00}) // tags, then nothing
	tests := map[string][]byte{
		"no frame":            rawRecord(nil, 0, 0),
		"header only":         rawRecord(nil, 0, 0)[:samples.HeaderLen-1],
		"13-byte frame":       rawRecord(v4[:13], 0, 0),
		"ethernet only":       rawRecord(v4[:14], 0, 0),
		"ipv4 cut at dst":     rawRecord(v4[:14+19], 0, 0),
		"ipv6 cut at dst":     rawRecord(v6[:14+39], 0, 0),
		"arp":                 rawRecord(arp, 0, 0),
		"vlan tags, no inner": rawRecord(vlanOnly, 0, 0),
		"vlan tag cut":        rawRecord(vlanOnly[:15], 0, 0),
	}
	for name, raw := range tests {
		if got := shardOf(raw); got != 0 {
			t.Errorf("%s: shard %#x, want 0", name, got)
		}
	}
	if shardOf(rawRecord(v4[:14+20], 0, 0)) == 0 {
		t.Error("a bare IPv4 header should shard by its addresses")
	}
}

func testConfig() Config {
	c := DefaultConfig()
	c.Workers, c.QueueLen, c.FlowsPerWorker = 1, 1, 1024
	return c
}

func TestPacketsBehindWeights(t *testing.T) {
	p := New(testConfig(), nil)
	w := p.Worker(0)
	fwd := tcpSeg{src: "203.0.113.7", dst: "198.51.100.10", sport: 40000, dport: 80, flags: "A"}.frame(t)
	rev := tcpSeg{src: "198.51.100.10", dst: "203.0.113.7", sport: 80, dport: 40000, flags: "A"}.frame(t)
	other := tcpSeg{src: "203.0.113.8", dst: "198.51.100.10", sport: 40000, dport: 80, flags: "A"}.frame(t)
	steps := []struct {
		frame    []byte
		tsNs     uint64
		flowPkts uint64
		want     int
		wantSpan int64
	}{
		{fwd, 1e9, 1, 1, 0},
		{fwd, 1e9 + 1000, 2, 1, 1000},
		{fwd, 1e9 + 9000, 17, 15, 8000},
		{rev, 1e9 + 9500, 5, 1, 0},           // first report of the other direction
		{rev, 1e9 + 9600, 9, 4, 100},         // that direction's own count
		{fwd, 1e9 + 9700, 17, 1, 0},          // no progress: stands for itself
		{fwd, 1e9 + 9800, 10, 1, 0},          // count went back (flow recreated in the kernel)
		{fwd, 1e9 + 9900, 12, 2, 100},        // ... and counts from there
		{fwd, 1e9 + 10000, 0, 1, 0},          // no kernel count
		{other, 1e9 + 10000, 1000, 1, 0},     // a new flow's first report
		{other, 2e9 + 10000, 1100, 100, 1e9}, // over a second
	}
	var s samples.Sample
	for i, st := range steps {
		if err := samples.Decode(rawRecord(st.frame, st.tsNs, st.flowPkts), &s); err != nil {
			t.Fatal(err)
		}
		w.ProcessSample(&s)
		if w.in.F == nil {
			t.Fatalf("step %d: no flow", i)
		}
		if w.in.Packets != st.want || w.in.SpanNs != st.wantSpan {
			t.Errorf("step %d (flow packets %d): stands for %d over %d ns, want %d over %d", i, st.flowPkts, w.in.Packets, w.in.SpanNs, st.want, st.wantSpan)
		}
	}
}

// loadRules compiles one rule file (plus the builtin set when builtin).
func loadRules(t *testing.T, builtin bool, text string) signature.Loaded {
	t.Helper()
	spec := signature.Spec{Builtin: builtin}
	if text != "" {
		path := filepath.Join(t.TempDir(), "t.rules")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		spec.Files = []string{path}
	}
	res, err := signature.Load(spec)
	if err != nil || res.Engine == nil {
		t.Fatalf("load rules: %v %+v", err, res)
	}
	return res
}

func TestSetRulesSwitchesSignatures(t *testing.T) {
	res := loadRules(t, true, "")
	var sids []uint32
	p := New(testConfig(), func(a *alert.Alert) { sids = append(sids, a.SID) })
	w := p.Worker(0)
	const c, s = "203.0.113.7", "198.51.100.10"
	ts := uint64(1e9)
	session := func(sport uint16) []uint32 {
		sids = nil
		for _, seg := range []tcpSeg{
			{src: c, dst: s, sport: sport, dport: 80, flags: "S", seq: 100},
			{src: s, dst: c, sport: 80, dport: sport, flags: "SA", seq: 500, ack: 101},
			{src: c, dst: s, sport: sport, dport: 80, flags: "A", seq: 101, ack: 501},
			{src: c, dst: s, sport: sport, dport: 80, flags: "PA", seq: 101, ack: 501, payload: "GET /download?file=/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n"},
		} {
			ts += 1e6
			if !w.Process(rawRecord(seg.frame(t), ts, 0)) {
				t.Fatal("record rejected")
			}
		}
		return sids
	}
	if got := session(40001); len(got) != 0 {
		t.Errorf("no rules: alerts %v", got)
	}
	p.SetRules(res.Engine)
	if p.Rules() != res.Engine {
		t.Error("Rules() is not the engine set")
	}
	if got := session(40002); !slices.Contains(got, 8500101) {
		t.Errorf("rules set: alerts %v, want 8500101", got)
	}
	p.SetRules(nil)
	if got := session(40003); len(got) != 0 {
		t.Errorf("rules removed: alerts %v", got)
	}
	p.SetRules(res.Engine)
	if got := session(40004); !slices.Contains(got, 8500101) {
		t.Errorf("rules set again: alerts %v, want 8500101", got)
	}
	if st := p.Stats(); st.Samples != 16 || st.Malformed != 0 {
		t.Errorf("stats %+v, want 16 samples", st)
	}
}

// TestRunOverflow has the XDP program fill the real ring buffer while the
// only worker, with one slot, is stuck on its first record: every other
// record is counted as overflow, none is lost or counted twice.
func TestRunOverflow(t *testing.T) {
	testenv.RequireBPF(t)
	dp, err := loader.Load(loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dp.Close()
	cfg := loader.DefaultConfig()
	cfg.SampleRate, cfg.SampleOneIn, cfg.FlowSamples = 0, 1, 0 // sample everything
	cfg.SYN, cfg.UDP, cfg.ICMP = loader.Bucket{}, loader.Bucket{}, loader.Bucket{}
	cfg.Snaplen = 128
	if err := dp.Maps().SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	// A drop rule that fires on every UDP packet: its flow verdict, which
	// the worker itself writes to the kernel, blocks the worker. (An
	// alert callback that blocks does not: alerts go through the outbox,
	// see TestOutboxOverflow.)
	res := loadRules(t, false, `drop udp any any -> any any (msg:"any udp"; sid:1; rev:1;)`+"\n")
	release := make(chan struct{})
	var actions atomic.Int64
	pc := testConfig()
	pc.Prevent = true
	p := New(pc, func(*alert.Alert) {})
	p.OnFlowAction = func(_, _ netip.Addr, _, _ uint16, _ uint8, _ uint16, _ uint32) {
		if actions.Add(1) == 1 {
			<-release
		}
	}
	p.SetRules(res.Engine)
	var tapped atomic.Uint64
	p.Tap = func([]byte) { tapped.Add(1) }
	rd, err := samples.NewReader(dp.SamplesMap())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var runErr error
	wg.Add(1)
	go func() { defer wg.Done(); runErr = p.Run(rd) }()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
		rd.Close()
		wg.Wait()
	}()

	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{203, 0, 113, 7}, DstIP: net.IP{198, 51, 100, 10}}
	udp := &layers.UDP{SrcPort: 40000, DstPort: 53}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	pkt := serialize(t, &layers.Ethernet{SrcMAC: tMacA, DstMAC: tMacB, EthernetType: layers.EthernetTypeIPv4}, ip, udp, gopacket.Payload(make([]byte, 32)))
	const sent = 2000
	for range 2 {
		if _, err := dp.Program().Run(&ebpf.RunOptions{Data: pkt, Repeat: sent / 2}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := dp.Maps().SlotStats(0)
	if err != nil {
		t.Fatal(err)
	}
	// Every packet run is sampled (a test run may count one more than
	// Repeat); what the pipeline must account for is what reached the ring.
	if total := st.Total().Packets; st.SamplesSent+st.SamplesLost != total || total < sent || st.SamplesSent < sent/2 {
		t.Fatalf("kernel: %d packets, sent %d lost %d over budget %d; want every one of >= %d sampled", total, st.SamplesSent, st.SamplesLost, st.SamplesOverBudget, sent)
	}
	deadline := time.Now().Add(10 * time.Second)
	for tapped.Load() < st.SamplesSent && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := tapped.Load(); got != st.SamplesSent {
		t.Fatalf("reader took %d of %d records", got, st.SamplesSent)
	}
	mid := p.Stats()
	close(release)
	rd.Close()
	wg.Wait()
	if runErr != nil {
		t.Fatalf("Run: %v", runErr)
	}
	end := p.Stats()
	t.Logf("kernel sent %d lost %d; pipeline samples %d overflow %d (while stuck: %d/%d)", st.SamplesSent, st.SamplesLost, end.Samples, end.Overflow, mid.Samples, mid.Overflow)
	if end.Samples+end.Overflow != st.SamplesSent {
		t.Errorf("samples %d + overflow %d != %d records read", end.Samples, end.Overflow, st.SamplesSent)
	}
	// One record reached the worker (which blocked on it); the one slot
	// stayed taken, so every later record overflowed.
	if end.Samples != 1 || end.Overflow != st.SamplesSent-1 {
		t.Errorf("samples %d overflow %d, want 1 and %d", end.Samples, end.Overflow, st.SamplesSent-1)
	}
	if mid.Overflow != end.Overflow {
		t.Errorf("overflow grew after the reader was done: %d -> %d", mid.Overflow, end.Overflow)
	}
	if end.Alerts != 1 || end.Malformed != 0 {
		t.Errorf("alerts %d malformed %d, want 1 and 0", end.Alerts, end.Malformed)
	}
}

// sigRun feeds segments to a one-worker pipeline with the given rules
// and returns the alerts' sids and the flow drops asked for.
func sigRun(t *testing.T, prevent bool, ruleText string, segs []tcpSeg) (sids []uint32, drops int) {
	t.Helper()
	res := loadRules(t, false, ruleText)
	cfg := testConfig()
	cfg.Prevent = prevent
	p := New(cfg, func(a *alert.Alert) { sids = append(sids, a.SID) })
	p.OnFlowAction = func(_, _ netip.Addr, _, _ uint16, _ uint8, _ uint16, action uint32) {
		if action == bpf.FlowDrop {
			drops++
		}
	}
	p.SetRules(res.Engine)
	w := p.Worker(0)
	ts := uint64(1e9)
	for _, seg := range segs {
		ts += 1e6
		if !w.Process(rawRecord(seg.frame(t), ts, 0)) {
			t.Fatal("record rejected")
		}
	}
	p.EndFlows()
	return sids, drops
}

// A pass rule that matches a packet wins over every other rule of that
// packet, its stream's included (Suricata: pass first, one pass over a
// packet's stream and packet rules), and over the drop verdicts they
// carry; flowbits and pass set by the stream rules on the packet that
// opened the flow (data on a SYN) hold for its packet rules.
func TestPassRuleWinsOverPacketsStream(t *testing.T) {
	const c, s = "203.0.113.7", "198.51.100.10"
	segs := []tcpSeg{
		{src: c, dst: s, sport: 41424, dport: 80, flags: "S", seq: 0, payload: "Hi all!\r\n"},
		{src: s, dst: c, sport: 80, dport: 41424, flags: "SA", seq: 0, ack: 10},
		{src: c, dst: s, sport: 41424, dport: 80, flags: "PA", seq: 10, ack: 1, payload: "more"},
	}
	for name, rules := range map[string]string{
		"packet pass over stream drop": `pass tcp any any -> any any (msg:"p"; sid:1;)
drop tcp any any -> any any (msg:"d"; content:"Hi all"; sid:2;)
alert tcp any any -> any any (msg:"a"; sid:3;)
`,
		"stream pass over packet rules": `alert tcp any any -> any any (msg:"a"; sid:1;)
pass tcp any any -> any any (msg:"p"; content:"Hi all"; sid:2;)
drop tcp any any -> any any (msg:"d"; sid:3;)
`,
	} {
		sids, drops := sigRun(t, true, rules, segs)
		if len(sids) != 0 || drops != 0 {
			t.Errorf("%s: alerts %v, flow drops %d; want none", name, sids, drops)
		}
	}
	// Without the pass rule the drop rule alerts on the first packet and
	// drops the flow (both directions).
	sids, drops := sigRun(t, true, `drop tcp any any -> any any (msg:"d"; content:"Hi all"; sid:2;)`, segs)
	if !slices.Equal(sids, []uint32{2}) || drops != 2 {
		t.Errorf("drop alone: alerts %v, flow drops %d; want [2], 2", sids, drops)
	}
}

// Inline (prevent mode), a segment repeating stream bytes already
// accepted is inspected by the packet rules with those bytes, as
// Suricata's inline normalisation rewrites it, and by the stream rules
// again; monitoring, with its own bytes and the stream once.
func TestInlineNormalisesRetransmission(t *testing.T) {
	const c, s = "203.0.113.7", "198.51.100.10"
	rules := `alert tcp-stream any any -> any any (msg:"stream good"; content:"GOOD"; sid:2;)
alert tcp-pkt any any -> any any (msg:"evil"; content:"EVIL"; sid:3;)
alert tcp-pkt any any -> any any (msg:"good"; content:"GOOD"; sid:4;)
`
	segs := []tcpSeg{
		{src: c, dst: s, sport: 12345, dport: 8080, flags: "S", seq: 1},
		{src: s, dst: c, sport: 8080, dport: 12345, flags: "SA", seq: 1000, ack: 2},
		{src: c, dst: s, sport: 12345, dport: 8080, flags: "A", seq: 2, ack: 1001},
		{src: c, dst: s, sport: 12345, dport: 8080, flags: "PA", seq: 2, ack: 1001, payload: "GOOD"},
		{src: c, dst: s, sport: 12345, dport: 8080, flags: "PA", seq: 2, ack: 1001, payload: "EVIL"},
		{src: c, dst: s, sport: 12345, dport: 8080, flags: "PA", seq: 4, ack: 1001, payload: "ODEVIL"}, // 2 old bytes, 4 new
	}
	for _, tc := range []struct {
		prevent bool
		want    []uint32
	}{
		{true, []uint32{2, 4, 2, 4, 3}}, // "GOOD", "GOOD" again, "OD"+"EVIL"
		{false, []uint32{2, 4, 3, 3}},   // each packet its own bytes, the stream once
	} {
		sids, _ := sigRun(t, tc.prevent, rules, segs)
		if !slices.Equal(sids, tc.want) {
			t.Errorf("prevent %v: alerts %v, want %v", tc.prevent, sids, tc.want)
		}
	}
}

// The signature path allocates nothing per packet in steady state with
// prevent mode, held alerts and normalisation (no alert raised).
func TestSignaturePathAllocs(t *testing.T) {
	const c, s = "203.0.113.7", "198.51.100.10"
	res := loadRules(t, false, `alert tcp any any -> any any (msg:"x"; content:"NEVERSEEN"; sid:1;)
pass tcp any any -> any any (msg:"p"; content:"NEVERPASS"; sid:2;)
alert tcp-pkt any any -> any any (msg:"y"; content:"ALSONEVER"; sid:3;)
`)
	cfg := testConfig()
	cfg.Prevent = true
	p := New(cfg, func(*alert.Alert) { t.Error("unexpected alert") })
	p.SetRules(res.Engine)
	w := p.Worker(0)
	ts := uint64(1e9)
	for _, seg := range []tcpSeg{
		{src: c, dst: s, sport: 40000, dport: 80, flags: "S", seq: 100},
		{src: s, dst: c, sport: 80, dport: 40000, flags: "SA", seq: 500, ack: 101},
	} {
		ts += 1e6
		w.Process(rawRecord(seg.frame(t), ts, 0))
	}
	data := rawRecord(tcpSeg{src: c, dst: s, sport: 40000, dport: 80, flags: "PA", seq: 101, ack: 501, payload: "0123456789abcdef"}.frame(t), ts, 0)
	seqAt := samples.HeaderLen + 14 + 20 + 4
	seq := uint32(101)
	step := func() {
		ts += 1e6
		binary.NativeEndian.PutUint64(data[0:], ts)
		binary.BigEndian.PutUint32(data[seqAt:], seq)
		w.Process(data) // new data
		w.Process(data) // its retransmission: normalised
		seq += 16
	}
	for range 100 {
		step()
	}
	if n := testing.AllocsPerRun(200, step); n != 0 && !testenv.Race {
		t.Errorf("%.1f allocations per data segment and retransmission, want 0", n)
	}
}
