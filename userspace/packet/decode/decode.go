// Package decode turns a sampled frame into a Packet: Ethernet, 802.1Q and
// 802.1ad tags, ARP, IPv4, IPv6 and its extension headers, TCP, UDP, SCTP,
// ICMPv4 and ICMPv6, through the tunnels Suricata decapsulates (GRE with
// ERSPAN I/II/III and transparent Ethernet bridging, VXLAN, Geneve, Teredo,
// IP-in-IP, MPLS, NSH): the Packet describes the innermost IP packet and
// where its headers sit in the frame. gopacket's layers decode each
// header; the decoder and the Packet are reused, so decoding allocates
// nothing in steady state.
package decode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/xdpids/xdpids/bpf"
)

// TCP flag bits as in the TCP header's flag byte.
const (
	FlagFIN = 0x01
	FlagSYN = 0x02
	FlagRST = 0x04
	FlagPSH = 0x08
	FlagACK = 0x10
	FlagURG = 0x20
	FlagECE = 0x40
	FlagCWR = 0x80
)

// IP protocol numbers used here.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
	ProtoSCTP   = 132
)

// Encap says which encapsulations a packet was found in (Packet.Encap).
type Encap uint16

// Encapsulations.
const (
	EncapGRE     Encap = 1 << iota // GRE (IP protocol 47): IP, transparent Ethernet bridging, MPLS, VLAN
	EncapERSPAN1                   // ERSPAN type I: GRE 0x88BE without a sequence number, no ERSPAN header
	EncapERSPAN2                   // ERSPAN type II: GRE 0x88BE with a sequence number
	EncapERSPAN3                   // ERSPAN type III: GRE 0x22EB
	EncapVXLAN                     // VXLAN (UDP destination port 4789)
	EncapGeneve                    // Geneve (UDP port 6081)
	EncapTeredo                    // Teredo (UDP port 3544)
	EncapIPIP                      // IP in IP (IP protocol 4 or 41: 4in4, 6in4, 4in6, 6in6)
	EncapMPLS                      // an MPLS label stack (Ethertype 0x8847, 0x8848)
	EncapNSH                       // a Network Service Header (Ethertype 0x894F)
)

// MaxDepth is how many encapsulations Decode goes through (Suricata's
// decoder stops at a layer count too): a frame nesting more is decoded down
// to that depth and Decode returns ErrTooDeep.
const MaxDepth = 4

// MaxVLANs is how many VLAN IDs a Packet keeps (Suricata keeps 3), and
// how many tags after one Ethernet header are parsed: as many as the XDP
// program parses.
const MaxVLANs = bpf.VLANMaxDepth

