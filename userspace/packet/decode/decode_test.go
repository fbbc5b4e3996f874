package decode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"reflect"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}

	src4 = netip.MustParseAddr("192.0.2.10")
	dst4 = netip.MustParseAddr("198.51.100.20")
	src6 = netip.MustParseAddr("2001:db8::10")
	dst6 = netip.MustParseAddr("2001:db8:1::20")
)

func ip(a netip.Addr) net.IP { return net.IP(a.AsSlice()) }

var serializeOpts = gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}

// serialize builds a frame from layers with lengths and checksums fixed.
func serialize(tb testing.TB, ls ...gopacket.SerializableLayer) []byte {
	tb.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, serializeOpts, ls...); err != nil {
		tb.Fatalf("serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func eth(t layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: t}
}

func ipv4(proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, TTL: 64, Id: 0x1234, Flags: layers.IPv4DontFragment, Protocol: proto, SrcIP: ip(src4), DstIP: ip(dst4)}
}

func ipv6(next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, TrafficClass: 0x20, FlowLabel: 0x12345, HopLimit: 57, NextHeader: next, SrcIP: ip(src6), DstIP: ip(dst6)}
}

// frag6 is an IPv6 fragment header, which gopacket cannot serialize
// (offset in 8-byte units).
func frag6(next layers.IPProtocol, offset uint16, more bool, id uint32) []byte {
	b := make([]byte, 8)
	b[0] = byte(next)
	v := offset << 3
	if more {
		v |= 1
	}
	binary.BigEndian.PutUint16(b[2:], v)
	binary.BigEndian.PutUint32(b[4:], id)
	return b
}

// ext6 is an 8-byte IPv6 extension header (hop-by-hop, destination
// options or routing) carrying one PadN option / empty routing data.
func ext6(next layers.IPProtocol, routing bool) []byte {
	if routing {
		// next, hdr ext len, routing type 0, segments left 0, reserved.
		return []byte{byte(next), 0, 0, 0, 0, 0, 0, 0}
	}
	// next, hdr ext len, PadN (type 1, length 4, 4 zero bytes).
	return []byte{byte(next), 0, 1, 4, 0, 0, 0, 0}
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}

type frameCase struct {
	name        string
	frame       []byte
	wire, cap   uint32 // 0: len(frame)
	want        Packet // Payload excluded (see wantPayload)
	wantPayload []byte
	wantErr     error // nil, ErrNotIP or ErrTruncated
}

