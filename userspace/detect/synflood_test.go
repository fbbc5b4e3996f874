package detect

import (
	"testing"
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