// Packet is what the pipeline knows about one sampled frame. Payload
// aliases the frame buffer and is valid only while that buffer is.
type Packet struct {
	TsNs    int64 // Unix time in ns (packet time, not the wall clock)
	Ifindex uint32
	WireLen uint32
	CapLen  uint32
	PcapCnt uint64 // 1-based packet number in the capture (offline; 0 live)

	// From the XDP program (zero offline without BPF).
	Verdict     uint8
	Reason      uint8
	SampleFlags uint8
	FlowPackets uint64 // the kernel flow's packet count (0: unknown)

	VLAN uint16 // the first VLAN ID (VLANs[0]), 0 without one
	// VLANs holds the first NVLANs VLAN IDs in the order met: the frame's
	// tags, an ERSPAN header's VLAN, then the tags of a tunnelled frame
	// (as Suricata, whose tunnelled packets keep the outer packet's VLANs).
	VLANs  [MaxVLANs]uint16
	NVLANs uint8

	Family    uint8 // 4 or 6; 0 when not IP
	Src, Dst  netip.Addr
	Proto     uint8 // IP protocol (of the last header decoded)
	TTL       uint8 // TTL or hop limit
	IPID      uint16
	Fragment  bool   // any IP fragment
	LaterFrag bool   // a fragment after the first: no L4 header
	MoreFrags bool   // the more-fragments flag (IPv4 MF, IPv6 fragment header M)
	IPLen     uint32 // IP total length from the header (payload may be cut by snaplen)

	HasL4            bool
	SrcPort, DstPort uint16 // ICMP: type and code
	TCPFlags         uint8
	Seq, Ack         uint32
	Window           uint16
	ICMPType         uint8
	ICMPCode         uint8
	ICMPID, ICMPSeq  uint16

	Payload    []byte // L4 payload as captured
	PayloadLen uint32 // L4 payload length on the wire (captured + cut by the snap length)

	// Where the packet's IP and L4 headers are in the frame Decode read:
	// L3 is the IPv4 header with its options, or the IPv6 header with the
	// extension headers decoded; L4 the TCP header with its options, the
	// 8 bytes of a UDP or ICMPv4 header, the ICMPv6 message, SCTP's
	// 12-byte common header. Header keywords and buffers (ipv4.hdr,
	// tcp.hdr, tos, ...) read them there. A zero length: not decoded.
	L3Off, L3Len uint32
	L4Off, L4Len uint32

	// Encapsulation: the fields above describe the innermost packet.
	// Encap has a bit per kind of encapsulation the packet was inside and
	// Depth counts them. Tunnel says the packet came out of an outer IP
	// packet (GRE, ERSPAN, VXLAN, Geneve, Teredo, IP in IP; not a bare
	// MPLS or NSH frame), whose addresses, protocol and ports (ICMP: zero)
	// are the Tunnel* fields (the outermost one when tunnels nest).
	Encap                        Encap
	Depth                        uint8
	Tunnel                       bool
	TunnelSrc, TunnelDst         netip.Addr
	TunnelProto                  uint8
	TunnelSrcPort, TunnelDstPort uint16

	// ARP (Family 0, Decode returns ErrNotIP): operation (1 request,
	// 2 reply) and the IPv4 sender and target.
	ARPOp                uint16
	ARPSender, ARPTarget netip.Addr
}

// Reset clears p for reuse.
func (p *Packet) Reset() { *p = Packet{} }

// clearIP forgets the IP and L4 fields: an encapsulated packet replaces
// the outer one.
func (p *Packet) clearIP() {
	p.Family, p.Src, p.Dst, p.Proto, p.TTL, p.IPID = 0, netip.Addr{}, netip.Addr{}, 0, 0, 0
	p.Fragment, p.LaterFrag, p.MoreFrags, p.IPLen = false, false, false, 0
	p.HasL4, p.SrcPort, p.DstPort, p.TCPFlags, p.Seq, p.Ack, p.Window = false, 0, 0, 0, 0, 0, 0
	p.ICMPType, p.ICMPCode, p.ICMPID, p.ICMPSeq = 0, 0, 0, 0
	p.Payload, p.L3Off, p.L3Len, p.L4Off, p.L4Len = nil, 0, 0, 0, 0
}

// Errors the decoder reports; the pipeline counts them by kind.
var (
	ErrNotIP     = errors.New("not an IP packet")
	ErrTruncated = errors.New("truncated header")
	// ErrTooDeep: more than MaxDepth encapsulations; the Packet describes
	// the packet at MaxDepth.
	ErrTooDeep = errors.New("encapsulations nested too deep")
)

// Decoder decodes frames into Packets. Not safe for concurrent use: give
// each worker its own.
type Decoder struct {
	eth    layers.Ethernet
	dot1q  layers.Dot1Q
	ip4    layers.IPv4
	ip6    ipv6Header
	ext    layers.IPv6ExtensionSkipper
	frag6  layers.IPv6Fragment
	tcp    layers.TCP
	udp    layers.UDP
	sctp   layers.SCTP
	icmp4  layers.ICMPv4
	icmp6  layers.ICMPv6
	arp    layers.ARP
	vxlan  layers.VXLAN
	gre    layers.GRE
	erspan layers.ERSPANII

	// Per frame.
	frame    []byte
	depth    int   // encapsulations entered
	tags     int   // VLAN tags after the current Ethernet header
	pending  Encap // encapsulations entered since the last IP header
	vlanMark uint8 // p.NVLANs when the pending encapsulations began
}

