// Package detect holds the behavioural detectors: port scans (vertical,
// horizontal, TCP and UDP, IP protocol), illegal TCP flag combinations, SYN,
// UDP and ICMP floods per source and per destination, SYN-ACK reflection,
// UDP amplification (named services, and any UDP source port by
// behaviour), DHCP floods and brute force against authentication
// ports. Packet timestamps drive every window, so a capture gives the same
// alerts on every run. Thresholds and their reasons are in Config.
package detect

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
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

type pair struct{ src, dst netip.Addr }

type srcPort struct {
	src  netip.Addr
	port uint16
	udp  bool
}

type dstPort struct {
	dst  netip.Addr
	port uint16
}

type triple struct {
	src, dst netip.Addr
	port     uint16
}

type suppressKey struct {
	sid     uint32
	subject netip.Addr
	port    uint16 // the reflectors' port for AmpOther, else 0
}

// window is a tumbling counter: n events since start.
type window struct {
	start int64
	n     int
	m     int  // a second count (completions, bytes in KB, ...)
	probe bool // brute: in the probe partition (one connection attempt)
}

// roll restarts w when now is past its length.
func (w *window) roll(now, length int64) {
	if w.start == 0 || now-w.start >= length || now < w.start {
		*w = window{start: now}
	}
}

// portSet is the distinct ports (or hosts, protocols) seen in a window.
type portSet struct {
	start   int64
	ports   map[uint16]struct{}
	alerted bool
	probe   bool // in the probe partition: created by one probe, no second yet
}

type hostSet struct {
	start   int64
	hosts   map[netip.Addr]struct{}
	alerted bool
	probe   bool
}

// evidence is how much an entry has seen, for eviction: an entry that
// alerted counts above any that did not.
func (s *portSet) evidence() (int, int64, bool) {
	if s.alerted {
		return 1 << 30, s.start, s.probe
	}
	return len(s.ports), s.start, s.probe
}

func (h *hostSet) evidence() (int, int64, bool) {
	if h.alerted {
		return 1 << 30, h.start, h.probe
	}
	return len(h.hosts), h.start, h.probe
}

// Kinds of probe entries, for probeRec.
const (
	probeVertical uint8 = iota
	probeVerticalU
	probeHorizontal
	probeProtos
	probeARP
	probeBrute
)

// probeRec names one probe entry in the probe ring: its table, key and
// start (an entry re-created under the same key later is another entry).
type probeRec struct {
	start int64
	a, b  netip.Addr
	port  uint16
	kind  uint8
	udp   bool
}

// sourceCount is a window with its distinct sources, capped at a limit.
type sourceCount struct {
	window
	sources map[netip.Addr]struct{}
}

// Engine runs every detector over the inputs. It is safe for concurrent
// use: pipeline workers share one engine.
type Engine struct {
	mu    sync.Mutex
	cfg   Config
	emit  func(*alert.Alert)
	stats Stats

	vertical   map[pair]*portSet // TCP (udp=false) / UDP attempts
	verticalU  map[pair]*portSet
	horizontal map[srcPort]*hostSet    // src, port -> hosts
	protos     map[pair]*portSet       // distinct IP protocols
	arpSweep   map[netip.Addr]*hostSet // ARP sender -> targets asked for

	synSrc   map[triple]window // src->dst:port SYNs, completions (values: no allocation per update)
	synDst   map[dstPort]*sourceCount
	udpSrc   map[netip.Addr]window
	udpDst   map[netip.Addr]*sourceCount
	icmpSrc  map[netip.Addr]window
	icmpDst  map[netip.Addr]*sourceCount
	synack   map[netip.Addr]window
	dhcp     window
	amp      map[dstPort]*sourceCount // dst, service port
	refl     map[netip.Addr]*reflTarget
	frags    map[netip.Addr]*sourceCount
	brute    map[triple]window
	suppress map[suppressKey]int64
	lastGC   int64

	// The probe partition (see probe): a ring of the probe entries in
	// creation order, some of them gone (promoted, expired) by now.
	probes    []probeRec // probeCap long
	probeHead int
	probeLen  int
	probeCap  int
	probeLive int // entries with probe set
	// Sets of evicted probe entries, reused for new ones: under a forged
	// probe flood every packet evicts one entry and admits another, with
	// no allocation.
	freePorts []*portSet
	freeHosts []*hostSet
}

// maxFree bounds each free list.
const maxFree = 256

// New returns an engine calling emit for each alert (under the engine's
// lock: emit must not call back into the engine).
func New(cfg Config, emit func(*alert.Alert)) *Engine {
	e := &Engine{
		cfg: cfg, emit: emit,
		vertical: map[pair]*portSet{}, verticalU: map[pair]*portSet{}, horizontal: map[srcPort]*hostSet{},
		protos: map[pair]*portSet{}, arpSweep: map[netip.Addr]*hostSet{}, synSrc: map[triple]window{}, synDst: map[dstPort]*sourceCount{},
		udpSrc: map[netip.Addr]window{}, udpDst: map[netip.Addr]*sourceCount{},
		icmpSrc: map[netip.Addr]window{}, icmpDst: map[netip.Addr]*sourceCount{},
		synack: map[netip.Addr]window{}, amp: map[dstPort]*sourceCount{}, refl: map[netip.Addr]*reflTarget{}, frags: map[netip.Addr]*sourceCount{},
		brute: map[triple]window{}, suppress: map[suppressKey]int64{},
	}
	// Allocated up front (64 bytes an entry, 1.6 MB by default) so that no
	// packet pays for it.
	e.probeCap = probeCap(cfg)
	e.probes = make([]probeRec, e.probeCap)
	e.freePorts = make([]*portSet, 0, maxFree)
	e.freeHosts = make([]*hostSet, 0, maxFree)
	return e
}

// probeCap is the probe partition's size: MaxProbeKeys, at most half of
// MaxKeys, at least 1.
func probeCap(cfg Config) int {
	n := cfg.MaxProbeKeys
	if n <= 0 || n > cfg.MaxKeys/2 {
		n = cfg.MaxKeys / 2
	}
	return max(n, 1)
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.stats
	s.Keys = e.keys()
	s.ProbeKeys = e.probeLive
	return s
}

func (e *Engine) keys() int {
	return len(e.arpSweep) + len(e.vertical) + len(e.verticalU) + len(e.horizontal) + len(e.protos) + len(e.synSrc) + len(e.synDst) +
		len(e.udpSrc) + len(e.udpDst) + len(e.icmpSrc) + len(e.icmpDst) + len(e.synack) + len(e.amp) + len(e.refl) +
		len(e.frags) + len(e.brute) + len(e.suppress)
}

