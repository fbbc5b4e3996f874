package detect

import (
	"net/netip"
	"testing"
	"time"

	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

// icmpFloods is icmp_flood's flood table.
func icmpFloods(cfg Config) []flood {
	ms := int64(time.Millisecond)
	return []flood{
		{name: "icmp echo flood from one source", n: cfg.ICMPFloodSrc,
			gen: func(i int) *decode.Packet { return icmp(attacker, victim, 8, 0, 1, t0+int64(i)*ms) },
			sig: alert.ICMPFloodSrc, subject: attacker, ttl: cfg.FloodBanTTL, detector: "icmp_flood", meta: "packets"},
		{name: "icmpv6 echo flood from one source", n: cfg.ICMPFloodSrc,
			gen: func(i int) *decode.Packet {
				return icmp(netip.MustParseAddr("2001:db8:bad::1"), netip.MustParseAddr("2001:db8::10"), 128, 0, 1, t0+int64(i)*ms)
			},
			sig: alert.ICMPFloodSrc, subject: netip.MustParseAddr("2001:db8:bad::1"), ttl: cfg.FloodBanTTL, detector: "icmp_flood", meta: "packets"},
		{name: "icmp error flood needs 10x", n: 10 * cfg.ICMPFloodSrc,
			gen: func(i int) *decode.Packet { return icmp(attacker, victim, 3, 1, 0, t0+int64(i)*ms/10) },
			sig: alert.ICMPFloodSrc, subject: attacker, ttl: cfg.FloodBanTTL, detector: "icmp_flood", meta: "packets"},
		{name: "icmpv6 error flood needs 10x", n: 10 * cfg.ICMPFloodSrc,
			gen: func(i int) *decode.Packet {
				return icmp(netip.MustParseAddr("2001:db8:bad::1"), netip.MustParseAddr("2001:db8::10"), 1, 4, 0, t0+int64(i)*ms/10)
			},
			sig: alert.ICMPFloodSrc, subject: netip.MustParseAddr("2001:db8:bad::1"), ttl: cfg.FloodBanTTL, detector: "icmp_flood", meta: "packets"},
		{name: "icmp flood to a destination", n: cfg.ICMPFloodDst,
			gen: func(i int) *decode.Packet {
				return icmp(nthAddr(100, i%cfg.FloodDstSources), victim, 8, 0, uint16(i), t0+int64(i)*ms/4)
			},
			sig: alert.ICMPFloodDst, subject: victim, isTarget: true, ttl: 0, detector: "icmp_flood", meta: "sources_at_least"},
	}
}

func TestICMPFlood(t *testing.T) {
	cfg := DefaultConfig()
	testFloods(t, cfg, icmpFloods(cfg))
}