// testFrames is the table every test of this file shares (fuzz seeds and
// the allocation test included).
func testFrames(tb testing.TB) []frameCase {
	tb.Helper()
	var cs []frameCase

	// IPv4 with a router alert option, TCP with MSS, SACK permitted,
	// timestamps, NOP and window scale.
	{
		pay := []byte("GET / HTTP/1.1\r\nHost: example\r\n\r\n")
		ip4 := ipv4(layers.IPProtocolTCP)
		ip4.Options = []layers.IPv4Option{{OptionType: 0x94, OptionLength: 4, OptionData: []byte{0, 0}}}
		tcp := &layers.TCP{SrcPort: 40000, DstPort: 443, Seq: 1000, Ack: 2000, PSH: true, ACK: true, Window: 512,
			Options: []layers.TCPOption{
				{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
				{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
				{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: []byte{0, 0, 0, 1, 0, 0, 0, 2}},
				{OptionType: layers.TCPOptionKindNop},
				{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}},
			}}
		_ = tcp.SetNetworkLayerForChecksum(ip4)
		f := serialize(tb, eth(layers.EthernetTypeIPv4), ip4, tcp, gopacket.Payload(pay))
		cs = append(cs, frameCase{name: "ipv4 tcp options", frame: f,
			want: Packet{Family: 4, Src: src4, Dst: dst4, Proto: ProtoTCP, TTL: 64, IPID: 0x1234,
				IPLen: uint32(24 + 40 + len(pay)), HasL4: true, SrcPort: 40000, DstPort: 443,
				TCPFlags: FlagPSH | FlagACK, Seq: 1000, Ack: 2000, Window: 512, PayloadLen: uint32(len(pay)), L3Off: 14, L3Len: 24, L4Off: 38, L4Len: 40},
			wantPayload: pay})
	}
	// IPv4 UDP (DNS query).
	{
		pay := pattern(32)
		ip4 := ipv4(layers.IPProtocolUDP)
		udp := &layers.UDP{SrcPort: 5353, DstPort: 53}
		_ = udp.SetNetworkLayerForChecksum(ip4)
		f := serialize(tb, eth(layers.EthernetTypeIPv4), ip4, udp, gopacket.Payload(pay))
		cs = append(cs, frameCase{name: "ipv4 udp", frame: f,
			want: Packet{Family: 4, Src: src4, Dst: dst4, Proto: ProtoUDP, TTL: 64, IPID: 0x1234,
				IPLen: uint32(20 + 8 + len(pay)), HasL4: true, SrcPort: 5353, DstPort: 53, PayloadLen: 32, L3Off: 14, L3Len: 20, L4Off: 34, L4Len: 8},
			wantPayload: pay})
	}
	// ICMPv4 echo request.
	{
		pay := pattern(56)
		ip4 := ipv4(layers.IPProtocolICMPv4)
		icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 0x4242, Seq: 7}
		f := serialize(tb, eth(layers.EthernetTypeIPv4), ip4, icmp, gopacket.Payload(pay))
		cs = append(cs, frameCase{name: "icmpv4 echo", frame: f,
			want: Packet{Family: 4, Src: src4, Dst: dst4, Proto: ProtoICMP, TTL: 64, IPID: 0x1234,
				IPLen: uint32(20 + 8 + len(pay)), HasL4: true, SrcPort: 8, DstPort: 0,
				ICMPType: 8, ICMPCode: 0, ICMPID: 0x4242, ICMPSeq: 7, PayloadLen: 56, L3Off: 14, L3Len: 20, L4Off: 34, L4Len: 8},
			wantPayload: pay})
	}
	// ICMPv4 destination unreachable, port unreachable (type 3 code 3).
	{
		pay := pattern(28)
		ip4 := ipv4(layers.IPProtocolICMPv4)
		icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4CodePort)}
		f := serialize(tb, eth(layers.EthernetTypeIPv4), ip4, icmp, gopacket.Payload(pay))
		cs = append(cs, frameCase{name: "icmpv4 port unreachable", frame: f,
			want: Packet{Family: 4, Src: src4, Dst: dst4, Proto: ProtoICMP, TTL: 64, IPID: 0x1234,
				IPLen: uint32(20 + 8 + len(pay)), HasL4: true, SrcPort: 3, DstPort: 3,
				ICMPType: 3, ICMPCode: 3, PayloadLen: 28, L3Off: 14, L3Len: 20, L4Off: 34, L4Len: 8},
			wantPayload: pay})
	}
	// IPv6 TCP SYN with MSS.
	{
		ip6 := ipv6(layers.IPProtocolTCP)
		tcp := &layers.TCP{SrcPort: 51000, DstPort: 22, Seq: 0xdeadbeef, SYN: true, ECE: true, CWR: true, Window: 64240,
			Options: []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xa0}}}}
		_ = tcp.SetNetworkLayerForChecksum(ip6)
		f := serialize(tb, eth(layers.EthernetTypeIPv6), ip6, tcp)
		cs = append(cs, frameCase{name: "ipv6 tcp syn", frame: f,
			want: Packet{Family: 6, Src: src6, Dst: dst6, Proto: ProtoTCP, TTL: 57, IPLen: 40 + 24,
				HasL4: true, SrcPort: 51000, DstPort: 22, TCPFlags: FlagSYN | FlagECE | FlagCWR, Seq: 0xdeadbeef, Window: 64240, L3Off: 14, L3Len: 40, L4Off: 54, L4Len: 24}})
	}
	// IPv6 hop-by-hop, destination options, routing, then UDP.
	{
		pay := pattern(40)
		ip6 := ipv6(layers.IPProtocolIPv6HopByHop)
		udp := &layers.UDP{SrcPort: 547, DstPort: 546}
		_ = udp.SetNetworkLayerForChecksum(ip6)
		l4 := serialize(tb, udp, gopacket.Payload(pay))
		var ext []byte
		ext = append(ext, ext6(layers.IPProtocolIPv6Destination, false)...)
		ext = append(ext, ext6(layers.IPProtocolIPv6Routing, false)...)
		ext = append(ext, ext6(layers.IPProtocolUDP, true)...)
		f := serialize(tb, eth(layers.EthernetTypeIPv6), ip6, gopacket.Payload(append(ext, l4...)))
		cs = append(cs, frameCase{name: "ipv6 hbh dst routing udp", frame: f,
			want: Packet{Family: 6, Src: src6, Dst: dst6, Proto: ProtoUDP, TTL: 57, IPLen: uint32(40 + 24 + 8 + len(pay)),
				HasL4: true, SrcPort: 547, DstPort: 546, PayloadLen: 40, L3Off: 14, L3Len: 64, L4Off: 78, L4Len: 8},
			wantPayload: pay})
	}
	// A hop-by-hop header of 1400 Pad1 options: gopacket's IPv6 layer
	// allocates once per option, the decoder must not.
	{
		hbh := make([]byte, 1408)
		hbh[0], hbh[1] = byte(layers.IPProtocolUDP), 1408/8-1
		ip6 := ipv6(layers.IPProtocolIPv6HopByHop)
		udp := &layers.UDP{SrcPort: 33434, DstPort: 33435}
		_ = udp.SetNetworkLayerForChecksum(ip6)
		l4 := serialize(tb, udp, gopacket.Payload([]byte{0xee}))
		f := serialize(tb, eth(layers.EthernetTypeIPv6), ip6, gopacket.Payload(append(hbh, l4...)))
		cs = append(cs, frameCase{name: "ipv6 hbh of pad1 options", frame: f,
			want: Packet{Family: 6, Src: src6, Dst: dst6, Proto: ProtoUDP, TTL: 57, IPLen: 40 + 1408 + 9,
				HasL4: true, SrcPort: 33434, DstPort: 33435, PayloadLen: 1, L3Off: 14, L3Len: 1448, L4Off: 1462, L4Len: 8},
			wantPayload: []byte{0xee}})
	}
	// ICMPv6 echo request: id and sequence follow the 4-byte header.
	{
		pay := pattern(16)
		ip6 := ipv6(layers.IPProtocolICMPv6)
		icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
		_ = icmp.SetNetworkLayerForChecksum(ip6)
		echo := &layers.ICMPv6Echo{Identifier: 0x0101, SeqNumber: 9}
		f := serialize(tb, eth(layers.EthernetTypeIPv6), ip6, icmp, echo, gopacket.Payload(pay))
		cs = append(cs, frameCase{name: "icmpv6 echo", frame: f,
			want: Packet{Family: 6, Src: src6, Dst: dst6, Proto: ProtoICMPv6, TTL: 57, IPLen: uint32(40 + 8 + len(pay)),
				HasL4: true, SrcPort: 128, ICMPType: 128, ICMPID: 0x0101, ICMPSeq: 9, PayloadLen: uint32(4 + len(pay)), L3Off: 14, L3Len: 40, L4Off: 54, L4Len: uint32(8 + len(pay))},
			wantPayload: append([]byte{0x01, 0x01, 0, 9}, pay...)})
	}
	// IPv6 first fragment of a UDP datagram: the UDP header is there.
	{
		full := pattern(1400)
		ip6 := ipv6(layers.IPProtocolIPv6Fragment)
		udp := &layers.UDP{SrcPort: 53, DstPort: 33000}
		_ = udp.SetNetworkLayerForChecksum(ipv6(layers.IPProtocolUDP))
		dgram := serialize(tb, udp, gopacket.Payload(full))
		first := dgram[:8+1224]
		f := serialize(tb, eth(layers.EthernetTypeIPv6), ip6,
			gopacket.Payload(append(frag6(layers.IPProtocolUDP, 0, true, 0xabcdef01), first...)))
		cs = append(cs, frameCase{name: "ipv6 first fragment", frame: f,
			want: Packet{Family: 6, Src: src6, Dst: dst6, Proto: ProtoUDP, TTL: 57, IPLen: uint32(40 + 8 + len(first)),
				Fragment: true, HasL4: true, SrcPort: 53, DstPort: 33000, PayloadLen: 1224, MoreFrags: true, L3Off: 14, L3Len: 48, L4Off: 62, L4Len: 8},
			wantPayload: full[:1224]})
		// ... and the fragment after it: no L4 header.
		rest := dgram[8+1224:]
		f2 := serialize(tb, eth(layers.EthernetTypeIPv6), ipv6(layers.IPProtocolIPv6Fragment),
			gopacket.Payload(append(frag6(layers.IPProtocolUDP, 1232/8, false, 0xabcdef01), rest...)))
		cs = append(cs, frameCase{name: "ipv6 later fragment", frame: f2,
			want: Packet{Family: 6, Src: src6, Dst: dst6, Proto: ProtoUDP, TTL: 57, IPLen: uint32(40 + 8 + len(rest)),
				Fragment: true, LaterFrag: true, L3Off: 14, L3Len: 48}})
	}
	// IPv4 first fragment (MF, offset 0) of UDP and of TCP, and a later one.
	{
		full := pattern(2000)
		udp := &layers.UDP{SrcPort: 123, DstPort: 40123}
		_ = udp.SetNetworkLayerForChecksum(ipv4(layers.IPProtocolUDP))
		dgram := serialize(tb, udp, gopacket.Payload(full))
		ip4 := ipv4(layers.IPProtocolUDP)
		ip4.Flags, ip4.Id = layers.IPv4MoreFragments, 0x7777
		f := serialize(tb, eth(layers.EthernetTypeIPv4), ip4, gopacket.Payload(dgram[:1480]))
		cs = append(cs, frameCase{name: "ipv4 first fragment udp", frame: f,
			want: Packet{Family: 4, Src: src4, Dst: dst4, Proto: ProtoUDP, TTL: 64, IPID: 0x7777, IPLen: 1500,
				Fragment: true, HasL4: true, SrcPort: 123, DstPort: 40123, PayloadLen: 1472, MoreFrags: true, L3Off: 14, L3Len: 20, L4Off: 34, L4Len: 8},
			wantPayload: full[:1472]})

		ip4 = ipv4(layers.IPProtocolUDP)
		ip4.Flags, ip4.FragOffset, ip4.Id = 0, 1480/8, 0x7777
		f = serialize(tb, eth(layers.EthernetTypeIPv4), ip4, gopacket.Payload(dgram[1480:]))
		cs = append(cs, frameCase{name: "ipv4 later fragment", frame: f,
			want: Packet{Family: 4, Src: src4, Dst: dst4, Proto: ProtoUDP, TTL: 64, IPID: 0x7777,
				IPLen: uint32(20 + len(dgram) - 1480), Fragment: true, LaterFrag: true, L3Off: 14, L3Len: 20}})

		tcp := &layers.TCP{SrcPort: 1234, DstPort: 80, Seq: 1, Ack: 1, ACK: true, Window: 1000}
		_ = tcp.SetNetworkLayerForChecksum(ipv4(layers.IPProtocolTCP))
		seg := serialize(tb, tcp, gopacket.Payload(full))
		ip4 = ipv4(layers.IPProtocolTCP)
		ip4.Flags, ip4.Id = layers.IPv4MoreFragments, 0x7778
		f = serialize(tb, eth(layers.EthernetTypeIPv4), ip4, gopacket.Payload(seg[:200]))
		cs = append(cs, frameCase{name: "ipv4 first fragment tcp", frame: f,
			want: Packet{Family: 4, Src: src4, Dst: dst4, Proto: ProtoTCP, TTL: 64, IPID: 0x7778, IPLen: 220,
				Fragment: true, HasL4: true, SrcPort: 1234, DstPort: 80, TCPFlags: FlagACK, Seq: 1, Ack: 1, Window: 1000,
				PayloadLen: 180, MoreFrags: true, L3Off: 14, L3Len: 20, L4Off: 34, L4Len: 20},
			wantPayload: full[:180]})
	}
	// One 802.1Q tag.
	{
		pay := pattern(10)
		ip4 := ipv4(layers.IPProtocolUDP)
		udp := &layers.UDP{SrcPort: 1000, DstPort: 2000}
		_ = udp.SetNetworkLayerForChecksum(ip4)
		f := serialize(tb, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeIPv4},
			ip4, udp, gopacket.Payload(pay))
		cs = append(cs, frameCase{name: "vlan one tag", frame: f,
			want: Packet{VLAN: 100, Family: 4, Src: src4, Dst: dst4, Proto: ProtoUDP, TTL: 64, IPID: 0x1234, IPLen: 38,
				HasL4: true, SrcPort: 1000, DstPort: 2000, PayloadLen: 10, VLANs: [MaxVLANs]uint16{100}, NVLANs: 1, L3Off: 18, L3Len: 20, L4Off: 38, L4Len: 8},
			wantPayload: pay})
	}
	// QinQ: 802.1ad outer tag 300, 802.1Q inner tag 400; VLAN is the outer.
	{
		ip6 := ipv6(layers.IPProtocolTCP)
		tcp := &layers.TCP{SrcPort: 443, DstPort: 50000, Seq: 5, Ack: 6, SYN: true, ACK: true, Window: 100}
		_ = tcp.SetNetworkLayerForChecksum(ip6)
		f := serialize(tb, eth(layers.EthernetTypeQinQ),
			&layers.Dot1Q{Priority: 3, VLANIdentifier: 300, Type: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: 400, Type: layers.EthernetTypeIPv6}, ip6, tcp)
		cs = append(cs, frameCase{name: "vlan two tags", frame: f,
			want: Packet{VLAN: 300, Family: 6, Src: src6, Dst: dst6, Proto: ProtoTCP, TTL: 57, IPLen: 60,
				HasL4: true, SrcPort: 443, DstPort: 50000, TCPFlags: FlagSYN | FlagACK, Seq: 5, Ack: 6, Window: 100, VLANs: [MaxVLANs]uint16{300, 400}, NVLANs: 2, L3Off: 22, L3Len: 40, L4Off: 62, L4Len: 20}})
	}
	// A short UDP datagram padded to the Ethernet minimum: padding is not payload.
	{
		pay := []byte{1, 2, 3, 4}
		ip4 := ipv4(layers.IPProtocolUDP)
		udp := &layers.UDP{SrcPort: 7, DstPort: 9}
		_ = udp.SetNetworkLayerForChecksum(ip4)
		f := serialize(tb, eth(layers.EthernetTypeIPv4), ip4, udp, gopacket.Payload(pay))
		f = append(f, make([]byte, 60-len(f))...)
		cs = append(cs, frameCase{name: "ethernet padding", frame: f,
			want: Packet{Family: 4, Src: src4, Dst: dst4, Proto: ProtoUDP, TTL: 64, IPID: 0x1234, IPLen: 32,
				HasL4: true, SrcPort: 7, DstPort: 9, PayloadLen: 4, L3Off: 14, L3Len: 20, L4Off: 34, L4Len: 8},
			wantPayload: pay})
	}
	// Snap length cut: 1000 bytes of UDP payload on the wire, 128-byte frame captured.
	{
		pay := pattern(1000)
		ip4 := ipv4(layers.IPProtocolUDP)
		udp := &layers.UDP{SrcPort: 4000, DstPort: 5000}
		_ = udp.SetNetworkLayerForChecksum(ip4)
		full := serialize(tb, eth(layers.EthernetTypeIPv4), ip4, udp, gopacket.Payload(pay))
		f := full[:128]
		cs = append(cs, frameCase{name: "snaplen cut payload", frame: f, wire: uint32(len(full)), cap: 128,
			want: Packet{Family: 4, Src: src4, Dst: dst4, Proto: ProtoUDP, TTL: 64, IPID: 0x1234, IPLen: 1028,
				HasL4: true, SrcPort: 4000, DstPort: 5000, PayloadLen: 1000, L3Off: 14, L3Len: 20, L4Off: 34, L4Len: 8},
			wantPayload: pay[:128-14-20-8]})
	}
	// ARP: not IP.
	{
		arp := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: macA, SourceProtAddress: ip(src4),
			DstHwAddress: make([]byte, 6), DstProtAddress: ip(dst4)}
		f := serialize(tb, eth(layers.EthernetTypeARP), arp)
		cs = append(cs, frameCase{name: "arp", frame: f, wantErr: ErrNotIP,
			want: Packet{ARPOp: 1, ARPSender: src4, ARPTarget: dst4}})
	}
	// Truncated TCP header: IPv4 decoded, the error wraps ErrTruncated.
	{
		ip4 := ipv4(layers.IPProtocolTCP)
		tcp := &layers.TCP{SrcPort: 1, DstPort: 2, SYN: true}
		_ = tcp.SetNetworkLayerForChecksum(ip4)
		full := serialize(tb, eth(layers.EthernetTypeIPv4), ip4, tcp)
		f := full[:14+20+10]
		cs = append(cs, frameCase{name: "truncated tcp header", frame: f, wire: uint32(len(full)), cap: uint32(len(f)),
			want:    Packet{Family: 4, Src: src4, Dst: dst4, Proto: ProtoTCP, TTL: 64, IPID: 0x1234, IPLen: 40, L3Off: 14, L3Len: 20},
			wantErr: ErrTruncated})
		// Cut inside the IPv4 header: nothing IP is known.
		g := full[:14+12]
		cs = append(cs, frameCase{name: "truncated ipv4 header", frame: g, wantErr: ErrTruncated})
		// Cut inside the IPv6 header.
		h := testFramesIPv6Header(tb)
		cs = append(cs, frameCase{name: "truncated ipv6 header", frame: h, wantErr: ErrTruncated})
	}
	return append(cs, tunnelFrames(tb)...)
}

