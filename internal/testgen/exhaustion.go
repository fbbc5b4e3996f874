package testgen

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// ExhaustionCaptures are the exhaustion attacks of issue 9: forged load
// meant to blind the detectors or spend the responder's ban budget, with a
// real attack inside it that must still be detected and banned. They are
// large (up to about 100,000 frames, 7 MB), so they are generated at test
// time and not committed, and are not in All().
func ExhaustionCaptures() []Capture { return exhaustionCaptures }

// LookupExhaustion returns the exhaustion capture called name.
func LookupExhaustion(name string) (Capture, bool) {
	for _, c := range exhaustionCaptures {
		if c.Name == name {
			return c, true
		}
	}
	return Capture{}, false
}

// ForgedSources is how many forged sources exhaust_ack_scan uses.
const ForgedSources = 14000

// ForgedScanners is how many forged scanners exhaust_forged_scanners
// uses: more than the 600 bans a minute of the default budget.
const ForgedScanners = 650

// ForgedScannerPorts is how many ports each forged scanner probes: one
// past the default vertical scan threshold (15), the cheapest way to cost
// a ban.
const ForgedScannerPorts = 16

// RealScanAt is when the real scan starts in each exhaustion capture.
var RealScanAt = map[string]time.Duration{"exhaust_ack_scan": 20 * time.Second, "exhaust_forged_scanners": 8 * time.Second}

var exhaustionCaptures = []Capture{
	{"exhaust_ack_scan", "ACK probes forged from 14,000 sources in 198.18.0.0/15 (7 random ports of the victim each, " +
		"98,000 probes in 20 s, sent blind: the answers go to the forged addresses), then from 20 s, while the same " +
		"sources go on probing (one more port each in 5 s), a real nmap -sS of 1000 ports of the victim from the attacker", exhaustACKScan},
	{"exhaust_forged_scanners", "650 forged SYN scanners in 198.18.0.0/15, one every 18 ms for 12 s, each probing 16 " +
		"random ports of the victim in 16 ms (one past the scan threshold: each costs a ban), sent blind; from 8 s, " +
		"with some 430 of them past the threshold, a real nmap -sS of 1000 ports of the victim from the attacker",
		exhaustForgedScanners},
}

// load is where an exhaustion attack's forged load goes: the capture's
// victim and sources, or a live replay's.
type load struct {
	victim  netip.Addr
	sources netip.Prefix // IPv4, at least as many addresses as the load's sources
	scale   float64      // time scale of the load (1: as in the capture)
}

var captureLoad = load{victim: Victim, sources: netip.MustParsePrefix("198.18.0.0/15"), scale: 1}

