package detect

import (
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

const t0 = int64(1_700_000_000_000_000_000)

const (
	fSYN = decode.FlagSYN
	fACK = decode.FlagACK
	fFIN = decode.FlagFIN
	fRST = decode.FlagRST
	fPSH = decode.FlagPSH
	fURG = decode.FlagURG
)

var (
	attacker = netip.MustParseAddr("203.0.113.66")
	victim   = netip.MustParseAddr("192.0.2.10")
	other    = netip.MustParseAddr("192.0.2.11")
)

// nthAddr is a distinct address per i (a spoofed source, a reflector, a
// swept host).
func nthAddr(net byte, i int) netip.Addr {
	return netip.AddrFrom4([4]byte{net, byte(i >> 16), byte(i >> 8), byte(i)})
}

func family(a netip.Addr) uint8 {
	if a.Is4() {
		return 4
	}
	return 6
}

func tcp(src, dst netip.Addr, sp, dp uint16, flags uint8, ts int64) *decode.Packet {
	return &decode.Packet{TsNs: ts, Ifindex: 3, WireLen: 60, CapLen: 60, Family: family(src), Src: src, Dst: dst,
		Proto: decode.ProtoTCP, TTL: 64, HasL4: true, SrcPort: sp, DstPort: dp, TCPFlags: flags}
}

func udp(src, dst netip.Addr, sp, dp uint16, ts int64, payload int) *decode.Packet {
	return &decode.Packet{TsNs: ts, Ifindex: 3, WireLen: uint32(42 + payload), CapLen: uint32(42 + payload), Family: family(src),
		Src: src, Dst: dst, Proto: decode.ProtoUDP, TTL: 64, HasL4: true, SrcPort: sp, DstPort: dp, PayloadLen: uint32(payload)}
}

func icmp(src, dst netip.Addr, typ, code uint8, id uint16, ts int64) *decode.Packet {
	p := &decode.Packet{TsNs: ts, Ifindex: 3, WireLen: 98, CapLen: 98, Family: family(src), Src: src, Dst: dst,
		Proto: decode.ProtoICMP, TTL: 64, HasL4: true, ICMPType: typ, ICMPCode: code, ICMPID: id,
		SrcPort: uint16(typ), DstPort: uint16(code)}
	if src.Is6() {
		p.Proto = decode.ProtoICMPv6
	}
	return p
}

func laterFrag(src, dst netip.Addr, ts int64) *decode.Packet {
	return &decode.Packet{TsNs: ts, Ifindex: 3, WireLen: 1514, CapLen: 128, Family: family(src), Src: src, Dst: dst,
		Proto: decode.ProtoUDP, TTL: 64, IPID: 99, Fragment: true, LaterFrag: true}
}

func ipProto(src, dst netip.Addr, proto uint8, ts int64) *decode.Packet {
	return &decode.Packet{TsNs: ts, Ifindex: 3, WireLen: 34, CapLen: 34, Family: family(src), Src: src, Dst: dst, Proto: proto, TTL: 64}
}

// harness feeds packets through a real flow table into an engine, as the
// pipeline's workers do, and keeps copies of the alerts.
type harness struct {
	t      *testing.T
	cfg    Config
	e      *Engine
	tb     *flows.Table
	alerts []alert.Alert
	// flow of the last packet fed
	last *flows.Flow
}

func newHarness(t *testing.T, cfg Config) *harness {
	h := &harness{t: t, cfg: cfg, tb: flows.NewTable(1<<17, flows.DefaultTimeouts)}
	h.e = New(cfg, func(a *alert.Alert) {
		c := *a
		c.Payload = append([]byte(nil), a.Payload...)
		h.alerts = append(h.alerts, c)
	})
	return h
}

// unitOf is e's detector of type T.
func unitOf[T Detector](e *Engine) T {
	for _, u := range e.units {
		if d, ok := u.d.(T); ok {
			return d
		}
	}
	panic("no such detector")
}

func isPortProto(p uint8) bool {
	return p == decode.ProtoTCP || p == decode.ProtoUDP || p == decode.ProtoICMP || p == decode.ProtoICMPv6
}

func (h *harness) feed(p *decode.Packet) {
	h.feedTrust(p, 0)
}

// feedTrust feeds p with the kernel's trust bits for its source.
func (h *harness) feedTrust(p *decode.Packet, trust uint32) {
	in := Input{P: p, Trust: trust}
	h.last = nil
	if p.Family != 0 && (p.HasL4 || p.LaterFrag || !isPortProto(p.Proto)) {
		in.F, in.FromOrig, in.Ev = h.tb.Track(p)
		h.last = in.F
	}
	h.e.Observe(&in)
}

// count is the number of alerts with sid so far.
func (h *harness) count(sig alert.Signature) int {
	n := 0
	for _, a := range h.alerts {
		if a.SID == sig.SID {
			n++
		}
	}
	return n
}

func (h *harness) find(sig alert.Signature) *alert.Alert {
	for i := range h.alerts {
		if h.alerts[i].SID == sig.SID {
			return &h.alerts[i]
		}
	}
	return nil
}

// only fails unless every alert so far has sid sig.
func (h *harness) only(sig alert.Signature) {
	h.t.Helper()
	for _, a := range h.alerts {
		if a.SID != sig.SID {
			h.t.Errorf("unexpected alert %d %q (subject %v)", a.SID, a.Signature, a.Subject)
		}
	}
}

func (h *harness) sids() string {
	s := ""
	for _, a := range h.alerts {
		s += fmt.Sprintf("%d(%v) ", a.SID, a.Subject)
	}
	return s
}

// checkAlert verifies the fields every alert carries.
func checkAlert(t *testing.T, a *alert.Alert, sig alert.Signature, subject netip.Addr, isTarget bool, ttl time.Duration, detector string) {
	t.Helper()
	if a == nil {
		t.Fatalf("no %q alert", sig.Msg)
	}
	if a.GID != 1 || a.SID != sig.SID || a.Rev != 1 || a.Signature != sig.Msg || a.Classtype != sig.Classtype.Name ||
		a.Category != sig.Classtype.Description || a.Severity != sig.Classtype.Priority {
		t.Errorf("signature fields: gid %d sid %d rev %d %q %q %q sev %d", a.GID, a.SID, a.Rev, a.Signature, a.Classtype, a.Category, a.Severity)
	}
	if a.Subject != subject || a.SubjectIsTarget != isTarget {
		t.Errorf("subject %v target %v, want %v %v", a.Subject, a.SubjectIsTarget, subject, isTarget)
	}
	if a.BanTTLNs != int64(ttl) {
		t.Errorf("BanTTLNs %v, want %v", time.Duration(a.BanTTLNs), ttl)
	}
	if a.Detector != detector {
		t.Errorf("detector %q, want %q", a.Detector, detector)
	}
	if want := flows.CommunityID(a.Src, a.Dst, a.SrcPort, a.DstPort, a.Proto); a.Community != want || a.Community == "" {
		t.Errorf("community_id %q, want %q", a.Community, want)
	}
	if a.Action != "" {
		t.Errorf("Action %q set by the detector", a.Action)
	}
	// Every behavioural detector counts what a forged source can send.
	if a.Trust != alert.TrustForgeable {
		t.Errorf("Trust %q, want forgeable", a.Trust)
	}
	if a.TsNs == 0 || a.Ifindex != 3 {
		t.Errorf("TsNs %d Ifindex %d", a.TsNs, a.Ifindex)
	}
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"suppress", c.Suppress, 5 * time.Minute},
		{"scan window", c.ScanWindow, 5 * time.Minute},
		{"vertical", c.ScanVerticalPorts, 15},
		{"horizontal", c.ScanHorizontalHosts, 25},
		{"syn src", c.SynFloodSrc, 200},
		{"syn dst", c.SynFloodDst, 2500},
		{"syn sources", c.SynFloodSources, 100},
		{"udp src", c.UDPFloodSrc, 5000},
		{"icmp src", c.ICMPFloodSrc, 500},
		{"amp reflectors", c.AmpReflectors, 5},
		{"brute", c.BruteConnections, 10},
		{"brute ssh", c.BrutePorts[22], "ssh"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

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

// flood describes a threshold detector driven by one packet generator.
type flood struct {
	name     string
	n        int // packets needed to fire
	gen      func(i int) *decode.Packet
	sig      alert.Signature
	subject  netip.Addr
	isTarget bool
	ttl      time.Duration
	detector string
	meta     string // a metadata key the alert must carry
}

func floods(cfg Config) []flood {
	ms := int64(time.Millisecond)
	return []flood{
		{name: "syn flood from one source", n: cfg.SynFloodSrc,
			gen: func(i int) *decode.Packet {
				return tcp(attacker, victim, uint16(1024+i), 80, fSYN, t0+int64(i)*ms*int64(cfg.FloodWindow/time.Second)*900/int64(cfg.SynFloodSrc))
			},
			sig: alert.SynFloodSrc, subject: attacker, ttl: cfg.FloodBanTTL, detector: "syn_flood", meta: "syns"},
		{name: "syn flood, one source port", n: cfg.SynFloodSrc,
			gen: func(i int) *decode.Packet { return tcp(attacker, victim, 1024, 80, fSYN, t0+int64(i)*ms) },
			sig: alert.SynFloodSrc, subject: attacker, ttl: cfg.FloodBanTTL, detector: "syn_flood", meta: "completed"},
		{name: "spoofed syn flood to a destination", n: cfg.SynFloodDst,
			gen: func(i int) *decode.Packet {
				return tcp(nthAddr(100, i%cfg.SynFloodSources), victim, uint16(1024+i), 443, fSYN, t0+int64(i)*ms)
			},
			sig: alert.SynFloodDst, subject: victim, isTarget: true, ttl: 0, detector: "syn_flood", meta: "sources_at_least"},
		{name: "udp flood from one source", n: cfg.UDPFloodSrc,
			gen: func(i int) *decode.Packet { return udp(attacker, victim, 40000, 9, t0+int64(i)*ms/10, 512) },
			sig: alert.UDPFloodSrc, subject: attacker, ttl: cfg.FloodBanTTL, detector: "udp_flood", meta: "packets"},
		{name: "udp flood to a destination", n: cfg.UDPFloodDst,
			gen: func(i int) *decode.Packet {
				// Source port incrementing, as hping3 --rand-source: many
				// sources on one source port would also be a reflection.
				return udp(nthAddr(100, i%cfg.FloodDstSources), victim, uint16(1024+i), 9, t0+int64(i)*ms/20, 512)
			},
			sig: alert.UDPFloodDst, subject: victim, isTarget: true, ttl: 0, detector: "udp_flood", meta: "sources_at_least"},
		{name: "icmp echo flood from one source", n: cfg.ICMPFloodSrc,
			gen: func(i int) *decode.Packet { return icmp(attacker, victim, 8, 0, 1, t0+int64(i)*ms) },
			sig: alert.ICMPFloodSrc, subject: attacker, ttl: cfg.FloodBanTTL, detector: "icmp_flood", meta: "packets"},
		{name: "icmpv6 echo flood from one source", n: cfg.ICMPFloodSrc,
			gen: func(i int) *decode.Packet {
				return icmp(netip.MustParseAddr("2001:db8:bad::1"), netip.MustParseAddr("2001:db8::10"), 128, 0, 1, t0+int64(i)*ms)
			},
			sig: alert.ICMPFloodSrc, subject: netip.MustParseAddr("2001:db8:bad::1"), ttl: cfg.FloodBanTTL, detector: "icmp_flood", meta: "packets"},
		{name: "icmp error flood needs 10x", n: 10 * cfg.ICMPFloodSrc,
			gen: func(i int) *decode.Packet { return icmp(attacker, victim, 3, 1, 0, t0+int64(i)*ms/10) },
			sig: alert.ICMPFloodSrc, subject: attacker, ttl: cfg.FloodBanTTL, detector: "icmp_flood", meta: "packets"},
		{name: "icmpv6 error flood needs 10x", n: 10 * cfg.ICMPFloodSrc,
			gen: func(i int) *decode.Packet {
				return icmp(netip.MustParseAddr("2001:db8:bad::1"), netip.MustParseAddr("2001:db8::10"), 1, 4, 0, t0+int64(i)*ms/10)
			},
			sig: alert.ICMPFloodSrc, subject: netip.MustParseAddr("2001:db8:bad::1"), ttl: cfg.FloodBanTTL, detector: "icmp_flood", meta: "packets"},
		{name: "icmp flood to a destination", n: cfg.ICMPFloodDst,
			gen: func(i int) *decode.Packet {
				return icmp(nthAddr(100, i%cfg.FloodDstSources), victim, 8, 0, uint16(i), t0+int64(i)*ms/4)
			},
			sig: alert.ICMPFloodDst, subject: victim, isTarget: true, ttl: 0, detector: "icmp_flood", meta: "sources_at_least"},
		{name: "syn-ack reflection", n: cfg.SynAckReflect,
			gen: func(i int) *decode.Packet {
				return tcp(nthAddr(100, i%37), victim, 80, uint16(1024+i), fSYN|fACK, t0+int64(i)*ms)
			},
			sig: alert.SynAckReflect, subject: victim, isTarget: true, ttl: 0, detector: "synack_reflection", meta: "unsolicited_synacks"},
		{name: "fragment flood", n: cfg.AmpFragments,
			gen: func(i int) *decode.Packet {
				return laterFrag(nthAddr(100, i%cfg.AmpReflectors), victim, t0+int64(i)*10*ms)
			},
			sig: alert.AmpFragments, subject: victim, isTarget: true, ttl: 0, detector: "amplification", meta: "fragments"},
		{name: "dhcp flood", n: cfg.DHCPFlood,
			gen: func(i int) *decode.Packet {
				p := udp(netip.IPv4Unspecified(), netip.MustParseAddr("255.255.255.255"), 68, 67, t0+int64(i)*ms*10, 300)
				return p
			},
			sig: alert.DHCPFlood, subject: netip.Addr{}, isTarget: true, ttl: 0, detector: "dhcp_flood", meta: "messages"},
	}
}

func TestFloodThresholds(t *testing.T) {
	cfg := DefaultConfig()
	for _, fc := range floods(cfg) {
		t.Run(fc.name, func(t *testing.T) {
			h := newHarness(t, cfg)
			for i := 0; i < fc.n-1; i++ {
				h.feed(fc.gen(i))
			}
			if n := h.count(fc.sig); n != 0 {
				t.Fatalf("alert at %d packets: %s", fc.n-1, h.sids())
			}
			h.feed(fc.gen(fc.n - 1))
			if n := h.count(fc.sig); n != 1 {
				t.Fatalf("%d alerts at %d packets: %s", n, fc.n, h.sids())
			}
			h.only(fc.sig)
			a := h.find(fc.sig)
			checkAlert(t, a, fc.sig, fc.subject, fc.isTarget, fc.ttl, fc.detector)
			if a.Metadata[fc.meta] == "" {
				t.Errorf("metadata %v lacks %q", a.Metadata, fc.meta)
			}
			// The flood goes on: suppressed, still one alert.
			for i := fc.n; i < 2*fc.n; i++ {
				h.feed(fc.gen(i))
			}
			if n := h.count(fc.sig); n != 1 {
				t.Fatalf("%d alerts for one flood", n)
			}
		})
	}
}

func TestFloodWindowsRollWithPacketTime(t *testing.T) {
	// The same packets spaced wider than each window never fire.
	cfg := DefaultConfig()
	for _, fc := range floods(cfg) {
		t.Run(fc.name, func(t *testing.T) {
			h := newHarness(t, cfg)
			spacing := 2 * int64(cfg.SynFloodDstWindow) // wider than every flood window
			if fc.sig == alert.AmpFragments || fc.sig == alert.DHCPFlood {
				spacing = 2 * int64(cfg.AmpWindow)
			}
			for i := 0; i < 2*fc.n; i++ {
				p := fc.gen(i)
				p.TsNs = t0 + int64(i)*spacing
				h.feed(p)
			}
			if n := h.count(fc.sig); n != 0 {
				t.Fatalf("%d alerts for packets spaced %v apart", n, time.Duration(spacing))
			}
		})
	}
}

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

func TestDestinationFloodsNeedManySources(t *testing.T) {
	cfg := DefaultConfig()
	for _, tc := range []struct {
		name string
		n    int
		gen  func(i int) *decode.Packet
	}{
		{"syn", 2 * cfg.SynFloodDst, func(i int) *decode.Packet {
			return tcp(nthAddr(100, i%(cfg.SynFloodSources-1)), victim, uint16(1024+i), 443, fSYN, t0+int64(i)*1e6/2)
		}},
		{"udp", 2 * cfg.UDPFloodDst, func(i int) *decode.Packet {
			return udp(nthAddr(100, i%(cfg.FloodDstSources-1)), victim, uint16(1024+i), 9, t0+int64(i)*1e6/40, 100)
		}},
		{"icmp", 2 * cfg.ICMPFloodDst, func(i int) *decode.Packet {
			return icmp(nthAddr(100, i%(cfg.FloodDstSources-1)), victim, 8, 0, 1, t0+int64(i)*1e6/8)
		}},
		{"fragments", 2 * cfg.AmpFragments, func(i int) *decode.Packet {
			return laterFrag(nthAddr(100, i%(cfg.AmpReflectors-1)), victim, t0+int64(i)*1e6)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, cfg)
			for i := range tc.n {
				h.feed(tc.gen(i))
			}
			for _, a := range h.alerts {
				if a.SubjectIsTarget {
					t.Fatalf("destination alert from too few sources: %d %s", a.SID, a.Signature)
				}
			}
		})
	}
}

func TestKernelRateLimitSamples(t *testing.T) {
	cfg := DefaultConfig()
	for _, tc := range []struct {
		name    string
		p       *decode.Packet
		reason  uint8
		verdict uint8
		sig     *alert.Signature
	}{
		{"syn dropped", tcp(attacker, victim, 1, 80, fSYN, t0), bpf.ReasonRateSYN, bpf.VerdictDrop, &alert.SynFloodSrc},
		{"udp dropped", udp(attacker, victim, 1, 53, t0, 10), bpf.ReasonRateUDP, bpf.VerdictDrop, &alert.UDPFloodSrc},
		{"icmp echo dropped", icmp(attacker, victim, 8, 0, 1, t0), bpf.ReasonRateICMP, bpf.VerdictDrop, &alert.ICMPFloodSrc},
		{"syn would drop (monitor)", tcp(attacker, victim, 1, 80, fSYN, t0), bpf.ReasonRateSYN, bpf.VerdictWouldDrop, &alert.SynFloodSrc},
		{"icmp error dropped", icmp(attacker, victim, 3, 3, 0, t0), bpf.ReasonRateICMP, bpf.VerdictDrop, nil},
		{"icmpv6 error dropped", icmp(netip.MustParseAddr("2001:db8::66"), netip.MustParseAddr("2001:db8::1"), 1, 4, 0, t0), bpf.ReasonRateICMP, bpf.VerdictDrop, nil},
		{"passed", tcp(attacker, victim, 1, 80, fSYN, t0), bpf.ReasonRateSYN, bpf.VerdictPass, nil},
		{"blocked, not rate limited", tcp(attacker, victim, 1, 80, fSYN, t0), bpf.ReasonBlock, bpf.VerdictDrop, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, cfg)
			tc.p.Reason, tc.p.Verdict = tc.reason, tc.verdict
			h.feed(tc.p)
			if tc.sig == nil {
				if len(h.alerts) != 0 {
					t.Fatalf("alerts: %s", h.sids())
				}
				return
			}
			if len(h.alerts) != 1 {
				t.Fatalf("alerts: %s", h.sids())
			}
			a := &h.alerts[0]
			detector := map[uint32]string{alert.SynFloodSrc.SID: "syn_flood", alert.UDPFloodSrc.SID: "udp_flood", alert.ICMPFloodSrc.SID: "icmp_flood"}[tc.sig.SID]
			checkAlert(t, a, *tc.sig, tc.p.Src, false, cfg.FloodBanTTL, detector)
			if a.Metadata["trigger"] != "kernel rate limit" || a.Metadata["reason"] != bpf.ReasonNames[tc.reason] {
				t.Errorf("metadata %v", a.Metadata)
			}
			// More samples of the same source: suppressed.
			for i := 1; i < 50; i++ {
				q := *tc.p
				q.TsNs += int64(i) * 1e6
				h.feed(&q)
			}
			if len(h.alerts) != 1 {
				t.Errorf("%d alerts for one rate-limited source", len(h.alerts))
			}
		})
	}
}

