// Package defrag reassembles IP fragments into whole datagrams, so that
// the signature engine can inspect a datagram's transport header and
// payload as Suricata does (it injects the reassembled datagram as a
// packet of its own, after the fragments).
//
// The reassembly is gopacket's: ip4defrag for IPv4 (RFC 791 keys,
// overlap and size checks, packet-time stamps) and ip6defrag for IPv6
// (RFC 8200 rules as Linux applies them). This package adds what a
// sensor needs around them:
//
//   - A cheap test first: frames that are not fragments cost a few byte
//     reads and are never decoded or copied.
//   - Fragments are copied before gopacket holds them (it keeps the
//     payload slices), so callers may reuse their frame buffers.
//   - Bounds: at most MaxDatagrams datagrams in progress (past it every
//     pending one is dropped, counted in Stats.Overflows) and a timeout
//     in packet time (Suricata's defrag timeout, 60 s by default).
//     gopacket's IPv6 defragmenter stamps datagrams with the wall clock;
//     packet-time expiry maps onto it through the wall time each
//     datagram began at here.
//   - The output is an Ethernet frame: the completing fragment's link
//     header (with its VLAN tags) followed by the reassembled IP header
//     and payload, ready for userspace/packet/decode.
//
// A Defragmenter is not safe for concurrent use (one per worker: the
// pipeline shards by host pair, so all fragments of a datagram reach
// one worker).
package defrag

import (
	"encoding/binary"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/ip4defrag"
	"github.com/gopacket/gopacket/ip6defrag"
	"github.com/gopacket/gopacket/layers"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultMaxDatagrams = 4096
	DefaultTimeout      = 60 * time.Second
)

// Config sizes a Defragmenter.
type Config struct {
	MaxDatagrams int           // datagrams in progress at once
	Timeout      time.Duration // a datagram not completed within this (packet time) is dropped
}

// Stats count what the Defragmenter did.
type Stats struct {
	Fragments   uint64 // fragments taken
	Reassembled uint64 // datagrams completed
	Invalid     uint64 // fragments gopacket refused (overlaps, bad sizes): their datagram is dropped
	Expired     uint64 // datagrams dropped by the timeout
	Overflows   uint64 // times MaxDatagrams was hit (all pending datagrams dropped)
	Pending     int    // datagrams in progress
}

type key struct {
	src, dst [16]byte
	id       uint32
	proto    uint8 // IPv4 only
	v6       bool
}

type pending struct {
	firstNs int64
	wall    time.Time // when it began here (IPv6: gopacket's clock)
}

// Defragmenter reassembles the fragments of one worker.
type Defragmenter struct {
	cfg     Config
	v4      *ip4defrag.IPv4Defragmenter
	v6      *ip6defrag.IPv6Defragmenter
	pend    map[key]pending
	stats   Stats
	lastExp int64
	ser     gopacket.SerializeBuffer
}