// source is the i-th forged source: the i-th address of the prefix.
func (l load) source(i int) netip.Addr {
	a := l.sources.Masked().Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(i)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func (l load) at(d time.Duration) time.Duration {
	d = time.Duration(float64(d) * l.scale)
	return d - d%us
}

// ackLoad is the ACK probes of exhaust_ack_scan: 7 ports of the victim
// from each of the sources in 20 s, then one more each in 5 s.
func ackLoad(b *builder, l load) {
	const perSource = 7
	step := 20 * time.Second / (ForgedSources * perSource)
	step -= step % us
	t := time.Duration(0)
	probe := func(src netip.Addr) {
		sp := netip.AddrPortFrom(src, b.rnd.ephemeral())
		dst := netip.AddrPortFrom(l.victim, uint16(1+b.rnd.intn(65535)))
		b.tcp(l.at(t), sp, dst, seg{flags: ack, seq: b.rnd.u32(), ack: b.rnd.u32(), win: 1024})
	}
	for i := range ForgedSources {
		for range perSource {
			probe(l.source(i))
			t += step
		}
	}
	// The forged load goes on during the real scan.
	step = 5 * time.Second / ForgedSources
	step -= step % us
	for i := range ForgedSources {
		probe(l.source(i))
		t += step
	}
}

// scannerLoad is the forged SYN scanners of exhaust_forged_scanners: one
// every 12 s / ForgedScanners, each probing ForgedScannerPorts distinct
// random ports of the victim 1 ms apart, as nmap's raw probes.
func scannerLoad(b *builder, l load) {
	every := 12 * time.Second / ForgedScanners
	every -= every % us
	for i := range ForgedScanners {
		sp := netip.AddrPortFrom(l.source(i), b.rnd.ephemeral())
		seen := map[uint16]bool{}
		for j := 0; j < ForgedScannerPorts; {
			p := uint16(1 + b.rnd.intn(65535))
			if seen[p] {
				continue
			}
			seen[p] = true
			t := time.Duration(i)*every + time.Duration(j)*ms
			b.tcp(l.at(t), sp, netip.AddrPortFrom(l.victim, p), seg{flags: syn, seq: b.rnd.u32(), win: 1024, opts: nmapSYN})
			j++
		}
	}
}

// withRealScan builds a forged load and, from at, the attacker's real
// nmap -sS of the victim inside it.
func withRealScan(b *builder, forged func(*builder, load), at time.Duration) {
	forged(b, captureLoad)
	scan := &builder{rnd: b.rnd}
	synScan(scan, Attacker, Victim)
	b.rnd = scan.rnd
	for _, f := range scan.frames {
		b.frames = append(b.frames, frame{at: f.at + at, data: f.data})
	}
	if scan.err != nil {
		b.err = scan.err
	}
}

func exhaustACKScan(b *builder) { withRealScan(b, ackLoad, RealScanAt["exhaust_ack_scan"]) }

func exhaustForgedScanners(b *builder) {
	withRealScan(b, scannerLoad, RealScanAt["exhaust_forged_scanners"])
}

// Live says where a live replay of an exhaustion attack's forged load
// goes (the real attack is the test's own tool, nmap).
type Live struct {
	Victim         netip.Addr       // the address the forged sources probe
	SrcMAC, DstMAC net.HardwareAddr // of every frame (the replaying link's peer, the victim's link)
	// Sources is where the forged sources are taken from, in order: an
	// IPv4 prefix inside 198.18.0.0/15 with room for all of them, apart
	// from the test's own hosts.
	Sources netip.Prefix
	// Span is how long the load lasts (the capture's timing scaled; the
	// replay tool may set its own rate).
	Span time.Duration
}

var benchmarking = netip.MustParsePrefix("198.18.0.0/15")

// LiveLoad generates the forged load of the exhaustion capture called
// name (without its real scan) for a live replay.
func LiveLoad(name string, l Live) ([]Frame, error) {
	var f func(*builder, load)
	var n int
	var span time.Duration
	switch name {
	case "exhaust_ack_scan":
		f, n, span = ackLoad, ForgedSources, 25*time.Second
	case "exhaust_forged_scanners":
		f, n, span = scannerLoad, ForgedScanners, 12*time.Second
	default:
		return nil, fmt.Errorf("testgen: no exhaustion capture %q", name)
	}
	s := l.Sources.Masked()
	if !s.Addr().Is4() || !benchmarking.Contains(s.Addr()) || s.Bits() < benchmarking.Bits() || 1<<(32-s.Bits()) < n {
		return nil, fmt.Errorf("testgen: sources %s: want an IPv4 prefix inside %s with %d addresses", l.Sources, benchmarking, n)
	}
	if len(l.SrcMAC) != 6 || len(l.DstMAC) != 6 {
		return nil, errors.New("testgen: live load needs both MAC addresses")
	}
	ld := load{victim: l.Victim, sources: s, scale: 1}
	if l.Span > 0 {
		ld.scale = float64(l.Span) / float64(span)
	}
	c := Capture{Name: name + "_live", build: func(b *builder) {
		b.srcMAC, b.dstMAC = l.SrcMAC, l.DstMAC
		f(b, ld)
	}}
	return c.Frames()
}
