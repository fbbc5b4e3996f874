package detect

import (
	"net/netip"
	"testing"

	"github.com/xdpids/xdpids/userspace/detect/alert"
)

func TestARPSweep(t *testing.T) {
	cfg := DefaultConfig()
	sender := netip.MustParseAddr("192.0.2.66")
	h := newHarness(t, cfg)
	for i := 1; i < cfg.ARPSweepHosts; i++ {
		h.e.ObserveARP(arpRequest(sender, nthAddr(192, i), t0+int64(i)*1e6))
		h.e.ObserveARP(arpRequest(sender, nthAddr(192, i), t0+int64(i)*1e6+1)) // asked twice: one target
	}
	// Replies, gratuitous ARP and non-IPv4 ARP are no sweep.
	for i := range 3 * cfg.ARPSweepHosts {
		rep := arpRequest(sender, nthAddr(193, i), t0+2e9)
		rep.ARPOp = 2
		h.e.ObserveARP(rep)
		h.e.ObserveARP(arpRequest(sender, sender, t0+2e9))
		h.e.ObserveARP(arpRequest(netip.Addr{}, nthAddr(193, i), t0+2e9))
	}
	if len(h.alerts) != 0 {
		t.Fatalf("alert at %d targets: %s", cfg.ARPSweepHosts-1, h.sids())
	}
	h.e.ObserveARP(arpRequest(sender, nthAddr(192, 999), t0+3e9))
	h.only(alert.ScanARPSweep)
	checkAlert(t, h.find(alert.ScanARPSweep), alert.ScanARPSweep, sender, false, cfg.ScanBanTTL, "arp_sweep")
	for i := range 200 {
		h.e.ObserveARP(arpRequest(sender, nthAddr(194, i), t0+4e9))
	}
	if h.count(alert.ScanARPSweep) != 1 {
		t.Fatalf("%d alerts for one sweep", h.count(alert.ScanARPSweep))
	}
	// An ARP probe sweep (sender 0.0.0.0, RFC 5227): an alert, no ban.
	h = newHarness(t, cfg)
	for i := range cfg.ARPSweepHosts {
		h.e.ObserveARP(arpRequest(netip.IPv4Unspecified(), nthAddr(192, i), t0+int64(i)))
	}
	checkAlert(t, h.find(alert.ScanARPSweep), alert.ScanARPSweep, netip.IPv4Unspecified(), false, 0, "arp_sweep")
	// Requests spaced one scan window apart never add up.
	h = newHarness(t, cfg)
	for i := range 2 * cfg.ARPSweepHosts {
		h.e.ObserveARP(arpRequest(sender, nthAddr(192, i), t0+int64(i)*int64(cfg.ScanWindow)))
	}
	if len(h.alerts) != 0 {
		t.Fatalf("alerts for requests a window apart: %s", h.sids())
	}
}
