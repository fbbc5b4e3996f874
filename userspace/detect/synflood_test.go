package detect

import (
	"testing"
	"time"

	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

func TestSynFloodCompletedHandshakes(t *testing.T) {
	cfg := DefaultConfig()
	// A busy client completes its handshakes: no flood, however many.
	h := newHarness(t, cfg)
	for i := range 2 * cfg.SynFloodSrc {
		ts := t0 + int64(i)*1e6
		h.feed(tcp(attacker, victim, uint16(1024+i), 80, fSYN, ts))
		h.feed(tcp(victim, attacker, 80, uint16(1024+i), fSYN|fACK, ts+1))
		h.feed(tcp(attacker, victim, uint16(1024+i), 80, fACK, ts+2))
	}
	if len(h.alerts) != 0 {
		t.Fatalf("alerts for completed handshakes: %s", h.sids())
	}
	// Most (90%) complete, ingress only (no SYN-ACK seen).
	h = newHarness(t, cfg)
	for i := range 2 * cfg.SynFloodSrc {
		ts := t0 + int64(i)*1e6
		h.feed(tcp(attacker, victim, uint16(1024+i), 80, fSYN, ts))
		if i%10 != 0 {
			h.feed(tcp(attacker, victim, uint16(1024+i), 80, fACK, ts+2))
		}
	}
	if len(h.alerts) != 0 {
		t.Fatalf("alerts with 90%% completed: %s", h.sids())
	}
	// A busy server: many clients, most complete.
	h = newHarness(t, cfg)
	for i := range cfg.SynFloodDst + 100 {
		ts := t0 + int64(i)*1e6
		src := nthAddr(100, i%(2*cfg.SynFloodSources))
		h.feed(tcp(src, victim, uint16(1024+i), 443, fSYN, ts))
		if i%4 != 0 {
			h.feed(tcp(src, victim, uint16(1024+i), 443, fACK, ts+2))
		}
	}
	if len(h.alerts) != 0 {
		t.Fatalf("alerts for a busy server: %s", h.sids())
	}
}

// synFloods is syn_flood's flood table.
func synFloods(cfg Config) []flood {
	ms := int64(time.Millisecond)
	return []flood{
		{name: "syn flood from one source", n: cfg.SynFloodSrc,
			gen: func(i int) *decode.Packet {
				return tcp(attacker, victim, uint16(1024+i), 80, fSYN, t0+int64(i)*ms*int64(cfg.FloodWindow/time.Second)*900/int64(cfg.SynFloodSrc))
			},
			sig: alert.SynFloodSrc, subject: attacker, ttl: cfg.FloodBanTTL, detector: "syn_flood", meta: "syns"},
		{name: "syn flood, one source port", n: cfg.SynFloodSrc,
			gen: func(i int) *decode.Packet { return tcp(attacker, victim, 1024, 80, fSYN, t0+int64(i)*ms) },
			sig: alert.SynFloodSrc, subject: attacker, ttl: cfg.FloodBanTTL, detector: "syn_flood", meta: "completed"},
		{name: "spoofed syn flood to a destination", n: cfg.SynFloodDst,
			gen: func(i int) *decode.Packet {
				return tcp(nthAddr(100, i%cfg.SynFloodSources), victim, uint16(1024+i), 443, fSYN, t0+int64(i)*ms)
			},
			sig: alert.SynFloodDst, subject: victim, isTarget: true, ttl: 0, detector: "syn_flood", meta: "sources_at_least"},
	}
}

func TestSynFlood(t *testing.T) {
	cfg := DefaultConfig()
	testFloods(t, cfg, synFloods(cfg))
}