// NewDecoder returns a decoder for Ethernet frames.
func NewDecoder() *Decoder { return &Decoder{} }

// ipv6Header decodes the fixed IPv6 header only. gopacket's IPv6 layer
// also parses a hop-by-hop header and allocates one struct per option in
// it (a 1500-byte frame of Pad1 options costs some 1400 allocations);
// here the hop-by-hop header is skipped like the other extension headers.
type ipv6Header struct {
	layers.IPv6
}

var (
	errIPv6Short   = errors.New("IPv6 header shorter than 40 bytes")
	errIPv6Version = errors.New("IPv6 header of another IP version")
	errIPv6ZeroLen = errors.New("IPv6 payload length 0 without a hop-by-hop header")
	errIPv4Version = errors.New("IPv4 header of another IP version")
	errAHShort     = errors.New("IPv6 authentication header truncated")
)

func (h *ipv6Header) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 40 {
		df.SetTruncated()
		return errIPv6Short
	}
	h.Version = data[0] >> 4
	if h.Version != 6 {
		return errIPv6Version
	}
	h.TrafficClass = uint8(binary.BigEndian.Uint16(data[0:2]) >> 4)
	h.FlowLabel = binary.BigEndian.Uint32(data[0:4]) & 0x000fffff
	h.Length = binary.BigEndian.Uint16(data[4:6])
	h.NextHeader = layers.IPProtocol(data[6])
	h.HopLimit = data[7]
	h.SrcIP, h.DstIP = data[8:24], data[24:40]
	h.HopByHop = nil
	payload := data[40:]
	switch {
	case h.Length == 0 && h.NextHeader != layers.IPProtocolIPv6HopByHop:
		return errIPv6ZeroLen
	case h.Length == 0: // jumbogram: the length is in the hop-by-hop header
	case int(h.Length) <= len(payload):
		payload = payload[:h.Length] // no Ethernet padding or trailer
	default:
		df.SetTruncated()
	}
	h.BaseLayer = layers.BaseLayer{Contents: data[:40], Payload: payload}
	return nil
}

func (h *ipv6Header) NextLayerType() gopacket.LayerType { return h.NextHeader.LayerType() }

// step names the header Decode reads next.
type step uint8

const (
	stepDone step = iota
	stepEthernet
	stepDot1Q
	stepARP
	stepIPv4
	stepIPv6
	stepTCP
	stepUDP
	stepSCTP
	stepICMPv4
	stepICMPv6
	stepGRE
	stepERSPAN2
	stepERSPAN3
	stepMPLS
	stepNSH
	stepVXLAN
	stepGeneve
)

// Decode fills p from frame (p's metadata fields are left as set by the
// caller). It returns ErrNotIP for non-IP frames, an error wrapping
// ErrTruncated when a header is cut or malformed, and ErrTooDeep past
// MaxDepth encapsulations; p holds what was decoded before.
//
// Each header is decoded once, in one pass over the frame; a tunnel
// header that does not check out (Suricata's checks) ends the pass with
// the outer packet, as Suricata then inspects it.
func (d *Decoder) Decode(frame []byte, p *Packet) error {
	d.frame, d.depth, d.pending = frame, 0, 0
	data, st := frame, stepEthernet
	var err error
	for st != stepDone && err == nil {
		data, st, err = d.step(st, data, p)
	}
	d.dropPending(p)
	d.frame = nil
	if p.Family == 0 {
		if err != nil {
			return fmt.Errorf("%w: %v", ErrTruncated, err)
		}
		return ErrNotIP
	}
	if err == ErrTooDeep {
		return err
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrTruncated, err)
	}
	// The payload on the wire: what was captured plus what the snap
	// length cut off (gopacket already trims Ethernet padding).
	p.PayloadLen = uint32(len(p.Payload))
	if p.WireLen > p.CapLen && p.CapLen != 0 {
		p.PayloadLen += p.WireLen - p.CapLen
	}
	return nil
}

