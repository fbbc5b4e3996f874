package detect

import (
	"net/netip"
	"testing"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/flow/flows"
)

func TestSuppressionLargeScan(t *testing.T) {
	cfg := DefaultConfig()
	h := newHarness(t, cfg)
	// nmap's default: 1000 ports, within a minute.
	for i := range 1000 {
		ts := t0 + int64(i)*6e7
		port := uint16(1 + i)
		h.feed(tcp(attacker, victim, 40000, port, fSYN, ts))
		h.feed(tcp(victim, attacker, port, 40000, fRST|fACK, ts+1))
	}
	if len(h.alerts) != 1 || h.alerts[0].SID != alert.ScanVerticalTCP.SID {
		t.Fatalf("%d alerts for a 1000-port scan: %s", len(h.alerts), h.sids())
	}
	if st := h.e.Stats(); st.Alerts != 1 {
		t.Errorf("stats %+v", st)
	}
	// Scan windows roll with packet time: probes spaced one window apart
	// never add up.
	h = newHarness(t, cfg)
	for i := range 100 {
		h.feed(tcp(attacker, victim, 40000, uint16(1+i), fSYN, t0+int64(i)*int64(cfg.ScanWindow)))
		h.feed(udp(attacker, victim, 40000, uint16(1+i), t0+int64(i)*int64(cfg.ScanWindow), 0))
		h.feed(tcp(attacker, nthAddr(10, i), 40000, 22, fSYN, t0+int64(i)*int64(cfg.ScanWindow)))
		h.feed(ipProto(attacker, victim, uint8(60+i), t0+int64(i)*int64(cfg.ScanWindow)))
	}
	if len(h.alerts) != 0 {
		t.Fatalf("alerts for probes one window apart: %s", h.sids())
	}
}

func TestSuppressionIsPerSignatureAndSubject(t *testing.T) {
	cfg := DefaultConfig()
	h := newHarness(t, cfg)
	// One source: a vertical scan, then a NULL probe: two signatures.
	for port := 1; port <= cfg.ScanVerticalPorts; port++ {
		h.feed(tcp(attacker, victim, 40000, uint16(port), fSYN, t0+int64(port)))
	}
	h.feed(tcp(attacker, victim, 40000, 9999, 0, t0+100))
	if h.count(alert.ScanVerticalTCP) != 1 || h.count(alert.FlagsNull) != 1 || len(h.alerts) != 2 {
		t.Fatalf("alerts: %s", h.sids())
	}
	// The same scan against another host, later in the same suppression
	// window: the subject already alerted on this signature.
	for port := 1; port <= cfg.ScanVerticalPorts; port++ {
		h.feed(tcp(attacker, other, 40000, uint16(port), fSYN, t0+1e9+int64(port)))
	}
	if h.count(alert.ScanVerticalTCP) != 1 {
		t.Fatalf("alerts: %s", h.sids())
	}
	if st := h.e.Stats(); st.Suppressed != 1 {
		t.Errorf("Suppressed %d", st.Suppressed)
	}
}

func TestAlertFieldsVLANAndIPv6(t *testing.T) {
	cfg := DefaultConfig()
	h := newHarness(t, cfg)
	a6, v6 := netip.MustParseAddr("2001:db8:bad::66"), netip.MustParseAddr("2001:db8::10")
	p := tcp(a6, v6, 40000, 80, fFIN|fPSH|fURG, t0)
	p.VLAN = 42
	p.Payload = []byte("probe")
	h.feed(p)
	a := h.find(alert.FlagsXmas)
	checkAlert(t, a, alert.FlagsXmas, a6, false, cfg.FlagsBanTTL, "tcp_flags")
	if a.VLAN != 42 || string(a.Payload) != "probe" || a.Src != a6 || a.Dst != v6 || a.FlowID != h.last.ID {
		t.Errorf("alert %+v", a)
	}
	if a.Community != flows.CommunityID(a6, v6, 40000, 80, 6) {
		t.Errorf("community_id %s", a.Community)
	}
}

// TestKernelTrustBits: the kernel's verified bit and hop-count mismatch of
// the sample reach the alert against its source, not one whose subject is
// the target.
func TestKernelTrustBits(t *testing.T) {
	for _, tc := range []struct {
		name      string
		trust     uint32
		verified  bool
		wantSpoof bool
	}{
		{"unverified", 0, false, false},
		{"verified", bpf.TrustVerified, true, false},
		{"hop mismatch", bpf.TrustVerified | bpf.TrustHopMismatch, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, DefaultConfig())
			p := tcp(attacker, victim, 40000, 80, fSYN|fFIN, t0)
			p.TTL = 52
			h.feedTrust(p, tc.trust)
			a := h.find(alert.FlagsSynFin)
			checkAlert(t, a, alert.FlagsSynFin, attacker, false, h.cfg.FlagsBanTTL, "tcp_flags")
			if a.SourceVerified != tc.verified || (a.SpoofSuspected != "") != tc.wantSpoof {
				t.Fatalf("source verified %v spoof %q", a.SourceVerified, a.SpoofSuspected)
			}
			if tc.wantSpoof && a.SpoofSuspected != "hop count 52" {
				t.Fatalf("spoof reason %q", a.SpoofSuspected)
			}
		})
	}
}
