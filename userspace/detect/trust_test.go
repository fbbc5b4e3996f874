package detect

import (
	"testing"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/userspace/detect/alert"
)

// TestBruteForceTrust: brute force is verified evidence when the kernel
// holds its source verified with this packet's hop count, forgeable
// otherwise; a scan from a verified source stays forgeable.
func TestBruteForceTrust(t *testing.T) {
	for _, tc := range []struct {
		name  string
		trust uint32
		want  string
	}{
		{"unverified", 0, alert.TrustForgeable},
		{"verified", bpf.TrustVerified, alert.TrustVerified},
		{"verified by a handshake", bpf.TrustVerified | bpf.TrustHandshake, alert.TrustVerified},
		{"hop mismatch", bpf.TrustVerified | bpf.TrustHopMismatch, alert.TrustForgeable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			h := newHarness(t, cfg)
			for i := range cfg.BruteConnections {
				ts := t0 + int64(i)*int64(cfg.BruteWindow)/int64(cfg.BruteConnections+1)
				sp := uint16(50000 + i)
				h.feedTrust(tcp(attacker, victim, sp, 22, fSYN, ts), tc.trust)
				h.feedTrust(tcp(victim, attacker, 22, sp, fSYN|fACK, ts+1), 0)
				h.feedTrust(tcp(attacker, victim, sp, 22, fACK, ts+2), tc.trust)
			}
			a := h.find(alert.BruteSSH)
			if a == nil || a.Subject != attacker || a.BanTTLNs != int64(cfg.BruteBanTTL) {
				t.Fatalf("brute force alert %+v, want one against %s", a, attacker)
			}
			if a.Trust != tc.want {
				t.Errorf("brute force trust %q, want %q", a.Trust, tc.want)
			}
		})
	}
	// a vertical SYN scan from a verified source: forgeable evidence
	h := newHarness(t, DefaultConfig())
	for port := 1; port <= 100; port++ {
		h.feedTrust(tcp(attacker, victim, 40000, uint16(port), fSYN, t0+int64(port)*1e6), bpf.TrustVerified)
	}
	for _, a := range h.alerts {
		if a.Trust != alert.TrustForgeable {
			t.Errorf("%s from a verified source: trust %q, want forgeable", a.Detector, a.Trust)
		}
	}
	if len(h.alerts) == 0 {
		t.Errorf("no scan alert")
	}
}