// New returns a Defragmenter.
func New(cfg Config) *Defragmenter {
	if cfg.MaxDatagrams <= 0 {
		cfg.MaxDatagrams = DefaultMaxDatagrams
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Defragmenter{cfg: cfg, v4: ip4defrag.NewIPv4Defragmenter(), v6: ip6defrag.NewIPv6Defragmenter(),
		pend: map[key]pending{}, ser: gopacket.NewSerializeBuffer()}
}

// Stats returns the counters.
func (d *Defragmenter) Stats() Stats {
	s := d.stats
	s.Pending = len(d.pend)
	return s
}

// Add takes an Ethernet frame seen at packet time tsNs. For a frame that
// is not an IP fragment it returns (nil, false) at the cost of a few byte
// reads. A fragment is held (copied); when it completes its datagram, Add
// returns the whole datagram as a new Ethernet frame and true. The
// caller still processes the fragment itself as a packet.
func (d *Defragmenter) Add(frame []byte, tsNs int64) ([]byte, bool) {
	l2, et, ok := linkHeader(frame)
	if !ok {
		return nil, false
	}
	ip := frame[l2:]
	switch et {
	case 0x0800:
		if !isFrag4(ip) {
			return nil, false
		}
	case 0x86dd:
		if !isFrag6(ip) {
			return nil, false
		}
	default:
		return nil, false
	}
	d.stats.Fragments++
	d.expire(tsNs)
	cp := append([]byte(nil), ip...)
	if et == 0x0800 {
		return d.add4(frame[:l2], cp, tsNs)
	}
	return d.add6(frame[:l2], cp, tsNs)
}

func (d *Defragmenter) add4(l2, ip []byte, tsNs int64) ([]byte, bool) {
	var l layers.IPv4
	if err := l.DecodeFromBytes(ip, gopacket.NilDecodeFeedback); err != nil {
		d.stats.Invalid++
		return nil, false
	}
	k := key{id: uint32(l.Id), proto: uint8(l.Protocol)}
	copy(k.src[:], l.SrcIP.To16())
	copy(k.dst[:], l.DstIP.To16())
	if !d.track(k, tsNs) {
		return nil, false
	}
	out, err := d.v4.DefragIPv4WithTimestamp(&l, time.Unix(0, tsNs))
	if err != nil {
		d.stats.Invalid++
		delete(d.pend, k) // gopacket dropped the datagram
		return nil, false
	}
	if out == nil {
		return nil, false
	}
	delete(d.pend, k)
	d.stats.Reassembled++
	out.Flags, out.FragOffset = 0, 0
	return d.serialize(l2, out, gopacket.Payload(out.Payload))
}

func (d *Defragmenter) add6(l2, ip []byte, tsNs int64) ([]byte, bool) {
	pkt := gopacket.NewPacket(ip, layers.LayerTypeIPv6, gopacket.NoCopy)
	l, _ := pkt.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	fg, _ := pkt.Layer(layers.LayerTypeIPv6Fragment).(*layers.IPv6Fragment)
	if l == nil || fg == nil {
		d.stats.Invalid++
		return nil, false
	}
	k := key{id: fg.Identification, v6: true}
	copy(k.src[:], l.SrcIP.To16())
	copy(k.dst[:], l.DstIP.To16())
	if !d.track(k, tsNs) {
		return nil, false
	}
	out := d.v6.DefragIPv6(l, fg)
	if out == nil {
		return nil, false
	}
	delete(d.pend, k)
	d.stats.Reassembled++
	return d.serialize(l2, out, gopacket.Payload(out.Payload))
}

// track notes a fragment of datagram k; false: the datagram cannot be
// held (never: an overflow makes room by dropping the others).
func (d *Defragmenter) track(k key, tsNs int64) bool {
	if _, ok := d.pend[k]; ok {
		return true
	}
	if len(d.pend) >= d.cfg.MaxDatagrams {
		d.stats.Overflows++
		far := time.Now().Add(time.Hour)
		d.v4.DiscardOlderThan(far)
		d.v6.DiscardOlderThan(far)
		clear(d.pend)
	}
	d.pend[k] = pending{firstNs: tsNs, wall: time.Now()}
	return true
}

// expire drops the datagrams older than the timeout, once a second of
// packet time.
func (d *Defragmenter) expire(now int64) {
	if now-d.lastExp < 1e9 && now >= d.lastExp {
		return
	}
	d.lastExp = now
	limit := now - int64(d.cfg.Timeout)
	var wall time.Time
	n := 0
	for k, p := range d.pend {
		if p.firstNs >= limit {
			continue
		}
		n++
		if k.v6 && p.wall.After(wall) {
			wall = p.wall
		}
		delete(d.pend, k)
	}
	if n == 0 {
		return
	}
	d.stats.Expired += uint64(n)
	d.v4.DiscardOlderThan(time.Unix(0, limit))
	if !wall.IsZero() {
		d.v6.DiscardOlderThan(wall.Add(1))
	}
}

func (d *Defragmenter) serialize(l2 []byte, ls ...gopacket.SerializableLayer) ([]byte, bool) {
	if err := d.ser.Clear(); err != nil {
		return nil, false
	}
	if err := gopacket.SerializeLayers(d.ser, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		d.stats.Invalid++
		return nil, false
	}
	b := d.ser.Bytes()
	out := make([]byte, len(l2)+len(b))
	copy(out, l2)
	copy(out[len(l2):], b)
	return out, true
}

// linkHeader returns the length of the Ethernet header with its VLAN
// tags and the EtherType after them.
func linkHeader(frame []byte) (int, uint16, bool) {
	if len(frame) < 14 {
		return 0, 0, false
	}
	et := binary.BigEndian.Uint16(frame[12:14])
	off := 14
	for i := 0; i < 3 && (et == 0x8100 || et == 0x88a8); i++ {
		if len(frame) < off+4 {
			return 0, 0, false
		}
		et = binary.BigEndian.Uint16(frame[off+2 : off+4])
		off += 4
	}
	return off, et, true
}

// isFrag4: an IPv4 header with MF set or a non-zero offset.
func isFrag4(ip []byte) bool {
	return len(ip) >= 20 && ip[0]>>4 == 4 && binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0
}

// isFrag6: an IPv6 header followed, through its extension headers, by a
// fragment header.
func isFrag6(ip []byte) bool {
	if len(ip) < 40 || ip[0]>>4 != 6 {
		return false
	}
	next, p := ip[6], 40
	for i := 0; i < 8; i++ {
		switch next {
		case 44:
			return true
		case 0, 43, 60:
			if len(ip) < p+8 {
				return false
			}
			next = ip[p]
			p += (int(ip[p+1]) + 1) * 8
		default:
			return false
		}
	}
	return false
}
