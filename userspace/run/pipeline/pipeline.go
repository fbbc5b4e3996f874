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
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/cilium/ebpf/ringbuf"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/userspace/app/apphttp"
	"github.com/xdpids/xdpids/userspace/app/appproto"
	"github.com/xdpids/xdpids/userspace/capture/samples"
	"github.com/xdpids/xdpids/userspace/detect"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/flow/stream"
	"github.com/xdpids/xdpids/userspace/flow/tlsrec"
	"github.com/xdpids/xdpids/userspace/learn/model"
	"github.com/xdpids/xdpids/userspace/output/eve"
	"github.com/xdpids/xdpids/userspace/packet/decode"
	"github.com/xdpids/xdpids/userspace/packet/defrag"
	"github.com/xdpids/xdpids/userspace/signature"
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
	// HTTP bounds the HTTP/1 parser (zero fields: apphttp.DefaultLimits);
	// connections detected after a Reconfigure take the new limits.
	HTTP apphttp.Limits
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
	// AnomalyRate bounds the anomaly events each worker reports per
	// second of packet time (0: no bound); the rest are counted in
	// Stats.AnomaliesSuppressed.
	AnomalyRate int
	// OutboxLen bounds the alerts waiting for the alert callback while
	// Run runs (0: DefaultOutboxLen); past it alerts are dropped and
	// counted in Stats.AlertsDropped.
	OutboxLen int
	// Learn configures flow features and the learned model (learn.go).
	Learn LearnConfig
}

// DefaultOutboxLen is the live alert outbox's default capacity.
const DefaultOutboxLen = 4096

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

	Decoded             Decoded // packets decoded, by layer
	FlowsByProto        FlowsByProto
	Stream              stream.Stats
	Anomalies           uint64 // anomaly events reported
	AnomaliesSuppressed uint64 // anomaly events over Config.AnomalyRate
	AlertsDropped       uint64 // alerts lost because the outbox was full
	Reconfigured        uint64 // settings applied by Reconfigure
}

// Decoded counts the packets the workers decoded, by layer (Suricata's
// decoder.* counters).
type Decoded struct {
	Pkts, Bytes, Invalid, Ethernet, VLAN, IPv4, IPv6, TCP, UDP, ICMPv4, ICMPv6, VXLAN uint64
	Syn, SynAck, Rst                                                                  uint64 // TCP segments with those flags
}

// FlowsByProto counts flows created, and TCP flows picked up mid-stream.
type FlowsByProto struct {
	TCP, UDP, ICMPv4, ICMPv6, Midstream uint64
}

// FlowActionFunc sets a kernel flow action (bpf.FlowDrop, bpf.FlowBypass)
// for one direction of a flow: from src:sport to dst:dport.
type FlowActionFunc func(src, dst netip.Addr, sport, dport uint16, proto uint8, vlan uint16, action uint32)

// AlertFunc receives each alert (already numbered with flow and subject),
// never under the detector lock: while Run runs, on the one goroutine
// that drains the alert outbox, in the order each worker made them;
// offline, on the worker, right after the detectors (or the rule) that
// made it. The alert is the callback's to keep.
type AlertFunc func(*alert.Alert)