var nilDF = gopacket.NilDecodeFeedback

// step decodes one header at data and says what follows it, where.
func (d *Decoder) step(st step, data []byte, p *Packet) ([]byte, step, error) {
	switch st {
	case stepEthernet:
		if err := d.eth.DecodeFromBytes(data, nilDF); err != nil {
			return nil, stepDone, err
		}
		d.tags = 0
		return d.eth.Payload, etherStep(d.eth.EthernetType), nil
	case stepDot1Q:
		if d.tags == bpf.VLANMaxDepth {
			// The XDP program parses no further: neither does userspace,
			// so both see the same (not IP) frame.
			return nil, stepDone, nil
		}
		d.tags++
		if err := d.dot1q.DecodeFromBytes(data, nilDF); err != nil {
			return nil, stepDone, err
		}
		p.addVLAN(d.dot1q.VLANIdentifier)
		return d.dot1q.Payload, etherStep(d.dot1q.Type), nil
	case stepARP:
		if err := d.arp.DecodeFromBytes(data, nilDF); err != nil {
			return nil, stepDone, err
		}
		if p.Family == 0 && d.arp.AddrType == layers.LinkTypeEthernet && d.arp.Protocol == layers.EthernetTypeIPv4 && d.arp.ProtAddressSize == 4 {
			p.ARPOp = d.arp.Operation
			p.ARPSender, _ = netip.AddrFromSlice(d.arp.SourceProtAddress)
			p.ARPTarget, _ = netip.AddrFromSlice(d.arp.DstProtAddress)
		}
		return nil, stepDone, nil
	case stepIPv4:
		return d.ipv4(data, p)
	case stepIPv6:
		return d.ipv6(data, p)
	case stepTCP:
		if err := d.tcp.DecodeFromBytes(data, nilDF); err != nil {
			return nil, stepDone, err
		}
		d.fromTCP(p)
		return nil, stepDone, nil
	case stepUDP:
		if err := d.udp.DecodeFromBytes(data, nilDF); err != nil {
			return nil, stepDone, err
		}
		d.fromUDP(p)
		return d.udpNext(p)
	case stepSCTP:
		if err := d.sctp.DecodeFromBytes(data, nilDF); err != nil {
			return nil, stepDone, err
		}
		d.fromSCTP(p)
		return nil, stepDone, nil
	case stepICMPv4:
		if err := d.icmp4.DecodeFromBytes(data, nilDF); err != nil {
			return nil, stepDone, err
		}
		p.HasL4 = true
		p.Proto = ProtoICMP
		p.ICMPType, p.ICMPCode = d.icmp4.TypeCode.Type(), d.icmp4.TypeCode.Code()
		p.SrcPort, p.DstPort = uint16(p.ICMPType), uint16(p.ICMPCode)
		p.ICMPID, p.ICMPSeq = d.icmp4.Id, d.icmp4.Seq
		p.Payload = d.icmp4.Payload
		d.setL4(p, d.icmp4.Contents, len(d.icmp4.Contents))
		return nil, stepDone, nil
	case stepICMPv6:
		if err := d.icmp6.DecodeFromBytes(data, nilDF); err != nil {
			return nil, stepDone, err
		}
		p.HasL4 = true
		p.Proto = ProtoICMPv6
		p.ICMPType, p.ICMPCode = d.icmp6.TypeCode.Type(), d.icmp6.TypeCode.Code()
		p.SrcPort, p.DstPort = uint16(p.ICMPType), uint16(p.ICMPCode)
		if (p.ICMPType == 128 || p.ICMPType == 129) && len(d.icmp6.Payload) >= 4 {
			// Echo: identifier and sequence open the message body.
			p.ICMPID = binary.BigEndian.Uint16(d.icmp6.Payload[0:2])
			p.ICMPSeq = binary.BigEndian.Uint16(d.icmp6.Payload[2:4])
		}
		p.Payload = d.icmp6.Payload
		d.setL4(p, d.icmp6.Contents, len(d.icmp6.Contents)+len(d.icmp6.Payload))
		return nil, stepDone, nil
	case stepGRE:
		return d.greStep(data, p)
	case stepERSPAN2:
		return d.erspan2Step(data, p)
	case stepERSPAN3:
		return erspan3Step(data, p)
	case stepMPLS:
		return d.mplsStep(data, p)
	case stepNSH:
		return d.nshStep(data, p)
	case stepVXLAN:
		return d.vxlanStep(data, p)
	case stepGeneve:
		return d.geneveStep(data, p)
	}
	return nil, stepDone, nil
}

