package signature

import (
	"net"
	"slices"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/packet/decode"
	"github.com/xdpids/xdpids/userspace/signature/rules"
)

// TestHeaderKeywordsInTunnels: header keywords and buffers read the
// inner packet of a GRE, MPLS and VXLAN frame, not the outer one; SCTP
// rules match SCTP ports.
func TestHeaderKeywordsInTunnels(t *testing.T) {
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	eth := func(et layers.EthernetType) *layers.Ethernet {
		return &layers.Ethernet{SrcMAC: mac, DstMAC: mac, EthernetType: et}
	}
	outer := func(proto layers.IPProtocol) *layers.IPv4 {
		return &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: net.IP{192, 0, 2, 10}, DstIP: net.IP{198, 51, 100, 20}}
	}
	inner := func() []gopacket.SerializableLayer {
		ip := &layers.IPv4{Version: 4, TOS: 0x10, TTL: 63, Protocol: layers.IPProtocolTCP, SrcIP: net.IP{203, 0, 113, 7}, DstIP: net.IP{203, 0, 113, 9}}
		tcp := &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: 1, PSH: true, ACK: true, Window: 512,
			Options: []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}}}}
		_ = tcp.SetNetworkLayerForChecksum(ip)
		return []gopacket.SerializableLayer{ip, tcp, gopacket.Payload("GET / HTTP/1.0\r\n\r\n")}
	}
	build := func(l ...gopacket.SerializableLayer) []byte {
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, append(l, inner()...)...); err != nil {
			t.Fatal(err)
		}
		return append([]byte(nil), buf.Bytes()...)
	}
	udp := &layers.UDP{SrcPort: 1000, DstPort: 4789}
	vxOuter := outer(layers.IPProtocolUDP)
	_ = udp.SetNetworkLayerForChecksum(vxOuter)
	frames := map[string][]byte{
		"gre":   build(eth(layers.EthernetTypeIPv4), outer(layers.IPProtocolGRE), &layers.GRE{Protocol: layers.EthernetTypeIPv4}),
		"mpls":  build(eth(layers.EthernetTypeMPLSUnicast), &layers.MPLS{Label: 100, StackBottom: true, TTL: 64}),
		"vxlan": build(eth(layers.EthernetTypeIPv4), vxOuter, udp, &layers.VXLAN{ValidIDFlag: true, VNI: 7}, eth(layers.EthernetTypeIPv4)),
	}
	const text = `alert tcp any any -> any 80 (msg:"inner ttl and flags"; ttl:63; flags:PA; sid:1;)
alert tcp any any -> any 80 (msg:"inner tos"; tos:16; sid:2;)
alert tcp any any -> any 80 (msg:"inner ipv4.hdr"; ipv4.hdr; content:"|cb 00 71 07 cb 00 71 09|"; offset:12; depth:8; sid:3;)
alert tcp any any -> any 80 (msg:"inner tcp.hdr"; tcp.hdr; content:"|9c 40 00 50|"; offset:0; depth:4; sid:4;)
alert tcp any any -> any 80 (msg:"inner mss"; tcp.mss:1460; sid:5;)
alert ip any any -> any any (msg:"outer tos"; tos:0; sid:6;)
alert ip any any -> any any (msg:"outer ipv4.hdr"; ipv4.hdr; content:"|c0 00 02 0a|"; sid:7;)
alert ip 192.0.2.10 any -> any any (msg:"outer address"; sid:8;)
alert tcp any any -> any 80 (msg:"inner payload"; content:"GET /"; sid:9;)`
	for _, name := range []string{"gre", "mpls", "vxlan"} {
		h := newHarness(t, text, Options{})
		if got := h.send(frames[name]); !slices.Equal(got, []uint32{1, 2, 3, 4, 5, 9}) {
			t.Errorf("%s: sids %v, want [1 2 3 4 5 9]", name, got)
		}
	}

	// Reading the inner headers allocates nothing (rules that read them
	// and then fail, so that no alert is built).
	set, skipped := rules.Parse(`alert tcp any any -> any 80 (ttl:63; tos:17; sid:1;)
alert tcp any any -> any 80 (tcp.mss:1461; sid:2;)
alert ip any any -> any any (fragbits:M; sid:3;)`, "t.rules", rules.DefaultVars())
	if len(skipped) > 0 {
		t.Fatal(skipped)
	}
	eng, err := Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	dec := decode.NewDecoder()
	for _, name := range []string{"gre", "mpls", "vxlan"} {
		fr := frames[name]
		var pk decode.Packet
		run := func() {
			pk.Reset()
			pk.WireLen, pk.CapLen = uint32(len(fr)), uint32(len(fr))
			if dec.Decode(fr, &pk) != nil {
				t.Fatal("decode")
			}
			eng.MatchPacket(&Input{P: &pk, Frame: fr}, func(*alert.Alert) { t.Error("alert") })
		}
		run()
		if n := testing.AllocsPerRun(100, run); n != 0 && !testenv.Race {
			t.Errorf("%s: %.1f allocations per packet", name, n)
		}
	}

	// SCTP: the header's protocol and ports.
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolSCTP, SrcIP: net.IP{192, 0, 2, 10}, DstIP: net.IP{198, 51, 100, 20}}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, eth(layers.EthernetTypeIPv4), ip,
		&layers.SCTP{SrcPort: 2905, DstPort: 36412}, gopacket.Payload("chunk")); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, `alert sctp any any -> any 36412 (sid:1;)
alert sctp any 2905 -> any !36412 (sid:2;)
alert udp any any -> any 36412 (sid:3;)
alert ip any any -> any any (ip_proto:132; sid:4;)`, Options{})
	if got := h.send(buf.Bytes()); !slices.Equal(got, []uint32{1, 4}) {
		t.Errorf("sctp: sids %v, want [1 4]", got)
	}
	// The reply is the same flow (keyed by the ports), and matches the
	// rule of its own direction.
	ip.SrcIP, ip.DstIP = ip.DstIP, ip.SrcIP
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, eth(layers.EthernetTypeIPv4), ip,
		&layers.SCTP{SrcPort: 36412, DstPort: 2905}, gopacket.Payload("chunk")); err != nil {
		t.Fatal(err)
	}
	if got := h.send(buf.Bytes()); !slices.Equal(got, []uint32{4}) {
		t.Errorf("sctp reply: sids %v, want [4]", got)
	}
	if f := h.lastFlow(t); f.Proto != 132 || f.Pkts != [2]uint64{1, 1} {
		t.Errorf("sctp flow: proto %d packets %v", f.Proto, f.Pkts)
	}
}