var ampServices = map[uint16]alert.Signature{
	53: alert.AmpDNS, 123: alert.AmpNTP, 161: alert.AmpSNMP, 389: alert.AmpCLDAP, 1900: alert.AmpSSDP, 11211: alert.AmpMemcached,
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
	if p.Reason >= bpf.ReasonRateSYN && p.Reason <= bpf.ReasonRateICMP && p.Verdict != bpf.VerdictPass {
		e.kernelRateLimit(in)
	}
	if p.LaterFrag {
		e.fragment(in)
		return
	}
	switch p.Proto {
	case decode.ProtoTCP:
		if p.HasL4 { // a cut TCP header has unknown flags, not zero ones
			e.tcp(in)
		}
	case decode.ProtoUDP:
		e.udp(in)
	case decode.ProtoICMP, decode.ProtoICMPv6:
		e.icmp(in)
	default:
		if in.Ev&flows.EvNew != 0 {
			e.countProto(in)
		}
	}
}

// full reports (and counts) that the evidence partition, everything but
// the probe entries, has no room for a new entry.
func (e *Engine) full() bool {
	if e.evidenceFull() {
		e.stats.StateRefused++
		return true
	}
	return false
}

func (e *Engine) evidenceFull() bool {
	return e.keys()-e.probeLive-e.floodKeys() >= e.cfg.MaxKeys-e.probeCap-e.floodCap()
}

// floodKeys counts the flood partition: the per-source and per-tuple
// windows of FloodWindow (1 s) and the per-destination counters (1-10 s),
// each created by one forgeable packet.
func (e *Engine) floodKeys() int {
	return len(e.synSrc) + len(e.udpSrc) + len(e.icmpSrc) + len(e.synack) +
		len(e.synDst) + len(e.udpDst) + len(e.icmpDst) + len(e.amp) + len(e.frags)
}

// admitSources is admitFlood for per-destination counters (windows of
// length): an ended or the smallest counter of a sample of m makes room,
// else a per-source window.
func admitSources[K comparable](e *Engine, m map[K]*sourceCount, now, length int64) bool {
	if e.floodKeys() < e.floodCap() {
		return true
	}
	var victim K
	found, bestN, seen := false, 0, 0
	for k, c := range m {
		if seen++; seen > 8 {
			break
		}
		n := c.n
		if now-c.start >= length || now < c.start {
			n = -1 - int(min(now-c.start, 1<<40)/length)
		}
		if !found || n < bestN {
			victim, bestN, found = k, n, true
		}
	}
	if found {
		delete(m, victim)
		e.stats.StateEvictedFlood++
		return true
	}
	if evictWindow(e, e.udpSrc, now) || evictWindow(e, e.icmpSrc, now) || evictWindow(e, e.synSrc, now) || evictWindow(e, e.synack, now) {
		return true
	}
	e.stats.StateRefused++
	return false
}

// floodCap is the flood partition's size: a quarter of MaxKeys.
func (e *Engine) floodCap() int { return e.cfg.MaxKeys / 4 }

// admitFlood makes room in the flood partition for a new window of m:
// of up to 8 sampled windows of m, the one that ended longest ago, else
// the one with the fewest packets, is evicted. A forged flood from ever
// new sources then recycles its own windows; windows in flood keep theirs.
// When m is empty another flood table gives up a window; false (refused)
// only when none can.
func admitFlood[K comparable](e *Engine, m map[K]window, now int64) bool {
	if e.floodKeys() < e.floodCap() || evictWindow(e, m, now) ||
		evictWindow(e, e.udpSrc, now) || evictWindow(e, e.icmpSrc, now) || evictWindow(e, e.synSrc, now) || evictWindow(e, e.synack, now) {
		return true
	}
	e.stats.StateRefused++
	return false
}

func evictWindow[K comparable](e *Engine, m map[K]window, now int64) bool {
	length := int64(e.cfg.FloodWindow)
	var victim K
	found, bestN, seen := false, 0, 0
	for k, w := range m {
		if seen++; seen > 8 {
			break
		}
		n := w.n
		if now-w.start >= length || now < w.start {
			n = -1 - int(min(now-w.start, 1<<40)/length) // ended: older first
		}
		if !found || n < bestN {
			victim, bestN, found = k, n, true
		}
	}
	if !found {
		return false
	}
	delete(m, victim)
	e.stats.StateEvictedFlood++
	return true
}

// State bounds: why probe entries have a partition of their own.
//
// A scan entry created by one packet (a SYN, ACK, FIN or UDP probe, or an
// ARP request, that completed no handshake) is evidence anyone can forge
// from any address: forged ACK probes from 14,000 sources, seven ports
// each, once filled one shared 100,000-entry table for the 10 minutes its
// windows lived, and real scanners arriving after were not tracked. So:
//   - such an entry is a probe entry: it lives in a partition of
//     MaxProbeKeys, evicted oldest first when a new one needs room (FIFO
//     over the ring of probeRec: O(1), no search), and gc drops it after
//     ProbeIdle (30 s) instead of twice the scan window;
//   - its second distinct probe (port, host or protocol) moves it to the
//     evidence partition (promote). When that is full, the entry with the
//     least evidence among a sample of the same table is evicted (as
//     Redis's sampled LFU: Go's map iteration starts at a random entry),
//     so a real scan, adding ports faster than forged sources do, keeps
//     its entry and alerts;
//   - brute force windows holding one SYN are probe entries too;
//   - the flood windows (per source and tuple: synSrc, udpSrc, icmpSrc,
//     synack; per destination: synDst, udpDst, icmpDst, amp, frags), one
//     per forged source or destination port of a flood, have a partition
//     of their own (a quarter of MaxKeys), where an ended or the smallest
//     window of a sample makes room (admitFlood, admitSources): a spoofed
//     flood cannot fill the evidence partition either;
//   - what is evicted, expired or refused is counted in Stats.
//
// A forger can still spend the evidence partition by sending two probes
// per forged source; those entries have the least evidence and go first.

// admitProbe makes room for a new probe entry and records it.
func (e *Engine) admitProbe(r probeRec) {
	for e.probeLen > 0 && (e.probeLen >= e.probeCap || e.probeLive >= e.probeCap) {
		old := &e.probes[e.probeHead]
		e.probeHead = (e.probeHead + 1) % e.probeCap
		e.probeLen--
		if e.dropProbe(old) {
			e.stats.StateEvictedProbe++
		}
	}
	e.probes[(e.probeHead+e.probeLen)%e.probeCap] = r
	e.probeLen++
	e.probeLive++
}

