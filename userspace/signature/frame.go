package signature

import (
	"encoding/binary"

	"github.com/xdpids/xdpids/userspace/rules"
)

// headers locates the IP and L4 headers in a raw Ethernet frame, for the
// header buffers (ipv4.hdr, tcp.hdr, ...) and the header keywords the
// decoder does not keep (tos, fragbits, ipopts, tcp.mss).
type headers struct {
	ok        bool
	ip4       []byte // IPv4 header with options
	ip6       []byte // IPv6 header with extension headers
	l4        []byte // TCP header with options, UDP header, ICMP header
	l4proto   uint8
	tos       uint8
	fragFlags uint8 // IPv4 flags bits as in byte 6 (0x80 R, 0x40 D, 0x20 M); IPv6: M from the fragment header
	ipopts    uint16
	vlans     [3]uint16
	nvlan     int
}

func (h *headers) parse(frame []byte) {
	*h = headers{}
	if len(frame) < 14 {
		return
	}
	et := binary.BigEndian.Uint16(frame[12:14])
	off := 14
	for i := 0; i < 3 && (et == 0x8100 || et == 0x88a8); i++ {
		if len(frame) < off+4 {
			return
		}
		h.vlans[i] = binary.BigEndian.Uint16(frame[off:off+2]) & 0x0fff
		h.nvlan++
		et = binary.BigEndian.Uint16(frame[off+2 : off+4])
		off += 4
	}
	d := frame[off:]
	var next uint8
	var rest []byte
	switch et {
	case 0x0800:
		if len(d) < 20 || d[0]>>4 != 4 {
			return
		}
		ihl := int(d[0]&0x0f) * 4
		if ihl < 20 || len(d) < ihl {
			return
		}
		h.ip4 = d[:ihl]
		h.tos = d[1]
		h.fragFlags = d[6] & 0xe0
		h.ipopts = ipOptions(d[20:ihl])
		next = d[9]
		tot := int(binary.BigEndian.Uint16(d[2:4]))
		end := len(d)
		if tot >= ihl && tot < end {
			end = tot
		}
		if binary.BigEndian.Uint16(d[6:8])&0x1fff != 0 {
			h.ok = true // a later fragment: no L4 header
			return
		}
		rest = d[ihl:end]
	case 0x86dd:
		if len(d) < 40 || d[0]>>4 != 6 {
			return
		}
		h.tos = uint8(binary.BigEndian.Uint16(d[0:2]) >> 4)
		next = d[6]
		p := 40
		for i := 0; i < 8; i++ {
			switch next {
			case 0, 43, 60, 135, 139, 140:
				if len(d) < p+8 {
					return
				}
				next = d[p]
				p += (int(d[p+1]) + 1) * 8
			case 44:
				if len(d) < p+8 {
					return
				}
				fo := binary.BigEndian.Uint16(d[p+2 : p+4])
				if fo&1 != 0 {
					h.fragFlags |= rules.FragM
				}
				next = d[p]
				p += 8
				if fo>>3 != 0 {
					if p <= len(d) {
						h.ip6 = d[:p]
					}
					h.ok = true
					return
				}
			case 51:
				if len(d) < p+8 {
					return
				}
				next = d[p]
				p += (int(d[p+1]) + 2) * 4
			default:
				i = 8
				continue
			}
		}
		if p > len(d) {
			return
		}
		h.ip6 = d[:p]
		rest = d[p:]
	default:
		return
	}
	h.ok = true
	h.l4proto = next
	switch next {
	case 6:
		if len(rest) >= 20 {
			hl := int(rest[12]>>4) * 4
			if hl >= 20 && hl <= len(rest) {
				h.l4 = rest[:hl]
			}
		}
	case 17:
		if len(rest) >= 8 {
			h.l4 = rest[:8]
		}
	case 1:
		if len(rest) >= 8 {
			h.l4 = rest[:8]
		}
	case 58:
		h.l4 = rest
	}
}

// ipOptions returns the rules.IPOpt* bits of the options present.
func ipOptions(o []byte) uint16 {
	var bits uint16
	for i := 0; i < len(o); {
		t := o[i]
		switch t {
		case 0:
			bits |= rules.IPOptEOL
			return bits | rules.IPOptAny
		case 1:
			bits |= rules.IPOptNOP | rules.IPOptAny
			i++
			continue
		}
		if i+1 >= len(o) || o[i+1] < 2 {
			return bits
		}
		switch t {
		case 7:
			bits |= rules.IPOptRR
		case 68:
			bits |= rules.IPOptTS
		case 130:
			bits |= rules.IPOptSEC
		case 133:
			bits |= rules.IPOptESEC
		case 131:
			bits |= rules.IPOptLSRR
		case 137:
			bits |= rules.IPOptSSRR
		case 136:
			bits |= rules.IPOptSATID
		}
		bits |= rules.IPOptAny
		i += int(o[i+1])
	}
	return bits
}

// tcpMSS returns the MSS option of a TCP header.
func tcpMSS(th []byte) (uint16, bool) {
	if len(th) <= 20 {
		return 0, false
	}
	o := th[20:]
	for i := 0; i < len(o); {
		switch o[i] {
		case 0:
			return 0, false
		case 1:
			i++
			continue
		}
		if i+1 >= len(o) || o[i+1] < 2 {
			return 0, false
		}
		if o[i] == 2 && o[i+1] == 4 && i+4 <= len(o) {
			return binary.BigEndian.Uint16(o[i+2 : i+4]), true
		}
		i += int(o[i+1])
	}
	return 0, false
}
