package loader

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	xbpf "github.com/xdpids/xdpids/bpf"
)

// Benchmarks of verification by the host's handshakes: the tcx egress
// program per packet, and the XDP check of a client's final ACK.

const (
	benchTCXNext = 0xffffffff // TCX_NEXT (-1)
	// handshakeRepeat: repeats per call of the handshake check's rounds,
	// a tenth of benchRepeat: each repeat is a new flow (~0.5-1 µs with
	// the harness), and six programs a round at 100 000 would leave b.N
	// at 2 rounds.
	handshakeRepeat = benchRepeat / 10
)

// benchTCP is a 60-byte Ethernet/IPv4/TCP frame from src:sport to
// dst:dport with the given flags, seq and ack, good checksums.
func benchTCP(b *testing.B, src, dst netip.Addr, sport, dport uint16, th layers.TCP) []byte {
	b.Helper()
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	th.SrcPort, th.DstPort, th.Window = layers.TCPPort(sport), layers.TCPPort(dport), 512
	if err := th.SetNetworkLayerForChecksum(ip); err != nil {
		b.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, &th, gopacket.Payload(make([]byte, benchFrameLen-14-20-20))); err != nil {
		b.Fatal(err)
	}
	return slices.Clone(buf.Bytes())
}

// BenchmarkTestRunEgress: ns per packet of the tcx egress program on a
// SYN-ACK the host sends (parsed and recorded in the handshakes map: the
// update of one key) and on any other TCP segment (the pass path:
// parsed, not a SYN-ACK, TCX_NEXT), against a bare tcx program returning
// TCX_NEXT, in one run. synack-vs-pass is the SYN-ACK's cost over the
// pass path's.
func BenchmarkTestRunEgress(b *testing.B) {
	d, base := benchDatapath(b)
	cfg := benchConfig()
	cfg.EgressSamples = false // the pass path: BenchmarkTestRunEgressSamples has the samples
	if err := d.Maps().SetConfig(cfg); err != nil {
		b.Fatal(err)
	}
	synAck := benchTCP(b, benchDst, benchClient, 80, 40000, layers.TCP{SYN: true, ACK: true, Seq: 7000, Ack: 1001})
	data := benchTCP(b, benchDst, benchClient, 80, 40000, layers.TCP{ACK: true, PSH: true, Seq: 7001, Ack: 1001})
	before := benchStats(b, d, 0)
	s := benchRounds(b, []benchRun{
		{"bare_tcx_next", base.BareTcxNext, data, benchTCXNext},
		{"xdpids_egress_synack", d.EgressProgram(), synAck, benchTCXNext},
		{"xdpids_egress_pass", d.EgressProgram(), data, benchTCXNext},
	}, benchRepeat)
	after := benchStats(b, d, 0)
	if n := after.SynAcksRecorded - before.SynAcksRecorded; n != uint64(b.N*benchRepeat) {
		b.Fatalf("%d SYN-ACKs recorded, want %d", n, b.N*benchRepeat)
	}
	bare, rec, pass := benchMedian(s[0]), benchMedian(s[1]), benchMedian(s[2])
	benchReport(b, rec, bare)
	b.ReportMetric(pass, "pass-ns/pkt")
	b.ReportMetric(rec/pass, "synack-vs-pass")
	b.ReportMetric(pass/bare, "pass-vs-bare")
}

