// Package stream reassembles TCP streams for signature matching.
//
// # Design
//
// A Reassembler is fed every sampled TCP segment of a worker together with
// the flow it belongs to (flows.Table.Track) and hands the signature engine
// each direction's bytes in sequence order through OnData, once, with the
// stream offset of the first byte. It is not safe for concurrent use: each
// worker owns one, as it owns its flow table. Flows arrive already keyed
// by the flow table, so a stream is identified by the flow's ID.
//
// # What gopacket provides
//
// The reassembly itself is github.com/gopacket/gopacket/reassembly: one
// Assembler and one StreamPool per Reassembler (no sharing, so no lock
// contention). gopacket does the sequence arithmetic (32-bit wrap), holds
// out-of-order segments in pages of 1900 bytes taken from a per-Assembler
// cache, trims retransmissions, applies SYN/FIN/RST, and bounds the pages
// buffered per direction and in total. Our Stream (conn) plugs into it:
// Accept forces a start for mid-stream pickup and counts out-of-order and
// retransmitted segments, ReassembledSG applies the depth and calls OnData,
// ReassemblyComplete frees the stream.
//
// What gopacket cannot do, and what is written here instead (each is a
// few lines over gopacket's own machinery, not a second reassembler):
//
//   - Its connection key comes from layers.TCP's unexported port slices,
//     which only DecodeFromBytes sets (SetInternalPortsForTesting
//     allocates). The decoder has already parsed the segment, so the key
//     is built from the flow ID instead: the network Flow carries the ID
//     and the side, the transport Flow is empty.
//   - It has no call to flush or close one connection: only time-based
//     flushes over all of them, which allocate a snapshot of the pool and
//     walk a map, in random order (same packets, different callback
//     order). FlowEnd and Flush therefore drive gopacket with synthetic
//     empty segments: one queued just past the next expected byte while
//     the per-direction page bound is lowered to 1, which makes gopacket
//     skip the hole and deliver what it buffered (its own overflow path),
//     and a RST at the next expected byte, which makes it close the
//     direction and release its pages. Flush walks our own least recently
//     seen list, so the order is deterministic and nothing is allocated.
//   - It never skips a hole on an acknowledgement ("TODO: push when Ack
//     is seen" in tcpassembly.go): a hole that the other side acknowledges
//     past was delivered to the receiver and missed by us, so we skip it
//     with the same synthetic segment, as Suricata does.
//   - It knows nothing of snap lengths: a segment cut by the capture looks
//     like a short segment followed by a hole that never fills. We record
//     the cut tail and skip it as soon as the next segment shows up.
//
// # Allocation
//
// In steady state Feed allocates nothing for in-order segments (measured
// by TestSteadyStateAllocs and the benchmarks): gopacket hands in-order
// payload over in place, streams come from a free list here and
// connections from gopacket's pool, the key and the layers.TCP are
// reused. Out-of-order segments are copied into gopacket's pages, which
// come from a sync.Pool: free until a garbage collection empties the
// pool. The one allocation left is gopacket's: when a filled hole joins
// several chunks, ScatterGather.Fetch concatenates them into a new slice
// (its interface has no way to read chunk by chunk).
//
// # Policies
//
//   - Offsets count sequence space from the first byte after the SYN (or
//     from the first segment seen, mid-stream), so a skipped hole shows as
//     a jump in offset. Stats.Gaps and Stats.GapBytes count holes.
//   - Depth (default 1 MiB per direction, Suricata's
//     stream.reassembly.depth) is measured in that offset, holes included.
//     Data past it is never delivered (a segment straddling it is cut);
//     OnDepthReached fires once per direction and that direction is closed
//     in gopacket, freeing its buffer: the integrator bypasses the flow.
//   - Overlaps: bytes already delivered always win (a retransmission with
//     other content is not delivered again: "first" for delivered data).
//     Among segments still buffered out of order, gopacket lets the newest
//     segment win (checkOverlap overwrites or trims the queued page). That
//     differs from Suricata's default "bsd" policy for buffered data; a
//     target-based policy would need our own segment list.
//   - Holes: gopacket waits for the missing segment. We skip a hole when
//     the other direction acknowledges past it, when it is the cut tail of
//     a snap-length-truncated segment, when a buffer bound is hit
//     (gopacket's own behaviour: counted in Stats.BufferDrops, the hole is
//     given up and delivery resumes after it), and on FlowEnd/Flush, where
//     everything buffered is delivered past its holes, as Suricata does on
//     flow end.
//   - SYN: the next expected byte is ISN+1; a SYN on a direction already
//     started is ignored (RFC 5961). No SYN seen: the first segment of a
//     direction starts it; earlier bytes arriving later are dropped as
//     retransmissions.
//   - Data carried by a RST is not delivered (Suricata does not reassemble
//     it either: the packet's own payload rules see it). Data on a SYN
//     is (TCP Fast Open).
//   - FIN ends its direction once every byte before it was delivered. RST
//     (gopacket honours only a RST exactly at the next expected byte, a
//     stricter check than the receive window) ends the whole stream: the
//     other direction's buffered data is delivered past holes and both are
//     closed. Both directions ended frees the stream.
//   - A new incarnation of a flow (port reuse: flows.Flow.FirstNs changed)
//     ends the old stream first.
//   - Memory: MaxFlows streams (new flows beyond it are not reassembled,
//     counted in FlowDrops), out-of-order data per direction and in total
//     bounded in gopacket pages (each holds up to 1900 bytes and costs
//     about 2 KiB, whatever the segment size).
//   - Time: only packet time (decode.Packet.TsNs) is used; Flush takes a
//     packet-time threshold.
package stream