func testFramesIPv6Header(tb testing.TB) []byte {
	f := serialize(tb, eth(layers.EthernetTypeIPv6), ipv6(layers.IPProtocolNoNextHeader))
	return f[:14+30]
}

func decodeCase(d *Decoder, c *frameCase, p *Packet) error {
	p.Reset()
	p.TsNs, p.Ifindex, p.Verdict, p.Reason, p.SampleFlags = 1_700_000_000_000_000_000, 3, 1, 4, 0x10
	p.WireLen, p.CapLen = uint32(len(c.frame)), uint32(len(c.frame))
	if c.wire != 0 {
		p.WireLen = c.wire
	}
	if c.cap != 0 {
		p.CapLen = c.cap
	}
	return d.Decode(c.frame, p)
}

func checkCase(t *testing.T, c *frameCase, p *Packet, err error) {
	t.Helper()
	switch {
	case c.wantErr == nil && err != nil:
		t.Fatalf("Decode: unexpected error %v", err)
	case c.wantErr != nil && !errors.Is(err, c.wantErr):
		t.Fatalf("Decode: error %v, want one wrapping %v", err, c.wantErr)
	}
	want := c.want
	want.TsNs, want.Ifindex, want.Verdict, want.Reason, want.SampleFlags = 1_700_000_000_000_000_000, 3, 1, 4, 0x10
	want.WireLen, want.CapLen = uint32(len(c.frame)), uint32(len(c.frame))
	if c.wire != 0 {
		want.WireLen = c.wire
	}
	if c.cap != 0 {
		want.CapLen = c.cap
	}
	got := *p
	gotPayload := got.Payload
	got.Payload = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Packet mismatch\n got %+v\nwant %+v", got, want)
	}
	if !bytes.Equal(gotPayload, c.wantPayload) {
		t.Errorf("Payload: got %d bytes %x..., want %d bytes", len(gotPayload), head(gotPayload), len(c.wantPayload))
	}
}

