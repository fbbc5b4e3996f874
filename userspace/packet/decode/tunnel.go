package decode

import (
	"encoding/binary"
	"errors"

	"github.com/gopacket/gopacket/layers"
)

// The tunnels, with Suricata's checks (its decode-gre.c, decode-erspan.c,
// decode-vxlan.c, decode-geneve.c, decode-teredo.c, decode-mpls.c,
// decode-nsh.c): a header that fails them is not decapsulated, and the
// outer packet is what Decode returns. Where gopacket has a DecodingLayer
// (GRE, ERSPAN II, VXLAN) it decodes the header; Geneve, ERSPAN III, MPLS
// and NSH are read here, each said why.

const (
	ethernetTypeNSH     layers.EthernetType = 0x894f
	ethernetTypeERSPAN3 layers.EthernetType = 0x22eb

	portVXLAN  = 4789
	portGeneve = 6081
	portTeredo = 3544
)

var (
	errMPLSShort   = errors.New("MPLS label stack truncated")
	errNSHShort    = errors.New("NSH header truncated")
	errERSPANShort = errors.New("ERSPAN type III header truncated")
)

// udpNext: VXLAN on destination port 4789 (RFC 7348, as Suricata), Geneve
// and Teredo on either port; a Teredo datagram must carry a sane IPv6
// packet filling it, since nothing else says it is Teredo.
func (d *Decoder) udpNext(p *Packet) ([]byte, step, error) {
	u := &d.udp
	switch {
	case u.DstPort == portVXLAN:
		return u.Payload, stepVXLAN, nil
	case u.SrcPort == portGeneve || u.DstPort == portGeneve:
		return u.Payload, stepGeneve, nil
	case u.SrcPort == portTeredo || u.DstPort == portTeredo:
		inner, ok := teredoIPv6(u.Payload, int(u.Length))
		if !ok {
			return nil, stepDone, nil
		}
		if err := d.encap(p, EncapTeredo); err != nil {
			return nil, stepDone, err
		}
		return inner, stepIPv6, nil
	}
	return nil, stepDone, nil
}

// teredoIPv6 returns the IPv6 packet of a Teredo payload b (udpLen: the
// UDP length field, so that a capture cut by its snap length still
// decodes): after an optional origin indication, an IPv6 header with a
// hop limit, not a bare hop-by-hop header, whose length fills the
// datagram (Suricata's heuristic).
func teredoIPv6(b []byte, udpLen int) ([]byte, bool) {
	n := udpLen - 8
	if udpLen == 0 {
		n = len(b)
	}
	if n < 40 || len(b) < 40 {
		return nil, false
	}
	start := 0
	if b[0] == 0 {
		// 0x0000: origin indication (8 bytes); 0x0001: authentication,
		// a negotiation rather than a tunnelled packet.
		if b[1] != 0 || n < 8+40 || len(b) < 8+40 {
			return nil, false
		}
		start = 8
	}
	h := b[start:]
	if h[0]>>4 != 6 || h[7] == 0 {
		return nil, false
	}
	plen := int(binary.BigEndian.Uint16(h[4:6]))
	if h[6] == 0 && plen < 8 {
		return nil, false
	}
	if n != start+40+plen {
		return nil, false
	}
	return h, true
}

func (d *Decoder) vxlanStep(data []byte, p *Packet) ([]byte, step, error) {
	if len(data) < 8+14 || d.vxlan.DecodeFromBytes(data, nilDF) != nil {
		return nil, stepDone, nil
	}
	// The I flag, and every reserved bit zero (Suricata's default
	// reserved-bits-check: strict).
	h := d.vxlan.Contents
	if !d.vxlan.ValidIDFlag || h[0]&0xf7 != 0 || h[1] != 0 || h[2] != 0 || h[3] != 0 || h[7] != 0 {
		return nil, stepDone, nil
	}
	if err := d.encap(p, EncapVXLAN); err != nil {
		return nil, stepDone, err
	}
	return d.vxlan.Payload, stepEthernet, nil
}

