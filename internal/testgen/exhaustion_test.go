package testgen

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// TestLiveLoad: a live load's frames carry the given MACs and victim,
// and sources only from the given prefix, spread over the span; prefixes
// outside the benchmarking range or too small are refused.
func TestLiveLoad(t *testing.T) {
	src, dst := net.HardwareAddr{2, 0, 0, 0, 0, 1}, net.HardwareAddr{2, 0, 0, 0, 0, 2}
	victim := netip.MustParseAddr("198.18.2.1")
	for _, tc := range []struct {
		name    string
		frames  int
		sources int
	}{
		{"exhaust_forged_scanners", ForgedScanners * ForgedScannerPorts, ForgedScanners},
		{"exhaust_ack_scan", ForgedSources * 8, ForgedSources},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := Live{Victim: victim, SrcMAC: src, DstMAC: dst, Sources: netip.MustParsePrefix("198.19.0.0/16"), Span: 3 * time.Second}
			frames, err := LiveLoad(tc.name, l)
			if err != nil {
				t.Fatal(err)
			}
			if len(frames) != tc.frames {
				t.Fatalf("%d frames, want %d", len(frames), tc.frames)
			}
			seen := map[netip.Addr]bool{}
			for _, f := range frames {
				p := gopacket.NewPacket(f.Data, layers.LayerTypeEthernet, gopacket.Default)
				eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
				ip := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
				s, _ := netip.AddrFromSlice(ip.SrcIP)
				d, _ := netip.AddrFromSlice(ip.DstIP)
				if eth.SrcMAC.String() != src.String() || eth.DstMAC.String() != dst.String() || d != victim || !l.Sources.Contains(s) {
					t.Fatalf("frame %v > %v, %v > %v", eth.SrcMAC, eth.DstMAC, s, d)
				}
				seen[s] = true
			}
			if len(seen) != tc.sources {
				t.Errorf("%d sources, want %d", len(seen), tc.sources)
			}
			if span := frames[len(frames)-1].Time.Sub(frames[0].Time); span > l.Span || span < l.Span*9/10 {
				t.Errorf("load spans %v, want about %v", span, l.Span)
			}
		})
	}
	for _, p := range []string{"203.0.113.0/24", "198.19.255.0/24", "2001:db8::/32"} {
		if _, err := LiveLoad("exhaust_ack_scan", Live{Victim: victim, SrcMAC: src, DstMAC: dst, Sources: netip.MustParsePrefix(p)}); err == nil {
			t.Errorf("sources %s accepted", p)
		}
	}
}