func head(b []byte) []byte {
	if len(b) > 16 {
		return b[:16]
	}
	return b
}

func TestDecode(t *testing.T) {
	cases := testFrames(t)
	// One decoder for the whole table, in order and then backwards: state
	// must not leak from one frame into the next.
	d := NewDecoder()
	var p Packet
	for _, order := range []string{"forward", "backward"} {
		for i := range cases {
			c := &cases[i]
			if order == "backward" {
				c = &cases[len(cases)-1-i]
			}
			t.Run(order+"/"+c.name, func(t *testing.T) {
				err := decodeCase(d, c, &p)
				checkCase(t, c, &p, err)
			})
		}
	}
}

func TestDecodeFreshDecoder(t *testing.T) {
	for _, c := range testFrames(t) {
		t.Run(c.name, func(t *testing.T) {
			var p Packet
			err := decodeCase(NewDecoder(), &c, &p)
			checkCase(t, &c, &p, err)
		})
	}
}

func TestDecodePayloadAliasesFrame(t *testing.T) {
	for _, c := range testFrames(t) {
		if len(c.wantPayload) == 0 {
			continue
		}
		var p Packet
		if err := decodeCase(NewDecoder(), &c, &p); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		// Writing through Payload changes the frame: no copy was made.
		before := append([]byte(nil), c.frame...)
		p.Payload[0] ^= 0xff
		if bytes.Equal(before, c.frame) {
			t.Errorf("%s: Payload does not alias the frame", c.name)
		}
		p.Payload[0] ^= 0xff
	}
}

