package xdptree

import "encoding/binary"

// pkt is what the XDP program's parser learns of a frame, as far as the
// flow table and the model use it.
type pkt struct {
	src, dst     [16]byte
	sport, dport uint16 // host order
	vlan         uint16
	family       uint8
	l4proto      uint8
	tcpFlags     uint8
	window       uint16
	frag         uint8 // 0 none, 1 first fragment, 2 later fragment
	malformed    bool
}

// Limits of the program's parser (bpf.VLANMaxDepth, bpf.IPv6ExtMaxChain).
const (
	vlanMaxDepth    = 3
	ipv6ExtMaxChain = 6
)

// flowKey is the program's flow table key: one direction.
type flowKey struct {
	src, dst     [16]byte
	sport, dport uint16
	vlan         uint16
	proto        uint8
	family       uint8
}

func (p *pkt) key() flowKey {
	return flowKey{src: p.src, dst: p.dst, sport: p.sport, dport: p.dport, vlan: p.vlan, proto: p.l4proto, family: p.family}
}

// reverse is the key of the other direction.
func (k flowKey) reverse() flowKey {
	k.src, k.dst = k.dst, k.src
	k.sport, k.dport = k.dport, k.sport
	return k
}

// flowable reports whether the program accounts p in its flow table
// (with no allow or block list entry, rate limit or SYN cookie in the
// way): an IP packet whose headers are whole, and not a later fragment.
func (p *pkt) flowable() bool { return p.family != 0 && !p.malformed && p.frag != 2 }

// parseFrame is bpf/xdpids.c's parse(): false when the frame is cut
// before or inside the L2/L3 headers (the program passes it, no flow).
func parseFrame(b []byte, p *pkt) bool {
	*p = pkt{}
	if len(b) < 14 {
		return false
	}
	proto := binary.BigEndian.Uint16(b[12:])
	cur := 14
	for i := 0; i < vlanMaxDepth; i++ {
		if proto != 0x8100 && proto != 0x88a8 {
			break
		}
		if cur+4 > len(b) {
			return false
		}
		if i == 0 {
			p.vlan = binary.BigEndian.Uint16(b[cur:]) & 0x0fff
		}
		proto = binary.BigEndian.Uint16(b[cur+2:])
		cur += 4
	}
	switch proto {
	case 0x0800:
		return parseIPv4(b, cur, p)
	case 0x86dd:
		return parseIPv6(b, cur, p)
	}
	return true // not IP: family stays 0
}

func parseIPv4(b []byte, l3 int, p *pkt) bool {
	if l3+20 > len(b) {
		return false
	}
	h := b[l3:]
	hlen := int(h[0]&0x0f) * 4
	if hlen < 20 || h[0]>>4 != 4 || l3+hlen > len(b) {
		return false
	}
	p.family = 4
	p.l4proto = h[9]
	copy(p.src[:4], h[12:16])
	copy(p.dst[:4], h[16:20])
	frag := binary.BigEndian.Uint16(h[6:])
	if frag&0x1fff != 0 {
		p.frag = 2
		return true
	}
	if frag&0x2000 != 0 {
		p.frag = 1
	}
	tot := int(binary.BigEndian.Uint16(h[2:]))
	ipEnd := 0xffff
	if tot >= hlen {
		ipEnd = l3 + tot
	}
	if !parseL4(b, l3+hlen, ipEnd, p) {
		p.malformed = true
	}
	return true
}

// IPv6 extension headers the program follows.
const (
	ipprotoHopOpts  = 0
	ipprotoTCP      = 6
	ipprotoUDP      = 17
	ipprotoRouting  = 43
	ipprotoFragment = 44
	ipprotoAH       = 51
	ipprotoICMP     = 1
	ipprotoICMPv6   = 58
	ipprotoDstOpts  = 60
	ipprotoMH       = 135
	ipprotoHIP      = 139
	ipprotoShim6    = 140
)

func parseIPv6(b []byte, l3 int, p *pkt) bool {
	if l3+40 > len(b) {
		return false
	}
	h := b[l3:]
	if h[0]>>4 != 6 {
		return false
	}
	p.family = 6
	copy(p.src[:], h[8:24])
	copy(p.dst[:], h[24:40])
	next := h[6]
	cur := l3 + 40
	for i := 0; i < ipv6ExtMaxChain; i++ {
		switch next {
		case ipprotoHopOpts, ipprotoRouting, ipprotoDstOpts, ipprotoMH, ipprotoHIP, ipprotoShim6:
			if cur+2 > len(b) {
				return truncated(p, next)
			}
			next = b[cur]
			cur += (int(b[cur+1]) + 1) * 8
			if cur > len(b) {
				return truncated(p, next)
			}
		case ipprotoAH:
			if cur+2 > len(b) {
				return truncated(p, next)
			}
			next = b[cur]
			cur += (int(b[cur+1]) + 2) * 4
			if cur > len(b) {
				return truncated(p, next)
			}
		case ipprotoFragment:
			if cur+8 > len(b) {
				return truncated(p, next)
			}
			next = b[cur]
			off := binary.BigEndian.Uint16(b[cur+2:])
			cur += 8
			if off&0xfff8 != 0 {
				p.l4proto = next
				p.frag = 2
				return true
			}
			if off&1 != 0 {
				p.frag = 1
			}
		default:
			return l4v6(b, h, l3, cur, next, p)
		}
	}
	switch next {
	case ipprotoHopOpts, ipprotoRouting, ipprotoDstOpts, ipprotoMH, ipprotoHIP, ipprotoShim6, ipprotoAH, ipprotoFragment:
		p.l4proto = next // still an extension header past the chain limit
		return true
	}
	return l4v6(b, h, l3, cur, next, p)
}

func l4v6(b, h []byte, l3, cur int, next uint8, p *pkt) bool {
	p.l4proto = next
	plen := int(binary.BigEndian.Uint16(h[4:]))
	ipEnd := 0xffff // a jumbogram
	if plen != 0 {
		ipEnd = l3 + 40 + plen
	}
	if !parseL4(b, cur, ipEnd, p) {
		p.malformed = true
	}
	return true
}

func truncated(p *pkt, next uint8) bool {
	p.l4proto = next
	p.malformed = true
	return true
}

// parseL4 is the program's parse_l4: false when the header is cut.
func parseL4(b []byte, off, ipEnd int, p *pkt) bool {
	switch p.l4proto {
	case ipprotoTCP:
		if off+20 > len(b) || b[off+12]>>4 < 5 {
			return false
		}
		hl := int(b[off+12]>>4) * 4
		if off+hl > len(b) || off+hl > ipEnd {
			return false
		}
		p.sport = binary.BigEndian.Uint16(b[off:])
		p.dport = binary.BigEndian.Uint16(b[off+2:])
		p.tcpFlags = b[off+13]
		p.window = binary.BigEndian.Uint16(b[off+14:])
	case ipprotoUDP:
		if off+8 > len(b) {
			return false
		}
		p.sport = binary.BigEndian.Uint16(b[off:])
		p.dport = binary.BigEndian.Uint16(b[off+2:])
	case ipprotoICMP, ipprotoICMPv6:
		if (p.l4proto == ipprotoICMP) != (p.family == 4) {
			return true // no ICMP a stack accepts: no ports
		}
		if off+8 > len(b) {
			return false
		}
		p.sport = uint16(b[off])   // type
		p.dport = uint16(b[off+1]) // code
	}
	return true
}
