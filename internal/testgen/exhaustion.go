package testgen

import (
	"net/netip"
	"time"
)

// ExhaustionCaptures are the state exhaustion attacks of issue 9: forged
// load meant to blind the detectors, with a real attack inside it that
// must still be detected. They are large (about 100,000 frames, 7 MB), so
// they are generated at test time and not committed, and are not in All().
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

// ForgedSources is how many forged sources the exhaustion captures use.
const ForgedSources = 14000

var exhaustionCaptures = []Capture{
	{"exhaust_ack_scan", "ACK probes forged from 14,000 sources in 198.18.0.0/15 (7 random ports of the victim each, " +
		"98,000 probes in 20 s, sent blind: the answers go to the forged addresses), then from 20 s, while the same " +
		"sources go on probing (one more port each in 5 s), a real nmap -sS of 1000 ports of the victim from the attacker", exhaustACKScan},
}

// forgedSource is the i-th forged source: distinct addresses of
// 198.18.0.0/15 (i < 131072).
func forgedSource(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 18 + byte(i>>16&1), byte(i >> 8), byte(i)})
}

func exhaustACKScan(b *builder) {
	const perSource = 7
	span := 20 * time.Second
	step := span / (ForgedSources * perSource)
	step -= step % us
	t := time.Duration(0)
	probe := func(src netip.Addr) {
		sp := netip.AddrPortFrom(src, b.rnd.ephemeral())
		dst := netip.AddrPortFrom(Victim, uint16(1+b.rnd.intn(65535)))
		b.tcp(t, sp, dst, seg{flags: ack, seq: b.rnd.u32(), ack: b.rnd.u32(), win: 1024})
	}
	for i := range ForgedSources {
		for range perSource {
			probe(forgedSource(i))
			t += step
		}
	}
	// The forged load goes on during the real scan.
	step = 5 * time.Second / ForgedSources
	step -= step % us
	for i := range ForgedSources {
		probe(forgedSource(i))
		t += step
	}
	// The real scan starts at 20 s, the table full of forged state.
	scan := &builder{rnd: b.rnd}
	synScan(scan, Attacker, Victim)
	b.rnd = scan.rnd
	for _, f := range scan.frames {
		b.frames = append(b.frames, frame{at: f.at + 20*time.Second, data: f.data})
	}
	if scan.err != nil {
		b.err = scan.err
	}
}