// geneveStep reads the Geneve header here: gopacket's Geneve layer
// allocates two objects per option and keeps its offset in a byte, which
// wraps on long option lists.
func (d *Decoder) geneveStep(data []byte, p *Packet) ([]byte, step, error) {
	if len(data) < 8 {
		return nil, stepDone, nil
	}
	optLen := int(data[0]&0x3f) * 4
	if len(data) < 8+optLen || data[0]>>6 != 0 || data[1]&0x3f != 0 || data[7] != 0 {
		return nil, stepDone, nil
	}
	// The options must add up to the length in the fixed header.
	for o := data[8 : 8+optLen]; len(o) > 0; {
		if len(o) < 4 {
			return nil, stepDone, nil
		}
		n := 4 + int(o[3]&0x1f)*4
		if n > len(o) {
			return nil, stepDone, nil
		}
		o = o[n:]
	}
	var next step
	switch layers.EthernetType(binary.BigEndian.Uint16(data[2:4])) {
	case layers.EthernetTypeIPv4:
		next = stepIPv4
	case layers.EthernetTypeIPv6:
		next = stepIPv6
	case layers.EthernetTypeTransparentEthernetBridging:
		next = stepEthernet
	default:
		return nil, stepDone, nil
	}
	if err := d.encap(p, EncapGeneve); err != nil {
		return nil, stepDone, err
	}
	return data[8+optLen:], next, nil
}

// greStep: GRE version 0 without routing (RFC 2784; the deprecated routing
// field, which gopacket decodes into one allocated struct per entry, is
// not decapsulated), carrying IP, Ethernet (transparent bridging, ERSPAN),
// a VLAN tag or MPLS.
func (d *Decoder) greStep(data []byte, p *Packet) ([]byte, step, error) {
	if len(data) >= 2 && (data[0]&0x40 != 0 || data[0]&0x07 != 0 || data[1] != 0) {
		// Routing present, recursion control, reserved flags or a version
		// other than 0 (version 1 is PPTP's PPP, not decoded).
		return nil, stepDone, nil
	}
	g := &d.gre
	if err := g.DecodeFromBytes(data, nilDF); err != nil {
		return nil, stepDone, err
	}
	var next step
	e := EncapGRE
	switch g.Protocol {
	case layers.EthernetTypeIPv4:
		next = stepIPv4
	case layers.EthernetTypeIPv6:
		next = stepIPv6
	case layers.EthernetTypeTransparentEthernetBridging:
		next = stepEthernet
	case layers.EthernetTypeDot1Q:
		next = stepDot1Q
	case layers.EthernetTypeMPLSUnicast, layers.EthernetTypeMPLSMulticast:
		next = stepMPLS
	case layers.EthernetTypeERSPAN:
		// Type I has no sequence number and no ERSPAN header: the mirrored
		// frame follows GRE; type II has both (Suricata tells them apart
		// by the sequence bit alone).
		if g.SeqPresent {
			e, next = e|EncapERSPAN2, stepERSPAN2
		} else {
			e, next = e|EncapERSPAN1, stepEthernet
		}
	case ethernetTypeERSPAN3:
		e, next = e|EncapERSPAN3, stepERSPAN3
	default:
		return nil, stepDone, nil
	}
	if err := d.encap(p, e); err != nil {
		return nil, stepDone, err
	}
	return g.Payload, next, nil
}

// erspan2Step: version 1 only, as Suricata; a VLAN in the header is one
// more of the packet's VLANs.
func (d *Decoder) erspan2Step(data []byte, p *Packet) ([]byte, step, error) {
	h := &d.erspan
	if err := h.DecodeFromBytes(data, nilDF); err != nil {
		return nil, stepDone, err
	}
	if h.Version != layers.ERSPANIIVersion {
		return nil, stepDone, nil
	}
	if h.VLANIdentifier != 0 {
		p.addVLAN(h.VLANIdentifier)
	}
	return h.Payload, stepEthernet, nil
}

