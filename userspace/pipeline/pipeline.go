// Package pipeline turns samples into alerts: decode, flow tracking and
// the detectors, then the responder and the alert sinks. Live, a reader
// hands ring buffer records to workers sharded by host pair (so every flow
// stays in order on one worker) through preallocated slots, counting what
// it must drop when workers fall behind; offline, one worker runs inline so
// a capture gives the same alerts every time.
package pipeline

import (
	"errors"
	"log/slog"
	"math"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/cilium/ebpf/ringbuf"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/userspace/alert"
	"github.com/xdpids/xdpids/userspace/decode"
	"github.com/xdpids/xdpids/userspace/defrag"
	"github.com/xdpids/xdpids/userspace/detect"
	"github.com/xdpids/xdpids/userspace/flows"
	"github.com/xdpids/xdpids/userspace/samples"
	"github.com/xdpids/xdpids/userspace/signature"
	"github.com/xdpids/xdpids/userspace/stream"
)

// Config sizes the pipeline.
type Config struct {
	Workers        int // live workers (default 1 per CPU is the caller's choice)
	QueueLen       int // slots per worker
	FlowsPerWorker int
	Timeouts       flows.Timeouts
	Detect         detect.Config
	IncludePayload bool // copy the L4 payload into alerts (EVE "payload")
	// StreamDepth is how many bytes of each direction of a TCP flow are
	// reassembled for signatures (0: stream.DefaultDepth); past it the
	// flow is handed to OnFlowAction with bpf.FlowBypass.
	StreamDepth uint64
	// Prevent: drop and reject rules drop the rest of their flow (through
	// OnFlowAction) and their alerts say "blocked"; otherwise "allowed".
	Prevent bool
	// DropBanTTL, when positive, also bans the source of a drop rule.
	DropBanTTL int64
	// DetectDepth is how many packets of each flow direction the detectors
	// need (handshakes, flags, first payload: sampling.flow_packets). While
	// rules are active the kernel samples every packet until userspace
	// bypasses the direction; a flow no loaded rule can match is bypassed
	// once it is this deep. 0: the default, 4.
	DetectDepth uint64
}

// DefaultConfig is what the daemon runs with.
func DefaultConfig() Config {
	return Config{Workers: 2, QueueLen: 8192, FlowsPerWorker: 262144, Timeouts: flows.DefaultTimeouts, Detect: detect.DefaultConfig(), DetectDepth: 4}
}

// Stats count what went through.
type Stats struct {
	Samples      uint64 // records handed to workers (or processed inline)
	Overflow     uint64 // records dropped because a worker's queue was full
	Malformed    uint64 // records whose sample header was bad
	NotIP        uint64
	Truncated    uint64 // frames with a cut or invalid header
	Alerts       uint64
	FlowsCreated uint64
	FlowsEvicted uint64
	FlowsActive  int
	// Inspection: packets the kernel saw under inspection that never
	// reached it (sample budget, full ring or queue), the flows with such
	// gaps, and flow directions bypassed by reason (flows.Bypass*).
	GapPackets uint64
	GapFlows   uint64
	Bypassed   [len(flows.BypassNames)]uint64
}

// FlowActionFunc sets a kernel flow action (bpf.FlowDrop, bpf.FlowBypass)
// for one direction of a flow: from src:sport to dst:dport.
type FlowActionFunc func(src, dst netip.Addr, sport, dport uint16, proto uint8, vlan uint16, action uint32)

// AlertFunc receives each alert (already numbered with flow and subject);
// it runs on a worker goroutine under the detector lock.
type AlertFunc func(*alert.Alert)

// Pipeline is the userspace inspection path.
type Pipeline struct {
	cfg     Config
	engine  *detect.Engine
	onAlert AlertFunc
	workers []*Worker

	// Tap, when set before Run, sees every raw record the reader takes.
	Tap func(raw []byte)

	// OnFlowAction, when set before Run, applies drop rules and stream
	// bypass in the kernel flow table.
	OnFlowAction FlowActionFunc

	sig atomic.Pointer[signature.Engine]

	// KernelOffset converts the program's CLOCK_MONOTONIC stamps to Unix time
	// (0 offline, where the program's clock is packet time already).
	KernelOffset atomic.Int64

	alertMu   sync.Mutex // serialises signature alerts from workers (detector alerts hold the detector lock)
	samples   atomic.Uint64
	overflow  atomic.Uint64
	malformed atomic.Uint64
	alerts    atomic.Uint64
}

