package pipeline_test

import (
	"encoding/binary"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/internal/testgen"
	"github.com/xdpids/xdpids/internal/testrec"
	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/capture/samples"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/packet/decode"
	"github.com/xdpids/xdpids/userspace/respond"
	"github.com/xdpids/xdpids/userspace/run/pipeline"
	"github.com/xdpids/xdpids/userspace/signature"
)

// frame serializes an Ethernet frame.
func frame(tb testing.TB, ls ...gopacket.SerializableLayer) []byte {
	tb.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		tb.Fatal(err)
	}
	return slices.Clone(buf.Bytes())
}

var (
	macA = net.HardwareAddr{2, 0, 0, 0, 0, 1}
	macB = net.HardwareAddr{2, 0, 0, 0, 0, 2}
)

func tcpFrame(tb testing.TB, src, dst string, sport, dport uint16, syn, ack, psh, fin bool, payload int) []byte {
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), SYN: syn, ACK: ack, PSH: psh, FIN: fin, Window: 64240, Seq: 1}
	tcp.SetNetworkLayerForChecksum(ip)
	return frame(tb, eth, ip, tcp, gopacket.Payload(make([]byte, payload)))
}

func udpFrame(tb testing.TB, src, dst string, sport, dport uint16, payload int) []byte {
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	udp.SetNetworkLayerForChecksum(ip)
	return frame(tb, eth, ip, udp, gopacket.Payload(make([]byte, payload)))
}

func icmpFrame(tb testing.TB, src, dst string, seq uint16) []byte {
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 7, Seq: seq}
	return frame(tb, eth, ip, icmp, gopacket.Payload(make([]byte, 56)))
}

// record prefixes a frame with a sample header as the XDP program writes it
// (the first 256 bytes).
func record(f []byte, tsNs uint64, flags uint8) []byte {
	return testrec.Record(f, testrec.Header{TsNs: tsNs, Flags: flags, Snap: 256})
}

// realisticMix is what the XDP program sends on a busy server: the first
// packets of web, SSH and DNS flows from many clients (handshake and first
// data), pings, and a sprinkle of anomalies. 4096 records over 1 s.
func realisticMix(tb testing.TB) [][]byte {
	var out [][]byte
	ts := uint64(1e9)
	add := func(f []byte, flags uint8) {
		out = append(out, record(f, ts, flags))
		ts += 244140 // 4096 records over 1 s
	}
	srv := "198.51.100.10"
	for i := 0; len(out) < 4096; i++ {
		cli := netip.AddrFrom4([4]byte{203, 0, 113, byte(i % 250)}).String()
		sport := uint16(30000 + i)
		switch i % 8 {
		case 0, 1, 2, 3, 4: // web: SYN, ACK, request
			dport := uint16(443)
			if i%2 == 0 {
				dport = 80
			}
			add(tcpFrame(tb, cli, srv, sport, dport, true, false, false, false, 0), bpf.SampleNewFlow)
			add(tcpFrame(tb, cli, srv, sport, dport, false, true, false, false, 0), bpf.SampleNewFlow)
			add(tcpFrame(tb, cli, srv, sport, dport, false, true, true, false, 400), bpf.SampleNewFlow)
		case 5: // DNS query
			add(udpFrame(tb, cli, srv, sport, 53, 40), bpf.SampleNewFlow)
		case 6: // ping
			add(icmpFrame(tb, cli, srv, uint16(i)), bpf.SampleICMP)
		case 7: // SSH, now and then, from a pool of admins
			if i%64 == 7 {
				admin := netip.AddrFrom4([4]byte{198, 18, 0, byte(i / 64)}).String()
				add(tcpFrame(tb, admin, srv, sport, 22, true, false, false, false, 0), bpf.SampleNewFlow)
				add(tcpFrame(tb, admin, srv, sport, 22, false, true, true, false, 40), bpf.SampleNewFlow)
			} else {
				add(tcpFrame(tb, cli, srv, sport, 443, false, true, true, false, 1200), bpf.SampleNewFlow)
			}
		}
	}
	return out[:4096]
}

