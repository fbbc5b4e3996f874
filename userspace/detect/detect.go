// Package detect holds the behavioural detectors: port scans (vertical,
// horizontal, TCP and UDP, IP protocol), illegal TCP flag combinations, SYN,
// UDP and ICMP floods per source and per destination, SYN-ACK reflection,
// UDP amplification (named services, and any UDP source port by
// behaviour), DHCP floods and brute force against authentication
// ports. Packet timestamps drive every window, so a capture gives the same
// alerts on every run.
//
// Each detector is a Detector in a file of its own with its config section
// (registry.go lists them, in the order they see a packet); the state they
// share, its bounds and the suppression of repeated alerts are in
// state*.go and fire.go.
package detect

import (
	"math/bits"
	"net/netip"
	"reflect"
	"sync"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

// Input is one decoded sample with its flow.
type Input struct {
	P        *decode.Packet
	F        *flows.Flow // nil when the packet has no flow
	FromOrig bool
	Ev       int // flows.Ev* bits
	// Packets is how many packets this sample stands for (from the kernel
	// flow counter: samples of long flows skip packets); 0 counts as 1.
	Packets int
	SpanNs  int64 // the time those packets were spread over (0: this instant)
	// Trust is the kernel's trust bits for the packet's source
	// (samples.Sample.Trust: bpf.TrustVerified, bpf.TrustHopMismatch).
	Trust uint32
}

// weight is the packets to count in a window of length ns: a sample that
// stands for packets spread over more than the window counts only its
// share, so one report after a long quiet flow is no flood.
func (in *Input) weight(length int64) int {
	if in.Packets <= 1 {
		return 1
	}
	if in.SpanNs <= length || in.SpanNs <= 0 {
		return in.Packets
	}
	return max(1, int(int64(in.Packets)*length/in.SpanNs))
}

// Stats count detector activity.
type Stats struct {
	Alerts     uint64
	Suppressed uint64
	// StateRefused counts new state refused because the evidence
	// partition was full and no entry with less evidence made room: those
	// subjects were not tracked.
	StateRefused uint64
	// StateEvictedProbe counts probe entries (one probe, see probe)
	// evicted, oldest first, to admit a new probe entry.
	StateEvictedProbe uint64
	// StateExpiredProbe counts probe entries dropped after ProbeIdle
	// without a second probe.
	StateExpiredProbe uint64
	// StateEvictedFlood counts 1-s flood windows (per source, per
	// source and port) evicted, an ended or the smallest of a sample
	// first, to admit a new one.
	StateEvictedFlood uint64 // also per-destination counters
	// StateEvictedEvidence counts scan entries with evidence (two or more
	// probes) evicted, the least evidence of a sample first, to make room
	// for another entry's second probe.
	StateEvictedEvidence uint64
	Keys                 int // all entries
	ProbeKeys            int // entries in the probe partition
}

// unit is a detector with its name, read once.
type unit struct {
	d    Detector
	name string
}

// Engine runs every detector over the inputs. It is safe for concurrent
// use: pipeline workers share one engine.
type Engine struct {
	mu    sync.Mutex
	cfg   Config // the detectors and the state read it through a pointer
	emit  func(*alert.Alert)
	st    *state
	units []unit
	// by holds the detectors of each class in registry order, and names
	// their names (read when one fires).
	by    [numClasses][]Detector
	names [numClasses][]string
	ctx   Ctx // reused: Observe runs under mu
	// in is the input being observed, copied: a pointer handed to the
	// detectors (interface calls) would make every caller's Input escape
	// to the heap.
	in     Input
	lastGC int64
	// wantMore, when set (SetWantMore), says whether the responder is
	// waiting on more evidence against a subject.
	wantMore func(netip.Addr) bool
}

// SetWantMore gives the engine the responder's WantsMoreEvidence, for
// pipelines whose alerts reach the responder after the engine's lock is
// released (the daemon's alert outbox). Call it before Observe runs.
func (e *Engine) SetWantMore(f func(netip.Addr) bool) { e.wantMore = f }

func (e *Engine) wantsMore(a netip.Addr) bool { return e.wantMore != nil && e.wantMore(a) }

// New returns an engine calling emit for each alert (under the engine's
// lock: emit must not call back into the engine).
func New(cfg Config, emit func(*alert.Alert)) *Engine {
	e := &Engine{cfg: cfg, emit: emit}
	e.st = newState(&e.cfg)
	e.ctx.e = e
	for _, mk := range registry {
		d := mk(e.st, &e.cfg)
		u := unit{d, d.Name()}
		e.units = append(e.units, u)
		for c := d.Classes(); c != 0; c &= c - 1 {
			i := bits.TrailingZeros16(uint16(c))
			e.by[i] = append(e.by[i], d)
			e.names[i] = append(e.names[i], u.name)
		}
	}
	return e
}

// Detectors describes the detectors, in the order they see a packet. Each
// Description.Config is a copy of the section in force (a pointer to it).
func (e *Engine) Detectors() []Description {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Description, len(e.units))
	for i, u := range e.units {
		d := u.d.Describe()
		if d.Config != nil {
			v := reflect.ValueOf(d.Config).Elem()
			c := reflect.New(v.Type())
			c.Elem().Set(v)
			d.Config = c.Interface()
		}
		out[i] = d
	}
	return out
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.st.stats
	s.Keys = e.st.keys
	s.ProbeKeys = e.st.probeLive
	return s
}