func TestAmplification(t *testing.T) {
	cfg := DefaultConfig()
	for _, svc := range []struct {
		port uint16
		sig  alert.Signature
	}{
		{53, alert.AmpDNS}, {123, alert.AmpNTP}, {161, alert.AmpSNMP}, {389, alert.AmpCLDAP},
		{1900, alert.AmpSSDP}, {11211, alert.AmpMemcached},
	} {
		t.Run(strconv.Itoa(int(svc.port)), func(t *testing.T) {
			gen := func(reflectors, i int) *decode.Packet {
				return udp(nthAddr(100, i%reflectors), victim, svc.port, uint16(30000+i%7), t0+int64(i)*1e7, 1400)
			}
			// Unsolicited responses from enough reflectors: at the threshold.
			h := newHarness(t, cfg)
			for i := 0; i < cfg.AmpPackets-1; i++ {
				h.feed(gen(cfg.AmpReflectors, i))
			}
			if len(h.alerts) != 0 {
				t.Fatalf("alert at %d responses: %s", cfg.AmpPackets-1, h.sids())
			}
			h.feed(gen(cfg.AmpReflectors, cfg.AmpPackets-1))
			h.only(svc.sig)
			a := h.find(svc.sig)
			checkAlert(t, a, svc.sig, victim, true, 0, "amplification")
			if a.Metadata["responses"] != strconv.Itoa(cfg.AmpPackets) || a.Metadata["reflectors_at_least"] != "5" ||
				a.Metadata["payload_bytes"] != strconv.Itoa(1400*cfg.AmpPackets) {
				t.Errorf("metadata %v", a.Metadata)
			}
			for i := cfg.AmpPackets; i < 3*cfg.AmpPackets; i++ {
				h.feed(gen(cfg.AmpReflectors, i))
			}
			if h.count(svc.sig) != 1 {
				t.Errorf("%d alerts for one attack", h.count(svc.sig))
			}

			// Too few reflectors.
			h = newHarness(t, cfg)
			for i := range 3 * cfg.AmpPackets {
				h.feed(gen(cfg.AmpReflectors-1, i))
			}
			if len(h.alerts) != 0 {
				t.Fatalf("alert with %d reflectors: %s", cfg.AmpReflectors-1, h.sids())
			}

			// Solicited: the target asked every reflector first.
			h = newHarness(t, cfg)
			for r := range cfg.AmpReflectors * 2 {
				for q := range 7 {
					h.feed(udp(victim, nthAddr(100, r), uint16(30000+q), svc.port, t0-1e6, 40))
				}
			}
			for i := range 3 * cfg.AmpPackets {
				h.feed(gen(cfg.AmpReflectors*2, i))
			}
			if len(h.alerts) != 0 {
				t.Fatalf("alert for solicited responses: %s", h.sids())
			}
		})
	}
	// Another service port (mDNS reflection): the generic alert.
	h := newHarness(t, cfg)
	for i := range 3 * cfg.AmpPackets {
		h.feed(udp(nthAddr(100, i%10), victim, 5353, 30000, t0+int64(i)*1e7, 1400))
	}
	if h.count(alert.AmpOther) != 1 {
		t.Fatalf("alerts for reflection from port 5353: %s", h.sids())
	}
	h.only(alert.AmpOther)
}

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

func TestStateBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxKeys = 200
	h := newHarness(t, cfg)
	// Spoofed sources, each probing a different port and host: every
	// packet wants new state in several tables.
	maxSeen := 0
	for i := range 20000 {
		src := nthAddr(100, i)
		ts := t0 + int64(i)*1e5
		switch i % 5 {
		case 0:
			h.feed(tcp(src, nthAddr(10, i), 40000, uint16(i), fSYN, ts))
		case 1:
			h.feed(udp(src, nthAddr(10, i), 40000, uint16(i), ts, 10))
		case 2:
			h.feed(icmp(src, nthAddr(10, i), 8, 0, 1, ts))
		case 3:
			h.feed(tcp(src, victim, 40000, 22, 0, ts)) // NULL probe: an alert per source
		case 4:
			h.feed(tcp(nthAddr(10, i), src, 80, 40000, fSYN|fACK, ts))
		}
		if k := h.e.Stats().Keys; k > maxSeen {
			maxSeen = k
		}
	}
	st := h.e.Stats()
	if maxSeen > cfg.MaxKeys {
		t.Errorf("%d keys > MaxKeys %d", maxSeen, cfg.MaxKeys)
	}
	if st.StateRefused == 0 {
		t.Errorf("StateRefused did not rise: %+v", st)
	}
	t.Logf("stats %+v", st)
}

