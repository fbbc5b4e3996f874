package detect

import (
	"testing"

	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

func TestICMPRecon(t *testing.T) {
	cfg := DefaultConfig()
	for _, typ := range []uint8{13, 15, 17} {
		h := newHarness(t, cfg)
		for i := range 5 {
			h.feed(icmp(attacker, victim, typ, 0, uint16(i), t0+int64(i)*1e9))
		}
		if h.count(alert.ICMPRecon) != 1 {
			t.Fatalf("type %d: %s", typ, h.sids())
		}
		a := h.find(alert.ICMPRecon)
		checkAlert(t, a, alert.ICMPRecon, attacker, false, 0, "icmp_recon")
		if a.SrcPort != uint16(typ) || a.DstPort != 0 || a.Proto != decode.ProtoICMP {
			t.Errorf("icmp type/code in ports: %d %d", a.SrcPort, a.DstPort)
		}
	}
	h := newHarness(t, cfg)
	for _, typ := range []uint8{0, 8, 3, 11, 14, 16, 18} {
		h.feed(icmp(attacker, victim, typ, 0, 1, t0))
	}
	if len(h.alerts) != 0 {
		t.Fatalf("alerts: %s", h.sids())
	}
}