// etherStep is the header an Ethertype announces.
func etherStep(t layers.EthernetType) step {
	switch t {
	case layers.EthernetTypeIPv4:
		return stepIPv4
	case layers.EthernetTypeIPv6:
		return stepIPv6
	case layers.EthernetTypeDot1Q, layers.EthernetTypeQinQ:
		return stepDot1Q
	case layers.EthernetTypeARP:
		return stepARP
	case layers.EthernetTypeMPLSUnicast, layers.EthernetTypeMPLSMulticast:
		return stepMPLS
	case ethernetTypeNSH:
		return stepNSH
	}
	return stepDone
}

func (p *Packet) addVLAN(id uint16) {
	if p.NVLANs == 0 {
		p.VLAN = id
	}
	if int(p.NVLANs) < MaxVLANs {
		p.VLANs[p.NVLANs] = id
		p.NVLANs++
	}
}

// encap enters one more encapsulation of kind e, or refuses past MaxDepth.
func (d *Decoder) encap(p *Packet, e Encap) error {
	if d.depth >= MaxDepth {
		return ErrTooDeep
	}
	if d.pending == 0 {
		d.vlanMark = p.NVLANs
	}
	d.depth++
	d.pending |= e
	return nil
}

// dropPending forgets the VLANs met inside encapsulations that led to no
// IP packet: the Packet describes the outer one.
func (d *Decoder) dropPending(p *Packet) {
	if d.pending == 0 {
		return
	}
	for i := d.vlanMark; i < p.NVLANs; i++ {
		p.VLANs[i] = 0
	}
	p.NVLANs = d.vlanMark
	if p.NVLANs == 0 {
		p.VLAN = 0
	}
	d.pending = 0
}

// enterIP starts an IP packet: one inside an encapsulation replaces the
// packet decoded so far, the outermost IP packet's endpoints kept as the
// tunnel's.
func (d *Decoder) enterIP(p *Packet) {
	if d.pending == 0 {
		return
	}
	if p.Family != 0 && !p.Tunnel {
		p.Tunnel = true
		p.TunnelSrc, p.TunnelDst, p.TunnelProto = p.Src, p.Dst, p.Proto
		if p.Proto == ProtoTCP || p.Proto == ProtoUDP || p.Proto == ProtoSCTP {
			p.TunnelSrcPort, p.TunnelDstPort = p.SrcPort, p.DstPort
		}
	}
	p.clearIP()
	p.Encap |= d.pending
	p.Depth = uint8(d.depth)
	d.pending = 0
}

// offset is where b, a slice of the frame being decoded, starts in it.
// Every layer's Contents and Payload is a reslice of the frame (none is
// capped), so the difference of capacities is the offset.
func (d *Decoder) offset(b []byte) uint32 {
	off := cap(d.frame) - cap(b)
	if off < 0 || off > len(d.frame) {
		return 0
	}
	return uint32(off)
}

func (d *Decoder) setL4(p *Packet, hdr []byte, n int) {
	p.L4Off, p.L4Len = d.offset(hdr), uint32(n)
}

