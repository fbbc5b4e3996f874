package detect

import (
	"net/netip"
	"testing"
	"time"

	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

// dhcpFloods is dhcp_flood's flood table.
func dhcpFloods(cfg Config) []flood {
	ms := int64(time.Millisecond)
	return []flood{
		{name: "dhcp flood", n: cfg.DHCPFlood,
			gen: func(i int) *decode.Packet {
				p := udp(netip.IPv4Unspecified(), netip.MustParseAddr("255.255.255.255"), 68, 67, t0+int64(i)*ms*10, 300)
				return p
			},
			sig: alert.DHCPFlood, subject: netip.Addr{}, isTarget: true, ttl: 0, detector: "dhcp_flood", meta: "messages"},
	}
}

func TestDHCPFlood(t *testing.T) {
	cfg := DefaultConfig()
	testFloods(t, cfg, dhcpFloods(cfg))
}
