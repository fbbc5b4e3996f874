package defrag

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

const t0 = int64(1_700_000_000_000_000_000)

var (
	mac1 = net.HardwareAddr{0, 1, 2, 3, 4, 5}
	mac2 = net.HardwareAddr{5, 4, 3, 2, 1, 0}
)

func ser(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	b := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(b, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), b.Bytes()...)
}

// datagram4 is a TCP SYN with payload as raw IPv4 payload bytes.
func transport(t *testing.T, payload string, v6 bool) []byte {
	t.Helper()
	tcp := &layers.TCP{SrcPort: 12345, DstPort: 8080, Seq: 1, SYN: true, Window: 8192}
	var nl gopacket.NetworkLayer = &layers.IPv4{SrcIP: net.IPv4(1, 1, 1, 1), DstIP: net.IPv4(2, 2, 2, 2), Protocol: layers.IPProtocolTCP}
	if v6 {
		nl = &layers.IPv6{SrcIP: net.ParseIP("2001:db8::1"), DstIP: net.ParseIP("2001:db8::2"), NextHeader: layers.IPProtocolTCP}
	}
	if err := tcp.SetNetworkLayerForChecksum(nl); err != nil {
		t.Fatal(err)
	}
	return ser(t, tcp, gopacket.Payload(payload))
}

// frags4 cuts an IPv4 payload into fragments of size bytes (a multiple
// of 8), each an Ethernet frame with a VLAN tag.
func frags4(t *testing.T, id uint16, data []byte, size int) [][]byte {
	var out [][]byte
	for off := 0; off < len(data); off += size {
		end := min(off+size, len(data))
		ip := &layers.IPv4{Version: 4, TTL: 64, Id: id, Protocol: layers.IPProtocolTCP,
			SrcIP: net.IPv4(1, 1, 1, 1), DstIP: net.IPv4(2, 2, 2, 2), FragOffset: uint16(off / 8)}
		if end < len(data) {
			ip.Flags = layers.IPv4MoreFragments
		}
		out = append(out, ser(t, &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: 6, Type: layers.EthernetTypeIPv4}, ip, gopacket.Payload(data[off:end])))
	}
	return out
}

func frags6(t *testing.T, id uint32, data []byte, size int) [][]byte {
	var out [][]byte
	for off := 0; off < len(data); off += size {
		end := min(off+size, len(data))
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolIPv6Fragment,
			SrcIP: net.ParseIP("2001:db8::1"), DstIP: net.ParseIP("2001:db8::2")}
		fh := []byte{byte(layers.IPProtocolTCP), 0, 0, 0, 0, 0, 0, 0}
		fo := uint16(off/8) << 3
		if end < len(data) {
			fo |= 1
		}
		fh[2], fh[3] = byte(fo>>8), byte(fo)
		fh[4], fh[5], fh[6], fh[7] = byte(id>>24), byte(id>>16), byte(id>>8), byte(id)
		out = append(out, ser(t, &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeIPv6},
			ip, gopacket.Payload(append(fh, data[off:end]...))))
	}
	return out
}

func decodeTCP(t *testing.T, fr []byte) (*layers.TCP, gopacket.Packet) {
	t.Helper()
	p := gopacket.NewPacket(fr, layers.LayerTypeEthernet, gopacket.Default)
	tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if tcp == nil {
		t.Fatalf("no TCP in the reassembled frame: %v", p)
	}
	return tcp, p
}

