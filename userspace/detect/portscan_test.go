package detect

import (
	"strconv"
	"testing"

	"github.com/xdpids/xdpids/userspace/detect/alert"
)

func TestVerticalTCPScan(t *testing.T) {
	cfg := DefaultConfig()
	h := newHarness(t, cfg)
	ts := t0
	for port := 1; port < cfg.ScanVerticalPorts; port++ {
		ts += 1e6
		h.feed(tcp(attacker, victim, 40000, uint16(port), fSYN, ts))
		// Closed port: RST-ACK back.
		h.feed(tcp(victim, attacker, uint16(port), 40000, fRST|fACK, ts+1))
	}
	if len(h.alerts) != 0 {
		t.Fatalf("alert at %d ports: %s", cfg.ScanVerticalPorts-1, h.sids())
	}
	h.feed(tcp(attacker, victim, 40000, 1000, fSYN, ts+1e6))
	if h.count(alert.ScanVerticalTCP) != 1 {
		t.Fatalf("no alert at %d ports: %s", cfg.ScanVerticalPorts, h.sids())
	}
	h.only(alert.ScanVerticalTCP)
	a := h.find(alert.ScanVerticalTCP)
	checkAlert(t, a, alert.ScanVerticalTCP, attacker, false, cfg.ScanBanTTL, "port_scan")
	if a.Src != attacker || a.Dst != victim || a.SrcPort != 40000 || a.DstPort != 1000 || a.Proto != 6 {
		t.Errorf("tuple %v:%d -> %v:%d/%d", a.Src, a.SrcPort, a.Dst, a.DstPort, a.Proto)
	}
	if a.FlowID != h.last.ID || a.FlowID == 0 {
		t.Errorf("flow_id %d, want %d", a.FlowID, h.last.ID)
	}
	if a.Metadata["distinct_ports"] != strconv.Itoa(cfg.ScanVerticalPorts) || a.Metadata["window"] != "5m0s" {
		t.Errorf("metadata %v", a.Metadata)
	}
}

func TestVerticalScanIgnoresCompletedHandshakes(t *testing.T) {
	// A connect() scan: open ports complete the handshake and are not
	// failed attempts.
	for _, tc := range []struct {
		name       string
		seeSynAck  bool
		open, shut int
		wantAlert  bool
	}{
		{"14 closed, 10 open", true, 10, 14, false},
		{"14 closed, 10 open, ingress only", false, 10, 14, false},
		{"15 closed, 3 open", true, 3, 15, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, DefaultConfig())
			ts := t0
			port := uint16(1)
			total := tc.open + tc.shut
			for i := 0; i < total; i++ {
				ts += 1e6
				sp := uint16(50000 + i)
				h.feed(tcp(attacker, victim, sp, port, fSYN, ts))
				if i%2 == 0 && tc.open > 0 || tc.shut == 0 {
					tc.open--
					if tc.seeSynAck {
						h.feed(tcp(victim, attacker, port, sp, fSYN|fACK, ts+1))
					}
					h.feed(tcp(attacker, victim, sp, port, fACK, ts+2))
					h.feed(tcp(attacker, victim, sp, port, fRST|fACK, ts+3))
				} else {
					tc.shut--
					h.feed(tcp(victim, attacker, port, sp, fRST|fACK, ts+1))
				}
				port++
			}
			if got := h.count(alert.ScanVerticalTCP) == 1; got != tc.wantAlert {
				t.Fatalf("alert %v, want %v: %s", got, tc.wantAlert, h.sids())
			}
		})
	}
}

func TestHorizontalScan(t *testing.T) {
	for _, tc := range []struct {
		name string
		udp  bool
		sig  alert.Signature
	}{
		{"tcp", false, alert.ScanHorizontalTCP},
		{"udp", true, alert.ScanHorizontalUDP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			h := newHarness(t, cfg)
			send := func(i int) {
				ts := t0 + int64(i)*1e7
				if tc.udp {
					h.feed(udp(attacker, nthAddr(10, i), 40000, 161, ts, 40))
				} else {
					h.feed(tcp(attacker, nthAddr(10, i), 40000, 445, fSYN, ts))
				}
			}
			for i := 1; i < cfg.ScanHorizontalHosts; i++ {
				send(i)
			}
			if len(h.alerts) != 0 {
				t.Fatalf("alert at %d hosts: %s", cfg.ScanHorizontalHosts-1, h.sids())
			}
			send(cfg.ScanHorizontalHosts)
			h.only(tc.sig)
			a := h.find(tc.sig)
			checkAlert(t, a, tc.sig, attacker, false, cfg.ScanBanTTL, "port_scan")
			if a.Metadata["distinct_hosts"] != "25" || a.Metadata["port"] == "" {
				t.Errorf("metadata %v", a.Metadata)
			}
			for i := 100; i < 300; i++ {
				send(i)
			}
			if n := h.count(tc.sig); n != 1 {
				t.Errorf("%d alerts for one sweep", n)
			}
		})
	}
}

func TestHorizontalScanIgnoresCompletedHandshakes(t *testing.T) {
	// A client connecting to 30 web servers, all answering.
	h := newHarness(t, DefaultConfig())
	for i := range 30 {
		ts := t0 + int64(i)*1e7
		srv := nthAddr(10, i)
		h.feed(tcp(attacker, srv, uint16(40000+i), 443, fSYN, ts))
		h.feed(tcp(srv, attacker, 443, uint16(40000+i), fSYN|fACK, ts+1))
		h.feed(tcp(attacker, srv, uint16(40000+i), 443, fACK, ts+2))
	}
	if len(h.alerts) != 0 {
		t.Fatalf("alerts for completed connections: %s", h.sids())
	}
}

func TestVerticalUDPScan(t *testing.T) {
	cfg := DefaultConfig()
	h := newHarness(t, cfg)
	for port := 1; port < cfg.ScanVerticalPorts; port++ {
		ts := t0 + int64(port)*1e6
		h.feed(udp(attacker, victim, 40000, uint16(1000+port), ts, 0))
		h.feed(icmp(victim, attacker, 3, 3, 0, ts+1)) // port unreachable
	}
	if len(h.alerts) != 0 {
		t.Fatalf("alert at %d ports: %s", cfg.ScanVerticalPorts-1, h.sids())
	}
	// A retransmitted probe of a port already counted is no new port.
	h.feed(udp(attacker, victim, 40000, 1001, t0+1e9, 0))
	if len(h.alerts) != 0 {
		t.Fatalf("alert on a repeated port: %s", h.sids())
	}
	h.feed(udp(attacker, victim, 40000, 9999, t0+2e9, 0))
	h.only(alert.ScanVerticalUDP)
	checkAlert(t, h.find(alert.ScanVerticalUDP), alert.ScanVerticalUDP, attacker, false, cfg.ScanBanTTL, "port_scan")
}