// benchHandshakeChain loads a small XDP program that, before it
// tail-calls target, writes handshakes[key] = val and deletes the flow fk
// from the flow table: each repeat of a test run is then the final ACK of
// a connection the host has just answered (the second packet of its flow
// direction, the record in place). Its cost is measured in front of
// bare_pass too and taken off.
func benchHandshakeChain(b *testing.B, target *ebpf.Program, d *Datapath, key xbpf.XdpidsHandshakeKey, val xbpf.XdpidsHandshake, fk xbpf.XdpidsFlowKey) *ebpf.Program {
	b.Helper()
	arr := func(v any, size uint32) *ebpf.Map {
		m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: size, MaxEntries: 1})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { m.Close() })
		if err := m.Update(uint32(0), v, ebpf.UpdateAny); err != nil {
			b.Fatal(err)
		}
		return m
	}
	keys := arr(&key, d.Maps().Handshakes.KeySize())
	vals := arr(&val, d.Maps().Handshakes.ValueSize())
	flowKeys := arr(&fk, d.Maps().Flows.KeySize())
	progs, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { progs.Close() })
	lookup := func(m *ebpf.Map, into asm.Register) asm.Instructions {
		return asm.Instructions{
			asm.LoadMapPtr(asm.R1, m.FD()),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, -4),
			asm.FnMapLookupElem.Call(),
			asm.JEq.Imm(asm.R0, 0, "tail"),
			asm.Mov.Reg(into, asm.R0),
		}
	}
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.StoreImm(asm.RFP, -4, 0, asm.Word),
	}
	insns = append(insns, lookup(keys, asm.R7)...)
	insns = append(insns, lookup(vals, asm.R8)...)
	insns = append(insns,
		asm.LoadMapPtr(asm.R1, d.Maps().Handshakes.FD()),
		asm.Mov.Reg(asm.R2, asm.R7),
		asm.Mov.Reg(asm.R3, asm.R8),
		asm.Mov.Imm(asm.R4, 0), // BPF_ANY
		asm.FnMapUpdateElem.Call(),
	)
	insns = append(insns, lookup(flowKeys, asm.R7)...)
	insns = append(insns,
		asm.LoadMapPtr(asm.R1, d.Maps().Flows.FD()),
		asm.Mov.Reg(asm.R2, asm.R7),
		asm.FnMapDeleteElem.Call(),
		asm.Mov.Reg(asm.R1, asm.R6).WithSymbol("tail"),
		asm.LoadMapPtr(asm.R2, progs.FD()),
		asm.Mov.Imm(asm.R3, 0),
		asm.FnTailCall.Call(),
		asm.Mov.Imm(asm.R0, benchXDPAborted),
		asm.Return(),
	)
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "bench_handshake", AttachType: ebpf.AttachXDP, Type: ebpf.XDP, License: "Dual BSD/GPL", Instructions: insns,
	})
	if err != nil {
		b.Fatalf("load handshake chain program: %v", err)
	}
	b.Cleanup(func() { prog.Close() })
	if err := progs.Update(uint32(0), target, ebpf.UpdateAny); err != nil {
		b.Fatalf("prog array: %v", err)
	}
	return prog
}

// BenchmarkTestRunHandshakeCheck: ns per packet of a client's final
// handshake ACK (the second packet of its flow direction, new to the
// flow table) in XDP: acknowledging the recorded SYN-ACK (the record's
// lookup and delete, the verified map's update), with a wrong ack number
// (lookup, counted), and with no record for its flow (a lookup miss);
// against the pass path, the same segment with RST|ACK, which the check
// skips (new flow, its sample), and bare XDP_PASS, in one run. The
// harness (benchHandshakeChain) is taken off as for new flows. Only the
// first 8 packets of a flow direction are checked: an established flow's
// ACKs pay one comparison.
func BenchmarkTestRunHandshakeCheck(b *testing.B) {
	d, base := benchDatapath(b)
	const isn = 7000
	fk := FlowKey(benchClient, benchDst, 40000, 80, 6, 0)
	key := xbpf.XdpidsHandshakeKey{Src: fk.Src, Dst: fk.Dst, Sport: fk.Sport, Dport: fk.Dport, Family: fk.Family}
	// the no-record case: an ACK from another port, whose record nobody
	// writes (its chain writes key's, the same map work)
	fkOther := FlowKey(benchClient, benchDst, 40002, 80, 6, 0)
	good := xbpf.XdpidsHandshake{SentNs: 0, AckWant: isn + 1}
	bad := xbpf.XdpidsHandshake{SentNs: 0, AckWant: isn + 2}
	ack := benchTCP(b, benchClient, benchDst, 40000, 80, layers.TCP{ACK: true, Seq: 1001, Ack: isn + 1})
	ackOther := benchTCP(b, benchClient, benchDst, 40002, 80, layers.TCP{ACK: true, Seq: 1001, Ack: isn + 1})
	rst := benchTCP(b, benchClient, benchDst, 40000, 80, layers.TCP{ACK: true, RST: true, Seq: 1001, Ack: isn + 1})
	// SentNs 0: "now - sent" is past HANDSHAKE_NS on any host up more than
	// 75 s, which would not verify: the record must be fresh.
	now := KernelNow()
	good.SentNs, bad.SentNs = now, now
	chainBare := benchHandshakeChain(b, base.BarePass, d, key, good, fk)
	chainHit := benchHandshakeChain(b, d.Program(), d, key, good, fk)
	chainBad := benchHandshakeChain(b, d.Program(), d, key, bad, fk)
	chainMiss := benchHandshakeChain(b, d.Program(), d, key, good, fkOther)
	chainPass := benchHandshakeChain(b, d.Program(), d, key, good, fk)
	before := benchStats(b, d, 0)
	s := benchRounds(b, []benchRun{
		{"bare_pass", base.BarePass, ack, benchXDPPass},
		{"chain→bare_pass", chainBare, ack, benchXDPPass},
		{"chain→xdpids_verify", chainHit, ack, benchXDPPass},
		{"chain→xdpids_bad_ack", chainBad, ack, benchXDPPass},
		{"chain→xdpids_no_record", chainMiss, ackOther, benchXDPPass},
		{"chain→xdpids_pass", chainPass, rst, benchXDPPass},
	}, handshakeRepeat)
	after := benchStats(b, d, 0)
	want := uint64(b.N * handshakeRepeat)
	// (at least the rounds' count: a test run may run a repeat more than
	// asked, seen once in a dozen runs)
	if n := after.VerifiedHandshake - before.VerifiedHandshake; n < want || n > want+uint64(b.N) {
		b.Fatalf("%d ACKs verified, want %d", n, want)
	}
	if n := after.HandshakeBadAck - before.HandshakeBadAck; n < want || n > want+uint64(b.N) {
		b.Fatalf("%d ACKs with a bad ack number, want %d", n, want)
	}
	bare, chainB := benchMedian(s[0]), benchMedian(s[1])
	at := func(i int) float64 { return bare + benchMedian(s[i]) - chainB }
	hit, badAck, miss, pass := at(2), at(3), at(4), at(5)
	benchReport(b, hit, bare)
	b.ReportMetric(pass, "pass-ns/pkt")
	b.ReportMetric(hit/pass, "verify-vs-pass")
	b.ReportMetric(badAck/pass, "bad_ack-vs-pass")
	b.ReportMetric(miss/pass, "no_record-vs-pass")
	b.ReportMetric(chainB-bare, "harness-ns/pkt")
}

