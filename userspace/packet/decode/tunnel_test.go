package decode

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// The inner packets of the tunnel table: addresses other than the outer
// ones, so that a test sees which header the Packet describes.
var (
	in4a = netip.MustParseAddr("203.0.113.7")
	in4b = netip.MustParseAddr("203.0.113.9")
	in6a = netip.MustParseAddr("2001:db8:7::7")
	in6b = netip.MustParseAddr("2001:db8:9::9")

	innerPay = []byte("tunnelled payload")
)

// inner4 is an IPv4 TCP segment (20-byte headers) and the Packet it
// decodes to when its IPv4 header is at off in the frame.
func inner4(off int) ([]gopacket.SerializableLayer, Packet) {
	ip4 := &layers.IPv4{Version: 4, TTL: 63, Id: 0x4242, Protocol: layers.IPProtocolTCP, SrcIP: ip(in4a), DstIP: ip(in4b)}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: 7, Ack: 9, PSH: true, ACK: true, Window: 1024}
	_ = tcp.SetNetworkLayerForChecksum(ip4)
	want := Packet{Family: 4, Src: in4a, Dst: in4b, Proto: ProtoTCP, TTL: 63, IPID: 0x4242, IPLen: uint32(40 + len(innerPay)),
		HasL4: true, SrcPort: 40000, DstPort: 80, TCPFlags: FlagPSH | FlagACK, Seq: 7, Ack: 9, Window: 1024,
		PayloadLen: uint32(len(innerPay)), L3Off: uint32(off), L3Len: 20, L4Off: uint32(off + 20), L4Len: 20}
	return []gopacket.SerializableLayer{ip4, tcp, gopacket.Payload(innerPay)}, want
}

// inner6 is an IPv6 UDP datagram.
func inner6(off int) ([]gopacket.SerializableLayer, Packet) {
	ip6 := &layers.IPv6{Version: 6, HopLimit: 33, NextHeader: layers.IPProtocolUDP, SrcIP: ip(in6a), DstIP: ip(in6b)}
	udp := &layers.UDP{SrcPort: 5353, DstPort: 53}
	_ = udp.SetNetworkLayerForChecksum(ip6)
	want := Packet{Family: 6, Src: in6a, Dst: in6b, Proto: ProtoUDP, TTL: 33, IPLen: uint32(48 + len(innerPay)),
		HasL4: true, SrcPort: 5353, DstPort: 53, PayloadLen: uint32(len(innerPay)),
		L3Off: uint32(off), L3Len: 40, L4Off: uint32(off + 40), L4Len: 8}
	return []gopacket.SerializableLayer{ip6, udp, gopacket.Payload(innerPay)}, want
}

func outer4(proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: ip(src4), DstIP: ip(dst4)}
}

func outer6(next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next, SrcIP: ip(src6), DstIP: ip(dst6)}
}

func outerUDP(ip4 *layers.IPv4, sport, dport uint16) *layers.UDP {
	u := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	_ = u.SetNetworkLayerForChecksum(ip4)
	return u
}

// tunnelled sets the tunnel fields of want: found in encapsulations e
// (depth of them) of an outer packet src -> dst.
func tunnelled(want Packet, e Encap, depth uint8, src, dst netip.Addr, proto uint8, sport, dport uint16) Packet {
	want.Encap, want.Depth, want.Tunnel = e, depth, true
	want.TunnelSrc, want.TunnelDst, want.TunnelProto = src, dst, proto
	want.TunnelSrcPort, want.TunnelDstPort = sport, dport
	return want
}

func cat(a ...[]gopacket.SerializableLayer) []gopacket.SerializableLayer {
	var out []gopacket.SerializableLayer
	for _, l := range a {
		out = append(out, l...)
	}
	return out
}

func ls(l ...gopacket.SerializableLayer) []gopacket.SerializableLayer { return l }

