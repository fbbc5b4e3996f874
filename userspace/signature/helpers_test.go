package signature

import (
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/packet/decode"
	"github.com/xdpids/xdpids/userspace/signature/rules"
)

// pkt describes a test packet.
type pkt struct {
	src, dst     string
	sport, dport uint16
	proto        uint8  // 6 (default), 17, 1
	flags        string // TCP flags: "S", "SA", "A", "PA", "F", "FPU", ""
	seq, ack     uint32
	win          uint16
	ttl          uint8
	icmpType     uint8
	icmpCode     uint8
	icmpID       uint16
	icmpSeq      uint16
	payload      string
	vlan         uint16
}

// frame builds an Ethernet frame for p with gopacket.
func frame(t testing.TB, p pkt) []byte {
	t.Helper()
	src, dst := net.ParseIP(p.src), net.ParseIP(p.dst)
	v4 := src.To4() != nil
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	if !v4 {
		eth.EthernetType = layers.EthernetTypeIPv6
	}
	var ls []gopacket.SerializableLayer
	ls = append(ls, eth)
	if p.vlan != 0 {
		eth.EthernetType = layers.EthernetTypeDot1Q
		et := layers.EthernetTypeIPv4
		if !v4 {
			et = layers.EthernetTypeIPv6
		}
		ls = append(ls, &layers.Dot1Q{VLANIdentifier: p.vlan, Type: et})
	}
	ttl := p.ttl
	if ttl == 0 {
		ttl = 64
	}
	proto := p.proto
	if proto == 0 {
		proto = 6
	}
	var netl gopacket.NetworkLayer
	if v4 {
		ip := &layers.IPv4{Version: 4, TTL: ttl, SrcIP: src, DstIP: dst, Protocol: layers.IPProtocol(proto), Id: 1}
		netl = ip
		ls = append(ls, ip)
	} else {
		if proto == 1 {
			proto = 58
		}
		ip := &layers.IPv6{Version: 6, HopLimit: ttl, SrcIP: src, DstIP: dst, NextHeader: layers.IPProtocol(proto)}
		netl = ip
		ls = append(ls, ip)
	}
	switch proto {
	case 6:
		tcp := &layers.TCP{SrcPort: layers.TCPPort(p.sport), DstPort: layers.TCPPort(p.dport), Seq: p.seq, Ack: p.ack, Window: p.win}
		if tcp.Window == 0 {
			tcp.Window = 65535
		}
		for _, c := range p.flags {
			switch c {
			case 'S':
				tcp.SYN = true
			case 'A':
				tcp.ACK = true
			case 'F':
				tcp.FIN = true
			case 'P':
				tcp.PSH = true
			case 'U':
				tcp.URG = true
			case 'R':
				tcp.RST = true
			}
		}
		if err := tcp.SetNetworkLayerForChecksum(netl); err != nil {
			t.Fatal(err)
		}
		ls = append(ls, tcp)
	case 17:
		udp := &layers.UDP{SrcPort: layers.UDPPort(p.sport), DstPort: layers.UDPPort(p.dport)}
		if err := udp.SetNetworkLayerForChecksum(netl); err != nil {
			t.Fatal(err)
		}
		ls = append(ls, udp)
	case 1:
		ls = append(ls, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(p.icmpType, p.icmpCode), Id: p.icmpID, Seq: p.icmpSeq})
	case 58:
		ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(p.icmpType, p.icmpCode)}
		if err := ic.SetNetworkLayerForChecksum(netl); err != nil {
			t.Fatal(err)
		}
		ls = append(ls, ic)
	}
	ls = append(ls, gopacket.Payload(p.payload))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// harness runs frames through decode, flows and an engine.
type harness struct {
	t     testing.TB
	eng   *Engine
	dec   *decode.Decoder
	table *flows.Table
	ts    int64
	pk    decode.Packet
	got   []alert.Alert
}

func newHarness(t testing.TB, text string, opts Options) *harness {
	t.Helper()
	set, skipped := rules.Parse(text, "test.rules", rules.Vars{})
	for _, s := range skipped {
		t.Fatalf("rule skipped: %v", s.Error())
	}
	eng, err := CompileWith(set, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, eng: eng, dec: decode.NewDecoder(), table: flows.NewTable(1024, flows.DefaultTimeouts), ts: 1_700_000_000e9}
}

// send feeds one frame (1 ms after the previous) and returns the sids
// that alerted on it.
func (h *harness) send(fr []byte) []uint32 {
	h.t.Helper()
	h.ts += 1e6
	return h.sendAt(fr, h.ts)
}

func (h *harness) sendAt(fr []byte, ts int64) []uint32 {
	h.t.Helper()
	pk := &h.pk
	pk.Reset()
	pk.TsNs, pk.WireLen, pk.CapLen = ts, uint32(len(fr)), uint32(len(fr))
	if err := h.dec.Decode(fr, pk); err != nil {
		h.t.Fatalf("decode: %v", err)
	}
	in := Input{P: pk, Frame: fr}
	in.F, in.FromOrig, in.Ev = h.table.Track(pk)
	var sids []uint32
	h.eng.MatchPacket(&in, func(a *alert.Alert) {
		h.got = append(h.got, *a)
		sids = append(sids, a.SID)
	})
	return sids
}

// handshake opens a TCP connection client -> server and returns the
// next client and server sequence numbers.
func (h *harness) handshake(client, server string, cport, sport uint16) {
	h.t.Helper()
	h.send(frame(h.t, pkt{src: client, dst: server, sport: cport, dport: sport, flags: "S", seq: 100}))
	h.send(frame(h.t, pkt{src: server, dst: client, sport: sport, dport: cport, flags: "SA", seq: 500, ack: 101}))
	h.send(frame(h.t, pkt{src: client, dst: server, sport: cport, dport: sport, flags: "A", seq: 101, ack: 501}))
}