func TestDecodeEdgeCases(t *testing.T) {
	d := NewDecoder()
	for _, tc := range []struct {
		name    string
		frame   []byte
		wantErr error
	}{
		{"empty", nil, ErrTruncated},
		{"short ethernet", make([]byte, 10), ErrTruncated},
		{"llc length field", append(append([]byte{}, make([]byte, 12)...), 0x00, 0x20), ErrNotIP},
		{"unknown ethertype", append(make([]byte, 12), 0x88, 0xb5, 1, 2, 3, 4), ErrNotIP},
		{"vlan then arp", serialize(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 5, Type: layers.EthernetTypeARP},
			&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
				SourceHwAddress: macA, SourceProtAddress: ip(src4), DstHwAddress: macB, DstProtAddress: ip(dst4)}), ErrNotIP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p Packet
			err := d.Decode(tc.frame, &p)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if p.Family != 0 {
				t.Errorf("Family = %d, want 0", p.Family)
			}
		})
	}

	// An IP protocol without a decoder (GRE): IP fields, no L4, no error.
	ip4 := ipv4(layers.IPProtocolGRE)
	f := serialize(t, eth(layers.EthernetTypeIPv4), ip4, gopacket.Payload(pattern(24)))
	var p Packet
	if err := d.Decode(f, &p); err != nil {
		t.Fatalf("gre: %v", err)
	}
	if p.Family != 4 || p.Proto != 47 || p.HasL4 || p.Fragment {
		t.Errorf("gre: %+v", p)
	}

	// A later IPv4 fragment of TCP carries no TCP header, whatever its bytes.
	ip4 = ipv4(layers.IPProtocolTCP)
	ip4.Flags, ip4.FragOffset = layers.IPv4MoreFragments, 100
	f = serialize(t, eth(layers.EthernetTypeIPv4), ip4, gopacket.Payload(pattern(64)))
	p.Reset()
	if err := d.Decode(f, &p); err != nil {
		t.Fatalf("later tcp fragment: %v", err)
	}
	if !p.Fragment || !p.LaterFrag || p.HasL4 || p.SrcPort != 0 || p.TCPFlags != 0 {
		t.Errorf("later tcp fragment: %+v", p)
	}

	// A first fragment too short for the TCP header: fragment, no L4.
	ip4 = ipv4(layers.IPProtocolTCP)
	ip4.Flags = layers.IPv4MoreFragments
	f = serialize(t, eth(layers.EthernetTypeIPv4), ip4, gopacket.Payload(pattern(8)))
	p.Reset()
	if err := d.Decode(f, &p); err != nil {
		t.Fatalf("tiny first fragment: %v", err)
	}
	if !p.Fragment || p.LaterFrag || p.HasL4 {
		t.Errorf("tiny first fragment: %+v", p)
	}
}