import (
	"encoding/binary"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/reassembly"

	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

// PageBytes is the payload one gopacket buffer page holds.
const PageBytes = 1900

// Defaults applied by New to zero Config fields.
const (
	DefaultDepth            = 1 << 20   // bytes per direction
	DefaultMaxFlows         = 65536     // streams tracked
	DefaultMaxBufferPerFlow = 256 << 10 // out-of-order bytes per direction
	DefaultMaxBufferTotal   = 64 << 20  // out-of-order bytes in all streams
)

// NoDepth as Config.Depth delivers every byte.
const NoDepth = ^uint64(0)

// Config sizes a Reassembler; zero fields take the defaults.
type Config struct {
	Depth            uint64 // stream bytes per direction delivered, holes included
	MaxFlows         int    // streams tracked at once (finished ones too, until FlowEnd or Flush)
	MaxBufferPerFlow int    // out-of-order bytes buffered per direction (rounded up to pages)
	MaxBufferTotal   int    // out-of-order bytes buffered in all (rounded up to pages)

	// OnData receives newly in-order bytes of one direction. toServer is
	// true for data from the flow's originator; offset is the stream
	// offset of data[0]. data is valid only during the call. During
	// FlowEnd and Flush, f is the flow last passed to Feed or, if the
	// flow table has reused that Flow since, a copy taken when the stream
	// began.
	OnData func(f *flows.Flow, toServer bool, data []byte, offset uint64)
	// OnDepthReached fires once per direction when the depth is reached.
	OnDepthReached func(f *flows.Flow, toServer bool)
	// OnGap fires for each hole skipped in a direction (bytes never seen:
	// lost, or not sent), before the data after it is delivered.
	OnGap func(f *flows.Flow, toServer bool)
}

// DefaultConfig returns the defaults (without callbacks).
func DefaultConfig() Config {
	return Config{Depth: DefaultDepth, MaxFlows: DefaultMaxFlows,
		MaxBufferPerFlow: DefaultMaxBufferPerFlow, MaxBufferTotal: DefaultMaxBufferTotal}
}

// Stats count what the Reassembler did.
type Stats struct {
	Segments     uint64 // TCP segments fed
	Bytes        uint64 // bytes delivered to OnData
	OutOfOrder   uint64 // segments with data ahead of the next expected byte
	Overlaps     uint64 // segments repeating bytes already delivered
	OverlapBytes uint64 // bytes of those repeats (not delivered again)
	Gaps         uint64 // holes skipped
	GapBytes     uint64 // bytes in those holes
	Truncated    uint64 // segments cut by the snap length (their tail is a hole)
	BufferDrops  uint64 // holes given up early because a buffer bound was hit
	FlowDrops    uint64 // segments not reassembled: MaxFlows streams tracked
	DepthReached uint64 // directions that reached the depth
	Deferred     uint64 // segments before a flow's first data: no stream yet (SYNs kept on the flow)
	Streams      uint64 // streams begun
	Ended        uint64 // streams freed (FlowEnd, Flush, a new connection on the tuple)
	Active       int    // streams tracked now
	Finished     int    // of those, streams whose directions both ended (holding no buffers)
}

// Reassembler reassembles the TCP streams of one worker.
type Reassembler struct {
	cfg   Config
	pool  *reassembly.StreamPool
	asm   *reassembly.Assembler
	index map[uint64]*conn
	free  []*conn
	head  *conn // least recently fed
	tail  *conn
	stats Stats
	fin   int // tracked streams with c.done

	perFlowPages int

	// per call scratch, reused so Feed allocates nothing
	tcp   layers.TCP
	ctx   captureContext
	cur   *conn // the stream being fed, for factory.New
	synth uint8 // a synthetic segment is being fed (synth* below)

	// the segment last fed: how many of its leading payload bytes repeat
	// bytes already delivered, from which stream offset (Overlap)
	ovlN   int
	ovlOff uint64
}

const (
	synthNone  = iota
	synthSkip  // deliver the first buffered run, skipping the hole before it
	synthClose // close the direction at the next expected byte
)

// New returns a Reassembler.
func New(cfg Config) *Reassembler {
	d := DefaultConfig()
	if cfg.Depth == 0 {
		cfg.Depth = d.Depth
	}
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = d.MaxFlows
	}
	if cfg.MaxBufferPerFlow <= 0 {
		cfg.MaxBufferPerFlow = d.MaxBufferPerFlow
	}
	if cfg.MaxBufferTotal <= 0 {
		cfg.MaxBufferTotal = d.MaxBufferTotal
	}
	r := &Reassembler{cfg: cfg, index: make(map[uint64]*conn)}
	r.pool = reassembly.NewStreamPool(factory{r})
	r.asm = reassembly.NewAssembler(r.pool)
	r.perFlowPages = pages(cfg.MaxBufferPerFlow)
	r.asm.MaxBufferedPagesPerConnection = r.perFlowPages
	r.asm.MaxBufferedPagesTotal = pages(cfg.MaxBufferTotal)
	return r
}