// dropProbe deletes r's entry if it is still the same probe entry.
func (e *Engine) dropProbe(r *probeRec) bool {
	switch r.kind {
	case probeVertical, probeVerticalU, probeProtos:
		m := e.vertical
		if r.kind == probeVerticalU {
			m = e.verticalU
		} else if r.kind == probeProtos {
			m = e.protos
		}
		k := pair{r.a, r.b}
		if s := m[k]; s != nil && s.probe && s.start == r.start {
			delete(m, k)
			e.probeLive--
			if len(e.freePorts) < maxFree && len(s.ports) <= 8 {
				e.freePorts = append(e.freePorts, s)
			}
			return true
		}
	case probeHorizontal:
		k := srcPort{r.a, r.port, r.udp}
		if h := e.horizontal[k]; h != nil && h.probe && h.start == r.start {
			delete(e.horizontal, k)
			e.probeLive--
			e.freeHost(h)
			return true
		}
	case probeARP:
		if h := e.arpSweep[r.a]; h != nil && h.probe && h.start == r.start {
			delete(e.arpSweep, r.a)
			e.probeLive--
			e.freeHost(h)
			return true
		}
	case probeBrute:
		k := triple{r.a, r.b, r.port}
		if w, ok := e.brute[k]; ok && w.probe && w.start == r.start {
			delete(e.brute, k)
			e.probeLive--
			return true
		}
	}
	return false
}

func (e *Engine) freeHost(h *hostSet) {
	if len(e.freeHosts) < maxFree && len(h.hosts) <= 8 {
		e.freeHosts = append(e.freeHosts, h)
	}
}

// scanEntry is a portSet or hostSet.
type scanEntry interface {
	*portSet | *hostSet
	evidence() (n int, start int64, probe bool)
	unprobe()
}

// promote moves entry s of table m from the probe partition to the
// evidence partition, making room there by evicting the entry of m with
// the least evidence (the oldest of equals) among up to 8 sampled. It
// reports false (counted as refused) when there is no room: s stays a
// probe entry and the caller does not add the second probe.
func promote[K comparable, V scanEntry](e *Engine, m map[K]V, s V) bool {
	if e.evidenceFull() {
		var victim K
		found, bestN, bestStart, seen := false, 0, int64(0), 0
		for k, v := range m {
			if seen++; seen > 8 {
				break
			}
			n, start, probe := v.evidence()
			if probe || v == s {
				continue
			}
			if !found || n < bestN || n == bestN && start < bestStart {
				victim, bestN, bestStart, found = k, n, start, true
			}
		}
		sn, _, _ := s.evidence()
		if !found || bestN > sn+1 { // sn+1: s with its second probe

			e.stats.StateRefused++
			return false
		}
		delete(m, victim)
		e.stats.StateEvictedEvidence++
	}
	s.unprobe()
	e.probeLive--
	return true
}

// promoteBrute is promote for brute force windows (values, not pointers:
// the caller clears probe).
func (e *Engine) promoteBrute(k triple, n int) bool {
	if e.evidenceFull() {
		var victim triple
		found, bestN, bestStart, seen := false, 0, int64(0), 0
		for vk, v := range e.brute {
			if seen++; seen > 8 {
				break
			}
			if v.probe || vk == k {
				continue
			}
			if !found || v.n < bestN || v.n == bestN && v.start < bestStart {
				victim, bestN, bestStart, found = vk, v.n, v.start, true
			}
		}
		if !found || bestN > n+1 {
			e.stats.StateRefused++
			return false
		}
		delete(e.brute, victim)
		e.stats.StateEvictedEvidence++
	}
	e.probeLive--
	return true
}

func (s *portSet) unprobe() { s.probe = false }
func (h *hostSet) unprobe() { h.probe = false }

// fire emits an alert unless the subject alerted on sig within the
// suppression window. meta builds the alert's metadata only when the alert
// is emitted: a flood past its threshold costs no allocation per packet.
func (e *Engine) fire(in *Input, sig alert.Signature, subject netip.Addr, isTarget bool, banTTL int64, detector string, meta func() map[string]string) {
	e.firePort(in, sig, subject, 0, isTarget, banTTL, detector, meta)
}

// firePort is fire with a port in the suppression key: one generic
// signature covers several attacks on one subject (reflection from
// different source ports) that each deserve their alert.
func (e *Engine) firePort(in *Input, sig alert.Signature, subject netip.Addr, port uint16, isTarget bool, banTTL int64, detector string, meta func() map[string]string) {
	now := in.P.TsNs
	k := suppressKey{sig.SID, subject, port}
	last, ok := e.suppress[k]
	if ok && now-last < int64(e.cfg.Suppress) && now >= last {
		e.stats.Suppressed++
		return
	}
	if !ok && e.full() {
		// Bounded state: take over another subject's entry (it may alert
		// once more) rather than grow past MaxKeys or lose this alert.
		for old := range e.suppress {
			delete(e.suppress, old)
			break
		}
	}
	// Always recorded, even past the bound (by one entry at most, the
	// others being taken over): an alert not recorded here would fire
	// again on every packet.
	e.suppress[k] = now
	e.stats.Alerts++
	p := in.P
	a := &alert.Alert{
		TsNs: now, Ifindex: p.Ifindex, Src: p.Src, Dst: p.Dst, SrcPort: p.SrcPort, DstPort: p.DstPort,
		Proto: p.Proto, VLAN: p.VLAN, Subject: subject, SubjectIsTarget: isTarget, BanTTLNs: banTTL,
		Detector: detector, Metadata: meta(), PcapCnt: p.PcapCnt,
	}
	if p.Proto == decode.ProtoICMP || p.Proto == decode.ProtoICMPv6 {
		a.SrcPort, a.DstPort = uint16(p.ICMPType), uint16(p.ICMPCode)
	}
	if in.F != nil {
		a.FlowID = in.F.ID
		in.F.Alerted = true
	}
	a.Payload = p.Payload // aliases the sample: valid during emit only
	a.Community = flows.CommunityID(p.Src, p.Dst, a.SrcPort, a.DstPort, p.Proto)
	sig.Fill(a)
	// Every behavioural detector here counts packets a forged source can
	// send: probes and floods, and brute force too (it counts SYNs to the
	// service, not completed sessions), unless the source is verified.
	a.Trust = alert.TrustForgeable
	if detector == "brute_force" && verifiedSource(in.Trust) {
		a.Trust = alert.TrustVerified
	}
	if subject == p.Src && !isTarget {
		a.SourceVerified = in.Trust&bpf.TrustVerified != 0
		if in.Trust&bpf.TrustHopMismatch != 0 {
			// The responder adds the verified source's own hop count.
			a.SpoofSuspected = "hop count " + itoa(int(p.TTL))
		}
	}
	e.emit(a)
}