// erspan3Step reads the ERSPAN type III header here (gopacket has type II
// only): 12 bytes, 8 more with the O flag (platform-specific subheader);
// version 2; frame type 0 (Ethernet) is decapsulated.
func erspan3Step(data []byte, p *Packet) ([]byte, step, error) {
	if len(data) < 12 {
		return nil, stepDone, errERSPANShort
	}
	if data[0]>>4 != 2 || (data[10]>>2)&0x1f != 0 {
		return nil, stepDone, nil
	}
	n := 12
	if data[11]&0x01 != 0 {
		n += 8
	}
	if len(data) < n {
		return nil, stepDone, errERSPANShort
	}
	if vlan := binary.BigEndian.Uint16(data[0:2]) & 0x0fff; vlan != 0 {
		p.addVLAN(vlan)
	}
	return data[n:], stepEthernet, nil
}

// mplsStep reads the label stack here (gopacket's MPLS layer is no
// DecodingLayer and allocates one layer per label). After the bottom
// label: explicit null labels say IPv4 (0) or IPv6 (2); other reserved
// labels are not decoded; else the first nibble guesses IPv4 (4), IPv6
// (6) or an Ethernet pseudowire behind a 4-byte control word (0), as
// Suricata does.
func (d *Decoder) mplsStep(data []byte, p *Packet) ([]byte, step, error) {
	if err := d.encap(p, EncapMPLS); err != nil {
		return nil, stepDone, err
	}
	for {
		if len(data) < 4 {
			return nil, stepDone, errMPLSShort
		}
		shim := binary.BigEndian.Uint32(data)
		data = data[4:]
		if shim&0x100 == 0 {
			continue
		}
		switch label := shim >> 12; {
		case label == 0:
			return data, stepIPv4, nil
		case label == 2:
			return data, stepIPv6, nil
		case label < 16:
			return nil, stepDone, nil
		}
		if len(data) == 0 {
			return nil, stepDone, errMPLSShort
		}
		switch data[0] >> 4 {
		case 4:
			return data, stepIPv4, nil
		case 6:
			return data, stepIPv6, nil
		case 0:
			if len(data) < 4 {
				return nil, stepDone, errMPLSShort
			}
			return data[4:], stepEthernet, nil
		}
		return nil, stepDone, nil
	}
}

// nshStep reads the Network Service Header here (gopacket has none): the
// base header (version 0, length in 4-byte words, MD type 1 of 24 bytes or
// MD type 2) and the service path header; next protocol 1 IPv4, 2 IPv6,
// 3 Ethernet, 5 MPLS (RFC 8300; Suricata's checks).
func (d *Decoder) nshStep(data []byte, p *Packet) ([]byte, step, error) {
	if len(data) < 8 {
		return nil, stepDone, errNSHShort
	}
	if data[0]>>6 != 0 {
		return nil, stepDone, nil
	}
	n := int(binary.BigEndian.Uint16(data[0:2])&0x3f) * 4
	if n >= len(data) {
		return nil, stepDone, errNSHShort
	}
	switch data[2] & 0x0f {
	case 1:
		if n != 24 {
			return nil, stepDone, nil
		}
	case 2:
		if n < 8 {
			return nil, stepDone, nil
		}
	default:
		return nil, stepDone, nil
	}
	var next step
	switch data[3] {
	case 1:
		next = stepIPv4
	case 2:
		next = stepIPv6
	case 3:
		next = stepEthernet
	case 5:
		next = stepMPLS
	default:
		return nil, stepDone, nil
	}
	if err := d.encap(p, EncapNSH); err != nil {
		return nil, stepDone, err
	}
	return data[n:], next, nil
}