// Pipeline is the userspace inspection path.
type Pipeline struct {
	cfg     Config                 // as built: the sizes (workers, queues, flow tables)
	live    atomic.Pointer[Config] // the settings in force (Reconfigure swaps them)
	engine  *detect.Engine
	onAlert AlertFunc
	workers []*Worker

	// Tap, when set before Run, sees every raw record the reader takes.
	Tap func(raw []byte)

	// OnFlowAction, when set before Run, applies drop rules and stream
	// bypass in the kernel flow table.
	OnFlowAction FlowActionFunc

	// OnFlowEnd, when set before Run, sees every flow as it leaves a
	// worker's table (f.EndReason says why): EVE flow records. It runs
	// on the worker; f is valid during the call only.
	OnFlowEnd func(f *flows.Flow)
	// OnAnomaly, when set before Run, receives decode and stream
	// anomalies (at most Config.AnomalyRate a second per worker). It runs
	// on the worker; a is valid during the call only.
	OnAnomaly func(a *eve.Anomaly)
	// OnDrop, when set before Run, receives the packet whose verdict
	// dropped its flow, once per flow, after the alert that dropped it,
	// with Suricata's drop reason: "rules" (a drop or reject rule in
	// prevent mode) or "model" (the in-kernel model dropped the flow
	// direction at its packet N, in the driver; once per flow direction,
	// alerted or not). Through the outbox while Run runs (on its
	// goroutine, with copies of p and f), else on the worker. p and f
	// are valid during the call only.
	OnDrop func(p *decode.Packet, f *flows.Flow, reason string)
	// OnApp, when set before Run, receives the app-layer records (EVE
	// http, dns, tls, ssh; app.go). It runs on the worker; ev and what it
	// points to are valid during the call only.
	OnApp func(ev *eve.AppEvent)

	sig   atomic.Pointer[signature.Engine]
	model atomic.Pointer[model.Set] // the learned models (learn.go)
	// kmodel names the in-kernel model's verdicts (kernel.go)
	kmodel atomic.Pointer[KernelModel]
	// ruleState is the signature state the daemon compiles every rule set
	// on (RuleState): flowbits, host bits and thresholds outlive a reload.
	ruleState *signature.State

	// KernelOffset converts the program's CLOCK_MONOTONIC stamps to Unix time
	// (0 offline, where the program's clock is packet time already).
	KernelOffset atomic.Int64

	out       outbox
	reconfs   atomic.Uint64
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
	if cfg.OutboxLen < 1 {
		cfg.OutboxLen = DefaultOutboxLen
	}
	p := &Pipeline{cfg: cfg, onAlert: onAlert, ruleState: signature.NewState()}
	live := cfg
	p.live.Store(&live)
	p.engine = detect.New(cfg.Detect, p.alert)
	for i := 0; i < cfg.Workers; i++ {
		p.workers = append(p.workers, newWorker(p))
	}
	return p
}

// SetRules installs a compiled signature engine (nil: none). Safe while
// running: workers pick it up at their next sample (SIGHUP reload).
func (p *Pipeline) SetRules(e *signature.Engine) { p.sig.Store(e) }

// RuleState is the state to compile rule sets on (signature.Options.State,
// signature.Spec.State) so that a swap keeps flowbits, host bits and
// thresholds.
func (p *Pipeline) RuleState() *signature.State { return p.ruleState }

// Rules is the signature engine in use, or nil.
func (p *Pipeline) Rules() *signature.Engine { return p.sig.Load() }

// Engine is the detector engine (for its stats).
func (p *Pipeline) Engine() *detect.Engine { return p.engine }

// Worker returns worker i (offline use: Worker(0).Process).
func (p *Pipeline) Worker(i int) *Worker { return p.workers[i] }