func itoa(n int) string { return strconv.Itoa(n) }

func (e *Engine) kernelRateLimit(in *Input) {
	p := in.P
	meta := func() map[string]string {
		return map[string]string{"trigger": "kernel rate limit", "reason": bpf.ReasonNames[p.Reason]}
	}
	ttl := int64(e.cfg.FloodBanTTL)
	switch p.Reason {
	case bpf.ReasonRateSYN:
		e.fire(in, alert.SynFloodSrc, p.Src, false, ttl, "syn_flood", meta)
	case bpf.ReasonRateUDP:
		e.fire(in, alert.UDPFloodSrc, p.Src, false, ttl, "udp_flood", meta)
	case bpf.ReasonRateICMP:
		if isICMPError(p) {
			return // see icmp(): errors answer traffic; the kernel limit still applies
		}
		e.fire(in, alert.ICMPFloodSrc, p.Src, false, ttl, "icmp_flood", meta)
	}
}

func (e *Engine) tcp(in *Input) {
	p := in.P
	fl := p.TCPFlags
	e.illegalFlags(in)
	isSyn := fl&(decode.FlagSYN|decode.FlagACK|decode.FlagRST) == decode.FlagSYN
	isSynAck := fl&(decode.FlagSYN|decode.FlagACK|decode.FlagRST) == decode.FlagSYN|decode.FlagACK
	now := p.TsNs

	if in.Ev&flows.EvNew != 0 {
		switch {
		case isSynAck:
			// A flow opened by a SYN-ACK: nobody here asked (backscatter
			// or reflection).
			e.synAckReflection(in)
		case fl&decode.FlagRST == 0:
			// SYN, or a stealth probe (FIN, NULL, XMAS, ACK, Maimon).
			e.scanAttempt(in, false)
			if isSyn {
				if port, ok := e.cfg.BrutePorts[p.DstPort]; ok {
					e.bruteForce(in, port)
				}
			}
		}
	}
	if isSyn && in.FromOrig {
		e.synFlood(in, now)
	}
	if in.Ev&flows.EvEstablished != 0 && in.F != nil {
		// A completed handshake: not a failed attempt, and a completion for
		// the SYN flood ratios.
		orig, _ := in.F.Orig()
		resp, rport := in.F.Resp()
		if s := e.vertical[pair{orig, resp}]; s != nil && !s.alerted {
			delete(s.ports, rport)
		}
		if h := e.horizontal[srcPort{orig, rport, false}]; h != nil && !h.alerted {
			delete(h.hosts, resp)
		}
		if k := (triple{orig, resp, rport}); e.synSrc[k].start != 0 {
			w := e.synSrc[k]
			w.m++
			e.synSrc[k] = w
		}
		if c := e.synDst[dstPort{resp, rport}]; c != nil {
			c.m++
		}
	}
}

func (e *Engine) illegalFlags(in *Input) {
	fl := in.P.TCPFlags
	var sig alert.Signature
	switch {
	case fl&0x3f == 0:
		sig = alert.FlagsNull
	case fl&(decode.FlagFIN|decode.FlagPSH|decode.FlagURG) == decode.FlagFIN|decode.FlagPSH|decode.FlagURG:
		sig = alert.FlagsXmas
	case fl&(decode.FlagSYN|decode.FlagFIN) == decode.FlagSYN|decode.FlagFIN:
		sig = alert.FlagsSynFin
	case fl&(decode.FlagSYN|decode.FlagRST) == decode.FlagSYN|decode.FlagRST:
		sig = alert.FlagsSynRst
	case fl&(decode.FlagFIN|decode.FlagACK) == decode.FlagFIN:
		sig = alert.FlagsFinNoAck
	default:
		return
	}
	e.fire(in, sig, in.P.Src, false, int64(e.cfg.FlagsBanTTL), "tcp_flags",
		func() map[string]string { return map[string]string{"tcp_flags": fmt.Sprintf("0x%02x", fl)} })
}

// scanAttempt counts a new flow from the packet's source as an attempt
// toward vertical and horizontal scan thresholds.
func (e *Engine) scanAttempt(in *Input, udp bool) {
	p := in.P
	now := p.TsNs
	win := int64(e.cfg.ScanWindow)
	vmap := e.vertical
	vsig, hsig := alert.ScanVerticalTCP, alert.ScanHorizontalTCP
	if udp {
		vmap, vsig, hsig = e.verticalU, alert.ScanVerticalUDP, alert.ScanHorizontalUDP
	}
	pk := pair{p.Src, p.Dst}
	kind := probeVertical
	if udp {
		kind = probeVerticalU
	}
	s := e.portEntry(vmap, pk, now, win, probeRec{a: p.Src, b: p.Dst, kind: kind})
	if !s.alerted && e.addPort(vmap, s, p.DstPort) {
		if len(s.ports) >= e.cfg.ScanVerticalPorts {
			s.alerted = true
			e.fire(in, vsig, p.Src, false, int64(e.cfg.ScanBanTTL), "port_scan",
				func() map[string]string {
					return map[string]string{"distinct_ports": itoa(len(s.ports)), "window": e.cfg.ScanWindow.String()}
				})
		}
	}
	hk := srcPort{p.Src, p.DstPort, udp}
	h := hostEntry(e, e.horizontal, hk, now, win, probeRec{a: p.Src, port: p.DstPort, udp: udp, kind: probeHorizontal})
	if !h.alerted && addHost(e, e.horizontal, h, p.Dst) {
		if len(h.hosts) >= e.cfg.ScanHorizontalHosts {
			h.alerted = true
			e.fire(in, hsig, p.Src, false, int64(e.cfg.ScanBanTTL), "port_scan",
				func() map[string]string {
					return map[string]string{"distinct_hosts": itoa(len(h.hosts)), "port": itoa(int(p.DstPort)), "window": e.cfg.ScanWindow.String()}
				})
		}
	}
}

// portEntry returns m[k] in its current window: a new entry is a probe
// entry (r, with its start, records it), and so is one whose window
// rolled while it still was one.
func (e *Engine) portEntry(m map[pair]*portSet, k pair, now, win int64, r probeRec) *portSet {
	s := m[k]
	if s != nil && now-s.start < win && now >= s.start {
		return s
	}
	if s == nil {
		if n := len(e.freePorts); n > 0 {
			s = e.freePorts[n-1]
			e.freePorts = e.freePorts[:n-1]
			s.probe = true
		} else {
			s = &portSet{ports: make(map[uint16]struct{}, 4), probe: true}
		}
		m[k] = s
	} else if s.probe {
		e.probeLive-- // re-admitted below under its new start
	}
	s.start, s.alerted = now, false
	clear(s.ports)
	if s.probe {
		r.start = now
		e.admitProbe(r)
	}
	return s
}