// allocFrames is the steady-state mix: every frame of the table that
// decodes without error, plus the ARP frame (ErrNotIP is a sentinel).
func allocFrames(tb testing.TB) []frameCase {
	var out []frameCase
	for _, c := range testFrames(tb) {
		if c.wantErr == nil || c.wantErr == ErrNotIP {
			out = append(out, c)
		}
	}
	return out
}

func TestDecodeAllocs(t *testing.T) {
	frames := allocFrames(t)
	d := NewDecoder()
	var p Packet
	run := func() {
		for i := range frames {
			_ = decodeCase(d, &frames[i], &p)
		}
	}
	run() // warm-up: option slices are allocated once and then reused
	if n := testing.AllocsPerRun(100, run); n != 0 {
		for i := range frames {
			c := &frames[i]
			if m := testing.AllocsPerRun(50, func() { _ = decodeCase(d, c, &p) }); m != 0 {
				t.Errorf("%s: %.1f allocations per decode", c.name, m)
			}
		}
		t.Fatalf("%.1f allocations per run over %d frames, want 0", n, len(frames))
	}
}

func BenchmarkDecode(b *testing.B) {
	frames := allocFrames(b)
	d := NewDecoder()
	var p Packet
	var bytes int64
	for i := range frames {
		bytes += int64(len(frames[i].frame))
	}
	b.SetBytes(bytes / int64(len(frames)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		c := &frames[i%len(frames)]
		p.Reset()
		p.WireLen, p.CapLen = uint32(len(c.frame)), uint32(len(c.frame))
		_ = d.Decode(c.frame, &p)
	}
}

func FuzzDecode(f *testing.F) {
	for _, c := range testFrames(f) {
		f.Add(c.frame, uint32(0))
		if c.wire != 0 {
			f.Add(c.frame, c.wire-c.cap)
		}
	}
	d := NewDecoder()
	f.Fuzz(func(t *testing.T, frame []byte, cut uint32) {
		var p Packet
		p.CapLen = uint32(len(frame))
		p.WireLen = p.CapLen + cut%65536
		err := d.Decode(frame, &p)
		if err == nil {
			if p.Family != 4 && p.Family != 6 {
				t.Fatalf("nil error with Family %d", p.Family)
			}
		} else if !errors.Is(err, ErrNotIP) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrTooDeep) {
			t.Fatalf("error %v wraps none of ErrNotIP, ErrTruncated, ErrTooDeep", err)
		}
		if errors.Is(err, ErrNotIP) && p.Family != 0 {
			t.Fatalf("ErrNotIP with Family %d", p.Family)
		}
		if p.Family == 4 && (!p.Src.Is4() || !p.Dst.Is4()) || p.Family == 6 && (!p.Src.Is6() || !p.Dst.Is6()) {
			t.Fatalf("Family %d with addresses %v %v", p.Family, p.Src, p.Dst)
		}
		if p.LaterFrag && (!p.Fragment || p.HasL4) {
			t.Fatalf("later fragment: Fragment %v HasL4 %v", p.Fragment, p.HasL4)
		}
		if p.HasL4 && p.Proto != ProtoTCP && p.Proto != ProtoUDP && p.Proto != ProtoICMP && p.Proto != ProtoICMPv6 && p.Proto != ProtoSCTP {
			t.Fatalf("HasL4 with protocol %d", p.Proto)
		}
		if err == nil && p.PayloadLen < uint32(len(p.Payload)) {
			t.Fatalf("PayloadLen %d < captured payload %d", p.PayloadLen, len(p.Payload))
		}
		if len(p.Payload) > len(frame) {
			t.Fatalf("payload of %d bytes from a %d-byte frame", len(p.Payload), len(frame))
		}
		if int(p.L3Off)+int(p.L3Len) > len(frame) || int(p.L4Off)+int(p.L4Len) > len(frame) {
			t.Fatalf("headers at %d+%d and %d+%d in a %d-byte frame", p.L3Off, p.L3Len, p.L4Off, p.L4Len, len(frame))
		}
		if p.Family != 0 && (p.L3Len == 0 || frame[p.L3Off]>>4 != p.Family) {
			t.Fatalf("Family %d with the IP header at %d+%d", p.Family, p.L3Off, p.L3Len)
		}
		if p.HasL4 && p.L4Len != 0 && p.L4Off < p.L3Off+p.L3Len {
			t.Fatalf("L4 header at %d inside the IP header at %d+%d", p.L4Off, p.L3Off, p.L3Len)
		}
		if p.Depth > MaxDepth || (p.Depth == 0) != (p.Encap == 0) || p.Tunnel && (p.Depth == 0 || !p.TunnelSrc.IsValid()) {
			t.Fatalf("Depth %d Encap %#x Tunnel %v from %v", p.Depth, p.Encap, p.Tunnel, p.TunnelSrc)
		}
		if p.NVLANs > MaxVLANs || p.VLAN != p.VLANs[0] {
			t.Fatalf("VLAN %d, %d VLANs %v", p.VLAN, p.NVLANs, p.VLANs)
		}
	})
}
