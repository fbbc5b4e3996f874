package xdptree

import "net/netip"

// dirState is the model's part of one flow table entry (bpf/xdpids.c,
// tree_flow), plus the flow's first time, bytes and count, which the
// program's entry also keeps.
type dirState struct {
	firstNs, lastNs uint64
	packets, bytes  uint64
	lenMin, lenMax  uint16
	iatMax          uint32
	winFirst        uint16
	firstFlags      uint8
	flags           [6]uint8
}

// Direction is one flow direction the tracker saw, keyed as the program
// keys it.
type Direction struct {
	key   flowKey
	state dirState
	// Orig: the direction of the flow's first packet (the originator).
	Orig bool
	// Flow numbers the bidirectional flow (both directions share it),
	// in order of first packet.
	Flow int
	// Judged: the direction reached packet N; Vec is its vector then.
	Judged bool
	Vec    Vector
}

// Tracker counts flows as the XDP program's flow table does (no eviction)
// and takes each direction's vector at its packet N.
type Tracker struct {
	n     uint64
	dirs  map[flowKey]*Direction
	flows int
	p     pkt
}

// NewTracker returns a tracker judging directions at packet n.
func NewTracker(n int) *Tracker {
	return &Tracker{n: uint64(n), dirs: map[flowKey]*Direction{}}
}

// Packet accounts one frame at nowNs (the program's clock: in offline
// replay, the packet's time, at least 1). It returns the frame's
// direction, and whether it reached packet N with this frame (its Vec is
// then set); nil when the program makes no flow of the frame.
func (t *Tracker) Packet(frame []byte, nowNs uint64) (*Direction, bool) {
	p := &t.p
	if !parseFrame(frame, p) || !p.flowable() {
		return nil, false
	}
	k := p.key()
	d := t.dirs[k]
	l := min(len(frame), 0xffff)
	f := p.tcpFlags
	if d == nil {
		d = &Direction{key: k, Orig: true}
		if r := t.dirs[k.reverse()]; r != nil {
			d.Orig, d.Flow = false, r.Flow
		} else {
			d.Flow = t.flows
			t.flows++
		}
		t.dirs[k] = d
		s := &d.state
		*s = dirState{firstNs: nowNs, lastNs: nowNs, lenMin: uint16(l), lenMax: uint16(l),
			winFirst: p.window, firstFlags: f}
	} else if s := &d.state; s.packets < t.n {
		s.lenMin = min(s.lenMin, uint16(l))
		s.lenMax = max(s.lenMax, uint16(l))
		if nowNs > s.lastNs {
			s.iatMax = max(s.iatMax, sat32((nowNs-s.lastNs)>>10))
		}
	}
	s := &d.state
	if s.packets < t.n {
		for i, bit := range [6]uint8{0x02, 0x01, 0x04, 0x08, 0x10, 0x20} { // SYN FIN RST PSH ACK URG
			if f&bit != 0 {
				s.flags[i]++
			}
		}
	}
	s.packets++
	s.bytes += uint64(len(frame))
	s.lastNs = nowNs
	if s.packets != t.n {
		return d, false
	}
	d.Judged = true
	d.Vec = Vector{Proto: uint32(k.proto), SrcPort: uint32(k.sport), DstPort: uint32(k.dport),
		Bytes: sat32(s.bytes), LenMin: uint32(s.lenMin), LenMax: uint32(s.lenMax), IATMax: s.iatMax,
		SYN: uint32(s.flags[0]), FIN: uint32(s.flags[1]), RST: uint32(s.flags[2]), PSH: uint32(s.flags[3]),
		ACK: uint32(s.flags[4]), URG: uint32(s.flags[5]), FirstFlags: uint32(s.firstFlags), WinFirst: uint32(s.winFirst)}
	if nowNs > s.firstNs {
		d.Vec[Duration] = sat32((nowNs - s.firstNs) >> 10)
	}
	return d, true
}

// Directions calls fn for every direction seen.
func (t *Tracker) Directions(fn func(*Direction)) {
	for _, d := range t.dirs {
		fn(d)
	}
}

// Flows is the number of bidirectional flows seen.
func (t *Tracker) Flows() int { return t.flows }

func sat32(v uint64) uint32 {
	if v > 0xffffffff {
		return 0xffffffff
	}
	return uint32(v)
}

// Key is the direction's flow table key, as loader.FlowKey takes it.
func (d *Direction) Key() (src, dst netip.Addr, sport, dport uint16, proto uint8, vlan uint16) {
	src, dst = d.key.addrs()
	return src, dst, d.key.sport, d.key.dport, d.key.proto, d.key.vlan
}

// Packets is how many packets of the direction the tracker counted.
func (d *Direction) Packets() uint64 { return d.state.packets }