// addPort adds port to s, which first leaves the probe partition if port
// is its second: false when there was no room for that (port not added).
func (e *Engine) addPort(m map[pair]*portSet, s *portSet, port uint16) bool {
	if _, ok := s.ports[port]; ok {
		return true
	}
	if s.probe && len(s.ports) > 0 && !promote(e, m, s) {
		return false
	}
	s.ports[port] = struct{}{}
	return true
}

// hostEntry is portEntry for host sets.
func hostEntry[K comparable](e *Engine, m map[K]*hostSet, k K, now, win int64, r probeRec) *hostSet {
	h := m[k]
	if h != nil && now-h.start < win && now >= h.start {
		return h
	}
	if h == nil {
		if n := len(e.freeHosts); n > 0 {
			h = e.freeHosts[n-1]
			e.freeHosts = e.freeHosts[:n-1]
			h.probe = true
		} else {
			h = &hostSet{hosts: make(map[netip.Addr]struct{}, 4), probe: true}
		}
		m[k] = h
	} else if h.probe {
		e.probeLive--
	}
	h.start, h.alerted = now, false
	clear(h.hosts)
	if h.probe {
		r.start = now
		e.admitProbe(r)
	}
	return h
}

// addHost is addPort for host sets.
func addHost[K comparable](e *Engine, m map[K]*hostSet, h *hostSet, host netip.Addr) bool {
	if _, ok := h.hosts[host]; ok {
		return true
	}
	if h.probe && len(h.hosts) > 0 && !promote(e, m, h) {
		return false
	}
	h.hosts[host] = struct{}{}
	return true
}

func (e *Engine) countProto(in *Input) {
	p := in.P
	now := p.TsNs
	pk := pair{p.Src, p.Dst}
	s := e.portEntry(e.protos, pk, now, int64(e.cfg.ScanWindow), probeRec{a: p.Src, b: p.Dst, kind: probeProtos})
	if s.alerted || !e.addPort(e.protos, s, uint16(p.Proto)) {
		return
	}
	if len(s.ports) >= e.cfg.ScanIPProtos {
		s.alerted = true
		e.fire(in, alert.ScanIPProto, p.Src, false, int64(e.cfg.ScanBanTTL), "protocol_scan",
			func() map[string]string { return map[string]string{"distinct_protocols": itoa(len(s.ports))} })
	}
}

func (e *Engine) synFlood(in *Input, now int64) {
	p := in.P
	k := triple{p.Src, p.Dst, p.DstPort}
	w, ok := e.synSrc[k]
	if !ok && !admitFlood(e, e.synSrc, now) {
		return
	}
	w.roll(now, int64(e.cfg.FloodWindow))
	w.n++
	e.synSrc[k] = w
	if w.n >= e.cfg.SynFloodSrc && float64(w.m) < e.cfg.SynCompletedRatio*float64(w.n) {
		e.fire(in, alert.SynFloodSrc, p.Src, false, int64(e.cfg.FloodBanTTL), "syn_flood",
			func() map[string]string {
				return map[string]string{"syns": itoa(w.n), "completed": itoa(w.m), "window": e.cfg.FloodWindow.String()}
			})
	}
	dk := dstPort{p.Dst, p.DstPort}
	c := e.synDst[dk]
	if c == nil {
		if !admitSources(e, e.synDst, now, int64(e.cfg.SynFloodDstWindow)) {
			return
		}
		c = &sourceCount{sources: make(map[netip.Addr]struct{}, 16)}
		e.synDst[dk] = c
	}
	if c.roll(now, int64(e.cfg.SynFloodDstWindow)); c.n == 0 {
		clear(c.sources)
	}
	c.n++
	if len(c.sources) < e.cfg.SynFloodSources {
		c.sources[p.Src] = struct{}{}
	}
	if c.n >= e.cfg.SynFloodDst && len(c.sources) >= e.cfg.SynFloodSources && float64(c.m) < e.cfg.SynCompletedRatio*float64(c.n) {
		e.fire(in, alert.SynFloodDst, p.Dst, true, 0, "syn_flood",
			func() map[string]string {
				return map[string]string{"syns": itoa(c.n), "completed": itoa(c.m), "sources_at_least": itoa(len(c.sources)), "window": e.cfg.SynFloodDstWindow.String()}
			})
	}
}

func (e *Engine) synAckReflection(in *Input) {
	p := in.P
	w, ok := e.synack[p.Dst]
	if !ok && !admitFlood(e, e.synack, p.TsNs) {
		return
	}
	w.roll(p.TsNs, int64(e.cfg.FloodWindow))
	w.n++
	e.synack[p.Dst] = w
	if w.n >= e.cfg.SynAckReflect {
		e.fire(in, alert.SynAckReflect, p.Dst, true, 0, "synack_reflection",
			func() map[string]string {
				return map[string]string{"unsolicited_synacks": itoa(w.n), "window": e.cfg.FloodWindow.String()}
			})
	}
}

// perSource counts one packet of src in a flood window; true at threshold.
func (e *Engine) perSource(m map[netip.Addr]window, src netip.Addr, now int64, limit, weight int) (int, bool) {
	w, ok := m[src]
	if !ok && !admitFlood(e, m, now) {
		return 0, false
	}
	w.roll(now, int64(e.cfg.FloodWindow))
	w.n += weight
	m[src] = w
	return w.n, w.n >= limit
}

// perDest counts one packet to dst from src; true at threshold.
func (e *Engine) perDest(m map[netip.Addr]*sourceCount, dst, src netip.Addr, now, length int64, limit, minSources, weight int) (int, int, bool) {
	c := m[dst]
	if c == nil {
		if !admitSources(e, m, now, length) {
			return 0, 0, false
		}
		c = &sourceCount{sources: make(map[netip.Addr]struct{}, 16)}
		m[dst] = c
	}
	if c.roll(now, length); c.n == 0 {
		clear(c.sources)
	}
	c.n += weight
	if len(c.sources) < minSources {
		c.sources[src] = struct{}{}
	}
	return c.n, len(c.sources), c.n >= limit && len(c.sources) >= minSources
}