// New builds a pipeline with cfg.Workers workers (at least one).
func New(cfg Config, onAlert AlertFunc) *Pipeline {
	if cfg.Workers < 1 {
		cfg.Workers = 1
	}
	if cfg.QueueLen < 1 {
		cfg.QueueLen = 1
	}
	p := &Pipeline{cfg: cfg, onAlert: onAlert}
	p.engine = detect.New(cfg.Detect, p.alert)
	for i := 0; i < cfg.Workers; i++ {
		p.workers = append(p.workers, newWorker(p))
	}
	return p
}

func (p *Pipeline) alert(a *alert.Alert) {
	p.alerts.Add(1)
	if p.onAlert != nil {
		p.onAlert(a)
	}
}

// SetRules installs a compiled signature engine (nil: none). Safe while
// running: workers pick it up at their next sample (SIGHUP reload).
func (p *Pipeline) SetRules(e *signature.Engine) { p.sig.Store(e) }

// Rules is the signature engine in use, or nil.
func (p *Pipeline) Rules() *signature.Engine { return p.sig.Load() }

// Engine is the detector engine (for its stats).
func (p *Pipeline) Engine() *detect.Engine { return p.engine }

// Worker returns worker i (offline use: Worker(0).Process).
func (p *Pipeline) Worker(i int) *Worker { return p.workers[i] }

// Stats sums the counters of the pipeline and its workers. Call it when
// workers are idle for exact flow figures.
func (p *Pipeline) Stats() Stats {
	s := Stats{Samples: p.samples.Load(), Overflow: p.overflow.Load(), Malformed: p.malformed.Load(), Alerts: p.alerts.Load()}
	for _, w := range p.workers {
		s.NotIP += w.notIP.Load()
		s.Truncated += w.truncated.Load()
		s.GapPackets += w.gapPackets.Load()
		s.GapFlows += w.gapFlows.Load()
		for i := range s.Bypassed {
			s.Bypassed[i] += w.bypassed[i].Load()
		}
		fs := w.flowStats.Load()
		if fs != nil {
			s.FlowsCreated += fs.Created
			s.FlowsEvicted += fs.Evicted
			s.FlowsActive += fs.Active
		}
	}
	return s
}

// Worker decodes, tracks flows and runs the detectors for its shard.
type Worker struct {
	p       *Pipeline
	dec     *decode.Decoder
	table   *flows.Table
	pkt     decode.Packet
	sample  samples.Sample
	in      detect.Input
	lastExp int64

	// PcapCnt is the capture packet number of the samples processed next
	// (offline: set before each frame; copied into decode.Packet.PcapCnt).
	PcapCnt uint64

	// live hand-off: slot buffers, a queue of filled slots, a queue of free ones
	slots [][]byte
	lens  []int
	full  chan int32
	free  chan int32

	stream   *stream.Reassembler
	defrag   *defrag.Defragmenter
	whole    decode.Packet // a datagram reassembled from fragments
	sigIn    signature.Input
	streamIn signature.StreamInput
	cur      *decode.Packet // the packet being processed (stream callbacks)
	encap    bool           // it came out of a tunnel
	curEng   *signature.Engine
	curFlow  *flows.Flow
	// held are the signature alerts of the packet being processed (its
	// stream chunks' and its own), released when its rules have all run.
	held    []heldAlert
	holding bool
	norm    []byte // a packet's payload as the stream accepted it (prevent mode)

	notIP      atomic.Uint64
	truncated  atomic.Uint64
	gapPackets atomic.Uint64
	gapFlows   atomic.Uint64
	bypassed   [len(flows.BypassNames)]atomic.Uint64
	flowStats  atomic.Pointer[flows.Stats]
}