// BenchmarkTestRunEgressSamples: ns per packet of the tcx egress program
// with Config.EgressSamples, on one data segment the host sends, against
// a bare tcx program and against the same program with the option off (the
// pass path), in one run:
//   - counted: a segment of a flow under inspection past its first
//     flow_samples packets (its flow entry counted, a milestone sampled at
//     2^k packets): what each packet of a long inspected flow costs;
//   - bypassed: the same on a flow userspace bypassed;
//   - sampled: every segment sent to the ring (flow_samples all, no
//     budget), a goroutine draining it as the daemon's reader would.
func BenchmarkTestRunEgressSamples(b *testing.B) {
	off, base := benchDatapath(b)
	cfg := benchConfig()
	cfg.EgressSamples = false
	if err := off.Maps().SetConfig(cfg); err != nil {
		b.Fatal(err)
	}
	load := func(tweak func(*Config)) *Datapath {
		d, err := Load(Options{})
		if err != nil {
			b.Fatalf("%+v", err)
		}
		b.Cleanup(func() { d.Close() })
		c := benchConfig()
		c.EgressSamples = true
		tweak(&c)
		if err := d.Maps().SetConfig(c); err != nil {
			b.Fatal(err)
		}
		return d
	}
	counted := load(func(*Config) {})
	bypassed := load(func(*Config) {})
	sampled := load(func(c *Config) { c.FlowSamples, c.SampleRate = xbpf.FlowSamplesAll, 0 })
	data := benchTCP(b, benchDst, benchClient, 80, 40000, layers.TCP{ACK: true, PSH: true, Seq: 7001, Ack: 1001})
	key := FlowKey(benchDst, benchClient, 80, 40000, 6, 0)
	if err := bypassed.Maps().SetFlowAction(key, xbpf.FlowBypass, 1); err != nil {
		b.Fatal(err)
	}
	rd, err := ringbuf.NewReader(sampled.SamplesMap())
	if err != nil {
		b.Fatal(err)
	}
	var drained atomic.Uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		var rec ringbuf.Record
		for {
			if err := rd.ReadInto(&rec); err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					continue
				}
				return
			}
			drained.Add(1)
		}
	}()
	s := benchRounds(b, []benchRun{
		{"bare_tcx_next", base.BareTcxNext, data, benchTCXNext},
		{"xdpids_egress_pass", off.EgressProgram(), data, benchTCXNext},
		{"xdpids_egress_counted", counted.EgressProgram(), data, benchTCXNext},
		{"xdpids_egress_bypassed", bypassed.EgressProgram(), data, benchTCXNext},
		{"xdpids_egress_sampled", sampled.EgressProgram(), data, benchTCXNext},
	}, benchRepeat)
	rd.Close()
	<-done
	st := benchStats(b, sampled, 0)
	bare, pass := benchMedian(s[0]), benchMedian(s[1])
	cnt, byp, smp := benchMedian(s[2]), benchMedian(s[3]), benchMedian(s[4])
	benchReport(b, cnt, pass)
	b.ReportMetric(bare, "bare-ns/pkt")
	b.ReportMetric(byp, "bypassed-ns/pkt")
	b.ReportMetric(smp, "sampled-ns/pkt")
	b.ReportMetric(cnt/pass, "counted-vs-pass")
	b.ReportMetric(byp/pass, "bypassed-vs-pass")
	b.ReportMetric(smp/pass, "sampled-vs-pass")
	if n := st.SamplesSent + st.SamplesLost; n > 0 {
		b.ReportMetric(float64(st.SamplesLost)/float64(n), "sampled-lost-share")
	}
}