func (e *Engine) udp(in *Input) {
	p := in.P
	now := p.TsNs
	sig, amp := ampServices[p.SrcPort]
	reflected := false
	if !amp && in.FromOrig && e.cfg.AmpAnyPort {
		reflected = e.reflection(in)
	}
	switch {
	case amp && in.FromOrig && !isServiceRequest(p):
		// From a reflection-prone service port, on a flow the target did
		// not open: a response nobody here asked for.
		e.amplification(in, sig)
	case p.DstPort == 67 || p.DstPort == 68:
		e.dhcpFlood(in)
	case in.Ev&flows.EvNew != 0 && in.FromOrig && !reflected:
		// Packets of a reflection already recognised are not probes by
		// the reflectors (as the known services' responses never are).
		e.scanAttempt(in, true)
	}
	if n, hit := e.perSource(e.udpSrc, p.Src, now, e.cfg.UDPFloodSrc, in.weight(int64(e.cfg.FloodWindow))); hit {
		e.fire(in, alert.UDPFloodSrc, p.Src, false, int64(e.cfg.FloodBanTTL), "udp_flood",
			func() map[string]string {
				return map[string]string{"packets": itoa(n), "window": e.cfg.FloodWindow.String()}
			})
	}
	if n, srcs, hit := e.perDest(e.udpDst, p.Dst, p.Src, now, int64(e.cfg.FloodWindow), e.cfg.UDPFloodDst, e.cfg.FloodDstSources, in.weight(int64(e.cfg.FloodWindow))); hit {
		e.fire(in, alert.UDPFloodDst, p.Dst, true, 0, "udp_flood",
			func() map[string]string {
				return map[string]string{"packets": itoa(n), "sources_at_least": itoa(srcs), "window": e.cfg.FloodWindow.String()}
			})
	}
}

// isServiceRequest reports a DNS query or an NTP request sent from the
// service port itself: ntpd polls its servers from port 123 to port 123, so
// a busy NTP server receives many "packets from UDP/123" on flows it did not
// open. They are requests, never what a reflector sends back (DNS responses
// carry the QR bit, NTP replies are modes 2, 4, 5 or have the response bit).
// A payload cut before the field counts as a response.
func isServiceRequest(p *decode.Packet) bool {
	pl := p.Payload
	switch p.SrcPort {
	case 53:
		return len(pl) >= 3 && pl[2]&0x80 == 0 // QR clear: a query
	case 123:
		if len(pl) < 2 {
			return false
		}
		switch pl[0] & 7 {
		case 1, 3: // symmetric active, client
			return true
		case 6: // control: R bit in the second byte
			return pl[1]&0x80 == 0
		case 7: // private (monlist): R bit in the first byte
			return pl[0]&0x80 == 0
		}
	}
	return false
}

func (e *Engine) dhcpFlood(in *Input) {
	e.dhcp.roll(in.P.TsNs, int64(e.cfg.DHCPWindow))
	e.dhcp.n++
	if e.dhcp.n >= e.cfg.DHCPFlood {
		// Starvation tools forge a new client for every message: the
		// alert is about the segment, not one subject.
		e.fire(in, alert.DHCPFlood, netip.Addr{}, true, 0, "dhcp_flood",
			func() map[string]string {
				return map[string]string{"messages": itoa(e.dhcp.n), "window": e.cfg.DHCPWindow.String()}
			})
	}
}

// amplification counts an unsolicited response from a reflection-prone
// service: the flow was opened by the service side, so the target sent no
// request we saw.
func (e *Engine) amplification(in *Input, sig alert.Signature) {
	p := in.P
	k := dstPort{p.Dst, p.SrcPort}
	c := e.amp[k]
	if c == nil {
		if !admitSources(e, e.amp, p.TsNs, int64(e.cfg.AmpWindow)) {
			return
		}
		c = &sourceCount{sources: make(map[netip.Addr]struct{}, 16)}
		e.amp[k] = c
	}
	if c.roll(p.TsNs, int64(e.cfg.AmpWindow)); c.n == 0 {
		clear(c.sources)
	}
	wt := in.weight(int64(e.cfg.AmpWindow))
	c.n += wt
	c.m += int(p.PayloadLen) * wt
	if len(c.sources) < e.cfg.AmpReflectors {
		c.sources[p.Src] = struct{}{}
	}
	if c.n >= e.cfg.AmpPackets && len(c.sources) >= e.cfg.AmpReflectors {
		e.fire(in, sig, p.Dst, true, 0, "amplification",
			func() map[string]string {
				return map[string]string{"responses": itoa(c.n), "payload_bytes": itoa(c.m), "reflectors_at_least": itoa(len(c.sources)), "window": e.cfg.AmpWindow.String()}
			})
	}
}

// reflSlots is how many source ports each destination's reflection tracker
// holds. A port needs at least 1/reflSlots of the destination's unsolicited
// UDP packets in the window to alert, which is also what the space-saving
// table below guarantees to keep.
const reflSlots = 8

// reflSlot counts one source port's unsolicited packets to a destination.
type reflSlot struct {
	port  uint16
	n     int // weighted packets, including err
	err   int // the count inherited from the port this slot replaced
	bytes int
	hit   bool         // the thresholds were met in this window
	srcs  []netip.Addr // distinct reflectors, at most AmpReflectors (preallocated)
}

// reflTarget is one destination's tumbling window of unsolicited UDP
// packets: the total, and the heaviest source ports in a space-saving
// table (Metwally et al., 2005): a port not in the table takes the slot
// with the smallest count and inherits that count as its error, so a port
// with more than total/reflSlots packets is always in the table, and n-err
// never overstates a port. Fixed size: no allocation per packet, and a
// server's clients, each on its own ephemeral port, cannot grow it.
type reflTarget struct {
	start int64
	total int
	slots [reflSlots]reflSlot
}

func newReflTarget(reflectors int) *reflTarget {
	t := &reflTarget{}
	backing := make([]netip.Addr, reflSlots*reflectors)
	for i := range t.slots {
		t.slots[i].srcs = backing[i*reflectors : i*reflectors : (i+1)*reflectors]
	}
	return t
}