// tunnelFrames: one frame per tunnel kind, decoding to the inner packet
// (part of testFrames, so also fuzz seeds and in the allocation test).
func tunnelFrames(tb testing.TB) []frameCase {
	var cs []frameCase
	add := func(name string, want Packet, l ...[]gopacket.SerializableLayer) {
		cs = append(cs, frameCase{name: name, frame: serialize(tb, cat(l...)...), want: want, wantPayload: innerPay})
	}
	const eth4 = 14 + 20 // outer Ethernet + IPv4
	const eth6 = 14 + 40

	// GRE: IPv4, IPv6, transparent Ethernet bridging, over IPv6, with a key.
	in, w := inner4(eth4 + 4)
	add("gre ipv4", tunnelled(w, EncapGRE, 1, src4, dst4, 47, 0, 0),
		ls(eth(layers.EthernetTypeIPv4), outer4(layers.IPProtocolGRE), &layers.GRE{Protocol: layers.EthernetTypeIPv4}), in)
	in, w = inner6(eth4 + 8)
	add("gre key ipv6", tunnelled(w, EncapGRE, 1, src4, dst4, 47, 0, 0),
		ls(eth(layers.EthernetTypeIPv4), outer4(layers.IPProtocolGRE), &layers.GRE{KeyPresent: true, Key: 77, Protocol: layers.EthernetTypeIPv6}), in)
	in, w = inner4(eth4 + 4 + 14)
	add("gre transparent ethernet bridging", tunnelled(w, EncapGRE, 1, src4, dst4, 47, 0, 0),
		ls(eth(layers.EthernetTypeIPv4), outer4(layers.IPProtocolGRE), &layers.GRE{Protocol: layers.EthernetTypeTransparentEthernetBridging},
			eth(layers.EthernetTypeIPv4)), in)
	in, w = inner4(eth6 + 4)
	add("gre over ipv6", tunnelled(w, EncapGRE, 1, src6, dst6, 47, 0, 0),
		ls(eth(layers.EthernetTypeIPv6), outer6(layers.IPProtocolGRE), &layers.GRE{Protocol: layers.EthernetTypeIPv4}), in)

	// ERSPAN: type I (no sequence number), II (with the header's VLAN),
	// III (12-byte header, 8 more with the O flag).
	in, w = inner4(eth4 + 4 + 14)
	add("erspan type I", tunnelled(w, EncapGRE|EncapERSPAN1, 1, src4, dst4, 47, 0, 0),
		ls(eth(layers.EthernetTypeIPv4), outer4(layers.IPProtocolGRE), &layers.GRE{Protocol: layers.EthernetTypeERSPAN},
			eth(layers.EthernetTypeIPv4)), in)
	in, w = inner4(eth4 + 8 + 8 + 14)
	w.VLAN, w.VLANs, w.NVLANs = 23, [MaxVLANs]uint16{23}, 1
	add("erspan type II", tunnelled(w, EncapGRE|EncapERSPAN2, 1, src4, dst4, 47, 0, 0),
		ls(eth(layers.EthernetTypeIPv4), outer4(layers.IPProtocolGRE), &layers.GRE{SeqPresent: true, Seq: 1794, Protocol: layers.EthernetTypeERSPAN},
			&layers.ERSPANII{Version: layers.ERSPANIIVersion, VLANIdentifier: 23, SessionID: 100},
			eth(layers.EthernetTypeIPv4)), in)
	in, w = inner4(eth4 + 8 + 20 + 14)
	add("erspan type III", tunnelled(w, EncapGRE|EncapERSPAN3, 1, src4, dst4, 47, 0, 0),
		ls(eth(layers.EthernetTypeIPv4), outer4(layers.IPProtocolGRE), &layers.GRE{SeqPresent: true, Seq: 9, Protocol: ethernetTypeERSPAN3},
			gopacket.Payload(erspan3Header(0, true)), eth(layers.EthernetTypeIPv4)), in)

	// VXLAN, Geneve (with an option; Ethernet and IPv4 inside), Teredo
	// (bare and after an origin indication).
	{
		o := outer4(layers.IPProtocolUDP)
		in, w = inner4(eth4 + 8 + 8 + 14)
		add("vxlan", tunnelled(w, EncapVXLAN, 1, src4, dst4, 17, 45149, 4789),
			ls(eth(layers.EthernetTypeIPv4), o, outerUDP(o, 45149, 4789), &layers.VXLAN{ValidIDFlag: true, VNI: 100},
				eth(layers.EthernetTypeIPv4)), in)
	}
	{
		o := outer4(layers.IPProtocolUDP)
		in, w = inner4(eth4 + 8 + 16 + 14)
		add("geneve ethernet", tunnelled(w, EncapGeneve, 1, src4, dst4, 17, 30000, 6081),
			ls(eth(layers.EthernetTypeIPv4), o, outerUDP(o, 30000, 6081),
				&layers.Geneve{Protocol: layers.EthernetTypeTransparentEthernetBridging, VNI: 5,
					Options: []*layers.GeneveOption{{Class: 0x0102, Type: 0x80, Data: []byte{1, 2, 3, 4}}}},
				eth(layers.EthernetTypeIPv4)), in)
	}
	{
		o := outer4(layers.IPProtocolUDP)
		in, w = inner4(eth4 + 8 + 8)
		add("geneve ipv4", tunnelled(w, EncapGeneve, 1, src4, dst4, 17, 6081, 6081),
			ls(eth(layers.EthernetTypeIPv4), o, outerUDP(o, 6081, 6081), &layers.Geneve{Protocol: layers.EthernetTypeIPv4, VNI: 5}), in)
	}
	{
		o := outer4(layers.IPProtocolUDP)
		in, w = inner6(eth4 + 8)
		add("teredo", tunnelled(w, EncapTeredo, 1, src4, dst4, 17, 3544, 51000),
			ls(eth(layers.EthernetTypeIPv4), o, outerUDP(o, 3544, 51000)), in)
		o = outer4(layers.IPProtocolUDP)
		in, w = inner6(eth4 + 8 + 8)
		add("teredo origin indication", tunnelled(w, EncapTeredo, 1, src4, dst4, 17, 3544, 51000),
			ls(eth(layers.EthernetTypeIPv4), o, outerUDP(o, 3544, 51000), gopacket.Payload{0, 0, 0xf2, 0x27, 0xc6, 0x33, 0x64, 0x01}), in)
	}

	// IP in IP: 4in4, 6in4, 4in6, 6in6.
	in, w = inner4(eth4)
	add("ip in ip 4in4", tunnelled(w, EncapIPIP, 1, src4, dst4, 4, 0, 0),
		ls(eth(layers.EthernetTypeIPv4), outer4(layers.IPProtocolIPv4)), in)
	in, w = inner6(eth4)
	add("ip in ip 6in4", tunnelled(w, EncapIPIP, 1, src4, dst4, 41, 0, 0),
		ls(eth(layers.EthernetTypeIPv4), outer4(layers.IPProtocolIPv6)), in)
	in, w = inner4(eth6)
	add("ip in ip 4in6", tunnelled(w, EncapIPIP, 1, src6, dst6, 4, 0, 0),
		ls(eth(layers.EthernetTypeIPv6), outer6(layers.IPProtocolIPv4)), in)
	in, w = inner6(eth6)
	add("ip in ip 6in6", tunnelled(w, EncapIPIP, 1, src6, dst6, 41, 0, 0),
		ls(eth(layers.EthernetTypeIPv6), outer6(layers.IPProtocolIPv6)), in)

	// MPLS: two labels then IPv4 guessed from its first nibble; the IPv6
	// explicit null label; an Ethernet pseudowire after a control word.
	// No outer IP packet: not a Tunnel.
	in, w = inner4(14 + 8)
	w.Encap, w.Depth = EncapMPLS, 1
	add("mpls two labels ipv4", w, ls(eth(layers.EthernetTypeMPLSUnicast),
		&layers.MPLS{Label: 1000, TTL: 64}, &layers.MPLS{Label: 2000, StackBottom: true, TTL: 64}), in)
	in, w = inner6(14 + 4)
	w.Encap, w.Depth = EncapMPLS, 1
	add("mpls ipv6 explicit null", w, ls(eth(layers.EthernetTypeMPLSUnicast), &layers.MPLS{Label: 2, StackBottom: true, TTL: 64}), in)
	in, w = inner4(14 + 4 + 4 + 14)
	w.Encap, w.Depth = EncapMPLS, 1
	add("mpls ethernet pseudowire", w, ls(eth(layers.EthernetTypeMPLSUnicast), &layers.MPLS{Label: 3000, StackBottom: true, TTL: 64},
		gopacket.Payload{0, 0, 0, 0}, eth(layers.EthernetTypeIPv4)), in)
	// MPLS inside GRE.
	in, w = inner4(eth4 + 4 + 4)
	add("gre mpls", tunnelled(w, EncapGRE|EncapMPLS, 2, src4, dst4, 47, 0, 0),
		ls(eth(layers.EthernetTypeIPv4), outer4(layers.IPProtocolGRE), &layers.GRE{Protocol: layers.EthernetTypeMPLSUnicast},
			&layers.MPLS{Label: 16, StackBottom: true, TTL: 64}), in)

	// NSH: MD type 1 (24 bytes) carrying IPv4, MD type 2 (8) carrying Ethernet.
	in, w = inner4(14 + 24)
	w.Encap, w.Depth = EncapNSH, 1
	add("nsh md type 1 ipv4", w, ls(eth(ethernetTypeNSH), gopacket.Payload(nshHeader(1, 1))), in)
	in, w = inner4(14 + 8 + 14)
	w.Encap, w.Depth = EncapNSH, 1
	add("nsh md type 2 ethernet", w, ls(eth(ethernetTypeNSH), gopacket.Payload(nshHeader(2, 3)), eth(layers.EthernetTypeIPv4)), in)

	// Nested: GRE inside VXLAN; the tunnel endpoints are the outermost.
	{
		o := outer4(layers.IPProtocolUDP)
		mid := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolGRE, SrcIP: ip(src4), DstIP: net4("198.51.100.99")}
		in, w = inner4(eth4 + 8 + 8 + 14 + 20 + 4)
		add("gre in vxlan", tunnelled(w, EncapVXLAN|EncapGRE, 2, src4, dst4, 17, 1000, 4789),
			ls(eth(layers.EthernetTypeIPv4), o, outerUDP(o, 1000, 4789), &layers.VXLAN{ValidIDFlag: true, VNI: 1},
				eth(layers.EthernetTypeIPv4), mid, &layers.GRE{Protocol: layers.EthernetTypeIPv4}), in)
	}

	// SCTP ports, over IPv4 and IPv6.
	{
		o := ipv4(layers.IPProtocolSCTP)
		f := serialize(tb, eth(layers.EthernetTypeIPv4), o, &layers.SCTP{SrcPort: 2905, DstPort: 36412, VerificationTag: 1}, gopacket.Payload(innerPay))
		cs = append(cs, frameCase{name: "sctp ipv4", frame: f, wantPayload: innerPay,
			want: Packet{Family: 4, Src: src4, Dst: dst4, Proto: ProtoSCTP, TTL: 64, IPID: 0x1234, IPLen: uint32(20 + 12 + len(innerPay)),
				HasL4: true, SrcPort: 2905, DstPort: 36412, PayloadLen: uint32(len(innerPay)), L3Off: 14, L3Len: 20, L4Off: 34, L4Len: 12}})
		f = serialize(tb, eth(layers.EthernetTypeIPv6), ipv6(layers.IPProtocolSCTP), &layers.SCTP{SrcPort: 38412, DstPort: 38412}, gopacket.Payload(innerPay))
		cs = append(cs, frameCase{name: "sctp ipv6", frame: f, wantPayload: innerPay,
			want: Packet{Family: 6, Src: src6, Dst: dst6, Proto: ProtoSCTP, TTL: 57, IPLen: uint32(40 + 12 + len(innerPay)),
				HasL4: true, SrcPort: 38412, DstPort: 38412, PayloadLen: uint32(len(innerPay)), L3Off: 14, L3Len: 40, L4Off: 54, L4Len: 12}})
	}
	return cs
}

