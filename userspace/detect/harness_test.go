package detect

import (
	"fmt"
	"net/netip"
	"strconv"
	"testing"
	"time"

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
	var owner map[uint32]string
	h.e = New(cfg, func(a *alert.Alert) {
		// Every alert comes from the detector that describes its sid.
		if owner[a.SID] != a.Detector {
			t.Errorf("sid %d fired by %q, described by %q", a.SID, a.Detector, owner[a.SID])
		}
		c := *a
		c.Payload = append([]byte(nil), a.Payload...)
		h.alerts = append(h.alerts, c)
	})
	owner = sidOwners(h.e)
	return h
}

// sidOwners maps each sid to the detector describing it.
func sidOwners(e *Engine) map[uint32]string {
	m := map[uint32]string{}
	for _, d := range e.Detectors() {
		for _, s := range d.Signatures {
			m[s.SID] = d.Name
		}
	}
	return m
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

func arpRequest(sender, target netip.Addr, ts int64) *decode.Packet {
	return &decode.Packet{TsNs: ts, Ifindex: 3, WireLen: 60, CapLen: 60, ARPOp: 1, ARPSender: sender, ARPTarget: target}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
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