// reflection is the behavioural amplification detector, for every UDP
// source port without a named detector: unsolicited packets (on a flow the
// destination did not open: the caller checks FromOrig) to one
// destination, grouped by their source port, alert when one port delivers
// AmpPackets from AmpReflectors distinct sources within AmpWindow and at
// least 1/reflSlots of the destination's unsolicited UDP packets. It
// reports whether this packet's port is a reflection met in this window.
//
// Why grouping by source port is the test: a reflector answers from its
// service's port, so a reflection flood is many sources sharing one source
// port. Clients of a UDP server (QUIC, DNS, games, VPN) each send from an
// ephemeral port of their own: grouped by source port they scatter over
// ~28k ports (Linux 32768-60999, Windows 49152-65535, NATs anywhere above
// 1023). High ports count as well, because reflectors live there too
// (memcached 11211, Plex 32414, Jenkins 33848, Dahua DVR 37810), and many
// hosts on one high port at once is no accident. By chance alone a few
// clients do share a port on a busy server (with 50k clients in 10 s, ~1.8
// per port), which is what the share condition is for: such a port carries
// a ten-thousandth of the server's traffic, a reflection the bulk of it.
//
// Not counted, as they are not what a reflector sends to a victim:
//   - source port equal to the destination port: peer protocols talk from
//     their own port to the same port (syslog 514, IKE 500/4500, RIP 520
//     between routers, NetBIOS 137/138, mDNS 5353, SIP 5060, WireGuard,
//     gossip protocols), and many peers to one host is their normal shape;
//   - multicast and limited broadcast destinations: discovery answers and
//     announcements (mDNS, SSDP, WS-Discovery) on a LAN, never one victim;
//   - QUIC short-header packets from port 443: they need the keys of a
//     handshake the destination took part in. XDP sees ingress only, so
//     live, the answers of the servers a host's HTTP/3 client talks to
//     arrive on flows the host did not (visibly) open. A reflector
//     answering spoofed Initials sends long headers, and DTLS (Citrix
//     ADC reflection on 443) starts 0x16: both count;
//   - source port 0 (no service answers from it; the UDP flood
//     detectors see such packets).
//
// Live, that ingress-only view leaves one kind of false positive: a host
// that is itself the client of five or more servers of one UDP service at
// 10 packets/s (the Steam server browser querying port 27015, a crawler
// opening QUIC connections) looks like their victim. The named services
// have the same property; amplification_any_port: false turns this
// detector off.
func (e *Engine) reflection(in *Input) bool {
	p := in.P
	if p.SrcPort == 0 || p.SrcPort == p.DstPort || p.Dst.IsMulticast() || isLimitedBroadcast(p.Dst) {
		return false
	}
	if p.SrcPort == 443 && len(p.Payload) > 0 && p.Payload[0]&0xc0 == 0x40 {
		return false // QUIC short header
	}
	now := p.TsNs
	length := int64(e.cfg.AmpWindow)
	t := e.refl[p.Dst]
	if t == nil {
		if e.full() {
			return false
		}
		t = newReflTarget(e.cfg.AmpReflectors)
		e.refl[p.Dst] = t
	}
	if t.start == 0 || now-t.start >= length || now < t.start {
		t.start, t.total = now, 0
		for i := range t.slots {
			s := &t.slots[i]
			*s = reflSlot{srcs: s.srcs[:0]}
		}
	}
	wt := in.weight(length)
	t.total += wt
	var s *reflSlot
	low := &t.slots[0]
	for i := range t.slots {
		c := &t.slots[i]
		if c.port == p.SrcPort && c.n > 0 {
			s = c
			break
		}
		if c.n < low.n {
			low = c
		}
	}
	if s == nil {
		s = low
		*s = reflSlot{port: p.SrcPort, n: s.n, err: s.n, srcs: s.srcs[:0]}
	}
	s.n += wt
	s.bytes += int(p.PayloadLen) * wt
	if len(s.srcs) < cap(s.srcs) && !slices.Contains(s.srcs, p.Src) {
		s.srcs = append(s.srcs, p.Src)
	}
	n := s.n - s.err
	if n < e.cfg.AmpPackets || len(s.srcs) < e.cfg.AmpReflectors || n*reflSlots < t.total {
		return s.hit
	}
	s.hit = true
	e.firePort(in, alert.AmpOther, p.Dst, p.SrcPort, true, 0, "amplification",
		func() map[string]string {
			return map[string]string{"source_port": itoa(int(p.SrcPort)), "responses": itoa(n), "payload_bytes": itoa(s.bytes),
				"reflectors_at_least": itoa(len(s.srcs)), "share_percent": itoa(100 * n / t.total), "window": e.cfg.AmpWindow.String()}
		})
	return true
}

// isLimitedBroadcast reports 255.255.255.255 (a subnet's directed
// broadcast address needs its mask, which a sensor does not know).
func isLimitedBroadcast(a netip.Addr) bool {
	return a.Is4() && a.As4() == [4]byte{255, 255, 255, 255}
}

func (e *Engine) fragment(in *Input) {
	p := in.P
	if n, srcs, hit := e.perDest(e.frags, p.Dst, p.Src, p.TsNs, int64(e.cfg.AmpWindow), e.cfg.AmpFragments, e.cfg.AmpReflectors, 1); hit {
		e.fire(in, alert.AmpFragments, p.Dst, true, 0, "amplification",
			func() map[string]string {
				return map[string]string{"fragments": itoa(n), "sources_at_least": itoa(srcs), "window": e.cfg.AmpWindow.String()}
			})
	}
}

func (e *Engine) icmp(in *Input) {
	p := in.P
	now := p.TsNs
	if p.Proto == decode.ProtoICMP && (p.ICMPType == 13 || p.ICMPType == 15 || p.ICMPType == 17) {
		e.fire(in, alert.ICMPRecon, p.Src, false, 0, "icmp_recon",
			func() map[string]string { return map[string]string{"icmp_type": itoa(int(p.ICMPType))} })
	}
	limit := e.cfg.ICMPFloodSrc
	if isICMPError(p) {
		// Errors answer traffic (a host scanned with UDP sends a port
		// unreachable per probe): only a far larger rate is a flood
		// (BlackNurse-style type 3 floods run at tens of thousands/s).
		limit *= 10
	}
	// Echo replies answer someone's requests: they count against the
	// destination (a smurf flood), never as a flood from their sender.
	reply := (p.Proto == decode.ProtoICMP && p.ICMPType == 0) || (p.Proto == decode.ProtoICMPv6 && p.ICMPType == 129)
	if n, hit := e.perSource(e.icmpSrc, p.Src, now, limit, in.weight(int64(e.cfg.FloodWindow))); hit && !reply {
		e.fire(in, alert.ICMPFloodSrc, p.Src, false, int64(e.cfg.FloodBanTTL), "icmp_flood",
			func() map[string]string {
				return map[string]string{"packets": itoa(n), "window": e.cfg.FloodWindow.String()}
			})
	}
	if n, srcs, hit := e.perDest(e.icmpDst, p.Dst, p.Src, now, int64(e.cfg.FloodWindow), e.cfg.ICMPFloodDst, e.cfg.FloodDstSources, in.weight(int64(e.cfg.FloodWindow))); hit {
		e.fire(in, alert.ICMPFloodDst, p.Dst, true, 0, "icmp_flood",
			func() map[string]string {
				return map[string]string{"packets": itoa(n), "sources_at_least": itoa(srcs), "window": e.cfg.FloodWindow.String()}
			})
	}
}