func (d *Decoder) ipv4(data []byte, p *Packet) ([]byte, step, error) {
	if len(data) > 0 && data[0]>>4 != 4 {
		return nil, stepDone, errIPv4Version
	}
	ip := &d.ip4
	if err := ip.DecodeFromBytes(data, nilDF); err != nil {
		return nil, stepDone, err
	}
	d.enterIP(p)
	p.Family = 4
	p.Src, _ = netip.AddrFromSlice(ip.SrcIP)
	p.Dst, _ = netip.AddrFromSlice(ip.DstIP)
	p.Proto = uint8(ip.Protocol)
	p.TTL = ip.TTL
	p.IPID = ip.Id
	p.IPLen = uint32(ip.Length)
	p.L3Off, p.L3Len = d.offset(ip.Contents), uint32(len(ip.Contents))
	if ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0 {
		p.Fragment = true
		p.MoreFrags = ip.Flags&layers.IPv4MoreFragments != 0
		p.LaterFrag = ip.FragOffset != 0
		if !p.LaterFrag {
			d.firstFragmentL4(ip.Payload, p)
		}
		return nil, stepDone, nil
	}
	return d.ipNext(ip.Payload, p)
}

// ipv6 decodes the IPv6 header and the extension headers after it (at
// most 8, as the signature engine's header walker did).
func (d *Decoder) ipv6(data []byte, p *Packet) ([]byte, step, error) {
	h := &d.ip6
	if err := h.DecodeFromBytes(data, nilDF); err != nil {
		return nil, stepDone, err
	}
	d.enterIP(p)
	p.Family = 6
	p.Src, _ = netip.AddrFromSlice(h.SrcIP)
	p.Dst, _ = netip.AddrFromSlice(h.DstIP)
	p.Proto = uint8(h.NextHeader)
	p.TTL = h.HopLimit
	p.IPLen = uint32(h.Length) + 40
	p.L3Off, p.L3Len = d.offset(h.Contents), 40
	rest := h.Payload
	firstFrag := false
	for i := 0; ; i++ {
		var hdr []byte
		if i == bpf.IPv6ExtMaxChain && ipv6Ext(p.Proto) {
			// Past the XDP program's chain limit: no L4 header, the
			// protocol is the extension header, as the program counts it.
			return nil, stepDone, nil
		}
		switch p.Proto {
		case 0, 43, 60, 135, 139, 140:
			// Hop-by-hop, routing, destination options, mobility, HIP,
			// shim6: all counted in 8-byte units after the first 8.
			if err := d.ext.DecodeFromBytes(rest, nilDF); err != nil {
				return nil, stepDone, err
			}
			p.Proto, hdr, rest = uint8(d.ext.NextHeader), d.ext.Contents, d.ext.Payload
		case 51:
			// The authentication header, in 4-byte units after the first 8
			// (RFC 4302); gopacket's IPSecAH has no DecodingLayer.
			if len(rest) < 8 || len(rest) < (int(rest[1])+2)*4 {
				return nil, stepDone, errAHShort
			}
			n := (int(rest[1]) + 2) * 4
			p.Proto, hdr, rest = rest[0], rest[:n], rest[n:]
		case 44:
			if err := d.frag6.DecodeFromBytes(rest, nilDF); err != nil {
				return nil, stepDone, err
			}
			f := &d.frag6
			p.Proto, hdr, rest = uint8(f.NextHeader), f.Contents, f.Payload
			p.L3Len = d.offset(hdr) + uint32(len(hdr)) - p.L3Off
			p.Fragment = true
			p.MoreFrags = f.MoreFragments
			if f.FragmentOffset != 0 {
				p.LaterFrag = true
				return nil, stepDone, nil
			}
			if f.MoreFragments {
				// A first fragment: the XDP program follows the chain to
				// its L4 header, and so does userspace.
				firstFrag = true
				continue
			}
			continue // an atomic fragment: a whole datagram
		default:
			if firstFrag {
				d.firstFragmentL4(rest, p)
				return nil, stepDone, nil
			}
			return d.ipNext(rest, p)
		}
		p.L3Len = d.offset(hdr) + uint32(len(hdr)) - p.L3Off
	}
}