func newWorker(p *Pipeline) *Worker {
	w := &Worker{p: p, dec: decode.NewDecoder(), table: flows.NewTable(p.cfg.FlowsPerWorker, p.cfg.Timeouts)}
	sc := stream.DefaultConfig()
	if p.cfg.StreamDepth > 0 {
		sc.Depth = p.cfg.StreamDepth
	}
	sc.OnData = w.onStreamData
	sc.OnDepthReached = w.onStreamDepth
	w.stream = stream.New(sc)
	w.defrag = defrag.New(defrag.Config{})
	w.table.OnRemove = func(f *flows.Flow) {
		w.stream.FlowEnd(f.ID)
		if e := p.sig.Load(); e != nil {
			e.FlowEnd(f.ID)
		}
	}
	return w
}

// heldAlert is a signature alert waiting for the rest of its packet's
// rules, with the flow it drops in prevent mode.
type heldAlert struct {
	a       *alert.Alert
	f       *flows.Flow
	firstNs int64 // f's connection when the alert was made
}

// signatures runs a TCP segment through the stream reassembler (whose
// callbacks run the stream rules on the bytes it completes), then the
// packet through the signature engine. Stream first: flowbits a stream
// match sets are seen by the packet's own rules, as in Suricata, where
// the stream and packet rules of a packet run in one pass, setters
// first. The alerts of both wait until the packet's rules have all run:
// in Suricata a pass rule that matches the packet comes first in that
// pass and no other rule alerts on it, so when one matched (on the
// stream or the packet) the packet's alerts of that flow are dropped,
// and their drop verdicts with them.
func (w *Worker) signatures(e *signature.Engine, s *samples.Sample, in *detect.Input) {
	pk := in.P
	tcp := pk.Proto == decode.ProtoTCP && pk.HasL4 && in.F != nil
	w.sigIn = signature.Input{P: pk, Frame: s.Data, F: in.F, FromOrig: in.FromOrig, Ev: in.Ev, StreamInspected: tcp}
	w.cur, w.curEng, w.curFlow = pk, e, in.F
	w.held, w.holding = w.held[:0], true
	if tcp {
		w.stream.Feed(pk, in.F, in.FromOrig)
		w.curFlow = in.F
		if w.p.cfg.Prevent {
			w.normalise(e, pk, in)
		}
	}
	e.MatchPacket(&w.sigIn, w.emit)
	w.holding = false
	passed := len(w.held) > 0 && e.Passed(in.F)
	for i := range w.held {
		h := &w.held[i]
		if !passed || h.f != in.F || h.firstNs != in.F.FirstNs {
			w.curFlow = h.f
			w.emit(h.a)
		}
		*h = heldAlert{}
	}
	w.held = w.held[:0]
	w.cur, w.curEng, w.curFlow = nil, nil, nil
}

// normalise gives the packet rules of a segment that repeats stream bytes
// already accepted those bytes instead of its own, as Suricata's inline
// (IPS) stream normalisation rewrites the packet: an attacker cannot
// show the packet rules other content than the stream carries. The
// stream rules inspect those bytes again too: inline, Suricata inspects
// the stream bytes of every packet.
func (w *Worker) normalise(e *signature.Engine, pk *decode.Packet, in *detect.Input) {
	off, n := w.stream.Overlap()
	if n = min(n, len(pk.Payload)); n == 0 {
		return
	}
	kept := e.StreamBytes(in.F, in.FromOrig, off, n)
	if kept == nil {
		return
	}
	w.norm = append(w.norm[:0], pk.Payload...)
	copy(w.norm, kept)
	pk.Payload = w.norm
	w.streamIn = signature.StreamInput{F: in.F, ToServer: in.FromOrig, Data: w.norm[:n], TsNs: pk.TsNs, P: pk, Offset: off, Again: true}
	e.MatchStream(&w.streamIn, w.emit)
}