// retime shifts a record's timestamp by d.
func retime(r []byte, d uint64) {
	e := binary.NativeEndian
	e.PutUint64(r[0:], e.Uint64(r[0:])+d)
}

// BenchmarkPipeline measures samples/s on one core through decode + flows +
// detectors on the realistic mix, against decode alone in the same run
// (alternating rounds), and the allocations per sample. Each pass over the
// mix moves its timestamps 1 s on, so flows and windows age as in a live
// stream of recurring traffic.
func BenchmarkPipeline(b *testing.B) {
	mix := realisticMix(b)
	alerts := 0
	p := pipeline.New(pipeline.Config{Workers: 1, QueueLen: 1, FlowsPerWorker: 65536, Timeouts: pipeline.DefaultConfig().Timeouts,
		Detect: pipeline.DefaultConfig().Detect}, func(*alert.Alert) { alerts++ })
	w := p.Worker(0)
	dec := decode.NewDecoder()
	var pkt decode.Packet
	var s samples.Sample
	decodeOnly := func() time.Duration {
		t0 := time.Now()
		for _, r := range mix {
			_ = samples.Decode(r, &s)
			pkt.Reset()
			_ = dec.Decode(s.Data, &pkt)
		}
		return time.Since(t0)
	}
	full := func() time.Duration {
		t0 := time.Now()
		for _, r := range mix {
			w.Process(r)
		}
		d := time.Since(t0)
		for _, r := range mix {
			retime(r, 1e9)
			// Admins (198.18.0.0/16) come from another address each pass:
			// one SSH login a second from one address is brute force.
			if r[samples.HeaderLen+14+12] == 198 {
				r[samples.HeaderLen+14+14]++
			}
		}
		return d
	}
	for i := 0; i < 3; i++ { // warm up: flows and detector state exist
		full()
		decodeOnly()
	}
	var dDec, dFull []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dDec = append(dDec, decodeOnly())
		dFull = append(dFull, full())
	}
	b.StopTimer()
	per := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(ds[len(ds)/2].Nanoseconds()) / float64(len(mix))
	}
	nsDec, nsFull := per(dDec), per(dFull)
	b.ReportMetric(nsFull, "ns/sample")
	b.ReportMetric(1e9/nsFull, "samples/s")
	b.ReportMetric(1e9/nsDec, "decode-samples/s")
	b.ReportMetric(nsDec/nsFull, "ratio-vs-decode")
	b.ReportMetric(0, "ns/op")
	allocs := testing.AllocsPerRun(5, func() { full() })
	b.ReportMetric(allocs/float64(len(mix)), "allocs/sample")
	if alerts > 0 {
		b.Errorf("the benign mix raised %d alerts", alerts)
	}
}

