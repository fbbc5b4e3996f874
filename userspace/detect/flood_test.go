package detect

import (
	"net/netip"
	"testing"
	"time"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

// flood describes a threshold detector driven by one packet generator:
// a row of a flood detector's table (synFloods, udpFloods, ...).
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

// testFloods runs a detector's flood table: each row fires once at its
// threshold, stays one (suppressed) alert as the flood goes on, and never
// fires with its packets spaced wider than the windows.
func testFloods(t *testing.T, cfg Config, rows []flood) {
	for _, fc := range rows {
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
		t.Run(fc.name+" spaced out", func(t *testing.T) {
			// The same packets spaced wider than each window never fire.
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