// reassembled matches a datagram rebuilt from fragments. It is not counted
// again by the flow table or the detectors (its fragments were).
func (w *Worker) reassembled(e *signature.Engine, s *samples.Sample, frame []byte, tsNs int64) {
	pk := &w.whole
	pk.Reset()
	pk.TsNs, pk.Ifindex, pk.PcapCnt = tsNs, s.Ifindex, w.PcapCnt
	pk.WireLen, pk.CapLen = uint32(len(frame)), uint32(len(frame))
	if err := w.dec.Decode(frame, pk); err != nil || pk.Family == 0 {
		return
	}
	var in detect.Input
	in.P = pk
	k, fromA := flows.KeyOf(pk)
	if f := w.table.Lookup(k); f != nil {
		in.F, in.FromOrig = f, fromA == f.OrigIsA
	}
	ws := samples.Sample{TsNs: s.TsNs, Ifindex: s.Ifindex, WireLen: pk.WireLen, CapLen: pk.CapLen, Data: frame}
	w.signatures(e, &ws, &in)
}

// onStreamData runs the stream rules on newly reassembled bytes: during
// a packet, or when a flow leaves the table and its stream is flushed
// (Suricata's flow-timeout inspection), with the flow's last packet time.
func (w *Worker) onStreamData(f *flows.Flow, toServer bool, data []byte, offset uint64) {
	e, ts := w.curEng, f.LastNs
	if w.cur != nil {
		ts = w.cur.TsNs
	}
	if e == nil {
		if e = w.p.sig.Load(); e == nil {
			return
		}
	}
	w.streamIn = signature.StreamInput{F: f, ToServer: toServer, Data: data, TsNs: ts, P: w.cur, Offset: offset}
	prev := w.curFlow
	w.curFlow = f
	e.MatchStream(&w.streamIn, w.emit)
	w.curFlow = prev
}

// onStreamDepth: nothing left to inspect in that direction: the kernel
// stops sampling it (Suricata's XDP bypass).
func (w *Worker) onStreamDepth(f *flows.Flow, toServer bool) {
	if f == nil {
		return
	}
	d := 1
	if toServer {
		d = 0
	}
	w.bypass(f, d, flows.BypassStreamDepth)
}

// bypass has the kernel stop sampling direction d of f (0: from the
// originator) and records why.
func (w *Worker) bypass(f *flows.Flow, d int, why uint8) {
	if f.Bypass[d] != flows.BypassNone {
		return
	}
	f.Bypass[d] = why
	w.bypassed[why].Add(1)
	if w.p.OnFlowAction == nil || w.encap {
		return
	}
	src, sport := f.Orig()
	dst, dport := f.Resp()
	if d == 1 {
		src, sport, dst, dport = dst, dport, src, sport
	}
	w.p.OnFlowAction(src, dst, sport, dport, f.Proto, f.VLAN, bpf.FlowBypass)
}

// emit takes a signature alert: drop and reject rules drop the rest of
// the flow in the kernel (prevent mode) and may ban the source. During a
// packet's rules it is held (see signatures).
func (w *Worker) emit(a *alert.Alert) {
	if w.holding {
		var firstNs int64
		if w.curFlow != nil {
			firstNs = w.curFlow.FirstNs
		}
		if w.p.cfg.IncludePayload && len(a.Payload) > 0 {
			// the payload aliases buffers valid only during the callback
			a.Payload = append([]byte(nil), a.Payload...)
		}
		w.held = append(w.held, heldAlert{a: a, f: w.curFlow, firstNs: firstNs})
		return
	}
	if a.RuleAction == "drop" || a.RuleAction == "reject" {
		if w.p.cfg.Prevent {
			a.Action = "blocked"
			if f := w.curFlow; f != nil && w.p.OnFlowAction != nil && (f.Proto == decode.ProtoTCP || f.Proto == decode.ProtoUDP) {
				o, op := f.Orig()
				r, rp := f.Resp()
				w.p.OnFlowAction(o, r, op, rp, f.Proto, f.VLAN, bpf.FlowDrop)
				w.p.OnFlowAction(r, o, rp, op, f.Proto, f.VLAN, bpf.FlowDrop)
			}
			if w.p.cfg.DropBanTTL > 0 {
				a.BanTTLNs = w.p.cfg.DropBanTTL
			}
		} else {
			a.Action = "allowed"
		}
	}
	if !w.p.cfg.IncludePayload {
		a.Payload = nil
	}
	w.p.alertMu.Lock()
	w.p.alert(a)
	w.p.alertMu.Unlock()
}