func TestGC(t *testing.T) {
	cfg := DefaultConfig()
	h := newHarness(t, cfg)
	for i := range 500 {
		src := nthAddr(100, i)
		ts := t0 + int64(i)*1e6
		h.feed(tcp(src, victim, 40000, uint16(i), fSYN, ts))
		h.feed(udp(src, victim, 40000, uint16(i), ts, 10))
		h.feed(icmp(src, victim, 8, 0, 1, ts))
		h.feed(tcp(src, victim, 40000, 22, 0, ts))
		h.feed(laterFrag(src, victim, ts))
		h.feed(udp(src, victim, 53, 40000, ts, 100))
	}
	before := h.e.Stats().Keys
	if before < 2000 {
		t.Fatalf("only %d keys", before)
	}
	// A packet long after every window (twice the longest, suppression):
	// gc drops all the old state.
	h.feed(icmp(other, victim, 0, 0, 1, t0+2*int64(cfg.Suppress)+20e9))
	if after := h.e.Stats().Keys; after > 3 {
		t.Fatalf("%d keys after gc (%d before)", after, before)
	}
	// State in use survives a gc.
	h = newHarness(t, cfg)
	for port := 1; port < cfg.ScanVerticalPorts; port++ {
		h.feed(tcp(attacker, victim, 40000, uint16(port), fSYN, t0+int64(port)*1e9))
	}
	h.feed(icmp(other, victim, 0, 0, 1, t0+60e9)) // triggers gc
	h.feed(tcp(attacker, victim, 40000, 999, fSYN, t0+61e9))
	if h.count(alert.ScanVerticalTCP) != 1 {
		t.Fatalf("scan state lost to gc: %s", h.sids())
	}
}

func TestNonIPIgnored(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	h.e.Observe(&Input{P: &decode.Packet{TsNs: t0}})
	if st := h.e.Stats(); st.Keys != 0 || len(h.alerts) != 0 {
		t.Fatalf("non-IP packet left state: %+v", st)
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

func TestConcurrentObserve(t *testing.T) {
	var mu sync.Mutex
	n := 0
	e := New(DefaultConfig(), func(*alert.Alert) { mu.Lock(); n++; mu.Unlock() })
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tb := flows.NewTable(4096, flows.DefaultTimeouts)
			src := nthAddr(100, w)
			for i := range 2000 {
				p := tcp(src, victim, 40000, uint16(i%100), fSYN, t0+int64(i)*1e5)
				in := Input{P: p}
				in.F, in.FromOrig, in.Ev = tb.Track(p)
				e.Observe(&in)
			}
		}()
	}
	wg.Wait()
	if st := e.Stats(); n != 4 || st.Alerts != 4 {
		t.Fatalf("%d alerts (stats %+v), want one vertical scan per source", n, st)
	}
}

