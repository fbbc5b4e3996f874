// Package flows tracks bidirectional flows from decoded packets: TCP state
// (handshake, established, closing, closed, reset), per-direction counters,
// idle timeouts, and a memory bound with least-recently-seen eviction.
// Flows live in a preallocated slab, so tracking allocates nothing once the
// table has warmed up.
package flows

import (
	"net/netip"

	"github.com/xdpids/xdpids/userspace/flow/tlsrec"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

// Key identifies a flow in both directions: the endpoint that sorts first
// is A. VLAN keeps flows of different VLANs apart.
type Key struct {
	A, B         netip.Addr
	APort, BPort uint16
	Proto        uint8
	VLAN         uint16
}

// KeyOf returns the flow key of p and whether p travels from A to B.
func KeyOf(p *decode.Packet) (Key, bool) {
	k := Key{Proto: p.Proto, VLAN: p.VLAN}
	sp, dp := p.SrcPort, p.DstPort
	if p.Proto == decode.ProtoICMP || p.Proto == decode.ProtoICMPv6 {
		// Echo request and reply belong to one flow: key ICMP by id.
		sp, dp = p.ICMPID, p.ICMPID
		if !isEcho(p) {
			sp, dp = uint16(p.ICMPType), uint16(p.ICMPCode)
		}
	}
	if p.LaterFrag {
		sp, dp = 0, 0
	}
	if c := p.Src.Compare(p.Dst); c < 0 || (c == 0 && sp <= dp) {
		k.A, k.B, k.APort, k.BPort = p.Src, p.Dst, sp, dp
		return k, true
	}
	k.A, k.B, k.APort, k.BPort = p.Dst, p.Src, dp, sp
	return k, false
}

func isEcho(p *decode.Packet) bool {
	if p.Proto == decode.ProtoICMP {
		return p.ICMPType == 8 || p.ICMPType == 0
	}
	return p.ICMPType == 128 || p.ICMPType == 129
}

// State is a flow's protocol state.
type State uint8

// Flow states. Non-TCP flows are New until a reply is seen, then Established.
const (
	StateNew         State = iota // first packet seen
	StateSynSent                  // SYN from the originator
	StateSynReceived              // SYN-ACK seen
	StateEstablished              // handshake completed (or mid-stream data)
	StateClosing                  // a FIN seen
	StateClosed                   // FIN from both sides
	StateReset                    // RST seen
)

var stateNames = [...]string{"new", "syn_sent", "syn_recv", "established", "closing", "closed", "reset"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// Event bits returned by Track: what this packet changed.
const (
	EvNew         = 1 << iota // the flow was created by this packet
	EvEstablished             // the handshake completed with this packet
	EvReset                   // this packet reset the flow
	EvClosed                  // this packet closed the flow (second FIN)
	EvReply                   // first packet from the responder
	EvMidstream               // first packet is not a connection opener
)

// Flow is one tracked flow. Orig is the endpoint that opened it.
type Flow struct {
	Key
	ID      uint64 // EVE flow_id
	OrigIsA bool
	State   State
	Alerted bool // an alert was raised on the flow
	Ifindex uint32
	FirstNs int64
	LastNs  int64
	Pkts    [2]uint64 // [0] from the originator (to server), [1] from the responder
	Bytes   [2]uint64
	Flags   [2]uint8 // TCP flags seen per direction
	Dropped bool     // a drop verdict (prevent mode) drops the rest of it
	// EndReason and EndNs say why and when (packet time) the flow left
	// the table; set just before OnRemove sees it. (The small fields sit
	// in what would be padding: the slab holds a Flow per tracked flow.)
	EndReason EndReason
	synNs     int64 // when the originator's SYN was seen
	// KernelPkts is the last packet count the XDP program reported per
	// direction (samples carry the kernel flow table's count).
	KernelPkts [2]uint64
	KernelNs   [2]int64 // when those counts were reported (packet time)
	// Bypass says, per direction, why userspace had the kernel stop
	// sampling it (Bypass*; 0: still inspected). Pkts keep counting
	// through the bypassed flow's milestone samples.
	Bypass [2]uint8
	prev   int32 // LRU neighbours (slab indexes), -1 = none
	next   int32
	idx    int32
	inUse  bool
	// Detector holds scratch bits detectors keep per flow.
	Detector uint32
	// StreamSYN and StreamISN are the stream reassembler's scratch: the
	// directions (bit 0: from the originator) whose SYN it has seen, and
	// their initial sequence numbers, kept until the flow carries data
	// (a flow that never does costs the reassembler nothing).
	StreamSYN uint8
	StreamISN [2]uint32
	// TLS follows each direction's TLS records, to bypass it once it is
	// encrypted.
	TLS [2]tlsrec.Dir
	// App is the app-layer protocol detected on the flow (an
	// appproto.Proto; 0 unknown), set by the pipeline: EVE app_proto.
	App uint8

	// InspectGaps counts packets of the flow the kernel saw while it was
	// under inspection that inspection never got (sample budget, full ring
	// buffer or worker queue): the flow's inspection had gaps.
	InspectGaps uint64
	EndNs       int64
	// Sig is the signature engine's state for the flow (flowbits, pass
	// verdict, stream windows): it lives with the flow, on the worker
	// that owns it, and outlives a rule reload; the engine frees it when
	// the flow ends (nil: none).
	Sig any
}

// IsBypassed reports whether userspace bypassed a direction of f in the
// kernel (EVE flow.bypassed).
func (f *Flow) IsBypassed() bool { return f.Bypass != [2]uint8{} }

// EndReason is why a flow left the table, in Suricata's flow.reason terms.
type EndReason uint8

// End reasons.
const (
	EndNone     EndReason = iota
	EndTimeout            // idle past its timeout
	EndForced             // evicted by the memory bound, or replaced by a new connection on its tuple
	EndShutdown           // the capture ended or the daemon stopped
)

var endNames = [...]string{"", "timeout", "forced", "shutdown"}

func (r EndReason) String() string {
	if int(r) < len(endNames) {
		return endNames[r]
	}
	return "unknown"
}

// Reasons a flow direction was bypassed (Flow.Bypass).
const (
	BypassNone        = 0
	BypassStreamDepth = 1 // its stream depth was reassembled
	BypassNoRule      = 2 // no loaded rule can match the flow
	BypassEncrypted   = 3 // a TLS session turned encrypted (after its handshake)
)

// BypassNames name the Bypass* reasons for output.
var BypassNames = [...]string{"", "stream_depth", "no_rule", "encrypted"}

// Orig returns the originator's address and port.
func (f *Flow) Orig() (netip.Addr, uint16) {
	if f.OrigIsA {
		return f.A, f.APort
	}
	return f.B, f.BPort
}

// Resp returns the responder's address and port.
func (f *Flow) Resp() (netip.Addr, uint16) {
	if f.OrigIsA {
		return f.B, f.BPort
	}
	return f.A, f.APort
}

// Timeouts are idle timeouts in nanoseconds by state.
type Timeouts struct {
	New, Established, Closed int64
}

// DefaultTimeouts follow Suricata's defaults: 30 s for flows that never
// got an answer, 300 s established (Suricata: 600 s for TCP, 300 s other),
// 10 s after a close or reset.
var DefaultTimeouts = Timeouts{New: 30e9, Established: 300e9, Closed: 10e9}

// Stats count what the table did.
type Stats struct {
	Created, Expired, Evicted uint64
	Active                    int
}

// Table is a flow table. Not safe for concurrent use: each worker has one.
type Table struct {
	index    map[Key]int32
	slab     []Flow
	free     []int32
	head     int32 // least recently seen
	tail     int32 // most recently seen
	timeouts Timeouts
	stats    Stats

	// OnRemove, when set, sees every flow before it leaves the table,
	// expired or evicted (state kept elsewhere by flow ID is freed there).
	OnRemove func(*Flow)
}

// NewTable returns a table holding at most max flows.
func NewTable(max int, t Timeouts) *Table {
	if max < 1 {
		max = 1
	}
	// The slab's pages are touched only as flows use them; the index grows
	// with use too (presizing it for 262 144 flows costs 30 ms at start).
	tb := &Table{
		index: make(map[Key]int32, min(max, 4096)), slab: make([]Flow, max), free: make([]int32, max),
		head: -1, tail: -1, timeouts: t,
	}
	for i := range tb.free {
		tb.free[i] = int32(max - 1 - i)
	}
	return tb
}

// Stats returns the table's counters.
func (t *Table) Stats() Stats { s := t.stats; s.Active = len(t.index); return s }

// Len is the number of flows tracked.
func (t *Table) Len() int { return len(t.index) }

// Lookup returns the flow for k, or nil.
func (t *Table) Lookup(k Key) *Flow {
	if i, ok := t.index[k]; ok {
		return &t.slab[i]
	}
	return nil
}

// Track updates the flow p belongs to and returns it, whether p came from
// the originator, and the Ev* bits of what changed. The *Flow stays valid
// until the flow expires or is evicted.
func (t *Table) Track(p *decode.Packet) (f *Flow, fromOrig bool, ev int) {
	k, fromA := KeyOf(p)
	i, ok := t.index[k]
	if !ok {
		i = t.alloc(p.TsNs)
		f = &t.slab[i]
		*f = Flow{Key: k, idx: i, inUse: true, prev: -1, next: -1, FirstNs: p.TsNs, Ifindex: p.Ifindex}
		f.OrigIsA = fromA
		// A SYN-ACK opening a flow came from the responder.
		if p.Proto == decode.ProtoTCP && p.TCPFlags&(decode.FlagSYN|decode.FlagACK) == decode.FlagSYN|decode.FlagACK {
			f.OrigIsA = !fromA
		}
		f.ID = FlowID(&k, p.TsNs)
		t.index[k] = i
		t.stats.Created++
		ev |= EvNew
		if p.Proto == decode.ProtoTCP && p.TCPFlags&decode.FlagSYN == 0 {
			ev |= EvMidstream
		}
	} else {
		f = &t.slab[i]
		t.unlink(i)
		if p.Proto == decode.ProtoTCP && p.TCPFlags&(decode.FlagSYN|decode.FlagACK|decode.FlagRST) == decode.FlagSYN &&
			f.State >= StateEstablished && (fromA == f.OrigIsA) {
			// Port reuse: a SYN from the originator on a finished (or
			// long-established) connection opens a new connection. The
			// old one ends here; the new one gets its own id.
			t.end(f, EndForced, p.TsNs)
			*f = Flow{Key: k, ID: FlowID(&k, p.TsNs), idx: i, inUse: true, prev: -1, next: -1, FirstNs: p.TsNs, Ifindex: p.Ifindex, OrigIsA: fromA}
			t.stats.Created++
			ev |= EvNew
		}
	}
	t.linkTail(i)
	fromOrig = fromA == f.OrigIsA
	d := 0
	if !fromOrig {
		d = 1
		if f.Pkts[1] == 0 {
			ev |= EvReply
		}
	}
	f.Pkts[d]++
	f.Bytes[d] += uint64(p.WireLen)
	f.LastNs = p.TsNs
	if p.Proto == decode.ProtoTCP && p.HasL4 {
		ev |= f.tcp(p, d)
	} else if d == 1 && f.State == StateNew {
		f.State = StateEstablished
	}
	return f, fromOrig, ev
}

// tcp advances the TCP state machine. XDP sees ingress only, so a server
// may never see its own SYN-ACK: the originator's first plain ACK after its
// SYN completes the handshake.
func (f *Flow) tcp(p *decode.Packet, d int) int {
	fl := p.TCPFlags
	f.Flags[d] |= fl
	ev := 0
	switch {
	case fl&decode.FlagRST != 0:
		if f.State != StateReset {
			f.State = StateReset
			ev |= EvReset
		}
	case fl&decode.FlagSYN != 0 && fl&decode.FlagACK == 0:
		if d == 0 && f.State == StateNew {
			f.State = StateSynSent
			f.synNs = p.TsNs
		}
	case fl&decode.FlagSYN != 0: // SYN-ACK
		if d == 1 && (f.State == StateNew || f.State == StateSynSent) {
			f.State = StateSynReceived
		}
	case fl&decode.FlagFIN != 0:
		switch f.State {
		case StateClosing:
			if f.Flags[0]&decode.FlagFIN != 0 && f.Flags[1]&decode.FlagFIN != 0 {
				f.State = StateClosed
				ev |= EvClosed
			}
		case StateReset, StateClosed:
		default:
			f.State = StateClosing
		}
	case fl&decode.FlagACK != 0:
		switch f.State {
		case StateSynSent, StateSynReceived:
			if d == 0 {
				f.State = StateEstablished
				ev |= EvEstablished
			}
		case StateNew:
			// Mid-stream pick-up: data means a live connection.
			if len(p.Payload) > 0 || p.PayloadLen > 0 {
				f.State = StateEstablished
			}
		}
	}
	return ev
}

// Expire removes flows idle past their timeout at packet time now, oldest
// first, calling fn (may be nil) before each goes.
func (t *Table) Expire(now int64, fn func(*Flow)) int {
	n := 0
	for i := t.head; i >= 0; {
		f := &t.slab[i]
		next := f.next
		if now-f.LastNs < t.timeoutOf(f) {
			// The list is ordered by last activity, but timeouts differ by
			// state: keep scanning only while flows are older than the
			// shortest timeout.
			if now-f.LastNs < t.timeouts.Closed {
				break
			}
			i = next
			continue
		}
		if fn != nil {
			fn(f)
		}
		t.end(f, EndTimeout, now)
		t.remove(i)
		t.stats.Expired++
		n++
		i = next
	}
	return n
}

func (t *Table) timeoutOf(f *Flow) int64 {
	switch f.State {
	case StateEstablished, StateClosing:
		return t.timeouts.Established
	case StateClosed, StateReset:
		return t.timeouts.Closed
	}
	return t.timeouts.New
}

// end records why and when f ends and hands it to OnRemove.
func (t *Table) end(f *Flow, r EndReason, nowNs int64) {
	f.EndReason, f.EndNs = r, max(nowNs, f.LastNs)
	if t.OnRemove != nil {
		t.OnRemove(f)
	}
}

// EndAll removes every flow, oldest first, as ended by a shutdown at
// packet time nowNs (the end of a capture, the daemon stopping).
func (t *Table) EndAll(nowNs int64) int {
	n := 0
	for t.head >= 0 {
		i := t.head
		t.end(&t.slab[i], EndShutdown, nowNs)
		t.remove(i)
		n++
	}
	return n
}

// Each calls fn for every flow, least recently seen first.
func (t *Table) Each(fn func(*Flow)) {
	for i := t.head; i >= 0; i = t.slab[i].next {
		fn(&t.slab[i])
	}
}

// alloc takes a free slot, evicting the least recently seen flow (at
// packet time nowNs) when there is none.
func (t *Table) alloc(nowNs int64) int32 {
	if len(t.free) == 0 {
		victim := t.head
		t.end(&t.slab[victim], EndForced, nowNs)
		t.remove(victim)
		t.stats.Evicted++
	}
	i := t.free[len(t.free)-1]
	t.free = t.free[:len(t.free)-1]
	return i
}

func (t *Table) remove(i int32) {
	f := &t.slab[i]
	delete(t.index, f.Key)
	t.unlink(i)
	f.inUse = false
	t.free = append(t.free, i)
}

func (t *Table) unlink(i int32) {
	f := &t.slab[i]
	if f.prev >= 0 {
		t.slab[f.prev].next = f.next
	} else if t.head == i {
		t.head = f.next
	}
	if f.next >= 0 {
		t.slab[f.next].prev = f.prev
	} else if t.tail == i {
		t.tail = f.prev
	}
	f.prev, f.next = -1, -1
}

func (t *Table) linkTail(i int32) {
	f := &t.slab[i]
	f.prev, f.next = t.tail, -1
	if t.tail >= 0 {
		t.slab[t.tail].next = i
	} else {
		t.head = i
	}
	t.tail = i
}

// FlowIDMask keeps an EVE flow_id to 51 bits, as Suricata does: integers
// up to 2^53 survive JavaScript's doubles (Kibana, EveBox).
const FlowIDMask = 0x7ffffffffffff

// FlowID is the EVE flow_id of the flow with key k that started at
// startNs (packet time): an FNV-1a hash of the key and the start, in 51
// bits, never 0. The same capture gives the same ids on every run, and a
// 5-tuple used again later gets a new id.
func FlowID(k *Key, startNs int64) uint64 {
	a := k.A.As16()
	b := k.B.As16()
	h := uint64(14695981039346656037)
	mix := func(c byte) { h ^= uint64(c); h *= 1099511628211 }
	for _, c := range a {
		mix(c)
	}
	for _, c := range b {
		mix(c)
	}
	mix(byte(k.APort >> 8))
	mix(byte(k.APort))
	mix(byte(k.BPort >> 8))
	mix(byte(k.BPort))
	mix(k.Proto)
	mix(byte(k.VLAN >> 8))
	mix(byte(k.VLAN))
	for i := 0; i < 64; i += 8 {
		mix(byte(uint64(startNs) >> i))
	}
	// Fold the high bits in before masking (FNV's low bits mix least).
	h ^= h >> 51
	if id := h & FlowIDMask; id != 0 {
		return id
	}
	return 1
}