func pages(bytes int) int { return max(1, (bytes+PageBytes-1)/PageBytes) }

// Stats returns the counters.
func (r *Reassembler) Stats() Stats {
	s := r.stats
	s.Active, s.Finished = len(r.index), r.fin
	return s
}

// Feed reassembles one TCP segment of flow f; fromOrig says it came from
// the flow's originator. Other packets are ignored. Callbacks run before
// Feed returns.
func (r *Reassembler) Feed(p *decode.Packet, f *flows.Flow, fromOrig bool) {
	r.ovlN, r.ovlOff = 0, 0
	if p.Proto != decode.ProtoTCP || !p.HasL4 || f == nil {
		return
	}
	r.stats.Segments++
	d := 1
	if fromOrig {
		d = 0
	}
	c := r.index[f.ID]
	if c != nil && c.firstNs != f.FirstNs {
		r.end(c) // the flow table saw a new connection on this tuple
		c = nil
	}
	if c == nil {
		fl := p.TCPFlags
		if p.PayloadLen == 0 && fl&(decode.FlagFIN|decode.FlagRST) == 0 {
			// Nothing to reassemble yet (a SYN, a SYN-ACK, a bare ACK):
			// no stream until the flow carries data, which a SYN flood or
			// a scan never does; the SYNs are replayed then.
			if fl&decode.FlagSYN != 0 && f.StreamSYN&(1<<d) == 0 {
				f.StreamSYN |= 1 << d
				f.StreamISN[d] = p.Seq
			}
			r.stats.Deferred++
			return
		}
		first := fromOrig
		if f.StreamSYN != 0 {
			first = f.StreamSYN&1 != 0 // the originator's SYN came first, when seen
		}
		if c = r.begin(f, first); c == nil {
			r.stats.FlowDrops++
			return
		}
		c.lastNs, c.live = p.TsNs, f
		r.replaySYNs(c, f, p.TsNs)
	} else {
		r.touch(c)
	}
	c.lastNs = p.TsNs
	c.live = f
	h := &c.h[d]
	if c.done {
		return // both directions ended
	}
	if h.depthDone || h.closed {
		r.ackSkip(c, d, p) // gopacket would ignore the segment (closed half), not its ACK
		r.closePending(c)
		return
	}

	t := &r.tcp
	fl := p.TCPFlags
	t.Seq, t.Ack = p.Seq, p.Ack
	t.SYN, t.FIN, t.RST, t.ACK = fl&decode.FlagSYN != 0, fl&decode.FlagFIN != 0, fl&decode.FlagRST != 0, fl&decode.FlagACK != 0
	t.Payload = p.Payload
	if t.RST {
		t.Payload = nil // data on a RST is not delivered (see Policies)
	}
	r.assemble(c, d, p.TsNs)
	if c.done {
		return
	}
	if t.RST && h.closed {
		r.finish(c) // a RST gopacket honoured ends the whole stream
		return
	}
	// The cut tail of a truncated segment never arrives: skip it once the
	// segment after it is buffered.
	if h.lost {
		if h.lostNext && h.next == h.lostStart {
			r.skip1(c, d)
		}
		if h.next.Difference(h.lostEnd) <= 0 {
			h.lost = false
		}
	}
	if n := len(p.Payload); p.PayloadLen > uint32(n) && h.valid && !h.closed {
		r.stats.Truncated++
		start := reassembly.Sequence(p.Seq)
		if t.SYN {
			start = start.Add(1)
		}
		h.lost, h.lostNext = true, false
		h.lostStart, h.lostEnd = start.Add(n), start.Add(int(p.PayloadLen))
	}
	r.ackSkip(c, d, p)
	r.closePending(c)
}