func TestIPv4(t *testing.T) {
	data := transport(t, "hello fragments", false)
	fr := frags4(t, 7, data, 8)
	if len(fr) < 3 {
		t.Fatalf("%d fragments", len(fr))
	}
	d := New(Config{})
	// out of order, with a repeat: complete on the last one missing
	order := []int{2, 0, 0}
	for i := 3; i < len(fr); i++ {
		order = append(order, i)
	}
	order = append(order, 1)
	var out []byte
	for i, k := range order {
		o, done := d.Add(fr[k], t0+int64(i))
		if done != (i == len(order)-1) {
			t.Fatalf("fragment %d (#%d): done %v", k, i, done)
		}
		out = o
	}
	tcp, p := decodeTCP(t, out)
	if !tcp.SYN || tcp.DstPort != 8080 || string(tcp.Payload) != "hello fragments" {
		t.Errorf("reassembled %v", p)
	}
	if v, _ := p.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q); v == nil || v.VLANIdentifier != 6 {
		t.Errorf("VLAN tag lost: %v", p)
	}
	ip := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0 || int(ip.Length) != 20+len(data) {
		t.Errorf("IPv4 header %+v", ip)
	}
	if s := d.Stats(); s.Reassembled != 1 || s.Pending != 0 || s.Fragments != uint64(len(order)) {
		t.Errorf("stats %+v", s)
	}
}

func TestIPv6(t *testing.T) {
	data := transport(t, string(bytes.Repeat([]byte("A"), 1000)), true)
	fr := frags6(t, 99, data, 440)
	d := New(Config{})
	var out []byte
	for i, f := range fr {
		o, done := d.Add(f, t0)
		if done != (i == len(fr)-1) {
			t.Fatalf("fragment %d: done %v", i, done)
		}
		out = o
	}
	tcp, p := decodeTCP(t, out)
	if len(tcp.Payload) != 1000 {
		t.Errorf("reassembled payload %d bytes: %v", len(tcp.Payload), p)
	}
}

func TestNotFragments(t *testing.T) {
	d := New(Config{})
	whole := ser(t, &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IPv4(1, 1, 1, 1), DstIP: net.IPv4(2, 2, 2, 2), Flags: layers.IPv4DontFragment},
		gopacket.Payload(transport(t, "x", false)))
	for _, fr := range [][]byte{whole, {1, 2, 3}, nil} {
		if out, done := d.Add(fr, t0); out != nil || done {
			t.Errorf("non-fragment gave %v %v", out, done)
		}
	}
	if n := testing.AllocsPerRun(100, func() { d.Add(whole, t0) }); n != 0 {
		t.Errorf("%v allocations for a non-fragment", n)
	}
	if s := d.Stats(); s.Fragments != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestBounds(t *testing.T) {
	data := transport(t, "bounded", false)
	d := New(Config{MaxDatagrams: 4, Timeout: 10 * time.Second})
	// first fragments of 10 datagrams: never more than 4 held
	for id := uint16(0); id < 10; id++ {
		d.Add(frags4(t, id, data, 8)[0], t0)
		if p := d.Stats().Pending; p > 4 {
			t.Fatalf("%d pending", p)
		}
	}
	if s := d.Stats(); s.Overflows == 0 {
		t.Errorf("no overflow: %+v", s)
	}
	// the timeout (packet time) drops what is left
	d.Add(frags4(t, 100, data, 8)[0], t0+11e9)
	if s := d.Stats(); s.Pending != 1 || s.Expired == 0 {
		t.Errorf("after the timeout: %+v", s)
	}
	// an expired datagram's late fragments do not complete it
	fr := frags4(t, 200, data, 8)
	d.Add(fr[0], t0+20e9)
	for _, f := range fr[1 : len(fr)-1] {
		d.Add(f, t0+20e9)
	}
	if _, done := d.Add(fr[len(fr)-1], t0+40e9); done {
		t.Error("an expired datagram completed")
	}
	// the input buffer may be reused: fragments are copied
	fr = frags4(t, 300, data, 8)
	buf := make([]byte, 2048)
	var out []byte
	for _, f := range fr {
		n := copy(buf, f)
		out, _ = d.Add(buf[:n], t0+50e9)
		clear(buf)
	}
	if tcp, _ := decodeTCP(t, out); string(tcp.Payload) != "bounded" {
		t.Errorf("payload %q", tcp.Payload)
	}
}