// benchObserve runs established traffic from 64 clients to one server,
// one packet every step ns.
func benchObserve(b *testing.B, step int64) {
	e := New(DefaultConfig(), func(*alert.Alert) {})
	tb := flows.NewTable(1<<16, flows.DefaultTimeouts)
	var pkts []*decode.Packet
	for i := range 1024 {
		src := nthAddr(100, i%64)
		// Each client's resolver queries from a port of its own (64 clients
		// on one source port would be a reflection).
		pkts = append(pkts, tcp(src, victim, uint16(1024+i), 443, fPSH|fACK, 0), udp(src, victim, uint16(5000+i%64), 53, 0, 40))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := pkts[i%len(pkts)]
		p.TsNs = t0 + int64(i)*step
		in := Input{P: p}
		in.F, in.FromOrig, in.Ev = tb.Track(p)
		e.Observe(&in)
	}
}

// BenchmarkObserve: 1000 packets/s to the server, below every threshold.
func BenchmarkObserve(b *testing.B) { benchObserve(b, 1e6) }

// BenchmarkObserveFlood: 1M packets/s, a UDP flood to the server from 64
// sources: every packet past the threshold is a suppressed alert.
func BenchmarkObserveFlood(b *testing.B) { benchObserve(b, 1e3) }

func arpRequest(sender, target netip.Addr, ts int64) *decode.Packet {
	return &decode.Packet{TsNs: ts, Ifindex: 3, WireLen: 60, CapLen: 60, ARPOp: 1, ARPSender: sender, ARPTarget: target}
}

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

func TestAmplificationIgnoresServiceRequests(t *testing.T) {
	cfg := DefaultConfig()
	dnsQuery := []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	dnsResponse := []byte{0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0}
	ntpClient := append([]byte{0x23, 0}, make([]byte, 46)...) // v4, mode 3
	ntpServer := append([]byte{0x24, 1}, make([]byte, 46)...) // v4, mode 4
	ntpMonlistReq := []byte{0x17, 0x00, 0x03, 0x2a}           // mode 7, R clear
	ntpMonlistResp := []byte{0x97, 0x00, 0x03, 0x2a}          // mode 7, R set
	for _, tc := range []struct {
		name    string
		port    uint16
		payload []byte
		sig     *alert.Signature
	}{
		{"dns queries from port 53", 53, dnsQuery, nil},
		{"dns responses", 53, dnsResponse, &alert.AmpDNS},
		{"ntp servers polled from port 123", 123, ntpClient, nil},
		{"ntp server replies", 123, ntpServer, &alert.AmpNTP},
		{"ntp monlist requests", 123, ntpMonlistReq, nil},
		{"ntp monlist responses", 123, ntpMonlistResp, &alert.AmpNTP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, cfg)
			for i := range 2 * cfg.AmpPackets {
				p := udp(nthAddr(100, i%(2*cfg.AmpReflectors)), victim, tc.port, tc.port, t0+int64(i)*1e7, len(tc.payload))
				p.Payload = tc.payload
				h.feed(p)
			}
			if tc.sig == nil {
				if len(h.alerts) != 0 {
					t.Fatalf("alerts: %s", h.sids())
				}
				return
			}
			if h.count(*tc.sig) != 1 {
				t.Fatalf("alerts: %s", h.sids())
			}
		})
	}
}

// quicShort and quicInitial are the first bytes of a QUIC 1-RTT (short
// header) packet and of an Initial (long header); dtlsHello starts a DTLS
// handshake record.
var (
	quicShort   = []byte{0x43, 0xde, 0xad, 0xbe, 0xef}
	quicInitial = []byte{0xc3, 0, 0, 0, 1}
	dtlsHello   = []byte{0x16, 0xfe, 0xfd, 0, 0}
)

