// Package decode turns a sampled frame into a Packet with gopacket's
// DecodingLayerParser: Ethernet, up to two 802.1Q/802.1ad tags, IPv4, IPv6
// and its extension headers, TCP, UDP, ICMPv4 and ICMPv6. The decoder and
// the Packet are reused, so decoding allocates nothing in steady state.
package decode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
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
)

// Packet is what the pipeline knows about one sampled frame. Payload
// aliases the frame buffer and is valid only while that buffer is.
type Packet struct {
	TsNs    int64 // Unix time in ns (packet time, not the wall clock)
	Ifindex uint32
	WireLen uint32
	CapLen  uint32

	// From the XDP program (zero offline without BPF).
	Verdict     uint8
	Reason      uint8
	SampleFlags uint8
	FlowPackets uint64 // the kernel flow's packet count (0: unknown)
	PcapCnt     uint64 // offline: the 1-based number of the packet in the capture (0 live)

	VLAN      uint16
	Family    uint8 // 4 or 6; 0 when not IP
	Src, Dst  netip.Addr
	Proto     uint8 // IP protocol (of the last header decoded)
	TTL       uint8 // TTL or hop limit
	IPID      uint16
	Fragment  bool   // any IP fragment
	LaterFrag bool   // a fragment after the first: no L4 header
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

	Tunnel bool // decapsulated from VXLAN: the fields describe the inner packet

	// ARP (Family 0, Decode returns ErrNotIP): operation (1 request,
	// 2 reply) and the IPv4 sender and target.
	ARPOp                uint16
	ARPSender, ARPTarget netip.Addr
}

// Reset clears p for reuse.
func (p *Packet) Reset() { *p = Packet{} }

// Errors the decoder reports; the pipeline counts them by kind.
var (
	ErrNotIP     = errors.New("not an IP packet")
	ErrTruncated = errors.New("truncated header")
)

// Decoder decodes frames into Packets. Not safe for concurrent use: give
// each worker its own.
type Decoder struct {
	parser  *gopacket.DecodingLayerParser
	decoded []gopacket.LayerType

	eth   layers.Ethernet
	dot1q layers.Dot1Q
	ip4   layers.IPv4
	ip6   ipv6Header
	ext   layers.IPv6ExtensionSkipper
	frag6 layers.IPv6Fragment
	tcp   layers.TCP
	udp   layers.UDP
	icmp4 layers.ICMPv4
	icmp6 layers.ICMPv6
	arp   layers.ARP
	vxlan layers.VXLAN
	pay   gopacket.Payload
}

// NewDecoder returns a decoder for Ethernet frames.
func NewDecoder() *Decoder {
	d := &Decoder{decoded: make([]gopacket.LayerType, 0, 16)}
	d.parser = gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet)
	// A sparse array indexed by layer type instead of the default map:
	// one of the measured hot spots of the pipeline.
	d.parser.SetDecodingLayerContainer(gopacket.DecodingLayerSparse(nil))
	for _, l := range []gopacket.DecodingLayer{&d.eth, &d.dot1q, &d.ip4, &d.ip6, &d.ext, &d.frag6, &d.tcp, &d.udp, &d.icmp4, &d.icmp6, &d.arp, &d.vxlan, &d.pay} {
		d.parser.AddDecodingLayer(l)
	}
	d.parser.IgnoreUnsupported = true
	d.parser.IgnorePanic = true
	return d
}

// ipv6Header decodes the fixed IPv6 header only. gopacket's IPv6 layer
// also parses a hop-by-hop header and allocates one struct per option in
// it (a 1500-byte frame of Pad1 options costs some 1400 allocations);
// here the hop-by-hop header is skipped like the other extension headers.
type ipv6Header struct {
	layers.IPv6
}

var (
	errIPv6Short   = errors.New("IPv6 header shorter than 40 bytes")
	errIPv6ZeroLen = errors.New("IPv6 payload length 0 without a hop-by-hop header")
)

func (h *ipv6Header) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 40 {
		df.SetTruncated()
		return errIPv6Short
	}
	h.Version = data[0] >> 4
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