// Stats sums the counters of the pipeline and its workers. The workers'
// flow, stream and per-packet counters are as they published them (each
// second of packet time); call Flush first, with the workers idle, for
// exact figures.
func (p *Pipeline) Stats() Stats {
	s := Stats{Samples: p.samples.Load(), Overflow: p.overflow.Load(), Malformed: p.malformed.Load(), Alerts: p.alerts.Load(),
		AlertsDropped: p.out.dropped.Load(), Reconfigured: p.reconfs.Load()}
	for _, w := range p.workers {
		s.NotIP += w.notIP.Load()
		s.Truncated += w.truncated.Load()
		s.GapPackets += w.gapPackets.Load()
		s.GapFlows += w.gapFlows.Load()
		for i := range s.Bypassed {
			s.Bypassed[i] += w.bypassed[i].Load()
		}
		s.Decoded.Invalid += w.truncated.Load()
		if c := w.countPub.Load(); c != nil {
			c.addTo(&s)
		}
		if ss := w.streamStats.Load(); ss != nil {
			addStream(&s.Stream, ss)
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
	cfg     *Config // the settings of the sample being processed (Pipeline.live)
	dec     *decode.Decoder
	table   *flows.Table
	pkt     decode.Packet
	sample  samples.Sample
	trust   uint32 // the kernel's trust bits of the sample being processed
	in      detect.Input
	lastExp int64

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
	held []heldAlert
	// streamHeld are the alerts of one MatchStream call on an app-layer
	// flow, held until the app parser has read the same bytes so they
	// carry the direction's transaction (see streamApp).
	streamHeld []*alert.Alert
	streamRec  streamRec
	holding    bool
	norm       []byte // a packet's payload as the stream accepted it (prevent mode)
	app        appLayer
	learn      *learner   // flow features and the model (learn.go), made on first use
	modelGate  sourceGate // one model alert per subject per gap, userspace or in-kernel model (kernel.go)

	notIP       atomic.Uint64
	truncated   atomic.Uint64
	flowStats   atomic.Pointer[flows.Stats]
	gapPackets  atomic.Uint64
	gapFlows    atomic.Uint64
	bypassed    [len(flows.BypassNames)]atomic.Uint64
	streamStats atomic.Pointer[stream.Stats]
	count       counters                 // written by the worker only
	countPub    atomic.Pointer[counters] // count as of the last publish

	// PcapCnt, set by an offline runner before each Process or
	// ProcessSample, is the 1-based number in the capture of the packet
	// the sample is (EVE pcap_cnt); 0 live.
	PcapCnt uint64

	lastTs    int64       // packet time of the last packet processed
	seq       uint64      // packets processed
	gapSeq    uint64      // w.seq when a stream gap was last reported
	gapFlow   uint64      // and for which flow
	anom      eve.Anomaly // the anomaly being reported (reused)
	anomSec   int64       // the second of packet time anomalies are counted in
	anomInSec int         // anomalies reported in that second
}

// counters are a worker's per-packet counters: plain integers the worker
// alone writes (no atomic operation per packet), published to Stats with
// the flow table's counters, each second of packet time and by Flush.
type counters struct {
	pkts, bytes, vlan, ipv4, ipv6, tcp, udp, icmp4, icmp6, vxlan uint64
	syn, synack, rst                                             uint64
	flowTCP, flowUDP, flowICMP4, flowICMP6, midstream            uint64
	anomalies, suppressed                                        uint64
}

func (c *counters) addTo(s *Stats) {
	d := &s.Decoded
	d.Pkts += c.pkts
	d.Bytes += c.bytes
	d.Ethernet += c.pkts
	d.VLAN += c.vlan
	d.IPv4 += c.ipv4
	d.IPv6 += c.ipv6
	d.TCP += c.tcp
	d.UDP += c.udp
	d.ICMPv4 += c.icmp4
	d.ICMPv6 += c.icmp6
	d.VXLAN += c.vxlan
	d.Syn += c.syn
	d.SynAck += c.synack
	d.Rst += c.rst
	fp := &s.FlowsByProto
	fp.TCP += c.flowTCP
	fp.UDP += c.flowUDP
	fp.ICMPv4 += c.flowICMP4
	fp.ICMPv6 += c.flowICMP6
	fp.Midstream += c.midstream
	s.Anomalies += c.anomalies
	s.AnomaliesSuppressed += c.suppressed
}

func addStream(t, s *stream.Stats) {
	t.Segments += s.Segments
	t.Bytes += s.Bytes
	t.OutOfOrder += s.OutOfOrder
	t.Overlaps += s.Overlaps
	t.OverlapBytes += s.OverlapBytes
	t.Gaps += s.Gaps
	t.GapBytes += s.GapBytes
	t.Truncated += s.Truncated
	t.BufferDrops += s.BufferDrops
	t.FlowDrops += s.FlowDrops
	t.DepthReached += s.DepthReached
	t.Streams += s.Streams
	t.Ended += s.Ended
	t.Active += s.Active
	t.Finished += s.Finished
}

func newWorker(p *Pipeline) *Worker {
	w := &Worker{p: p, cfg: p.live.Load(), dec: decode.NewDecoder(), table: flows.NewTable(p.cfg.FlowsPerWorker, p.cfg.Timeouts)}
	sc := stream.DefaultConfig()
	if p.cfg.StreamDepth > 0 {
		sc.Depth = p.cfg.StreamDepth
	}
	sc.OnData = w.onStreamData
	sc.OnDepthReached = w.onStreamDepth
	sc.OnGap = w.onStreamGap
	w.stream = stream.New(sc)
	w.defrag = defrag.New(defrag.Config{})
	w.table.OnRemove = func(f *flows.Flow) {
		// The stream first: what is left of it goes through the stream
		// rules, whose alerts the flow record then counts.
		w.stream.FlowEnd(f.ID)
		w.appFlowEnd(f)
		if e := p.sig.Load(); e != nil {
			e.FlowEnd(f)
		} else {
			p.ruleState.FlowEnd(f)
		}
		w.learnEnd(f)
		if p.OnFlowEnd != nil {
			p.OnFlowEnd(f)
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
		if w.cfg.Prevent {
			w.normalise(e, pk, in)
		}
	} else if pk.Proto == decode.ProtoUDP && pk.HasL4 && in.F != nil {
		w.appUDP(e, pk, in.F, in.FromOrig)
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
	d := 1
	if toServer {
		d = 0
	}
	if f.Bypass[d] != flows.BypassNone {
		return // done with: what is still buffered has nothing to show
	}
	w.streamIn = signature.StreamInput{F: f, ToServer: toServer, Data: data, TsNs: ts, P: w.cur, Offset: offset}
	prev := w.curFlow
	w.curFlow = f
	w.streamHeld = w.streamHeld[:0]
	w.streamRec = streamRec{toServer: toServer}
	e.MatchStream(&w.streamIn, w.holdStream)
	w.curFlow = prev
	// The app layer (app.go) parses what it detects; a TLS or SSH
	// session that turned encrypted carries nothing inspection can see
	// from here on (Suricata's encryption-handling: bypass). Flows no
	// app parser follows keep the TLS record follower.
	handled, encrypted := w.appData(e, f, toServer, data, offset)
	if len(w.streamHeld) > 0 {
		w.curFlow = f
		w.streamApp(f, toServer)
		w.curFlow = prev
	}
	if encrypted || !handled && f.TLS[d].Feed(offset, data) == tlsrec.Encrypted {
		w.bypass(f, d, flows.BypassEncrypted)
	}
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

// onStreamGap reports a hole the reassembler skipped: Suricata's
// stream.reassembly_seq_gap.
func (w *Worker) onStreamGap(f *flows.Flow, _ bool) {
	// One event per packet and flow, as Suricata sets a packet's events
	// once (a packet can close several holes).
	if w.gapSeq == w.seq && w.gapFlow == f.ID {
		return
	}
	w.gapSeq, w.gapFlow = w.seq, f.ID
	ts := f.LastNs
	if w.cur != nil {
		ts = w.cur.TsNs
	}
	w.anomaly(w.cur, f, ts, "stream", "stream.reassembly_seq_gap")
}

// anomaly reports one anomaly of packet p (may be nil) of flow f (may be
// nil), within Config.AnomalyRate per second of packet time.
func (w *Worker) anomaly(p *decode.Packet, f *flows.Flow, tsNs int64, typ, event string) {
	if w.p.OnAnomaly == nil {
		return
	}
	if r := w.cfg.AnomalyRate; r > 0 {
		if sec := tsNs / 1e9; sec != w.anomSec {
			w.anomSec, w.anomInSec = sec, 0
		}
		if w.anomInSec >= r {
			w.count.suppressed++
			return
		}
		w.anomInSec++
	}
	w.count.anomalies++
	w.anom = eve.Anomaly{P: p, F: f, TsNs: tsNs, Type: typ, Event: event}
	w.p.OnAnomaly(&w.anom)
}

// emit takes a signature alert: drop and reject rules drop the rest of
// the flow in the kernel (prevent mode) and may ban the source. During a
// packet's rules it is held (see signatures).
func (w *Worker) emit(a *alert.Alert) {
	if a.AppGate != nil {
		// a stream match on a flow whose protocol was undecided (streamApp
		// checks these once the app layer has read the chunk)
		ok := w.curFlow != nil && a.AppGate(appproto.Proto(w.curFlow.App).String())
		if a.AppGate = nil; !ok {
			return
		}
	}
	w.setTrust(a)
	if a.AppProto == "" && w.curFlow != nil && w.curFlow.App != 0 {
		a.AppProto = appproto.Proto(w.curFlow.App).String()
	}
	if f := w.curFlow; f != nil && !a.Flow.Valid {
		a.Flow = flowInfo(f, a)
	}
	if w.holding {
		var firstNs int64
		if w.curFlow != nil {
			firstNs = w.curFlow.FirstNs
		}
		if w.cfg.IncludePayload && len(a.Payload) > 0 {
			// the payload aliases buffers valid only during the callback
			a.Payload = append([]byte(nil), a.Payload...)
		}
		w.held = append(w.held, heldAlert{a: a, f: w.curFlow, firstNs: firstNs})
		return
	}
	var dropped *flows.Flow // the flow this alert's verdict drops, the first time
	if a.RuleAction == "drop" || a.RuleAction == "reject" {
		if w.cfg.Prevent {
			a.Action = "blocked"
			if f := w.curFlow; f != nil && w.p.OnFlowAction != nil && (f.Proto == decode.ProtoTCP || f.Proto == decode.ProtoUDP) {
				o, op := f.Orig()
				r, rp := f.Resp()
				w.p.OnFlowAction(o, r, op, rp, f.Proto, f.VLAN, bpf.FlowDrop)
				w.p.OnFlowAction(r, o, rp, op, f.Proto, f.VLAN, bpf.FlowDrop)
				if !f.Dropped {
					f.Dropped = true
					dropped = f
				}
			}
			if w.cfg.DropBanTTL > 0 {
				a.BanTTLNs = w.cfg.DropBanTTL
			}
		} else {
			a.Action = "allowed"
		}
	}
	if !w.cfg.IncludePayload {
		a.Payload = nil
	}
	if w.curFlow != nil {
		w.curFlow.Alerted = true
	}
	if w.cur != nil {
		a.PcapCnt = w.cur.PcapCnt
	}
	w.p.alert(a)
	w.p.deliver()
	// The drop event after the alert that caused it, as Suricata logs
	// them: once per flow, for the packet the verdict fell on.
	if dropped != nil && w.p.OnDrop != nil && w.cur != nil {
		w.p.drop(w.cur, dropped, DropRules)
	}
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
	if c := w.p.live.Load(); c != w.cfg {
		w.reconfigure(c)
	}
	// The XDP program keys flows on the outer headers: the kernel's count
	// of a tunnel says nothing of the inner flow decode found (and the
	// kernel cannot bypass that inner flow either).
	w.encap = pk.Depth > 0
	if w.encap {
		pk.FlowPackets = 0
	}
	w.lastTs = pk.TsNs
	w.seq++
	w.countPacket(pk, s)
	switch {
	case errors.Is(err, decode.ErrNotIP):
		w.notIP.Add(1)
		if pk.ARPOp != 0 {
			w.p.engine.ObserveARP(pk)
			w.p.deliver()
		}
		return
	case err != nil:
		w.truncated.Add(1)
		w.anomaly(pk, nil, pk.TsNs, "decode", decodeEvent(pk, s.Data))
		if pk.Family == 0 {
			return
		}
	}
	in := &w.in
	*in = detect.Input{P: pk, Trust: s.Trust}
	w.trust = s.Trust
	if pk.Family != 0 && (pk.HasL4 || pk.LaterFrag || !isPortProto(pk.Proto)) {
		in.F, in.FromOrig, in.Ev = w.table.Track(pk)
		in.Packets, in.SpanNs = packetsBehind(in)
		if in.Ev&flows.EvNew != 0 {
			w.countFlow(pk.Proto, in.Ev)
		}
	}
	// The host's own packets (the egress program's samples) are replies:
	// tracked, parsed, matched and learned from, but no evidence for the
	// behavioural detectors, which judge what arrives at the host.
	if s.Trust&bpf.TrustEgress == 0 {
		w.p.engine.Observe(in)
		w.p.deliver() // the detectors' alerts, now that their lock is released
	}
	w.learnPacket(in)
	if s.ModelVerdict() {
		w.kernelVerdict(s, in)
	}
	e := w.p.sig.Load()
	if e != nil && in.F != nil && s.Action == bpf.FlowInspect {
		w.inspection(e, in)
	}
	// A bypassed flow's milestones are headers only: counted, not matched;
	// and a direction userspace is done with is not matched offline either,
	// where every frame still comes (as the XDP replay would not send it).
	if e != nil && pk.Family != 0 && s.Action != bpf.FlowBypass && !bypassed(in) {
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
		w.publish()
	}
}

// setTrust sets a signature alert's trust level: a hit on a TCP flow
// whose handshake completed needs a working return path (verified), any
// other can come from a forged source. The kernel's trust bits of the
// packet matched say whether its source was verified.
func (w *Worker) setTrust(a *alert.Alert) {
	if a.Trust != "" {
		return
	}
	a.Trust = alert.TrustForgeable
	if f := w.curFlow; f != nil && handshakeAnswered(f, w.trust) {
		a.Trust = alert.TrustVerified
	}
	if a.Src == a.Subject || !a.Subject.IsValid() {
		a.SourceVerified = w.trust&bpf.TrustVerified != 0
		if w.trust&bpf.TrustHopMismatch != 0 {
			a.SpoofSuspected = "hop count differs from the verified source's"
		}
	}
}

// handshakeAnswered reports whether f is a TCP connection whose
// originator proved a return path: its handshake completed and either the
// server's SYN-ACK was seen (captures and mirrors see both directions) or
// the kernel verified the source (its handshake ACK carried a valid SYN
// cookie, or acknowledged the SYN-ACK the host sent, which the tcx egress
// program recorded) and this packet has the verified source's hop count.
// XDP sees ingress only: a handshake completed in the flow table alone
// could be a forged SYN and a blind ACK, which the flow table cannot tell
// from a real one without the SYN-ACK.
func handshakeAnswered(f *flows.Flow, trust uint32) bool {
	if f.Proto != decode.ProtoTCP {
		return false
	}
	switch f.State {
	case flows.StateEstablished, flows.StateClosing, flows.StateClosed:
	default:
		return false
	}
	const synAck = uint8(decode.FlagSYN | decode.FlagACK)
	return f.Flags[1]&synAck == synAck || trust&(bpf.TrustVerified|bpf.TrustHopMismatch) == bpf.TrustVerified
}

// bypassed reports whether userspace is done with the direction of the
// flow in.P belongs to.
func bypassed(in *detect.Input) bool {
	if in.F == nil {
		return false
	}
	d := 0
	if !in.FromOrig {
		d = 1
	}
	return in.F.Bypass[d] != flows.BypassNone
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
	depth := w.cfg.DetectDepth
	if depth == 0 {
		depth = 4
	}
	if k >= depth && !e.MayMatch(f.Proto, f.A, f.B, f.APort, f.BPort) {
		w.bypass(f, d, flows.BypassNoRule)
	}
}

// publish makes the table's and the reassembler's counters visible to
// Stats (they are not safe to read from another goroutine).
func (w *Worker) publish() {
	st := w.table.Stats()
	w.flowStats.Store(&st)
	ss := w.stream.Stats()
	w.streamStats.Store(&ss)
	c := w.count
	w.countPub.Store(&c)
}

// countPacket counts a decoded packet by layer.
func (w *Worker) countPacket(pk *decode.Packet, s *samples.Sample) {
	c := &w.count
	c.pkts++
	c.bytes += uint64(s.WireLen)
	if pk.VLAN != 0 {
		c.vlan++
	}
	if pk.Tunnel {
		c.vxlan++
	}
	switch pk.Family {
	case 4:
		c.ipv4++
	case 6:
		c.ipv6++
	}
	if !pk.HasL4 {
		return
	}
	switch pk.Proto {
	case decode.ProtoTCP:
		c.tcp++
		switch {
		case pk.TCPFlags&decode.FlagRST != 0:
			c.rst++
		case pk.TCPFlags&(decode.FlagSYN|decode.FlagACK) == decode.FlagSYN|decode.FlagACK:
			c.synack++
		case pk.TCPFlags&decode.FlagSYN != 0:
			c.syn++
		}
	case decode.ProtoUDP:
		c.udp++
	case decode.ProtoICMP:
		c.icmp4++
	case decode.ProtoICMPv6:
		c.icmp6++
	}
}

// countFlow counts a new flow by protocol.
func (w *Worker) countFlow(proto uint8, ev int) {
	c := &w.count
	switch proto {
	case decode.ProtoTCP:
		c.flowTCP++
		if ev&flows.EvMidstream != 0 {
			c.midstream++
		}
	case decode.ProtoUDP:
		c.flowUDP++
	case decode.ProtoICMP:
		c.flowICMP4++
	case decode.ProtoICMPv6:
		c.flowICMP6++
	}
}

// decodeEvent names a decode error as Suricata's decoder event for it:
// the layer that was cut, read from what the decoder got before it.
func decodeEvent(pk *decode.Packet, frame []byte) string {
	if pk.Family == 0 {
		if len(frame) < 14 {
			return "decoder.ethernet.pkt_too_small"
		}
		// The EtherType after at most two VLAN tags, as the decoder reads
		// it: fixed offsets only, no second parse.
		off := 12
		et := uint16(frame[off])<<8 | uint16(frame[off+1])
		for i := 0; i < 2 && (et == 0x8100 || et == 0x88a8); i++ {
			if len(frame) < off+6 {
				return "decoder.vlan.header_too_small"
			}
			off += 4
			et = uint16(frame[off])<<8 | uint16(frame[off+1])
		}
		switch et {
		case 0x86dd:
			return "decoder.ipv6.pkt_too_small"
		case 0x0806:
			return "decoder.ethernet.pkt_too_small"
		}
		return "decoder.ipv4.pkt_too_small"
	}
	if !pk.HasL4 && !pk.LaterFrag {
		switch pk.Proto {
		case decode.ProtoTCP:
			return "decoder.tcp.pkt_too_small"
		case decode.ProtoUDP:
			return "decoder.udp.pkt_too_small"
		case decode.ProtoICMP:
			return "decoder.icmpv4.pkt_too_small"
		case decode.ProtoICMPv6:
			return "decoder.icmpv6.pkt_too_small"
		}
		if pk.Family == 6 {
			return "decoder.ipv6.trunc_exthdr"
		}
	}
	if pk.Family == 6 {
		return "decoder.ipv6.trunc_pkt"
	}
	return "decoder.ipv4.trunc_pkt"
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
		w.table.EndAll(w.lastTs)
	}
}

// Flush publishes the workers' flow statistics (after offline runs).
func (p *Pipeline) Flush() {
	for _, w := range p.workers {
		w.publish()
	}
}

// Run reads the ring buffer until rd is closed or flushed, handing records to the
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
	p.out.start(p)
	defer func() {
		for _, w := range p.workers {
			close(w.full)
		}
		wg.Wait()
		p.out.stop()
		p.Flush()
	}()
	n := uint32(len(p.workers))
	for {
		raw, err := rd.ReadRaw()
		if errors.Is(err, ringbuf.ErrClosed) || errors.Is(err, ringbuf.ErrFlushed) {
			return nil // closed, or drained after a Flush
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

// EVE maps the counters to an EVE stats event at packet time tsNs:
// Suricata's names where one means the same (decoder.*, flow.* as flows
// created by protocol, tcp.*, detect.alert), xdpids.* in Extra for the
// rest. The caller adds the kernel's counters.
func (s Stats) EVE(tsNs, uptimeSec int64) *eve.Stats {
	d := &s.Decoded
	st := &eve.Stats{TsNs: tsNs, Stats: eve.StatsRecord{
		Uptime: uptimeSec,
		Decoder: eve.DecoderStats{Pkts: d.Pkts, Bytes: d.Bytes, Invalid: d.Invalid, IPv4: d.IPv4, IPv6: d.IPv6,
			Ethernet: d.Ethernet, VLAN: d.VLAN, TCP: d.TCP, UDP: d.UDP, ICMPv4: d.ICMPv4, ICMPv6: d.ICMPv6, VXLAN: d.VXLAN},
		Flow: eve.FlowStats{TCP: s.FlowsByProto.TCP, UDP: s.FlowsByProto.UDP, ICMPv4: s.FlowsByProto.ICMPv4, ICMPv6: s.FlowsByProto.ICMPv6},
		TCP: eve.TCPStats{Sessions: s.FlowsByProto.TCP, Syn: d.Syn, SynAck: d.SynAck, Rst: d.Rst,
			MidstreamPickups: s.FlowsByProto.Midstream, Overlap: s.Stream.Overlaps, ReassemblyGap: s.Stream.Gaps,
			StreamDepthReached: s.Stream.DepthReached},
		Detect: eve.DetectStats{Alert: s.Alerts},
	}, Extra: map[string]uint64{
		"xdpids.samples":              s.Samples,
		"xdpids.samples_overflow":     s.Overflow,
		"xdpids.samples_malformed":    s.Malformed,
		"xdpids.decode_not_ip":        s.NotIP,
		"xdpids.decode_truncated":     s.Truncated,
		"xdpids.flows_created":        s.FlowsCreated,
		"xdpids.flows_evicted":        s.FlowsEvicted,
		"xdpids.flows_active":         uint64(s.FlowsActive),
		"xdpids.anomalies":            s.Anomalies,
		"xdpids.anomalies_suppressed": s.AnomaliesSuppressed,
	}}
	if s.AlertsDropped > 0 {
		// only live, where the outbox can fill (offline output stays as it was)
		st.Extra["xdpids.alerts_dropped"] = s.AlertsDropped
	}
	return st
}

// flowInfo snapshots the flow an alert was raised on (EVE alert.flow).
func flowInfo(f *flows.Flow, a *alert.Alert) alert.FlowInfo {
	o, op := f.Orig()
	r, rp := f.Resp()
	return alert.FlowInfo{Valid: true, ToServer: a.Src == o && a.SrcPort == op, Pkts: f.Pkts, Bytes: f.Bytes, StartNs: f.FirstNs,
		Client: netip.AddrPortFrom(o, op), Server: netip.AddrPortFrom(r, rp)}
}