// TestReflectionAnyPort drives the behavioural amplification detector:
// unsolicited responses grouped by UDP source port, for ports without a
// named detector, and the traffic it must leave alone.
func TestReflectionAnyPort(t *testing.T) {
	cfg := DefaultConfig()
	// flood is n unsolicited responses from port, round-robin over
	// reflectors in 198.18.0.0/15 terms (nthAddr 100), to random-looking
	// victim ports, 10 ms apart.
	flood := func(h *harness, port uint16, reflectors, n int, start int64, payload []byte) {
		for i := range n {
			p := udp(nthAddr(100, i%reflectors), victim, port, uint16(1024+(i*7919)%60000), start+int64(i)*1e7, 400)
			p.Payload = payload
			h.feed(p)
		}
	}
	for _, tc := range []struct {
		name string
		run  func(h *harness)
		want []alert.Signature // in order; nil: no amplification alert
		port string            // source_port of the first alert
	}{
		{"chargen 19 from 10 reflectors", func(h *harness) { flood(h, 19, 10, 3*cfg.AmpPackets, t0, nil) },
			[]alert.Signature{alert.AmpOther}, "19"},
		{"qotd 17", func(h *harness) { flood(h, 17, 20, 3*cfg.AmpPackets, t0, nil) }, []alert.Signature{alert.AmpOther}, "17"},
		{"portmap 111", func(h *harness) { flood(h, 111, 20, 3*cfg.AmpPackets, t0, nil) }, []alert.Signature{alert.AmpOther}, "111"},
		{"netbios 137 to a client port", func(h *harness) { flood(h, 137, 20, 3*cfg.AmpPackets, t0, nil) },
			[]alert.Signature{alert.AmpOther}, "137"},
		{"ripv1 520", func(h *harness) { flood(h, 520, 20, 3*cfg.AmpPackets, t0, nil) }, []alert.Signature{alert.AmpOther}, "520"},
		{"ws-discovery 3702", func(h *harness) { flood(h, 3702, 20, 3*cfg.AmpPackets, t0, nil) }, []alert.Signature{alert.AmpOther}, "3702"},
		{"coap 5683", func(h *harness) { flood(h, 5683, 20, 3*cfg.AmpPackets, t0, nil) }, []alert.Signature{alert.AmpOther}, "5683"},
		// High ports count: reflectors live there too, and many hosts
		// sharing one high source port is no accident.
		{"jenkins 33848", func(h *harness) { flood(h, 33848, 20, 3*cfg.AmpPackets, t0, nil) }, []alert.Signature{alert.AmpOther}, "33848"},
		{"unusual high port 40000", func(h *harness) { flood(h, 40000, 20, 3*cfg.AmpPackets, t0, nil) },
			[]alert.Signature{alert.AmpOther}, "40000"},
		{"dtls on 443", func(h *harness) { flood(h, 443, 20, 3*cfg.AmpPackets, t0, dtlsHello) }, []alert.Signature{alert.AmpOther}, "443"},
		{"quic initials on 443", func(h *harness) { flood(h, 443, 20, 3*cfg.AmpPackets, t0, quicInitial) },
			[]alert.Signature{alert.AmpOther}, "443"},
		// The named services keep their own sids, and only those.
		{"dns 53 keeps its sid", func(h *harness) { flood(h, 53, 20, 3*cfg.AmpPackets, t0, nil) }, []alert.Signature{alert.AmpDNS}, ""},
		{"ntp 123 keeps its sid", func(h *harness) { flood(h, 123, 20, 3*cfg.AmpPackets, t0, nil) }, []alert.Signature{alert.AmpNTP}, ""},
		{"memcached 11211 keeps its sid", func(h *harness) { flood(h, 11211, 20, 3*cfg.AmpPackets, t0, nil) },
			[]alert.Signature{alert.AmpMemcached}, ""},
		// Two vectors at once: an alert each (suppression is per port).
		{"chargen and coap at once", func(h *harness) {
			for i := range 4 * cfg.AmpPackets {
				port := uint16(19)
				if i%2 == 1 {
					port = 5683
				}
				h.feed(udp(nthAddr(100, i%20), victim, port, uint16(1024+i), t0+int64(i)*5e6, 400))
			}
		}, []alert.Signature{alert.AmpOther, alert.AmpOther}, "19"},
		{"a flood amid a busy server's clients", func(h *harness) {
			for i := range 8 * cfg.AmpPackets {
				ts := t0 + int64(i)*2e6
				h.feed(udp(nthAddr(60, i), victim, uint16(32768+i), 443, ts, 1200)) // a client each
				if i%3 == 0 {
					h.feed(udp(nthAddr(100, i%20), victim, 19, uint16(1024+i), ts+1e5, 400))
				}
			}
		}, []alert.Signature{alert.AmpOther}, "19"},

		{"one reflector", func(h *harness) { flood(h, 19, 1, 10*cfg.AmpPackets, t0, nil) }, nil, ""},
		{"too few reflectors", func(h *harness) { flood(h, 19, cfg.AmpReflectors-1, 10*cfg.AmpPackets, t0, nil) }, nil, ""},
		{"too few responses", func(h *harness) { flood(h, 19, 20, cfg.AmpPackets-1, t0, nil) }, nil, ""},
		{"responses spread over windows", func(h *harness) {
			for i := range 3 * cfg.AmpPackets {
				h.feed(udp(nthAddr(100, i%20), victim, 19, uint16(1024+i), t0+int64(i)*int64(cfg.AmpWindow)/int64(cfg.AmpPackets/2), 400))
			}
		}, nil, ""},
		{"solicited: the target asked each reflector", func(h *harness) {
			for r := range 20 {
				for q := range 20 {
					h.feed(udp(victim, nthAddr(100, r), uint16(1024+r*20+q), 5683, t0-1e6, 20))
				}
			}
			for i := range 400 {
				r := i % 20
				h.feed(udp(nthAddr(100, r), victim, 5683, uint16(1024+r*20+(i/20)%20), t0+int64(i)*1e7, 400))
			}
		}, nil, ""},
		{"dns client with three resolvers", func(h *harness) {
			// 300 lookups in 10 s, each query to one of three resolvers
			// and its answer, from a new ephemeral port each.
			for i := range 300 {
				res, ts, port := nthAddr(100, i%3), t0+int64(i)*3e7, uint16(32768+i*13)
				h.feed(udp(victim, res, port, 53, ts, 40))
				h.feed(udp(res, victim, 53, port, ts+1e6, 120))
			}
		}, nil, ""},
		{"dns client with three resolvers, answers only (ingress)", func(h *harness) {
			for i := range 300 {
				h.feed(udp(nthAddr(100, i%3), victim, 53, uint16(32768+i*13), t0+int64(i)*3e7, 120))
			}
		}, nil, ""},
		{"syslog collector: devices send from 514 to 514", func(h *harness) {
			for i := range 10 * cfg.AmpPackets {
				h.feed(udp(nthAddr(100, i%50), victim, 514, 514, t0+int64(i)*5e6, 200))
			}
		}, nil, ""},
		{"discovery answers to a multicast group", func(h *harness) {
			for i := range 10 * cfg.AmpPackets {
				h.feed(udp(nthAddr(100, i%50), netip.MustParseAddr("239.255.255.250"), 3702, 40000, t0+int64(i)*5e6, 900))
			}
		}, nil, ""},
		{"http/3 client, servers' 1-rtt packets (ingress)", func(h *harness) {
			// Live, a host's downloads over QUIC from 10 servers arrive on
			// flows it did not visibly open.
			for i := range 20 * cfg.AmpPackets {
				p := udp(nthAddr(100, i%10), victim, 443, uint16(40000+i%10), t0+int64(i)*1e6, 1200)
				p.Payload = quicShort
				h.feed(p)
			}
		}, nil, ""},
		{"disabled", func(h *harness) {
			h.e.cfg.AmpAnyPort = false
			flood(h, 19, 20, 3*cfg.AmpPackets, t0, nil)
		}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, cfg)
			tc.run(h)
			var got []alert.Alert
			for _, a := range h.alerts {
				if a.Detector == "amplification" {
					got = append(got, a)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("amplification alerts: %s, want %d", h.sids(), len(tc.want))
			}
			for i, sig := range tc.want {
				checkAlert(t, &got[i], sig, victim, true, 0, "amplification")
			}
			if tc.port != "" {
				m := got[0].Metadata
				if m["source_port"] != tc.port || got[0].SrcPort != uint16(atoi(t, tc.port)) {
					t.Errorf("source_port %q src_port %d, want %s", m["source_port"], got[0].SrcPort, tc.port)
				}
				for _, k := range []string{"responses", "payload_bytes", "reflectors_at_least", "share_percent", "window"} {
					if m[k] == "" {
						t.Errorf("metadata %v lacks %s", m, k)
					}
				}
			}
			if len(tc.want) == 2 && got[0].Metadata["source_port"] == got[1].Metadata["source_port"] {
				t.Errorf("two alerts for one port: %v %v", got[0].Metadata, got[1].Metadata)
			}
			// Packets of a recognised reflection are no scan by the
			// reflectors (unrecognised, one source sending to many ports
			// of a host is what a UDP scan looks like).
			for _, a := range h.alerts {
				if len(tc.want) > 0 && a.SID == alert.ScanVerticalUDP.SID {
					t.Errorf("reflector %v reported as a UDP scanner", a.Subject)
				}
			}
		})
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReflectionThreshold checks the generic alert fires at exactly
// AmpPackets responses from AmpReflectors reflectors, once per attack.
func TestReflectionThreshold(t *testing.T) {
	cfg := DefaultConfig()
	h := newHarness(t, cfg)
	gen := func(i int) *decode.Packet {
		return udp(nthAddr(100, i%cfg.AmpReflectors), victim, 5683, uint16(30000+i%7), t0+int64(i)*1e7, 1000)
	}
	for i := 0; i < cfg.AmpPackets-1; i++ {
		h.feed(gen(i))
	}
	if len(h.alerts) != 0 {
		t.Fatalf("alert at %d responses: %s", cfg.AmpPackets-1, h.sids())
	}
	h.feed(gen(cfg.AmpPackets - 1))
	a := h.find(alert.AmpOther)
	checkAlert(t, a, alert.AmpOther, victim, true, 0, "amplification")
	want := map[string]string{"source_port": "5683", "responses": strconv.Itoa(cfg.AmpPackets),
		"payload_bytes": strconv.Itoa(1000 * cfg.AmpPackets), "reflectors_at_least": "5", "share_percent": "100", "window": "10s"}
	for k, v := range want {
		if a.Metadata[k] != v {
			t.Errorf("metadata %s = %q, want %q (%v)", k, a.Metadata[k], v, a.Metadata)
		}
	}
	for i := cfg.AmpPackets; i < 5*cfg.AmpPackets; i++ {
		h.feed(gen(i))
	}
	if h.count(alert.AmpOther) != 1 || len(h.alerts) != 1 {
		t.Errorf("alerts for one attack: %s", h.sids())
	}
}

// TestReflectionQUICServer: a QUIC server's clients each send from an
// ephemeral port of their own. With 20000 clients in 10 s some ports are
// shared by five clients or more by chance, and carry 100 packets: only
// the share condition tells them from a reflection, and no alert comes.
func TestReflectionQUICServer(t *testing.T) {
	cfg := DefaultConfig()
	h := newHarness(t, cfg)
	var r uint64 = 1
	rnd := func(n int) int { r = r*6364136223846793005 + 1442695040888963407; return int((r >> 33) % uint64(n)) }
	type client struct {
		addr netip.Addr
		port uint16
	}
	const clients, perClient = 20000, 25
	cl := make([]client, clients)
	sources := map[uint16]map[netip.Addr]bool{}
	packets := map[uint16]int{}
	for i := range cl {
		cl[i] = client{nthAddr(60, i), uint16(32768 + rnd(60999-32768+1))}
		if sources[cl[i].port] == nil {
			sources[cl[i].port] = map[netip.Addr]bool{}
		}
		sources[cl[i].port][cl[i].addr] = true
		packets[cl[i].port] += perClient
	}
	crowded := 0
	for port, s := range sources {
		if len(s) >= cfg.AmpReflectors && packets[port] >= cfg.AmpPackets {
			crowded++
		}
	}
	if crowded == 0 {
		t.Fatal("no source port shared by enough clients: the test proves nothing")
	}
	// Each client sends perClient packets, interleaved, over 9 s.
	n := clients * perClient
	for i := range n {
		c := cl[(i*7)%clients]
		p := udp(c.addr, victim, c.port, 443, t0+int64(i)*int64(9*time.Second)/int64(n), 1200)
		p.Payload = quicInitial
		h.feed(p)
	}
	for _, a := range h.alerts {
		if a.Detector == "amplification" {
			t.Fatalf("amplification alert for a QUIC server (%d crowded ports): %d %v", crowded, a.SID, a.Metadata)
		}
	}
	t.Logf("%d ports with >= %d clients and >= %d packets; alerts %s", crowded, cfg.AmpReflectors, cfg.AmpPackets, h.sids())
}

// TestReflectionStateBounded: one destination's tracker has a fixed size
// whatever the number of source ports, and adding destinations stops at
// MaxKeys.
func TestReflectionStateBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxKeys = 50
	h := newHarness(t, cfg)
	for i := range 5000 {
		h.feed(udp(nthAddr(100, i), nthAddr(10, i%200), uint16(1024+i), 9999, t0+int64(i)*1e5, 10))
	}
	if k := h.e.Stats().Keys; k > cfg.MaxKeys {
		t.Errorf("%d keys > MaxKeys %d", k, cfg.MaxKeys)
	}
	if got := unitOf[*amplification](h.e).refl.len(); got == 0 || got > cfg.MaxKeys {
		t.Errorf("%d reflection targets", got)
	}
}

