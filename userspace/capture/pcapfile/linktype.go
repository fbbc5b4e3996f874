package pcapfile

import (
	"encoding/binary"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Link types of libpcap that gopacket has no name for: DLT_RAW is 12 on
// most systems and 14 on OpenBSD (LINKTYPE_RAW, 101, is what files should
// carry, but both appear in the wild).
const (
	linkTypeRaw12 layers.LinkType = 12
	linkTypeRaw14 layers.LinkType = 14
)

// SupportedLinkTypes lists the link types Open accepts (for errors and help).
const SupportedLinkTypes = "Ethernet (1, PPPoE sessions included), Linux SLL (113) and SLL2 (276), " +
	"raw IP (12, 14, 101), raw IPv4 (228) and IPv6 (229), BSD loopback NULL (0) and LOOP (108), " +
	"PPP (9), PPP in HDLC framing (50) and Cisco HDLC (104)"

func supportedLink(l layers.LinkType) bool {
	switch l {
	case layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2,
		linkTypeRaw12, linkTypeRaw14, layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6,
		layers.LinkTypeNull, layers.LinkTypeLoop,
		layers.LinkTypePPP, layers.LinkTypePPP_HDLC, layers.LinkTypeC_HDLC:
		return true
	}
	return false
}

const (
	ethLen = 14 // an Ethernet header: two MACs and the ethertype

	// etherTypeUnknown marks a frame whose link-layer header could not be
	// read or whose protocol is unknown: as an Ethernet type field it is an
	// 802.3 length, so every decoder takes the frame as not IP.
	etherTypeUnknown layers.EthernetType = 0
	// etherTypePPP (IEEE's registered PPP ethertype) carries PPP frames
	// whose protocol is not IP (LCP, IPCP, ...): the PPP protocol field
	// follows the synthetic header.
	etherTypePPP layers.EthernetType = 0x880b

	arphrdEther = 1 // ARPHRD_ETHER: an SLL address that is a MAC

	pppIPv4 = 0x0021 // PPP protocol numbers (RFC 1332, RFC 5072)
	pppIPv6 = 0x0057
)

// normalizer turns a frame of any supported link type into an Ethernet
// frame, so that the XDP program (which parses Ethernet only) and the
// userspace path see every capture as they would see a NIC:
//
//   - Ethernet passes unchanged, except PPPoE session frames (behind up to
//     two VLAN tags) carrying IPv4 or IPv6, which lose their PPPoE and PPP
//     headers and become plain Ethernet+IP, tags kept. So do the frames of
//     other link types once they have their Ethernet header (SLL of PPPoE).
//   - Every other link type gets a synthetic Ethernet header: zero MACs
//     (the source MAC is the SLL/SLL2 address where that is a MAC), and the
//     ethertype its link layer names (the SLL protocol, the loopback
//     address family, the PPP protocol, the IP version of raw IP). A VLAN
//     tag that libpcap put back into an SLL frame (protocol 0x8100) is kept,
//     since the tag follows the header as it would in Ethernet.
//   - Frames of a protocol that is not IP keep their ethertype (SLL with
//     ARP is Ethernet with ARP); PPP that is not IP is ethertype 0x880b
//     followed by the PPP protocol field; a link header that cannot be read
//     (cut short, bad family) becomes ethertype 0 followed by the whole
//     original frame, which the pipeline counts as not IP.
//
// Headers at least as long as Ethernet's (SLL, SLL2, PPPoE) are rewritten in
// place in the reader's buffer; shorter ones are copied behind a synthetic
// header in buf, the Capture's own, allocated at the first such frame.
// Neither allocates once buf has grown to the longest frame.
type normalizer struct {
	buf  []byte
	sll  layers.LinuxSLL
	sll2 layers.LinuxSLL2
	loop layers.Loopback
}

func newNormalizer() normalizer { return normalizer{} }

// minBuf is the least buf grows to: frames up to 64 KiB never grow it
// again.
const minBuf = ethLen + 1<<16

// normalize returns data, a frame of link type link, as an Ethernet frame.
// It may rewrite data; the result aliases data or n.buf and is valid until
// the next call. Its header grew or shrank by len(result)-len(data).
func (n *normalizer) normalize(link layers.LinkType, data []byte) []byte {
	switch link {
	case layers.LinkTypeEthernet:
		return ethernetNoPPPoE(data)
	case layers.LinkTypeLinuxSLL:
		if n.sll.DecodeFromBytes(data, gopacket.NilDecodeFeedback) != nil {
			return n.undecodable(data)
		}
		var src []byte
		if n.sll.AddrType == arphrdEther && n.sll.AddrLen == 6 {
			src = n.sll.Addr
		}
		return n.withEthernet(data, len(n.sll.Contents), n.sll.EthernetType, src)
	case layers.LinkTypeLinuxSLL2:
		if n.sll2.DecodeFromBytes(data, gopacket.NilDecodeFeedback) != nil {
			return n.undecodable(data)
		}
		var src []byte
		if n.sll2.ARPHardwareType == arphrdEther && n.sll2.AddrLength == 6 {
			src = n.sll2.Addr
		}
		return n.withEthernet(data, len(n.sll2.Contents), n.sll2.ProtocolType, src)
	case linkTypeRaw12, linkTypeRaw14, layers.LinkTypeRaw:
		et := etherTypeUnknown
		if len(data) > 0 {
			switch data[0] >> 4 {
			case 4:
				et = layers.EthernetTypeIPv4
			case 6:
				et = layers.EthernetTypeIPv6
			}
		}
		return n.withEthernet(data, 0, et, nil)
	case layers.LinkTypeIPv4:
		return n.withEthernet(data, 0, layers.EthernetTypeIPv4, nil)
	case layers.LinkTypeIPv6:
		return n.withEthernet(data, 0, layers.EthernetTypeIPv6, nil)
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		// One decoder for both: NULL's family word is in the capturing
		// host's byte order, LOOP's in network order, and gopacket tells
		// them apart by where the (always < 256) value sits.
		if n.loop.DecodeFromBytes(data, gopacket.NilDecodeFeedback) != nil {
			return n.undecodable(data)
		}
		et := etherTypeUnknown
		switch n.loop.Family {
		case layers.ProtocolFamilyIPv4:
			et = layers.EthernetTypeIPv4
		case layers.ProtocolFamilyIPv6BSD, layers.ProtocolFamilyIPv6FreeBSD, layers.ProtocolFamilyIPv6Darwin:
			et = layers.EthernetTypeIPv6
		}
		return n.withEthernet(data, len(n.loop.Contents), et, nil)
	case layers.LinkTypePPP, layers.LinkTypePPP_HDLC, layers.LinkTypeC_HDLC:
		return n.ppp(link, data)
	}
	// Open refuses every other link type.
	return n.undecodable(data)
}

// ppp handles PPP (9: RFC 1661, with or without the RFC 1662 HDLC-like
// address and control bytes), PPP in HDLC framing (50: RFC 1662, or Cisco
// HDLC, which libpcap also files under 50) and Cisco HDLC (104).
//
// Hand-written: gopacket's PPP (and PPPoE) layers are not DecodingLayers,
// only decoders that build a gopacket.Packet, which allocates per frame;
// their framing rules are the few lines below.
func (n *normalizer) ppp(link layers.LinkType, data []byte) []byte {
	if link == layers.LinkTypeC_HDLC || (link == layers.LinkTypePPP_HDLC && len(data) > 0 && (data[0] == 0x0f || data[0] == 0x8f)) {
		// Cisco HDLC: address (0x0f unicast, 0x8f broadcast), control,
		// then an ethertype.
		if len(data) < 4 {
			return n.undecodable(data)
		}
		return n.withEthernet(data, 4, layers.EthernetType(binary.BigEndian.Uint16(data[2:4])), nil)
	}
	hdr := 0
	if len(data) >= 2 && data[0] == 0xff && data[1] == 0x03 {
		hdr = 2 // HDLC-like framing: all-stations address, UI control
	}
	proto, plen := pppProtocol(data[hdr:])
	if plen == 0 {
		return n.undecodable(data)
	}
	if et := pppEtherType(proto); et != etherTypeUnknown {
		return n.withEthernet(data, hdr+plen, et, nil)
	}
	return n.withEthernet(data, hdr, etherTypePPP, nil)
}

// pppProtocol reads a PPP protocol field: two bytes, or one when the peers
// agreed on Protocol-Field-Compression (RFC 1661 §6.5: the first byte is
// odd). plen is 0 if b is too short.
func pppProtocol(b []byte) (proto uint16, plen int) {
	switch {
	case len(b) >= 1 && b[0]&1 == 1:
		return uint16(b[0]), 1
	case len(b) >= 2:
		return binary.BigEndian.Uint16(b), 2
	}
	return 0, 0
}

func pppEtherType(proto uint16) layers.EthernetType {
	switch proto {
	case pppIPv4:
		return layers.EthernetTypeIPv4
	case pppIPv6:
		return layers.EthernetTypeIPv6
	}
	return etherTypeUnknown
}

// ethernetNoPPPoE turns a PPPoE session frame carrying IP into the same
// frame without its PPPoE and PPP headers, moving the MACs and VLAN tags
// forward over them in place; any other frame is returned as it is.
// Hand-written for the reason ppp gives.
func ethernetNoPPPoE(data []byte) []byte {
	off := 12 // the ethertype, after the two MACs
	if len(data) < off+2 {
		return data
	}
	et := layers.EthernetType(binary.BigEndian.Uint16(data[off:]))
	for range 2 { // as many tags as the XDP program parses
		if et != layers.EthernetTypeDot1Q && et != layers.EthernetTypeQinQ && et != 0x9100 {
			break
		}
		off += 4
		if len(data) < off+2 {
			return data
		}
		et = layers.EthernetType(binary.BigEndian.Uint16(data[off:]))
	}
	if et != layers.EthernetTypePPPoESession {
		return data
	}
	// RFC 2516 §4: version 1, type 1, code 0 for session data; then the
	// session id and the payload length (Ethernet padding may follow the
	// payload: IP's own length covers it, as on any Ethernet frame).
	p := data[off+2:]
	if len(p) < 6 || p[0] != 0x11 || p[1] != 0 {
		return data
	}
	proto, plen := pppProtocol(p[6:])
	et = pppEtherType(proto)
	if plen == 0 || et == etherTypeUnknown {
		return data // LCP, IPCP, ...: left as PPPoE, which is not IP
	}
	cut := 6 + plen
	copy(data[cut:cut+off], data[:off]) // copy is memmove: the ranges overlap
	out := data[cut:]
	binary.BigEndian.PutUint16(out[off:], uint16(et))
	return out
}

// withEthernet returns data with its first hdr bytes (the link-layer
// header) replaced by an Ethernet header of type et, source MAC src (zero
// if nil) and a zero destination.
func (n *normalizer) withEthernet(data []byte, hdr int, et layers.EthernetType, src []byte) []byte {
	var mac [6]byte
	copy(mac[:], src) // before the header is written: src may point into it
	var out []byte
	if hdr >= ethLen {
		out = data[hdr-ethLen:]
	} else {
		size := ethLen + len(data) - hdr
		if cap(n.buf) < size {
			// Once per capture, or per new longest frame: an Ethernet-only
			// capture never needs it.
			n.buf = make([]byte, max(size, minBuf))
		}
		out = n.buf[:size]
		copy(out[ethLen:], data[hdr:])
	}
	clear(out[:6])
	copy(out[6:12], mac[:])
	binary.BigEndian.PutUint16(out[12:14], uint16(et))
	// An SLL capture of an interface carrying PPPoE (or a VLAN tag and
	// PPPoE) is what Ethernet would be: treated the same.
	return ethernetNoPPPoE(out)
}

// undecodable returns a frame whose link-layer header could not be read
// behind an Ethernet header of type etherTypeUnknown, whole.
func (n *normalizer) undecodable(data []byte) []byte {
	return n.withEthernet(data, 0, etherTypeUnknown, nil)
}