// BenchmarkRingbufToUserspace measures samples/s from the XDP program's
// ring buffer into the pipeline with no loss: the program (every packet
// sampled, no budget) runs under BPF_PROG_TEST_RUN with Repeat, while the
// pipeline's reader and worker drain the ring. Loss is reported, never
// hidden. headers: 128-byte samples through decode, flows and detectors;
// full_inspection: what rules ask for, whole 1 000-byte-payload frames of
// an established flow through the stream reassembler and the built-in rules
// too.
func BenchmarkRingbufToUserspace(b *testing.B) {
	testenv.RequireBPF(b)
	res, err := signature.Load(signature.Spec{Builtin: true})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		snap    uint32
		payload int
		rules   bool
	}{{"headers", 128, 200, false}, {"full_inspection", bpf.MaxSnaplen, 1000, true}} {
		b.Run(c.name, func(b *testing.B) {
			dp, err := loader.Load(loader.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer dp.Close()
			cfg := loader.DefaultConfig()
			cfg.SampleRate, cfg.SampleOneIn, cfg.FlowSamples = 0, 1, bpf.FlowSamplesAll
			cfg.SYN, cfg.UDP, cfg.ICMP = loader.Bucket{}, loader.Bucket{}, loader.Bucket{}
			cfg.Snaplen = c.snap
			if err := dp.Maps().SetConfig(cfg); err != nil {
				b.Fatal(err)
			}
			p := pipeline.New(pipeline.Config{Workers: 1, QueueLen: 65536, FlowsPerWorker: 65536, Timeouts: pipeline.DefaultConfig().Timeouts,
				Detect: pipeline.DefaultConfig().Detect}, func(*alert.Alert) {})
			if c.rules {
				p.SetRules(res.Engine)
			}
			rd, err := samples.NewReader(dp.SamplesMap())
			if err != nil {
				b.Fatal(err)
			}
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { defer wg.Done(); _ = p.Run(rd) }()
			pkt := tcpFrame(b, "203.0.113.7", "198.51.100.10", 40000, 443, false, true, true, false, c.payload)
			// A burst that fits the 32 MiB ring (records of 40 + snap bytes
			// plus the ring's 8-byte header): the producer then waits for
			// the drain, so the figure is what userspace sustains without loss.
			const repeat = 16384
			b.ResetTimer()
			t0 := time.Now()
			var sent uint64
			for i := 0; i < b.N; i++ {
				if _, err := dp.Program().Run(&ebpf.RunOptions{Data: pkt, Repeat: repeat}); err != nil {
					b.Fatal(err)
				}
				sent += repeat
				for {
					st, _ := dp.Maps().SlotStats(0)
					ps := p.Stats()
					if ps.Samples+ps.Overflow+st.SamplesLost >= sent || time.Since(t0) > 60*time.Second {
						break
					}
					time.Sleep(50 * time.Microsecond)
				}
			}
			elapsed := time.Since(t0)
			b.StopTimer()
			rd.Close()
			wg.Wait()
			st, _ := dp.Maps().SlotStats(0)
			ps := p.Stats()
			b.Logf("sent %d, kernel sent %d lost %d over-budget %d, pipeline samples %d overflow %d, elapsed %s", sent, st.SamplesSent, st.SamplesLost, st.SamplesOverBudget, ps.Samples, ps.Overflow, elapsed)
			b.ReportMetric(float64(ps.Samples)/elapsed.Seconds(), "samples/s")
			b.ReportMetric(float64(st.SamplesLost+ps.Overflow)/float64(sent), "loss-ratio")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkAlertToBan measures the time from a sample's arrival at a
// worker to the ban in the kernel block list (map update returned): each
// iteration is a new scanner whose 15th probe crosses the vertical scan
// threshold; the responder writes the ban into a real (unpinned) map.
func BenchmarkAlertToBan(b *testing.B) {
	testenv.RequireBPF(b)
	dp, err := loader.Load(loader.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer dp.Close()
	resp, err := respond.New(respond.Config{Enabled: true, MaxActiveBans: 1 << 20, MaxBansPerMin: 1 << 30, IPv6PrefixLen: 64}, dp.Maps())
	if err != nil {
		b.Fatal(err)
	}
	var banned time.Time
	det := pipeline.DefaultConfig().Detect
	det.MaxKeys = 1 << 24 // each scanner leaves 16 keys: no state cap in the way
	p := pipeline.New(pipeline.Config{Workers: 1, QueueLen: 1, FlowsPerWorker: 1 << 16, Timeouts: pipeline.DefaultConfig().Timeouts,
		Detect: det}, func(a *alert.Alert) {
		resp.Handle(a, int64(loader.KernelNow()))
		if a.Action == "blocked" {
			banned = time.Now()
		}
	})
	w := p.Worker(0)
	threshold := pipeline.DefaultConfig().Detect.ScanVerticalPorts
	var lat []time.Duration
	ts := uint64(1e9)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		src := netip.AddrFrom4([4]byte{198, 18 + byte(i>>16)&1, byte(i >> 8), byte(i)}).String()
		probes := make([][]byte, threshold)
		for j := range probes {
			probes[j] = record(tcpFrame(b, src, "198.51.100.10", 50000, uint16(1+j), true, false, false, false, 0), ts, bpf.SampleNewFlow)
			ts += 1000
		}
		b.StartTimer()
		for _, r := range probes[:threshold-1] {
			w.Process(r)
		}
		banned = time.Time{}
		t0 := time.Now()
		w.Process(probes[threshold-1])
		if banned.IsZero() {
			b.Fatalf("scanner %s not banned", src)
		}
		lat = append(lat, banned.Sub(t0))
		b.StopTimer()
	}
	slices.Sort(lat)
	q := func(f float64) float64 { return float64(lat[int(f*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(q(0.5), "p50-us")
	b.ReportMetric(q(0.99), "p99-us")
	b.ReportMetric(0, "ns/op")
}

type flowDir struct {
	src, dst     netip.Addr
	sport, dport uint16
	proto        uint8
}

// fullRecords turns a capture's frames into the records the XDP program
// sends under full inspection: every packet whole, with the kernel flow
// table's per-direction packet count.
func fullRecords(tb testing.TB, frames []testgen.Frame) [][]byte {
	dec := decode.NewDecoder()
	counts := map[flowDir]uint64{}
	var out [][]byte
	for _, f := range frames {
		var p decode.Packet
		_ = dec.Decode(f.Data, &p)
		k := flowDir{p.Src, p.Dst, p.SrcPort, p.DstPort, p.Proto}
		counts[k]++
		r := testrec.Record(f.Data, testrec.Header{TsNs: uint64(f.Time.UnixNano()), Flags: bpf.SampleNewFlow, FlowPackets: counts[k], Snap: bpf.MaxSnaplen})
		out = append(out, r)
	}
	return out
}

// BenchmarkFullInspection measures the pipeline's cost per inspected
// packet when every packet of a flow reaches it (rules active: the kernel
// sends each packet whole until the flow is bypassed): the first 40 000
// packets of the generated web/DNS/TLS mix through decode, flows,
// detectors, stream reassembly and the built-in rules, against the same
// pipeline without rules, in alternating rounds (medians), each on a fresh
// pipeline. It also reports the heap each tracked flow holds (flow table
// slot, stream and engine state) and the allocations per packet.
func BenchmarkFullInspection(b *testing.B) {
	frames, err := testgen.Mix(1000).Frames()
	if err != nil {
		b.Fatal(err)
	}
	recs := fullRecords(b, frames[:min(len(frames), 40000)])
	res, err := signature.Load(signature.Spec{Builtin: true})
	if err != nil {
		b.Fatal(err)
	}
	cfg := pipeline.DefaultConfig()
	cfg.Workers, cfg.QueueLen, cfg.FlowsPerWorker = 1, 1, 65536
	run := func(rules bool) (time.Duration, *pipeline.Pipeline) {
		p := pipeline.New(cfg, nil)
		if rules {
			p.SetRules(res.Engine)
		}
		w := p.Worker(0)
		t0 := time.Now()
		for _, r := range recs {
			w.Process(r)
		}
		return time.Since(t0), p
	}
	run(true) // warm up
	var with, without []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		d, _ := run(false)
		without = append(without, d)
		d, _ = run(true)
		with = append(with, d)
	}
	b.StopTimer()
	med := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(ds[len(ds)/2].Nanoseconds()) / float64(len(recs))
	}
	nsWith, nsWithout := med(with), med(without)
	b.ReportMetric(nsWith, "ns/packet")
	b.ReportMetric(1e9/nsWith, "packets/s")
	b.ReportMetric(nsWithout, "ns/packet-no-rules")
	b.ReportMetric(nsWith/nsWithout, "cost-vs-no-rules")
	b.ReportMetric(0, "ns/op")

	// Heap per flow: a pipeline before and after the traffic (its tables
	// are preallocated, so only what flows add is counted).
	var before, after runtime.MemStats
	p := pipeline.New(cfg, nil)
	p.SetRules(res.Engine)
	w := p.Worker(0)
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, r := range recs {
		w.Process(r)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	p.Flush()
	if st := p.Stats(); st.FlowsActive > 0 {
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(st.FlowsActive), "heap-B/flow")
	}
	runtime.KeepAlive(w)
	allocs := testing.AllocsPerRun(1, func() { run(true) })
	b.ReportMetric(allocs/float64(len(recs)), "allocs/packet")
}