// ipv6Ext reports whether IP protocol p is an IPv6 extension header the
// XDP program follows (bpf/xdpids.c parse_ipv6).
func ipv6Ext(p uint8) bool {
	switch p {
	case 0, 43, 44, 51, 60, 135, 139, 140:
		return true
	}
	return false
}

// ipNext is the header after an IP header (and IPv6's extension headers)
// carrying protocol p.Proto.
func (d *Decoder) ipNext(payload []byte, p *Packet) ([]byte, step, error) {
	switch p.Proto {
	case ProtoTCP:
		return payload, stepTCP, nil
	case ProtoUDP:
		return payload, stepUDP, nil
	case ProtoSCTP:
		return payload, stepSCTP, nil
	case ProtoICMP:
		return payload, stepICMPv4, nil
	case ProtoICMPv6:
		return payload, stepICMPv6, nil
	case 47:
		return payload, stepGRE, nil
	case 4, 41: // IP in IP; the inner header's version must match
		if err := d.encap(p, EncapIPIP); err != nil {
			return nil, stepDone, err
		}
		if p.Proto == 4 {
			return payload, stepIPv4, nil
		}
		return payload, stepIPv6, nil
	}
	return nil, stepDone, nil
}

func (d *Decoder) fromTCP(p *Packet) {
	t := &d.tcp
	p.HasL4 = true
	p.Proto = ProtoTCP
	p.SrcPort, p.DstPort = uint16(t.SrcPort), uint16(t.DstPort)
	p.Seq, p.Ack, p.Window = t.Seq, t.Ack, t.Window
	// The flag byte as on the wire: its bits are the Flag* constants.
	if len(t.Contents) > 13 {
		p.TCPFlags = t.Contents[13]
	}
	p.Payload = t.Payload
	d.setL4(p, t.Contents, len(t.Contents))
}

func (d *Decoder) fromUDP(p *Packet) {
	u := &d.udp
	p.HasL4 = true
	p.Proto = ProtoUDP
	p.SrcPort, p.DstPort = uint16(u.SrcPort), uint16(u.DstPort)
	p.Payload = u.Payload
	d.setL4(p, u.Contents, len(u.Contents))
}

func (d *Decoder) fromSCTP(p *Packet) {
	s := &d.sctp
	p.HasL4 = true
	p.Proto = ProtoSCTP
	p.SrcPort, p.DstPort = uint16(s.SrcPort), uint16(s.DstPort)
	p.Payload = s.Payload
	d.setL4(p, s.Contents, len(s.Contents))
}

// firstFragmentL4 decodes the TCP, UDP or SCTP header of a first
// fragment (nothing is decapsulated from a fragment: the datagram is,
// once reassembled).
func (d *Decoder) firstFragmentL4(data []byte, p *Packet) {
	switch p.Proto {
	case ProtoTCP:
		if d.tcp.DecodeFromBytes(data, nilDF) == nil {
			d.fromTCP(p)
		}
	case ProtoUDP:
		if d.udp.DecodeFromBytes(data, nilDF) == nil {
			d.fromUDP(p)
		}
	case ProtoSCTP:
		if d.sctp.DecodeFromBytes(data, nilDF) == nil {
			d.fromSCTP(p)
		}
	case ProtoICMP, ProtoICMPv6:
		// As the XDP program does: the ICMP header of a first fragment
		// (ICMPv4 only in IPv4, ICMPv6 only in IPv6).
		if (p.Proto == ProtoICMP) == (p.Family == 4) {
			st := stepICMPv4
			if p.Family == 6 {
				st = stepICMPv6
			}
			_, _, _ = d.step(st, data, p)
		}
	}
}
