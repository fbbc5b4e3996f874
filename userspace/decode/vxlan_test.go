package decode

import (
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// TestVXLAN: UDP/4789 is decapsulated and the Packet describes the inner
// packet, flagged as tunnelled.
func TestVXLAN(t *testing.T) {
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	outerIP := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{198, 51, 100, 1}, DstIP: net.IP{198, 51, 100, 2}}
	udp := &layers.UDP{SrcPort: 45149, DstPort: 4789}
	udp.SetNetworkLayerForChecksum(outerIP)
	innerIP := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: net.IP{192, 0, 2, 3}, DstIP: net.IP{192, 0, 2, 5}}
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&layers.Ethernet{SrcMAC: mac, DstMAC: mac, EthernetType: layers.EthernetTypeIPv4}, outerIP, udp,
		&layers.VXLAN{ValidIDFlag: true, VNI: 100},
		&layers.Ethernet{SrcMAC: mac, DstMAC: mac, EthernetType: layers.EthernetTypeIPv4}, innerIP,
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 7, Seq: 1}, gopacket.Payload(make([]byte, 16)))
	if err != nil {
		t.Fatal(err)
	}
	var p Packet
	if err := NewDecoder().Decode(buf.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if !p.Tunnel || p.Src != netip.MustParseAddr("192.0.2.3") || p.Dst != netip.MustParseAddr("192.0.2.5") ||
		p.Proto != ProtoICMP || p.ICMPType != 8 || p.ICMPID != 7 {
		t.Fatalf("inner packet not decoded: %+v", p)
	}
}
