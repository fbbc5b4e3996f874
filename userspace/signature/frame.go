package signature

import (
	"encoding/binary"

	"github.com/xdpids/xdpids/userspace/packet/decode"
	"github.com/xdpids/xdpids/userspace/signature/rules"
)

// headers holds the IP and L4 headers of a packet in its frame, for the
// header buffers (ipv4.hdr, tcp.hdr, ...) and the header keywords the
// Packet does not carry (tos, fragbits, ipopts, tcp.mss). The decoder
// found them (decode.Packet's L3/L4 offsets, the innermost packet of a
// tunnel): nothing is walked here again.
type headers struct {
	ok        bool
	ip4       []byte // IPv4 header with options
	ip6       []byte // IPv6 header with extension headers
	l4        []byte // TCP header with options, UDP header, ICMP header
	l4proto   uint8
	tos       uint8
	fragFlags uint8 // IPv4 flags bits as in byte 6 (0x80 R, 0x40 D, 0x20 M); IPv6: M from the fragment header
	ipopts    uint16
	vlans     []uint16
}

// parse takes the headers of p from frame, the frame p was decoded from.
func (h *headers) parse(frame []byte, p *decode.Packet) {
	*h = headers{}
	if p == nil {
		return
	}
	h.vlans = p.VLANs[:p.NVLANs]
	end3 := int(p.L3Off) + int(p.L3Len)
	if p.Family == 0 || p.L3Len == 0 || end3 > len(frame) {
		return
	}
	ip := frame[p.L3Off:end3]
	h.ok = true
	h.l4proto = p.Proto
	switch p.Family {
	case 4:
		if len(ip) < 20 {
			return
		}
		h.ip4 = ip
		h.tos = ip[1]
		h.fragFlags = ip[6] & 0xe0
		h.ipopts = ipOptions(ip[20:])
	case 6:
		h.ip6 = ip
		h.tos = uint8(binary.BigEndian.Uint16(ip[0:2]) >> 4)
		if p.MoreFrags {
			h.fragFlags = rules.FragM
		}
	}
	if end4 := int(p.L4Off) + int(p.L4Len); p.L4Len != 0 && end4 <= len(frame) {
		h.l4 = frame[p.L4Off:end4]
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