// TestReflectionNoAllocs: the per-packet path of a tracked destination
// allocates nothing, below and past the threshold (suppressed alerts).
func TestReflectionNoAllocs(t *testing.T) {
	cfg := DefaultConfig()
	e := New(cfg, func(*alert.Alert) {})
	tb := flows.NewTable(1<<16, flows.DefaultTimeouts)
	var pkts []*decode.Packet
	for i := range 256 {
		pkts = append(pkts, udp(nthAddr(100, i%20), victim, 19, uint16(1024+i), 0, 400), udp(nthAddr(60, i), victim, uint16(32768+i), 443, 0, 1200))
	}
	i := 0
	step := func() {
		p := pkts[i%len(pkts)]
		p.TsNs = t0 + int64(i)*1e6
		i++
		in := Input{P: p}
		in.F, in.FromOrig, in.Ev = tb.Track(p)
		e.Observe(&in)
	}
	for range 2 * len(pkts) { // warm up: flows, the target, the first alert
		step()
	}
	if n := testing.AllocsPerRun(1000, step); n != 0 {
		t.Errorf("%v allocations per packet", n)
	}
	if e.Stats().Alerts != 1 {
		t.Errorf("alerts %d, want the one reflection", e.Stats().Alerts)
	}
}

// TestReflectionIPv6: the same over IPv6 (CoAP reflection to a host).
func TestReflectionIPv6(t *testing.T) {
	cfg := DefaultConfig()
	h := newHarness(t, cfg)
	v6 := netip.MustParseAddr("2001:db8::10")
	for i := range 2 * cfg.AmpPackets {
		refl := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0xba, 0xd0, 15: byte(i % 10)})
		h.feed(udp(refl, v6, 5683, uint16(1024+i), t0+int64(i)*1e7, 900))
	}
	a := h.find(alert.AmpOther)
	checkAlert(t, a, alert.AmpOther, v6, true, 0, "amplification")
	if h.count(alert.AmpOther) != 1 || a.Metadata["source_port"] != "5683" {
		t.Errorf("alerts %s, metadata %v", h.sids(), a.Metadata)
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

// forgedACKProbes feeds ACK probes from n forged sources in 198.18.0.0/15,
// ports probes each to victim, spread over spanNs from ts; it returns the
// time after the last one.
func forgedACKProbes(h *harness, n, ports int, ts, spanNs int64) int64 {
	step := spanNs / int64(n*ports)
	for i := range n {
		src := netip.AddrFrom4([4]byte{198, 18 + byte(i>>16&1), byte(i >> 8), byte(i)})
		for j := range ports {
			ts += step
			h.feed(tcp(src, victim, 40000, uint16(1000+(i*ports+j)%20000), fACK, ts))
		}
	}
	return ts
}

// realScan is a vertical SYN scan of 100 ports from attacker.
func realScan(h *harness, ts int64) {
	for port := 1; port <= 100; port++ {
		ts += 1e6
		h.feed(tcp(attacker, victim, 40000, uint16(port), fSYN, ts))
		h.feed(tcp(victim, attacker, uint16(port), 40000, fRST|fACK, ts+1))
	}
}

// The exhaustion attack of issue 9: forged ACK probes from 14,000 sources
// (seven ports each: 98,000 horizontal and 14,000 vertical entries, which
// filled the shared 100,000-entry table for 10 minutes), then a real
// scanner. It is detected, state stays bounded, and the evictions count.
func TestForgedProbesDoNotExhaustState(t *testing.T) {
	cfg := DefaultConfig()
	h := newHarness(t, cfg)
	ts := forgedACKProbes(h, 14000, 7, t0, 20e9)
	st := h.e.Stats()
	if st.Keys > cfg.MaxKeys || st.ProbeKeys > cfg.MaxProbeKeys {
		t.Fatalf("state past its bounds: %+v", st)
	}
	if st.StateEvictedProbe == 0 {
		t.Errorf("no probe entry evicted: %+v", st)
	}
	realScan(h, ts)
	a := h.find(alert.ScanVerticalTCP)
	if a == nil || a.Subject != attacker {
		t.Fatalf("real scanner not detected after the forged probes: %s; stats %+v", h.sids(), h.e.Stats())
	}
	t.Logf("after forged probes %+v; after scan %+v", st, h.e.Stats())
}

// Forged sources that send two probes each fill the evidence partition
// too: the entries with the least evidence make room for the real scan.
func TestForgedTwoProbeSourcesEvictedFirst(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxKeys, cfg.MaxProbeKeys = 2000, 500
	h := newHarness(t, cfg)
	ts := forgedACKProbes(h, 5000, 2, t0, 10e9)
	if st := h.e.Stats(); st.StateRefused == 0 && st.StateEvictedEvidence == 0 {
		t.Fatalf("evidence partition never full: %+v", st)
	}
	realScan(h, ts)
	if a := h.find(alert.ScanVerticalTCP); a == nil || a.Subject != attacker {
		t.Fatalf("real scanner not detected: %s; stats %+v", h.sids(), h.e.Stats())
	}
	st := h.e.Stats()
	if st.Keys > cfg.MaxKeys || st.StateEvictedEvidence == 0 {
		t.Errorf("stats %+v", st)
	}
	t.Logf("stats %+v", st)
}

// Probe entries live ProbeIdle, not twice the scan window.
func TestProbeEntriesExpire(t *testing.T) {
	cfg := DefaultConfig()
	h := newHarness(t, cfg)
	ts := forgedACKProbes(h, 1000, 1, t0, 1e9)
	h.feed(tcp(attacker, victim, 40000, 80, fSYN, ts+1e6))
	h.feed(tcp(attacker, victim, 40000, 81, fSYN, ts+2e6)) // evidence: lives the window
	if st := h.e.Stats(); st.ProbeKeys < 2000 {
		t.Fatalf("stats %+v", st)
	}
	h.feed(icmp(other, victim, 0, 0, 1, ts+int64(cfg.ProbeIdle)+11e9)) // gc
	st := h.e.Stats()
	if st.ProbeKeys > 4 || st.StateExpiredProbe < 2000 {
		t.Fatalf("probe entries not expired: %+v", st)
	}
	if unitOf[*portScan](h.e).vertical.lookup(key{a: attacker, b: victim}) == nil {
		t.Fatalf("entry with evidence expired with the probes")
	}
}

// A small probe partition under a long run of forged probes stays at its
// bound, evicting oldest first.
func TestProbeEvictionBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxKeys, cfg.MaxProbeKeys = 1000, 100
	h := newHarness(t, cfg)
	forgedACKProbes(h, 3000, 1, t0, 3e9)
	st := h.e.Stats()
	if st.ProbeKeys > 100 || st.Keys > 1000 || st.StateEvictedProbe < 5000 {
		t.Fatalf("stats %+v", st)
	}
}

