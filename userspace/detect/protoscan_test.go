package detect

import (
	"testing"

	"github.com/xdpids/xdpids/userspace/detect/alert"
)

func TestIPProtocolScan(t *testing.T) {
	cfg := DefaultConfig()
	h := newHarness(t, cfg)
	// nmap -sO: protocols other than TCP, UDP and ICMP.
	protos := []uint8{0, 2, 3, 4, 41, 47, 50, 51, 89, 103, 112, 132}
	for i, pr := range protos[:cfg.ScanIPProtos-1] {
		h.feed(ipProto(attacker, victim, pr, t0+int64(i)*1e6))
		h.feed(ipProto(attacker, victim, pr, t0+int64(i)*1e6+1)) // same flow: not new
	}
	if len(h.alerts) != 0 {
		t.Fatalf("alert at %d protocols: %s", cfg.ScanIPProtos-1, h.sids())
	}
	h.feed(ipProto(attacker, victim, protos[cfg.ScanIPProtos-1], t0+1e9))
	h.only(alert.ScanIPProto)
	a := h.find(alert.ScanIPProto)
	checkAlert(t, a, alert.ScanIPProto, attacker, false, cfg.ScanBanTTL, "protocol_scan")
	if a.Metadata["distinct_protocols"] != "10" {
		t.Errorf("metadata %v", a.Metadata)
	}
}