// Process runs one raw ring buffer record (sample header + frame) through
// decode, flows and detectors. It returns false for a malformed record.
func (w *Worker) Process(raw []byte) bool {
	if err := samples.Decode(raw, &w.sample); err != nil {
		w.p.malformed.Add(1)
		return false
	}
	w.p.samples.Add(1)
	w.ProcessSample(&w.sample)
	return true
}

// ProcessSample runs one decoded sample.
func (w *Worker) ProcessSample(s *samples.Sample) {
	pk := &w.pkt
	pk.Reset()
	w.sampleMeta(s, pk)
	w.processDecoded(s, pk, w.dec.Decode(s.Data, pk))
}

// sampleMeta copies what the XDP program says about a sample into pk.
func (w *Worker) sampleMeta(s *samples.Sample, pk *decode.Packet) {
	pk.TsNs = int64(s.TsNs) + w.p.KernelOffset.Load()
	pk.Ifindex, pk.WireLen, pk.CapLen = s.Ifindex, s.WireLen, s.CapLen
	pk.PcapCnt = w.PcapCnt
	pk.Verdict, pk.Reason, pk.SampleFlags = s.Verdict, s.Reason, s.Flags
	pk.FlowPackets = s.FlowPackets
}

// ProcessDecoded runs a sample whose frame the caller has decoded into pk
// already, with the decoder's error (offline runs decode each frame once).
// The sample's metadata is copied into pk; pk must stay valid during the call.
func (w *Worker) ProcessDecoded(s *samples.Sample, pk *decode.Packet, err error) {
	w.sampleMeta(s, pk)
	w.processDecoded(s, pk, err)
}

func (w *Worker) processDecoded(s *samples.Sample, pk *decode.Packet, err error) {
	// The XDP program keys flows on the outer headers: the kernel's count
	// of a tunnel says nothing of the inner flow decode found (and the
	// kernel cannot bypass that inner flow either).
	w.encap = pk.Depth > 0
	if w.encap {
		pk.FlowPackets = 0
	}
	switch {
	case errors.Is(err, decode.ErrNotIP):
		w.notIP.Add(1)
		if pk.ARPOp != 0 {
			w.p.engine.ObserveARP(pk)
		}
		return
	case err != nil:
		w.truncated.Add(1)
		if pk.Family == 0 {
			return
		}
	}
	in := &w.in
	*in = detect.Input{P: pk}
	if pk.Family != 0 && (pk.HasL4 || pk.LaterFrag || !isPortProto(pk.Proto)) {
		in.F, in.FromOrig, in.Ev = w.table.Track(pk)
		in.Packets, in.SpanNs = packetsBehind(in)
	}
	w.p.engine.Observe(in)
	e := w.p.sig.Load()
	if e != nil && in.F != nil && s.Action == bpf.FlowInspect {
		w.inspection(e, in)
	}
	// A bypassed flow's milestones are headers only: counted, not matched.
	if e != nil && pk.Family != 0 && s.Action != bpf.FlowBypass {
		w.signatures(e, s, in)
		// Signatures see whole datagrams too: fragments captured whole
		// (while rules are active the program samples fragments at a
		// snap length of a full frame) are reassembled, and a completed
		// datagram is matched as one more packet of its flow.
		if pk.Fragment && s.CapLen == s.WireLen {
			if whole, ok := w.defrag.Add(s.Data, pk.TsNs); ok {
				w.reassembled(e, s, whole, pk.TsNs)
			}
		}
	}
	if pk.TsNs-w.lastExp >= 1e9 || pk.TsNs < w.lastExp {
		w.lastExp = pk.TsNs
		w.table.Expire(pk.TsNs, nil)
		st := w.table.Stats()
		w.flowStats.Store(&st)
	}
}