// ackSkip skips the holes of the other direction that p, from direction
// d, acknowledges: the receiver got bytes we never saw.
func (r *Reassembler) ackSkip(c *conn, d int, p *decode.Packet) {
	if p.TCPFlags&decode.FlagACK == 0 {
		return
	}
	o := &c.h[1-d]
	for !c.done && !o.closed && o.queued() && o.next.Difference(reassembly.Sequence(p.Ack)) > 0 && r.skip1(c, 1-d) {
	}
}

// Overlap reports, for the segment the last Feed took, how many of its
// leading payload bytes lie in stream space already delivered (a
// retransmission, or an overlap with other content, which is not
// delivered again), and the stream offset of the first of them. Inline,
// Suricata inspects such a packet with the bytes the stream accepted.
func (r *Reassembler) Overlap() (offset uint64, n int) { return r.ovlOff, r.ovlN }

// FlowEnd ends the stream of a flow: what is buffered is delivered past
// its holes, then the stream is freed. Call it when the flow table drops
// the flow (Table.Expire's callback) or on its own accord.
func (r *Reassembler) FlowEnd(flowID uint64) {
	if c := r.index[flowID]; c != nil {
		r.end(c)
	}
}

// Flush ends, as FlowEnd does, the streams whose last segment is older
// than olderThanNs (packet time), least recently fed first; it stops at
// the first stream fed at or after olderThanNs, so with the rising packet
// times of one worker it ends all of them. It returns how many it ended.
func (r *Reassembler) Flush(olderThanNs int64) int {
	n := 0
	for c := r.head; c != nil && c.lastNs < olderThanNs; {
		next := c.next
		r.end(c)
		n++
		c = next
	}
	return n
}

