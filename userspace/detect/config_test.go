package detect

import (
	"testing"
	"time"
)

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"suppress", c.Suppress, 5 * time.Minute},
		{"scan window", c.ScanWindow, 5 * time.Minute},
		{"vertical", c.ScanVerticalPorts, 15},
		{"horizontal", c.ScanHorizontalHosts, 25},
		{"syn src", c.SynFloodSrc, 200},
		{"syn dst", c.SynFloodDst, 2500},
		{"syn sources", c.SynFloodSources, 100},
		{"udp src", c.UDPFloodSrc, 5000},
		{"icmp src", c.ICMPFloodSrc, 500},
		{"amp reflectors", c.AmpReflectors, 5},
		{"brute", c.BruteConnections, 10},
		{"brute ssh", c.BrutePorts[22], "ssh"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}
