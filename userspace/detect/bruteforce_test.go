package detect

import (
	"strconv"
	"testing"

	"github.com/xdpids/xdpids/userspace/detect/alert"
)

func TestBruteForce(t *testing.T) {
	cfg := DefaultConfig()
	for _, tc := range []struct {
		port    uint16
		sig     *alert.Signature
		service string
	}{
		{22, &alert.BruteSSH, "ssh"},
		{21, &alert.BruteFTP, "ftp"},
		{23, &alert.BruteTelnet, "telnet"},
		{3389, &alert.BruteRDP, "rdp"},
		{3306, &alert.BruteOther, "mysql"},
		{5432, &alert.BruteOther, "postgresql"},
		{8080, nil, ""},
		{443, nil, ""},
	} {
		t.Run(strconv.Itoa(int(tc.port)), func(t *testing.T) {
			h := newHarness(t, cfg)
			// Full connections (login attempts), spread over the window.
			conn := func(i int) {
				ts := t0 + int64(i)*int64(cfg.BruteWindow)/int64(cfg.BruteConnections+1)
				sp := uint16(50000 + i)
				h.feed(tcp(attacker, victim, sp, tc.port, fSYN, ts))
				h.feed(tcp(victim, attacker, tc.port, sp, fSYN|fACK, ts+1))
				h.feed(tcp(attacker, victim, sp, tc.port, fACK, ts+2))
				h.feed(tcp(attacker, victim, sp, tc.port, fFIN|fACK, ts+3))
				h.feed(tcp(victim, attacker, tc.port, sp, fFIN|fACK, ts+4))
			}
			for i := 0; i < cfg.BruteConnections-1; i++ {
				conn(i)
			}
			if len(h.alerts) != 0 {
				t.Fatalf("alert at %d connections: %s", cfg.BruteConnections-1, h.sids())
			}
			conn(cfg.BruteConnections - 1)
			if tc.sig == nil {
				for i := cfg.BruteConnections; i < 3*cfg.BruteConnections; i++ {
					conn(i)
				}
				if len(h.alerts) != 0 {
					t.Fatalf("alert for port %d: %s", tc.port, h.sids())
				}
				return
			}
			h.only(*tc.sig)
			a := h.find(*tc.sig)
			checkAlert(t, a, *tc.sig, attacker, false, cfg.BruteBanTTL, "brute_force")
			if a.Metadata["service"] != tc.service || a.Metadata["connections"] != "10" {
				t.Errorf("metadata %v", a.Metadata)
			}
		})
	}
	// Connections spaced wider than the window never add up.
	h := newHarness(t, cfg)
	for i := range 3 * cfg.BruteConnections {
		h.feed(tcp(attacker, victim, uint16(50000+i), 22, fSYN, t0+int64(i)*int64(cfg.BruteWindow)))
	}
	if len(h.alerts) != 0 {
		t.Fatalf("alerts for connections %v apart: %s", cfg.BruteWindow, h.sids())
	}
}
