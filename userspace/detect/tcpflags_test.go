package detect

import (
	"fmt"
	"testing"

	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

func TestIllegalFlags(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags uint8
		sig   alert.Signature
	}{
		{"NULL", 0, alert.FlagsNull},
		{"NULL with ECE/CWR", decode.FlagECE | decode.FlagCWR, alert.FlagsNull},
		{"XMAS", fFIN | fPSH | fURG, alert.FlagsXmas},
		{"XMAS with everything", 0xff &^ (fSYN | fRST), alert.FlagsXmas},
		{"SYN+FIN", fSYN | fFIN, alert.FlagsSynFin},
		{"SYN+FIN+ACK", fSYN | fFIN | fACK, alert.FlagsSynFin},
		{"SYN+RST", fSYN | fRST, alert.FlagsSynRst},
		{"FIN without ACK", fFIN, alert.FlagsFinNoAck},
		{"FIN+PSH without ACK", fFIN | fPSH, alert.FlagsFinNoAck},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			h := newHarness(t, cfg)
			// Ten probes from one source within the suppression window.
			for i := range 10 {
				h.feed(tcp(attacker, victim, 40000, uint16(80+i), tc.flags, t0+int64(i)*1e9))
			}
			if n := h.count(tc.sig); n != 1 {
				t.Fatalf("%d alerts, want 1 per source per suppression window: %s", n, h.sids())
			}
			h.only(tc.sig)
			a := h.find(tc.sig)
			checkAlert(t, a, tc.sig, attacker, false, cfg.FlagsBanTTL, "tcp_flags")
			if a.Metadata["tcp_flags"] != fmt.Sprintf("0x%02x", tc.flags) {
				t.Errorf("metadata %v", a.Metadata)
			}
			// Another source: its own alert.
			h.feed(tcp(other, victim, 40000, 80, tc.flags, t0+20e9))
			if n := h.count(tc.sig); n != 2 {
				t.Fatalf("second source: %d alerts", n)
			}
			// The suppression window ends: the first source alerts again.
			h.feed(tcp(attacker, victim, 40001, 80, tc.flags, t0+int64(cfg.Suppress)))
			if n := h.count(tc.sig); n != 3 {
				t.Fatalf("after the suppression window: %d alerts", n)
			}
			if st := h.e.Stats(); st.Alerts != 3 || st.Suppressed != 9 {
				t.Errorf("stats %+v", st)
			}
		})
	}
	// Legal combinations never alert.
	h := newHarness(t, DefaultConfig())
	for i, fl := range []uint8{fSYN, fSYN | fACK, fACK, fPSH | fACK, fFIN | fACK, fRST, fRST | fACK, fFIN | fPSH | fACK, fURG | fACK | fPSH} {
		h.feed(tcp(attacker, victim, uint16(40000+i), 80, fl, t0+int64(i)))
	}
	if len(h.alerts) != 0 {
		t.Fatalf("legal flags alerted: %s", h.sids())
	}
}

func TestTCPWithoutHeaderIsNoNullScan(t *testing.T) {
	// A truncated TCP header (decode error, Family set, no L4): the flags
	// are unknown, not zero.
	h := newHarness(t, DefaultConfig())
	for i := range 5 {
		p := tcp(attacker, victim, 0, 0, 0, t0+int64(i))
		p.HasL4 = false
		h.feed(p)
	}
	// A tiny first fragment that does not hold the TCP header.
	p := tcp(attacker, victim, 0, 0, 0, t0+10)
	p.HasL4, p.Fragment = false, true
	h.feed(p)
	if len(h.alerts) != 0 {
		t.Fatalf("alerts for TCP packets without a TCP header: %s", h.sids())
	}
}