// assemble feeds r.tcp to gopacket as direction d of c.
func (r *Reassembler) assemble(c *conn, d int, tsNs int64) {
	var a, b [9]byte
	binary.BigEndian.PutUint64(a[:], c.id)
	copy(b[:], a[:8])
	a[8], b[8] = byte(d), byte(1-d)
	r.ctx.ci.Timestamp = time.Unix(0, tsNs)
	r.cur = c
	r.asm.AssembleWithContext(gopacket.NewFlow(gopacket.EndpointInvalid, a[:], b[:]), &r.tcp, &r.ctx)
	r.cur = nil
}

// replaySYNs feeds a new stream the SYNs its flow had before it carried
// data (see Feed), the originator's first, so the stream starts where it
// would have.
func (r *Reassembler) replaySYNs(c *conn, f *flows.Flow, tsNs int64) {
	for _, d := range [2]int{0, 1} {
		if f.StreamSYN&(1<<d) == 0 {
			continue
		}
		t := &r.tcp
		t.Seq, t.Ack = f.StreamISN[d], 0
		t.SYN, t.FIN, t.RST, t.ACK = true, false, false, d == 1
		t.Payload = nil
		r.assemble(c, d, tsNs)
	}
}

// synthetic feeds an empty segment of the given kind to direction d.
func (r *Reassembler) synthetic(c *conn, d int, kind uint8) {
	t := &r.tcp
	t.Seq, t.Ack = 0, 0 // Accept sets Seq from gopacket's next expected byte
	t.SYN, t.FIN, t.RST, t.ACK = false, false, kind == synthClose, false
	t.Payload = nil
	r.synth = kind
	r.assemble(c, d, c.lastNs)
	r.synth = synthNone
}

// skip1 makes gopacket skip the hole at the head of direction d and
// deliver the run buffered after it, by queuing an empty segment while
// the per-direction page bound is 1 (gopacket's overflow path). It
// returns whether anything moved.
func (r *Reassembler) skip1(c *conn, d int) bool {
	h := &c.h[d]
	before := h.next
	r.asm.MaxBufferedPagesPerConnection = 1
	r.synthetic(c, d, synthSkip)
	r.asm.MaxBufferedPagesPerConnection = r.perFlowPages
	return h.next != before
}

// skip delivers everything buffered in direction d, past its holes.
func (r *Reassembler) skip(c *conn, d int) {
	h := &c.h[d]
	for !c.done && !h.closed && h.queued() && r.skip1(c, d) {
	}
}

// closePending closes the directions that reached the depth.
func (r *Reassembler) closePending(c *conn) {
	for d := 0; d < 2 && !c.done; d++ {
		if c.closeDir&(1<<d) != 0 && !c.h[d].closed {
			r.synthetic(c, d, synthClose)
		}
	}
	c.closeDir = 0
}

// end finishes c and frees it.
func (r *Reassembler) end(c *conn) {
	r.finish(c)
	r.release(c)
}

// finish delivers what c buffered past its holes and closes both
// directions in gopacket, which frees its connection. c stays tracked,
// ignoring the flow's later segments, until FlowEnd, Flush or a new
// connection on the tuple, so the flow's last segments (the final ACK,
// a segment after a RST) do not start a new stream mid-stream.
func (r *Reassembler) finish(c *conn) {
	for d := 0; d < 2 && !c.done; d++ {
		h := &c.h[d]
		if h.closed {
			continue
		}
		if !h.depthDone {
			r.skip(c, d)
		}
		if !c.done && !h.closed {
			r.synthetic(c, d, synthClose)
		}
	}
}