// inspection keeps the books of a flow under full inspection (rules are
// active: the kernel samples each of its packets until bypassed): the
// packets between two samples are a gap, and a direction no loaded rule
// can match is bypassed once the detectors have seen DetectDepth packets.
func (w *Worker) inspection(e *signature.Engine, in *detect.Input) {
	f, k := in.F, in.P.FlowPackets
	if k == 0 {
		return // userspace offline: every frame, no kernel count
	}
	d := 0
	if !in.FromOrig {
		d = 1
	}
	if f.Bypass[d] != flows.BypassNone {
		return
	}
	if in.Packets > 1 {
		if f.InspectGaps == 0 {
			w.gapFlows.Add(1)
		}
		f.InspectGaps += uint64(in.Packets - 1)
		w.gapPackets.Add(uint64(in.Packets - 1))
	}
	depth := w.p.cfg.DetectDepth
	if depth == 0 {
		depth = 4
	}
	if k >= depth && !e.MayMatch(f.Proto, f.A, f.B, f.APort, f.BPort) {
		w.bypass(f, d, flows.BypassNoRule)
	}
}

// packetsBehind is how many packets a sample stands for, and over how
// long: the kernel flow table counts every packet while only some are
// sampled, so the difference from the flow's previous sample is what passed
// unseen since then (at least 1).
func packetsBehind(in *detect.Input) (int, int64) {
	k := in.P.FlowPackets
	if k == 0 || in.F == nil {
		return 1, 0
	}
	d := 0
	if !in.FromOrig {
		d = 1
	}
	last, lastNs := in.F.KernelPkts[d], in.F.KernelNs[d]
	in.F.KernelPkts[d], in.F.KernelNs[d] = k, in.P.TsNs
	if last == 0 || k <= last {
		return 1, 0
	}
	return int(min(k-last, 1<<30)), max(in.P.TsNs-lastNs, 0)
}

func isPortProto(p uint8) bool {
	return p == decode.ProtoTCP || p == decode.ProtoUDP || p == decode.ProtoICMP || p == decode.ProtoICMPv6
}

// EndFlows ends every flow of every worker, as when the flows time out:
// their streams are flushed through the stream rules (Suricata inspects
// what is left of a stream at flow timeout) and the signature engine
// forgets them. Offline runs call it at the end of the capture; call it
// only while the workers are idle.
func (p *Pipeline) EndFlows() {
	for _, w := range p.workers {
		w.table.Expire(math.MaxInt64, nil)
	}
}

// Flush publishes the workers' flow statistics (after offline runs).
func (p *Pipeline) Flush() {
	for _, w := range p.workers {
		st := w.table.Stats()
		w.flowStats.Store(&st)
	}
}

// Run reads the ring buffer until rd is closed, handing records to the
// workers, and returns when the workers have drained. Memory is bounded by
// QueueLen slots per worker; when a worker's queue is full the record is
// dropped and counted as overflow.
func (p *Pipeline) Run(rd *samples.Reader) error {
	var wg sync.WaitGroup
	for _, w := range p.workers {
		w.slots = make([][]byte, p.cfg.QueueLen)
		w.lens = make([]int, p.cfg.QueueLen)
		w.full = make(chan int32, p.cfg.QueueLen)
		w.free = make(chan int32, p.cfg.QueueLen)
		for i := range w.slots {
			w.slots[i] = make([]byte, samples.HeaderLen+bpf.MaxSnaplen)
			w.free <- int32(i)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range w.full {
				w.Process(w.slots[i][:w.lens[i]])
				w.free <- i
			}
		}()
	}
	defer func() {
		for _, w := range p.workers {
			close(w.full)
		}
		wg.Wait()
		p.Flush()
	}()
	n := uint32(len(p.workers))
	for {
		raw, err := rd.ReadRaw()
		if errors.Is(err, ringbuf.ErrClosed) {
			return nil
		}
		if err != nil {
			slog.Error("read samples", "err", err)
			return err
		}
		if p.Tap != nil {
			p.Tap(raw)
		}
		w := p.workers[shardOf(raw)%n]
		select {
		case i := <-w.free:
			w.lens[i] = copy(w.slots[i], raw)
			w.full <- i
		default:
			p.overflow.Add(1)
		}
	}
}
