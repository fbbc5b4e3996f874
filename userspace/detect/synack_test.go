package detect

import (
	"testing"
	"time"

	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

// synAckFloods is synack_reflection's flood table.
func synAckFloods(cfg Config) []flood {
	ms := int64(time.Millisecond)
	return []flood{
		{name: "syn-ack reflection", n: cfg.SynAckReflect,
			gen: func(i int) *decode.Packet {
				return tcp(nthAddr(100, i%37), victim, 80, uint16(1024+i), fSYN|fACK, t0+int64(i)*ms)
			},
			sig: alert.SynAckReflect, subject: victim, isTarget: true, ttl: 0, detector: "synack_reflection", meta: "unsolicited_synacks"},
	}
}

func TestSynAckReflection(t *testing.T) {
	cfg := DefaultConfig()
	testFloods(t, cfg, synAckFloods(cfg))
}