// Forged SYNs from ever new sources, to the SSH port and to random ports,
// would fill the flood windows, the brute force windows and the scan
// state; a real scanner and a real brute forcer arriving during the load
// are still detected, and the flood partition recycles its windows.
func TestForgedSYNsDoNotExhaustState(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxKeys, cfg.MaxProbeKeys = 4000, 1000
	h := newHarness(t, cfg)
	ts := t0
	forged := func(n int) {
		for i := range n {
			ts += 1e5
			src := netip.AddrFrom4([4]byte{198, 18 + byte(i>>16&1), byte(i >> 8), byte(i)})
			port := uint16(22)
			if i%2 == 1 {
				port = uint16(1024 + i%30000)
			}
			h.feed(tcp(src, victim, 40000, port, fSYN, ts))
		}
	}
	forged(20000)
	if st := h.e.Stats(); st.Keys > cfg.MaxKeys || st.StateEvictedFlood == 0 || st.StateEvictedProbe == 0 {
		t.Fatalf("stats %+v", st)
	}
	// The real scanner and brute forcer, the forged load interleaved.
	for i := range 100 {
		ts += 1e6
		h.feed(tcp(attacker, victim, 40000, uint16(2000+i), fSYN, ts))
		if i < cfg.BruteConnections {
			h.feed(tcp(other, victim, uint16(50000+i), 22, fSYN, ts+1))
		}
		forged(50)
	}
	if a := h.find(alert.ScanVerticalTCP); a == nil || a.Subject != attacker {
		t.Errorf("real scanner not detected; stats %+v", h.e.Stats())
	}
	if a := h.find(alert.BruteSSH); a == nil || a.Subject != other {
		t.Errorf("real brute force not detected; stats %+v", h.e.Stats())
	}
	if n := len(h.alerts); n > 3 {
		t.Errorf("%d alerts, want the scan, the brute force and one destination SYN flood", n)
	}
	st := h.e.Stats()
	if st.Keys > cfg.MaxKeys {
		t.Errorf("%d keys > %d", st.Keys, cfg.MaxKeys)
	}
	t.Logf("stats %+v", st)
}

// BenchmarkObserveForgedProbes: forged ACK probes from ever new sources
// with the probe partition full, each admitting a probe entry by evicting
// the oldest (a new scan entry allocates its set, as before partitions).
func BenchmarkObserveForgedProbes(b *testing.B) {
	cfg := DefaultConfig()
	e := New(cfg, func(*alert.Alert) {})
	tb := flows.NewTable(1<<16, flows.DefaultTimeouts)
	p := tcp(attacker, victim, 40000, 80, fACK, 0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p.Src = netip.AddrFrom4([4]byte{198, 18 + byte(i>>16&1), byte(i >> 8), byte(i)})
		p.DstPort = uint16(1 + i%7)
		p.TsNs = t0 + int64(i)*1e4
		in := Input{P: p}
		in.F, in.FromOrig, in.Ev = tb.Track(p)
		e.Observe(&in)
	}
	st := e.Stats()
	b.ReportMetric(float64(st.StateEvictedProbe)/float64(b.N), "evictions/op")
}

// Once the probe partition is full, a forged probe from a new source
// evicts the oldest probe entries and reuses their sets: no allocation
// per packet in the detector (the flow table is outside this test).
func TestForgedProbesNoAllocs(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxKeys, cfg.MaxProbeKeys = 20000, 5000
	e := New(cfg, func(*alert.Alert) {})
	p := tcp(attacker, victim, 40000, 80, fACK, 0)
	i := 0
	step := func() {
		i++
		p.Src = netip.AddrFrom4([4]byte{198, 18 + byte(i>>16&1), byte(i >> 8), byte(i)})
		p.DstPort = uint16(1 + i%7)
		p.TsNs = t0 + int64(i)*1e3 // 1M probes/s: nothing expires, everything evicts
		e.Observe(&Input{P: p, Ev: flows.EvNew, FromOrig: true})
	}
	for range 50000 {
		step()
	}
	if n := testing.AllocsPerRun(5000, step); n != 0 {
		t.Fatalf("%v allocations per forged probe", n)
	}
	if st := e.Stats(); st.StateEvictedProbe < 50000 || st.ProbeKeys > 5000 {
		t.Fatalf("stats %+v", st)
	}
}