// isICMPError reports ICMP error messages (destination unreachable, time
// exceeded, parameter problem; ICMPv6 types 1-4).
func isICMPError(p *decode.Packet) bool {
	if p.Proto == decode.ProtoICMP {
		return p.ICMPType == 3 || p.ICMPType == 11 || p.ICMPType == 12
	}
	return p.Proto == decode.ProtoICMPv6 && p.ICMPType >= 1 && p.ICMPType <= 4
}

var bruteSigs = map[string]alert.Signature{"ssh": alert.BruteSSH, "ftp": alert.BruteFTP, "telnet": alert.BruteTelnet, "rdp": alert.BruteRDP}

func (e *Engine) bruteForce(in *Input, service string) {
	p := in.P
	k := triple{p.Src, p.Dst, p.DstPort}
	now := p.TsNs
	w, ok := e.brute[k]
	if !ok || now-w.start >= int64(e.cfg.BruteWindow) || now < w.start {
		// One SYN, forgeable: a probe entry until the second.
		if ok && w.probe {
			e.probeLive--
		}
		w = window{start: now, probe: true}
		e.brute[k] = w
		e.admitProbe(probeRec{start: now, a: p.Src, b: p.Dst, port: p.DstPort, kind: probeBrute})
	} else if w.probe {
		if !e.promoteBrute(k, w.n) {
			return
		}
		w.probe = false
	}
	w.n++
	e.brute[k] = w
	if w.n >= e.cfg.BruteConnections {
		sig, ok := bruteSigs[service]
		if !ok {
			sig = alert.BruteOther
		}
		e.fire(in, sig, p.Src, false, int64(e.cfg.BruteBanTTL), "brute_force",
			func() map[string]string {
				return map[string]string{"connections": itoa(w.n), "service": service, "window": e.cfg.BruteWindow.String()}
			})
	}
}

// ObserveARP runs the ARP sweep detector over an ARP request.
func (e *Engine) ObserveARP(p *decode.Packet) {
	if p.ARPOp != 1 || !p.ARPSender.IsValid() || !p.ARPTarget.IsValid() || p.ARPSender == p.ARPTarget {
		return // replies, gratuitous ARP and probes (sender 0.0.0.0 is valid but never banned) pass
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := p.TsNs
	h := hostEntry(e, e.arpSweep, p.ARPSender, now, int64(e.cfg.ScanWindow), probeRec{a: p.ARPSender, kind: probeARP})
	if h.alerted || !addHost(e, e.arpSweep, h, p.ARPTarget) {
		return
	}
	if len(h.hosts) >= e.cfg.ARPSweepHosts {
		h.alerted = true
		in := &Input{P: p}
		subject := p.ARPSender
		ttl := int64(e.cfg.ScanBanTTL)
		if subject.IsUnspecified() {
			ttl = 0
		}
		// EVE needs IP fields: the sender and the last target asked for.
		p.Src, p.Dst = p.ARPSender, p.ARPTarget
		e.fire(in, alert.ScanARPSweep, subject, false, ttl, "arp_sweep",
			func() map[string]string {
				return map[string]string{"distinct_targets": itoa(len(h.hosts)), "window": e.cfg.ScanWindow.String()}
			})
	}
}

// gc drops state whose windows ended long ago.
func (e *Engine) gc(now int64) {
	e.lastGC = now
	old := func(start, length int64) bool { return now-start > 2*length || now < start }
	gcScan(e, e.vertical, now)
	gcScan(e, e.verticalU, now)
	gcScan(e, e.protos, now)
	gcScan(e, e.horizontal, now)
	gcScan(e, e.arpSweep, now)
	flood := int64(e.cfg.FloodWindow)
	for k, w := range e.synSrc {
		if old(w.start, flood) {
			delete(e.synSrc, k)
		}
	}
	for k, c := range e.synDst {
		if old(c.start, int64(e.cfg.SynFloodDstWindow)) {
			delete(e.synDst, k)
		}
	}
	gcWindows(e.udpSrc, old, flood)
	gcWindows(e.icmpSrc, old, flood)
	gcWindows(e.synack, old, flood)
	gcSources(e.udpDst, old, flood)
	gcSources(e.icmpDst, old, flood)
	gcSources(e.frags, old, int64(e.cfg.AmpWindow))
	for k, c := range e.amp {
		if old(c.start, int64(e.cfg.AmpWindow)) {
			delete(e.amp, k)
		}
	}
	for k, t := range e.refl {
		if old(t.start, int64(e.cfg.AmpWindow)) {
			delete(e.refl, k)
		}
	}
	for k, w := range e.brute {
		switch {
		case old(w.start, int64(e.cfg.BruteWindow)):
		case w.probe && now-w.start > e.probeIdle():
			e.stats.StateExpiredProbe++
		default:
			continue
		}
		if w.probe {
			e.probeLive--
		}
		delete(e.brute, k)
	}
	for k, t := range e.suppress {
		if old(t, int64(e.cfg.Suppress)) {
			delete(e.suppress, k)
		}
	}
}

// probeIdle is how long a probe entry lives without a second probe.
func (e *Engine) probeIdle() int64 {
	if e.cfg.ProbeIdle <= 0 {
		return int64(e.cfg.ScanWindow)
	}
	return int64(e.cfg.ProbeIdle)
}

// gcScan drops scan entries twice the scan window old, and probe entries
// ProbeIdle old (their records in the probe ring go stale).
func gcScan[K comparable, V scanEntry](e *Engine, m map[K]V, now int64) {
	scan := int64(e.cfg.ScanWindow)
	idle := min(e.probeIdle(), scan)
	for k, v := range m {
		_, start, probe := v.evidence()
		switch {
		case now < start || now-start > 2*scan:
		case probe && now-start > idle:
			e.stats.StateExpiredProbe++
		default:
			continue
		}
		if probe {
			e.probeLive--
		}
		delete(m, k)
	}
}

func gcWindows(m map[netip.Addr]window, old func(int64, int64) bool, length int64) {
	for k, w := range m {
		if old(w.start, length) {
			delete(m, k)
		}
	}
}

func gcSources(m map[netip.Addr]*sourceCount, old func(int64, int64) bool, length int64) {
	for k, c := range m {
		if old(c.start, length) {
			delete(m, k)
		}
	}
}