func (r *Reassembler) begin(f *flows.Flow, fromOrig bool) *conn {
	if len(r.index) >= r.cfg.MaxFlows {
		return nil
	}
	var c *conn
	if n := len(r.free); n > 0 {
		c, r.free = r.free[n-1], r.free[:n-1]
	} else {
		c = new(conn)
	}
	*c = conn{r: r, id: f.ID, firstNs: f.FirstNs, snap: *f}
	// gopacket's client-to-server half is the direction of the first
	// segment it sees.
	c.firstToServer = fromOrig
	r.index[c.id] = c
	r.stats.Streams++
	c.prev = r.tail
	if r.tail != nil {
		r.tail.next = c
	} else {
		r.head = c
	}
	r.tail = c
	return c
}

func (r *Reassembler) touch(c *conn) {
	if r.tail == c {
		return
	}
	r.unlink(c)
	c.prev = r.tail
	r.tail.next = c
	r.tail = c
}

func (r *Reassembler) unlink(c *conn) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		r.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		r.tail = c.prev
	}
	c.prev, c.next = nil, nil
}

func (r *Reassembler) release(c *conn) {
	if r.index[c.id] != c {
		return // already released
	}
	delete(r.index, c.id)
	r.unlink(c)
	r.stats.Ended++
	if c.done {
		r.fin--
		// gopacket dropped its connection: c can be reused. Otherwise
		// (never seen in tests) a connection may still point at c, so c
		// is left to that connection rather than given to another flow.
		c.live = nil
		r.free = append(r.free, c)
	}
}

// conn is one stream: gopacket's Stream for a flow.
type conn struct {
	r             *Reassembler
	id            uint64
	firstNs       int64
	lastNs        int64
	firstToServer bool        // gopacket's client-to-server half carries the originator's data
	live          *flows.Flow // the flow last fed
	snap          flows.Flow  // the flow when the stream began
	h             [2]half     // [0] to the server (from the originator)
	prev, next    *conn       // least recently fed list
	closeDir      uint8       // directions to close after the current call (bit per direction)
	done          bool        // both directions ended: gopacket freed the connection
}

// half mirrors what we need of one direction of gopacket's connection.
type half struct {
	valid     bool                // started: next is meaningful
	next      reassembly.Sequence // gopacket's next expected byte
	oooEnd    reassembly.Sequence // end of the furthest segment buffered ahead of next
	off       uint64              // stream offset of next
	lost      bool                // a truncated segment's tail [lostStart, lostEnd) was not captured
	lostNext  bool                // the segment starting at lostEnd was accepted
	lostStart reassembly.Sequence
	lostEnd   reassembly.Sequence
	closed    bool // gopacket ended this direction
	depthDone bool
}

// queued reports whether gopacket may hold data ahead of next.
func (h *half) queued() bool { return h.valid && h.next.Difference(h.oooEnd) > 0 }

func (c *conn) dir(d reassembly.TCPFlowDirection) int {
	if (d == reassembly.TCPDirClientToServer) == c.firstToServer {
		return 0
	}
	return 1
}

// flow is the Flow to hand callbacks.
func (c *conn) flow() *flows.Flow {
	if f := c.live; f != nil && f.ID == c.id && f.FirstNs == c.firstNs {
		return f
	}
	return &c.snap
}

