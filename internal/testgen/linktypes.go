package testgen

import (
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Link is one way a capture carries the generated frames: a link type and
// how an Ethernet frame of the generator is rewritten for it, the way the
// capturing system would have recorded the same packet. The link-layer
// headers are written here by hand on purpose: they are the input the
// reader's normaliser (which uses gopacket's layers where it can) must
// undo, so they must not come from the same code.
type Link struct {
	Name string
	Type layers.LinkType
	Doc  string
	// VLAN says the frame carries an 802.1Q tag after normalising (4 bytes
	// more than the plain Ethernet frame).
	VLAN           bool
	v4only, v6only bool
	encap          func(eth []byte) []byte
}

// Carries says whether the link type can carry IPv6 (or IPv4) packets.
func (l Link) Carries(ipv6 bool) bool {
	if ipv6 {
		return !l.v4only
	}
	return !l.v6only
}

// Encapsulate rewrites an Ethernet frame (two MACs, an ethertype, no tag)
// carrying IPv4 or IPv6 for the link type.
func (l Link) Encapsulate(eth []byte) ([]byte, error) {
	if len(eth) < 15 {
		return nil, fmt.Errorf("%s: %d-byte frame is not Ethernet+IP", l.Name, len(eth))
	}
	et := binary.BigEndian.Uint16(eth[12:])
	if et != uint16(layers.EthernetTypeIPv4) && et != uint16(layers.EthernetTypeIPv6) {
		return nil, fmt.Errorf("%s: ethertype %#04x is not IP", l.Name, et)
	}
	if !l.Carries(et == uint16(layers.EthernetTypeIPv6)) {
		return nil, fmt.Errorf("%s cannot carry ethertype %#04x", l.Name, et)
	}
	return l.encap(eth), nil
}

const (
	pppoeSession = 0x2a17 // the PPPoE session id of the generated frames
	vlanID       = 100
	sllIfindex   = 2
)

// isV6 says whether an Ethernet frame carries IPv6.
func isV6(eth []byte) bool {
	return binary.BigEndian.Uint16(eth[12:]) == uint16(layers.EthernetTypeIPv6)
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

// pppProto is the PPP protocol field for the frame's IP version, two bytes
// or (compressed) one.
func pppProto(eth []byte, compressed bool) []byte {
	p := uint16(0x0021)
	if isV6(eth) {
		p = 0x0057
	}
	if compressed {
		return []byte{byte(p)}
	}
	return be16(p)
}

// family is the BSD loopback family word: AF_INET 2, or AF_INET6 as v6.
func family(eth []byte, v6 uint32) uint32 {
	if isV6(eth) {
		return v6
	}
	return 2
}

// sllPacketType is what Linux records for the frame: to us (0) when the
// router sent it, outgoing (4) when the protected host did.
func sllPacketType(eth []byte) byte {
	if [6]byte(eth[6:12]) == [6]byte(routerMAC) {
		return 0
	}
	return 4
}

func vlanTag(et []byte) []byte {
	return cat(be16(uint16(layers.EthernetTypeDot1Q)), be16(3<<13|vlanID), et)
}

var links = []Link{
	{Name: "ethernet", Type: layers.LinkTypeEthernet, Doc: "Ethernet, as generated",
		encap: func(eth []byte) []byte { return cat(eth) }},
	{Name: "pppoe", Type: layers.LinkTypeEthernet, Doc: "PPPoE session frames inside Ethernet (RFC 2516)",
		encap: func(eth []byte) []byte {
			ppp := cat(pppProto(eth, false), eth[14:])
			return cat(eth[:12], be16(uint16(layers.EthernetTypePPPoESession)),
				[]byte{0x11, 0x00}, be16(pppoeSession), be16(uint16(len(ppp))), ppp)
		}},
	{Name: "pppoe_vlan", Type: layers.LinkTypeEthernet, Doc: "PPPoE session frames behind an 802.1Q tag (DSL's VLAN 7 style)", VLAN: true,
		encap: func(eth []byte) []byte {
			ppp := cat(pppProto(eth, false), eth[14:])
			return cat(eth[:12], vlanTag(be16(uint16(layers.EthernetTypePPPoESession))),
				[]byte{0x11, 0x00}, be16(pppoeSession), be16(uint16(len(ppp))), ppp)
		}},
	{Name: "sll", Type: layers.LinkTypeLinuxSLL, Doc: "Linux cooked capture v1 (tcpdump -i any before libpcap 1.10)",
		encap: func(eth []byte) []byte {
			return cat([]byte{0, sllPacketType(eth)}, be16(1), be16(6), eth[6:12], []byte{0, 0}, eth[12:])
		}},
	{Name: "sll_vlan", Type: layers.LinkTypeLinuxSLL, Doc: "Linux cooked capture v1 with the VLAN tag libpcap puts back", VLAN: true,
		encap: func(eth []byte) []byte {
			return cat([]byte{0, sllPacketType(eth)}, be16(1), be16(6), eth[6:12], []byte{0, 0}, vlanTag(eth[12:14]), eth[14:])
		}},
	{Name: "sll2", Type: layers.LinkTypeLinuxSLL2, Doc: "Linux cooked capture v2 (tcpdump -i any, libpcap 1.10+)",
		encap: func(eth []byte) []byte {
			return cat(eth[12:14], []byte{0, 0}, be32(sllIfindex), be16(1), []byte{sllPacketType(eth), 6}, eth[6:12], []byte{0, 0}, eth[14:])
		}},
	{Name: "raw", Type: layers.LinkTypeRaw, Doc: "raw IP, LINKTYPE_RAW (101)",
		encap: func(eth []byte) []byte { return cat(eth[14:]) }},
	{Name: "raw12", Type: 12, Doc: "raw IP, DLT_RAW as most systems number it (12)",
		encap: func(eth []byte) []byte { return cat(eth[14:]) }},
	{Name: "raw14", Type: 14, Doc: "raw IP, DLT_RAW as OpenBSD numbers it (14)",
		encap: func(eth []byte) []byte { return cat(eth[14:]) }},
	{Name: "ipv4", Type: layers.LinkTypeIPv4, Doc: "raw IPv4 (228)", v4only: true,
		encap: func(eth []byte) []byte { return cat(eth[14:]) }},
	{Name: "ipv6", Type: layers.LinkTypeIPv6, Doc: "raw IPv6 (229)", v6only: true,
		encap: func(eth []byte) []byte { return cat(eth[14:]) }},
	{Name: "null", Type: layers.LinkTypeNull, Doc: "BSD loopback NULL from a little-endian macOS host (AF_INET6 30)",
		encap: func(eth []byte) []byte { return cat(le32(family(eth, 30)), eth[14:]) }},
	{Name: "null_freebsd", Type: layers.LinkTypeNull, Doc: "BSD loopback NULL from a little-endian FreeBSD host (AF_INET6 28)",
		encap: func(eth []byte) []byte { return cat(le32(family(eth, 28)), eth[14:]) }},
	{Name: "null_be", Type: layers.LinkTypeNull, Doc: "BSD loopback NULL from a big-endian NetBSD host (AF_INET6 24)",
		encap: func(eth []byte) []byte { return cat(be32(family(eth, 24)), eth[14:]) }},
	{Name: "loop", Type: layers.LinkTypeLoop, Doc: "OpenBSD loopback LOOP: the family in network order (AF_INET6 24)",
		encap: func(eth []byte) []byte { return cat(be32(family(eth, 24)), eth[14:]) }},
	{Name: "ppp", Type: layers.LinkTypePPP, Doc: "PPP without framing (RFC 1661)",
		encap: func(eth []byte) []byte { return cat(pppProto(eth, false), eth[14:]) }},
	{Name: "ppp_hdlc9", Type: layers.LinkTypePPP, Doc: "PPP with the HDLC-like address and control bytes (RFC 1662)",
		encap: func(eth []byte) []byte { return cat([]byte{0xff, 0x03}, pppProto(eth, false), eth[14:]) }},
	{Name: "ppp_pfc", Type: layers.LinkTypePPP, Doc: "PPP with a compressed (one-byte) protocol field",
		encap: func(eth []byte) []byte { return cat(pppProto(eth, true), eth[14:]) }},
	{Name: "ppp_hdlc", Type: layers.LinkTypePPP_HDLC, Doc: "PPP in HDLC-like framing (50)",
		encap: func(eth []byte) []byte { return cat([]byte{0xff, 0x03}, pppProto(eth, false), eth[14:]) }},
	{Name: "chdlc50", Type: layers.LinkTypePPP_HDLC, Doc: "Cisco HDLC filed under 50, as libpcap does",
		encap: func(eth []byte) []byte { return cat([]byte{0x0f, 0x00}, eth[12:]) }},
	{Name: "chdlc", Type: layers.LinkTypeC_HDLC, Doc: "Cisco HDLC (104)",
		encap: func(eth []byte) []byte { return cat([]byte{0x0f, 0x00}, eth[12:]) }},
}

// Links returns every link encoding, in a fixed order.
func Links() []Link { return links }

// LookupLink returns the link encoding called name.
func LookupLink(name string) (Link, bool) {
	for _, l := range links {
		if l.Name == name {
			return l, true
		}
	}
	return Link{}, false
}

// WritePcapLink writes frames (Ethernet, from Frames) as a classic pcap of
// the link's type.
func WritePcapLink(w io.Writer, frames []Frame, l Link) error {
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(Snaplen, l.Type); err != nil {
		return err
	}
	for _, f := range frames {
		data, err := l.Encapsulate(f.Data)
		if err != nil {
			return err
		}
		ci := gopacket.CaptureInfo{Timestamp: f.Time, CaptureLength: len(data), Length: len(data)}
		if err := pw.WritePacket(ci, data); err != nil {
			return err
		}
	}
	return nil
}

// WritePcapNGLinks writes frames as a pcapng with one interface per link
// of ifaces (named after it); pick says which interface frame i goes on.
// The section header names no host, so the bytes are the same everywhere.
func WritePcapNGLinks(w io.Writer, frames []Frame, ifaces []Link, pick func(i int, f Frame) int) error {
	if len(ifaces) == 0 {
		return fmt.Errorf("pcapng with no interface")
	}
	intf := func(l Link) pcapgo.NgInterface {
		return pcapgo.NgInterface{Name: l.Name, LinkType: l.Type, SnapLength: Snaplen, TimestampResolution: 9}
	}
	nw, err := pcapgo.NewNgWriterInterface(w, intf(ifaces[0]), pcapgo.NgWriterOptions{})
	if err != nil {
		return err
	}
	for _, l := range ifaces[1:] {
		if _, err := nw.AddInterface(intf(l)); err != nil {
			return err
		}
	}
	for i, f := range frames {
		k := pick(i, f)
		if k < 0 || k >= len(ifaces) {
			return fmt.Errorf("frame %d: interface %d of %d", i, k, len(ifaces))
		}
		data, err := ifaces[k].Encapsulate(f.Data)
		if err != nil {
			return err
		}
		ci := gopacket.CaptureInfo{Timestamp: f.Time, CaptureLength: len(data), Length: len(data), InterfaceIndex: k}
		if err := nw.WritePacket(ci, data); err != nil {
			return err
		}
	}
	return nw.Flush()
}

// The deep-match connection: a rule whose content sits in data segment
// DeepSegment of DeepSegments (after DeepSegment-1 benign ones) must fire
// however the capture carries it.
const (
	DeepMarker   = "XDPIDS-DEEP-MATCH"
	DeepSegment  = 100
	DeepSegments = 120
)

// DeepMatch returns the deep-match connection over IPv4 or IPv6: a client
// beyond the router opens a TCP connection to a protected server's port
// 8080, sends DeepSegments data segments (each ACKed by the server) of
// which only number DeepSegment carries DeepMarker, and closes it. It is
// not one of All: it has no golden EVE file, its tests run it through
// every link encoding instead.
func DeepMatch(ipv6 bool) Capture {
	name := "deep_match"
	cli, srv := netip.MustParseAddr("203.0.113.7"), netip.MustParseAddr("198.51.100.20")
	if ipv6 {
		name += "6"
		cli, srv = netip.MustParseAddr("2001:db8:bad:1::7"), netip.MustParseAddr("2001:db8:1::20")
	}
	doc := fmt.Sprintf("one TCP connection to port 8080: handshake, %d client data segments each ACKed, "+
		"%q only in segment %d, FIN close", DeepSegments, DeepMarker, DeepSegment)
	return Capture{Name: name, Doc: doc, build: func(b *builder) {
		c, t := b.dial(0, netip.AddrPortFrom(cli, b.rnd.ephemeral()), netip.AddrPortFrom(srv, 8080), wanRTT)
		for i := 1; i <= DeepSegments; i++ {
			line := fmt.Sprintf("segment %03d: nothing to see here\n", i)
			if i == DeepSegment {
				line = fmt.Sprintf("segment %03d: %s\n", i, DeepMarker)
			}
			// 200 bytes each, well under one MSS: one segment per line.
			data := []byte(line + strings.Repeat(".", 200-len(line)))
			t = c.client(t+time.Millisecond, data)
		}
		c.closeByClient(t+time.Millisecond, wanRTT)
	}}
}
