package detect

import (
	"net/netip"
	"strconv"
	"testing"

	"github.com/xdpids/xdpids/userspace/detect/alert"
)

// TestScanAlertsAgainOnMoreEvidence: a scan alert whose ban the responder
// refused for want of evidence (WantsMoreEvidence) alerts again each time
// the scanner's attempts double, with the evidence against the threshold;
// a scanner that stops at the threshold (a forged source) or whose ban was
// made does not.
func TestScanAlertsAgainOnMoreEvidence(t *testing.T) {
	cfg := DefaultConfig()
	for _, tc := range []struct {
		name       string
		horizontal bool
		attempts   int
		refuse     func(ev float64) bool // the responder asks for more at this evidence
		want       []int                 // the evidence (attempts) of each alert
	}{
		{"vertical, refused until the top tier", false, 1000, func(ev float64) bool { return ev < 64 }, []int{15, 30, 60, 120, 240, 480, 960}},
		{"vertical, banned at twice the threshold", false, 1000, func(ev float64) bool { return ev < 2 }, []int{15, 30}},
		{"vertical, banned at once", false, 1000, func(float64) bool { return false }, []int{15}},
		{"vertical, forged: stops at the threshold", false, 15, func(float64) bool { return true }, []int{15}},
		{"vertical, forged: stops short of twice", false, 29, func(float64) bool { return true }, []int{15}},
		{"horizontal, refused", true, 300, func(float64) bool { return true }, []int{25, 50, 100, 200}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, cfg)
			var evidence []float64
			refused := map[netip.Addr]bool{} // the responder's WantsMoreEvidence
			h.e = New(cfg, func(a *alert.Alert) {
				refused[a.Subject] = tc.refuse(a.Evidence)
				evidence = append(evidence, a.Evidence)
				h.alerts = append(h.alerts, *a)
			})
			h.e.SetWantMore(func(a netip.Addr) bool { return refused[a] })
			ts := t0
			for i := 1; i <= tc.attempts; i++ {
				ts += 1e6
				if tc.horizontal {
					h.feed(tcp(attacker, nthAddr(10, i), 40000, 445, fSYN, ts))
				} else {
					h.feed(tcp(attacker, victim, 40000, uint16(i), fSYN, ts))
				}
			}
			if len(h.alerts) != len(tc.want) {
				t.Fatalf("%d alerts (%s), want %d", len(h.alerts), h.sids(), len(tc.want))
			}
			thr := cfg.ScanVerticalPorts
			sig, set := alert.ScanVerticalTCP, "distinct_ports"
			if tc.horizontal {
				thr, sig, set = cfg.ScanHorizontalHosts, alert.ScanHorizontalTCP, "distinct_hosts"
			}
			for i, a := range h.alerts {
				if a.SID != sig.SID || a.Subject != attacker || a.Trust != alert.TrustForgeable {
					t.Errorf("alert %d: %d %v %s", i, a.SID, a.Subject, a.Trust)
				}
				if want := float64(tc.want[i]) / float64(thr); evidence[i] != want {
					t.Errorf("alert %d: evidence %v, want %v", i, evidence[i], want)
				}
				if a.Metadata[set] != strconv.Itoa(thr) {
					t.Errorf("alert %d: %s %q, want the set at the alert (%d)", i, set, a.Metadata[set], thr)
				}
				probes, ok := a.Metadata["probes"]
				if i == 0 && ok || i > 0 && probes != strconv.Itoa(tc.want[i]) {
					t.Errorf("alert %d: probes %q, want %d", i, probes, tc.want[i])
				}
			}
		})
	}
}

// TestMoreEvidenceEndsWithTheWindow: an entry's count past its alert
// starts over with its window; the next window alerts at the threshold.
func TestMoreEvidenceEndsWithTheWindow(t *testing.T) {
	cfg := DefaultConfig()
	h := newHarness(t, cfg)
	var evidence []float64
	h.e = New(cfg, func(a *alert.Alert) {
		evidence = append(evidence, a.Evidence)
	})
	h.e.SetWantMore(func(netip.Addr) bool { return true })
	ts := t0
	for i := 1; i <= 20; i++ {
		ts += 1e6
		h.feed(tcp(attacker, victim, 40000, uint16(i), fSYN, ts))
	}
	ts += int64(cfg.ScanWindow)
	for i := 1; i <= 20; i++ {
		ts += 1e6
		h.feed(tcp(attacker, victim, 41000, uint16(i), fSYN, ts))
	}
	if len(evidence) != 2 || evidence[0] != 1 || evidence[1] != 1 {
		t.Fatalf("evidence of the alerts %v, want [1 1]", evidence)
	}
}