// Decode fills p from frame (p's metadata fields are left as set by the
// caller). It returns ErrNotIP for non-IP frames and an error wrapping
// ErrTruncated when a header is cut; p holds what was decoded before.
func (d *Decoder) Decode(frame []byte, p *Packet) error {
	err := d.parser.DecodeLayers(frame, &d.decoded)
	vlans := 0
	for _, lt := range d.decoded {
		switch lt {
		case layers.LayerTypeDot1Q:
			if vlans == 0 {
				// d.dot1q holds the last tag decoded (the inner one of
				// QinQ): read the outer tag's VID from the frame. A
				// decoded tag means the frame has 14+4 bytes.
				p.VLAN = binary.BigEndian.Uint16(frame[14:16]) & 0x0fff
			}
			vlans++
		case layers.LayerTypeIPv4:
			d.fromIPv4(p)
		case layers.LayerTypeIPv6:
			p.Family = 6
			p.Src, _ = netip.AddrFromSlice(d.ip6.SrcIP)
			p.Dst, _ = netip.AddrFromSlice(d.ip6.DstIP)
			p.Proto = uint8(d.ip6.NextHeader)
			p.TTL = d.ip6.HopLimit
			p.IPLen = uint32(d.ip6.Length) + 40
		case layers.LayerTypeIPv6Fragment:
			p.Fragment = true
			p.Proto = uint8(d.frag6.NextHeader)
			if d.frag6.FragmentOffset != 0 {
				p.LaterFrag = true
			}
		case layers.LayerTypeIPv6HopByHop, layers.LayerTypeIPv6Routing, layers.LayerTypeIPv6Destination:
			p.Proto = uint8(d.ext.NextHeader)
		case layers.LayerTypeTCP:
			d.fromTCP(p)
		case layers.LayerTypeUDP:
			d.fromUDP(p)
		case layers.LayerTypeICMPv4:
			p.HasL4 = true
			p.Proto = ProtoICMP
			p.ICMPType, p.ICMPCode = d.icmp4.TypeCode.Type(), d.icmp4.TypeCode.Code()
			p.SrcPort, p.DstPort = uint16(p.ICMPType), uint16(p.ICMPCode)
			p.ICMPID, p.ICMPSeq = d.icmp4.Id, d.icmp4.Seq
			p.Payload = d.icmp4.Payload
		case layers.LayerTypeVXLAN:
			// UDP/4789 carries a whole Ethernet frame (as Suricata's
			// decoder.vxlan): the layers after this are the inner packet,
			// and the Packet describes it.
			p.Tunnel = true
		case layers.LayerTypeARP:
			if d.arp.AddrType == layers.LinkTypeEthernet && d.arp.Protocol == layers.EthernetTypeIPv4 && d.arp.ProtAddressSize == 4 {
				p.ARPOp = d.arp.Operation
				p.ARPSender, _ = netip.AddrFromSlice(d.arp.SourceProtAddress)
				p.ARPTarget, _ = netip.AddrFromSlice(d.arp.DstProtAddress)
			}
		case layers.LayerTypeICMPv6:
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
		}
	}
	if p.Fragment && !p.LaterFrag && !p.HasL4 {
		// gopacket stops at any IPv4 or IPv6 fragment; a first fragment
		// still carries the L4 header.
		d.firstFragmentL4(p)
	}
	if p.Family == 0 {
		if err != nil {
			return fmt.Errorf("%w: %v", ErrTruncated, err)
		}
		return ErrNotIP
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

func (d *Decoder) fromIPv4(p *Packet) {
	ip := &d.ip4
	p.Family = 4
	p.Src, _ = netip.AddrFromSlice(ip.SrcIP)
	p.Dst, _ = netip.AddrFromSlice(ip.DstIP)
	p.Proto = uint8(ip.Protocol)
	p.TTL = ip.TTL
	p.IPID = ip.Id
	p.IPLen = uint32(ip.Length)
	if ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0 {
		p.Fragment = true
		p.LaterFrag = ip.FragOffset != 0
	}
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
}

func (d *Decoder) fromUDP(p *Packet) {
	u := &d.udp
	p.HasL4 = true
	p.Proto = ProtoUDP
	p.SrcPort, p.DstPort = uint16(u.SrcPort), uint16(u.DstPort)
	p.Payload = u.Payload
}

// firstFragmentL4 decodes the TCP or UDP header of a first fragment.
func (d *Decoder) firstFragmentL4(p *Packet) {
	data := d.ip4.Payload
	if p.Family == 6 {
		data = d.frag6.Payload
	}
	switch p.Proto {
	case ProtoTCP:
		if d.tcp.DecodeFromBytes(data, gopacket.NilDecodeFeedback) == nil {
			d.fromTCP(p)
		}
	case ProtoUDP:
		if d.udp.DecodeFromBytes(data, gopacket.NilDecodeFeedback) == nil {
			d.fromUDP(p)
		}
	}
}
