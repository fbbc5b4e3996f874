package detect

import (
	"testing"
	"time"

	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

// udpFloods is udp_flood's flood table.
func udpFloods(cfg Config) []flood {
	ms := int64(time.Millisecond)
	return []flood{
		{name: "udp flood from one source", n: cfg.UDPFloodSrc,
			gen: func(i int) *decode.Packet { return udp(attacker, victim, 40000, 9, t0+int64(i)*ms/10, 512) },
			sig: alert.UDPFloodSrc, subject: attacker, ttl: cfg.FloodBanTTL, detector: "udp_flood", meta: "packets"},
		{name: "udp flood to a destination", n: cfg.UDPFloodDst,
			gen: func(i int) *decode.Packet {
				// Source port incrementing, as hping3 --rand-source: many
				// sources on one source port would also be a reflection.
				return udp(nthAddr(100, i%cfg.FloodDstSources), victim, uint16(1024+i), 9, t0+int64(i)*ms/20, 512)
			},
			sig: alert.UDPFloodDst, subject: victim, isTarget: true, ttl: 0, detector: "udp_flood", meta: "sources_at_least"},
	}
}

func TestUDPFlood(t *testing.T) {
	cfg := DefaultConfig()
	testFloods(t, cfg, udpFloods(cfg))
}