func net4(s string) []byte { return ip(netip.MustParseAddr(s)) }

// erspan3Header is a type III header (version 2, VLAN 0, frame type
// Ethernet) with a platform-specific subheader when o.
func erspan3Header(vlan uint16, o bool) []byte {
	h := make([]byte, 12, 20)
	binary.BigEndian.PutUint16(h[0:2], 2<<12|vlan)
	binary.BigEndian.PutUint16(h[2:4], 100) // session
	if o {
		h[11] |= 1
		h = append(h, make([]byte, 8)...)
	}
	return h
}

// nshHeader is an NSH base and service path header, with MD type 1's
// 16 bytes of context.
func nshHeader(md, next byte) []byte {
	n := 8
	if md == 1 {
		n = 24
	}
	h := make([]byte, n)
	binary.BigEndian.PutUint16(h[0:2], uint16(n/4)) // version 0, length in words
	h[2], h[3] = md, next
	binary.BigEndian.PutUint32(h[4:8], 1<<8|2) // SPI 1, SI 2
	return h
}

// TestTunnelEdgeCases: headers that do not check out are not
// decapsulated; cut ones are truncated; nesting stops at MaxDepth.
func TestTunnelEdgeCases(t *testing.T) {
	d := NewDecoder()
	decode := func(t *testing.T, f []byte) (Packet, error) {
		t.Helper()
		var p Packet
		p.WireLen, p.CapLen = uint32(len(f)), uint32(len(f))
		err := d.Decode(f, &p)
		return p, err
	}
	in, _ := inner4(0)

	t.Run("nesting bound", func(t *testing.T) {
		// MaxDepth+1 IPv4-in-IPv4 headers: decoded down to MaxDepth.
		l := ls(eth(layers.EthernetTypeIPv4))
		for i := 0; i <= MaxDepth; i++ {
			l = append(l, outer4(layers.IPProtocolIPv4))
		}
		p, err := decode(t, serialize(t, cat(l, in)...))
		if !errors.Is(err, ErrTooDeep) {
			t.Fatalf("err = %v, want ErrTooDeep", err)
		}
		if p.Depth != MaxDepth || p.Proto != 4 || p.Src != src4 || !p.Tunnel || p.HasL4 {
			t.Errorf("packet at the bound: %+v", p)
		}
		// MaxDepth of them is fine.
		p, err = decode(t, serialize(t, cat(l[:MaxDepth+1], in)...))
		if err != nil || p.Depth != MaxDepth || p.Src != in4a || p.DstPort != 80 {
			t.Errorf("at MaxDepth: err %v packet %+v", err, p)
		}
	})

	gre := serialize(t, cat(ls(eth(layers.EthernetTypeIPv4), outer4(layers.IPProtocolGRE), &layers.GRE{KeyPresent: true, Protocol: layers.EthernetTypeIPv4}), in)...)
	for _, tc := range []struct {
		name    string
		frame   []byte
		wantErr error // nil, ErrTruncated, ErrNotIP
		outer   bool  // the Packet is the outer IPv4 packet (else no IP at all)
	}{
		{"gre cut in its key", gre[:eth4c+6], ErrTruncated, true},
		{"gre cut in the inner ipv4 header", gre[:eth4c+8+10], ErrTruncated, true},
		{"gre routing present", setByte(gre, eth4c, 0x40), nil, true},
		{"gre version 1", setByte(gre, eth4c+1, 1), nil, true},
		{"gre unknown protocol", setByte(gre, eth4c+2, 0x99), nil, true},
		{"ip in ip with an ipv6 header", serialize(t, cat(ls(eth(layers.EthernetTypeIPv4), outer4(layers.IPProtocolIPv4)), func() []gopacket.SerializableLayer { l, _ := inner6(0); return l }())...), ErrTruncated, true},
		{"mpls stack without a bottom", serialize(t, eth(layers.EthernetTypeMPLSUnicast), &layers.MPLS{Label: 100}, &layers.MPLS{Label: 200}), ErrTruncated, false},
		{"mpls reserved label", serialize(t, cat(ls(eth(layers.EthernetTypeMPLSUnicast), &layers.MPLS{Label: 7, StackBottom: true}), in)...), ErrNotIP, false},
		{"nsh cut", serialize(t, eth(ethernetTypeNSH), gopacket.Payload(nshHeader(1, 1)[:6])), ErrTruncated, false},
		{"nsh md type 1 of the wrong length", serialize(t, cat(ls(eth(ethernetTypeNSH), gopacket.Payload(setByte(nshHeader(2, 1), 2, 1))), in)...), ErrNotIP, false},
		{"nsh version 1", serialize(t, cat(ls(eth(ethernetTypeNSH), gopacket.Payload(setByte(nshHeader(1, 1), 0, 0x40))), in)...), ErrNotIP, false},
		{"erspan III cut", serialize(t, eth(layers.EthernetTypeIPv4), outer4(layers.IPProtocolGRE), &layers.GRE{Protocol: ethernetTypeERSPAN3}, gopacket.Payload(erspan3Header(0, true)[:14])), ErrTruncated, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := decode(t, tc.frame)
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.outer && (p.Src != src4 || p.Tunnel || p.Encap != 0 || p.Depth != 0) || !tc.outer && p.Family != 0 {
				t.Errorf("packet %+v", p)
			}
		})
	}

	// UDP on a tunnel port that is no tunnel stays UDP.
	o := outer4(layers.IPProtocolUDP)
	vx := serialize(t, cat(ls(eth(layers.EthernetTypeIPv4), o, outerUDP(o, 1, 4789), &layers.VXLAN{VNI: 3}, eth(layers.EthernetTypeIPv4)), in)...)
	o = outer4(layers.IPProtocolUDP)
	ter := serialize(t, cat(ls(eth(layers.EthernetTypeIPv4), o, outerUDP(o, 3544, 2)), func() []gopacket.SerializableLayer { l, _ := inner6(0); return l }())...)
	o = outer4(layers.IPProtocolUDP)
	gen := serialize(t, eth(layers.EthernetTypeIPv4), o, outerUDP(o, 6081, 2), gopacket.Payload{0, 0, 0x08})
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"vxlan without the I flag", vx},
		{"vxlan with a reserved bit", setByte(setByte(vx, eth4c+8, 0x08), eth4c+8+7, 1)},
		{"vxlan on the source port only", serialize(t, cat(ls(eth(layers.EthernetTypeIPv4), o, outerUDP(o, 4789, 1), &layers.VXLAN{ValidIDFlag: true}, eth(layers.EthernetTypeIPv4)), in)...)},
		{"teredo of the wrong length", setByte(ter, eth4c+8+5, ter[eth4c+8+5]+1)},
		{"teredo hop limit 0", setByte(ter, eth4c+8+7, 0)},
		{"teredo authentication", setByte(setByte(ter, eth4c+8, 0), eth4c+8+1, 1)},
		{"geneve cut", gen},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := decode(t, tc.frame)
			if err != nil || p.Src != src4 || p.Proto != ProtoUDP || !p.HasL4 || p.Tunnel {
				t.Errorf("err %v packet %+v", err, p)
			}
		})
	}
}

const eth4c = 14 + 20

func setByte(b []byte, i int, v byte) []byte {
	c := append([]byte(nil), b...)
	c[i] = v
	return c
}
