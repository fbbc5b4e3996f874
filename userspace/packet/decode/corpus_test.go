package decode

import (
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/xdpids/xdpids/internal/testenv"
)

// TestCorpusTunnels decodes the suricata-verify captures of tunnels and
// checks each frame against what tcpdump -vv shows of it.
func TestCorpusTunnels(t *testing.T) {
	sv := testenv.Corpus(t, "suricata-verify")
	type want struct {
		src, dst     string
		proto        uint8
		sport, dport uint16
		encap        Encap
		tunnel       bool
		vlan         uint16
		payload      string // "": not checked
		icmpType     uint8
	}
	erspanOuter := want{src: "2.2.2.2", dst: "1.1.1.1", proto: 47} // CDP inside: not IP
	echo := want{src: "23.0.0.2", dst: "23.0.0.3", proto: ProtoICMP, encap: EncapGRE | EncapERSPAN2, tunnel: true, vlan: 23, icmpType: 8}
	reply := want{src: "23.0.0.3", dst: "23.0.0.2", proto: ProtoICMP, encap: EncapGRE | EncapERSPAN2, tunnel: true, vlan: 23, icmpType: 0}
	nsh := want{src: "10.0.0.1", dst: "10.0.0.2", proto: ProtoUDP, sport: 52377, dport: 52464, encap: EncapNSH, payload: "data\n\n"}
	for _, tc := range []struct {
		test   string
		frames []want
	}{
		{"decode-erspan-typeII-01", []want{erspanOuter, erspanOuter, echo, reply, echo, reply}},
		{"decode-nsh-type1", []want{nsh}},
		{"decode-nsh-type2", []want{nsh}},
	} {
		t.Run(tc.test, func(t *testing.T) {
			f, err := os.Open(filepath.Join(sv, tc.test, "input.pcap"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r, err := pcapgo.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			d := NewDecoder()
			for i := 0; ; i++ {
				data, ci, err := r.ReadPacketData()
				if errors.Is(err, io.EOF) {
					if i != len(tc.frames) {
						t.Fatalf("%d frames, want %d", i, len(tc.frames))
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if i >= len(tc.frames) {
					t.Fatalf("more than %d frames", len(tc.frames))
				}
				w := tc.frames[i]
				var p Packet
				p.WireLen, p.CapLen = uint32(ci.Length), uint32(ci.CaptureLength)
				if err := d.Decode(data, &p); err != nil {
					t.Fatalf("frame %d: %v", i+1, err)
				}
				if p.Src != netip.MustParseAddr(w.src) || p.Dst != netip.MustParseAddr(w.dst) || p.Proto != w.proto ||
					(w.proto == ProtoUDP || w.proto == ProtoTCP) && (p.SrcPort != w.sport || p.DstPort != w.dport) ||
					w.proto == ProtoICMP && p.ICMPType != w.icmpType ||
					p.Encap != w.encap || p.Tunnel != w.tunnel || p.VLAN != w.vlan ||
					w.payload != "" && string(p.Payload) != w.payload {
					t.Errorf("frame %d: got %v:%d -> %v:%d proto %d encap %#x tunnel %v vlan %d payload %q, want %+v",
						i+1, p.Src, p.SrcPort, p.Dst, p.DstPort, p.Proto, p.Encap, p.Tunnel, p.VLAN, p.Payload, w)
				}
				if w.tunnel && (p.TunnelSrc != netip.MustParseAddr("2.2.2.2") || p.TunnelProto != 47) {
					t.Errorf("frame %d: tunnel %v proto %d", i+1, p.TunnelSrc, p.TunnelProto)
				}
			}
		})
	}
}