// Observe runs the detectors over one input.
func (e *Engine) Observe(in *Input) {
	p := in.P
	if p.Family == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := p.TsNs
	if now-e.lastGC >= int64(10e9) || now < e.lastGC {
		e.gc(now)
	}
	e.ctx.Facts = Facts{}
	e.in = *in
	if p.Reason >= bpf.ReasonRateSYN && p.Reason <= bpf.ReasonRateICMP && p.Verdict != bpf.VerdictPass {
		e.dispatch(ClassRateLimit, &e.in)
	}
	var c Class
	switch {
	case p.LaterFrag:
		c = ClassFragment
	case p.Proto == decode.ProtoTCP:
		if !p.HasL4 { // a cut TCP header has unknown flags, not zero ones
			return
		}
		c = ClassTCP
		if in.Ev&(flows.EvNew|flows.EvEstablished) != 0 || isSyn(p.TCPFlags) {
			c = ClassTCPHandshake
		}
	case p.Proto == decode.ProtoUDP:
		c = ClassUDP
		if in.Ev&flows.EvNew != 0 {
			c = ClassUDPNew
		}
	case p.Proto == decode.ProtoICMP || p.Proto == decode.ProtoICMPv6:
		c = ClassICMP
	default:
		c = ClassOtherIP
	}
	// dispatch, by hand: a call less per packet.
	ci := bits.TrailingZeros16(uint16(c))
	e.ctx.Class, e.ctx.ci = c, ci
	for i, d := range e.by[ci] {
		e.ctx.idx = i
		d.Observe(&e.in, &e.ctx)
	}
}

// ObserveARP runs the ARP detectors over an ARP packet.
func (e *Engine) ObserveARP(p *decode.Packet) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ctx.Facts = Facts{}
	e.in = Input{P: p}
	e.dispatch(ClassARP, &e.in)
}

// dispatch calls the detectors of class c in registry order.
func (e *Engine) dispatch(c Class, in *Input) {
	ci := bits.TrailingZeros16(uint16(c))
	e.ctx.Class, e.ctx.ci = c, ci
	for i, d := range e.by[ci] {
		e.ctx.idx = i
		d.Observe(in, &e.ctx)
	}
}

// gc drops state whose windows ended long ago.
func (e *Engine) gc(now int64) {
	e.lastGC = now
	for _, u := range e.units {
		u.d.Expire(now)
	}
	e.st.expire(now)
}