// Accept implements reassembly.Stream.
func (c *conn) Accept(t *layers.TCP, _ gopacket.CaptureInfo, dir reassembly.TCPFlowDirection, nextSeq reassembly.Sequence, start *bool, _ reassembly.AssemblerContext) bool {
	r := c.r
	h := &c.h[c.dir(dir)]
	if nextSeq >= 0 && h.valid {
		// Keep the mirror on gopacket's next expected byte. They part when
		// a FIN is queued ahead of a hole and a buffer bound then forces a
		// skip: gopacket adds the FIN's 1 to the skip's end (nextSeq runs
		// one past the bytes it delivered).
		if diff := h.next.Difference(nextSeq); diff > 0 {
			h.off += uint64(diff)
			r.stats.GapBytes += uint64(diff)
		}
		h.next = nextSeq
	}
	switch r.synth {
	case synthSkip:
		if nextSeq < 0 {
			return false
		}
		t.Seq = uint32(nextSeq.Add(1)) // ahead of next: gopacket queues it
		return true
	case synthClose:
		if nextSeq < 0 {
			*start = true
		} else {
			t.Seq = uint32(nextSeq)
		}
		return true
	}
	seq := reassembly.Sequence(t.Seq)
	if nextSeq < 0 { // gopacket's invalidSequence: the first segment of this direction
		if !t.SYN {
			*start = true // mid-stream pickup
		} else {
			seq = seq.Add(1)
		}
		h.valid, h.next, h.oooEnd = true, seq, seq
		return true
	}
	if h.lost && seq == h.lostEnd {
		h.lostNext = true
	}
	if n := len(t.Payload); n > 0 && !t.SYN {
		switch diff := nextSeq.Difference(seq); {
		case diff > 0:
			r.stats.OutOfOrder++
			if end := seq.Add(n); h.oooEnd.Difference(end) > 0 {
				h.oooEnd = end
			}
		case diff < 0:
			r.stats.Overlaps++
			r.stats.OverlapBytes += uint64(min(-diff, n))
			if r.synth == synthNone && h.off >= uint64(-diff) {
				r.ovlN, r.ovlOff = min(-diff, n), h.off-uint64(-diff)
			}
		}
	}
	return true
}

// ReassembledSG implements reassembly.Stream.
func (c *conn) ReassembledSG(sg reassembly.ScatterGather, _ reassembly.AssemblerContext) {
	r := c.r
	dir, _, end, skip := sg.Info()
	d := c.dir(dir)
	h := &c.h[d]
	n, _ := sg.Lengths()
	if skip > 0 {
		r.stats.Gaps++
		r.stats.GapBytes += uint64(skip)
		if r.cfg.OnGap != nil {
			r.cfg.OnGap(c.flow(), d == 0)
		}
		if r.synth == synthNone {
			// In a real segment, only gopacket's buffer bounds skip.
			r.stats.BufferDrops++
		}
		h.off += uint64(skip)
	} else {
		skip = 0
	}
	h.next = h.next.Add(skip + n)
	if end {
		h.closed = true
	}
	if n > 0 && !h.depthDone {
		deliver := uint64(n)
		if room := r.cfg.Depth - min(h.off, r.cfg.Depth); deliver > room {
			deliver = room
		}
		if deliver > 0 && r.cfg.OnData != nil {
			// Fetch returns the first chunk in place, and copies into a
			// new slice when the bytes span several (a hole just filled).
			r.cfg.OnData(c.flow(), d == 0, sg.Fetch(int(deliver)), h.off)
		}
		r.stats.Bytes += deliver
	}
	h.off += uint64(n)
	if !h.depthDone && h.off >= r.cfg.Depth {
		h.depthDone = true
		r.stats.DepthReached++
		c.closeDir |= 1 << d
		if r.cfg.OnDepthReached != nil {
			r.cfg.OnDepthReached(c.flow(), d == 0)
		}
	}
}

// ReassemblyComplete implements reassembly.Stream: both directions ended.
func (c *conn) ReassemblyComplete(reassembly.AssemblerContext) bool {
	c.done = true
	c.r.fin++
	return true // gopacket removes the connection
}

type factory struct{ r *Reassembler }

// New implements reassembly.StreamFactory: the stream is the one being fed.
func (f factory) New(_, _ gopacket.Flow, _ *layers.TCP, _ reassembly.AssemblerContext) reassembly.Stream {
	if f.r.cur == nil || f.r.synth != synthNone {
		return nil // an untyped nil: gopacket ignores the segment
	}
	return f.r.cur
}

// captureContext is the reassembly.AssemblerContext of the segment being
// fed; gopacket keeps a pointer to it in buffered pages and only reads
// the timestamp (for its own time-based flushes, which are not used).
type captureContext struct{ ci gopacket.CaptureInfo }

func (c *captureContext) GetCaptureInfo() gopacket.CaptureInfo { return c.ci }
