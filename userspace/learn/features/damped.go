package features

import (
	"math"
	"math/bits"
)

// Scales are the time scales of the per-host windows, in seconds: the
// decay half-lives of Kitsune's damped incremental statistics (Mirsky et
// al., NDSS 2018, use 100 ms to 1 min; an IDS alerting on scans that
// take minutes needs the longer end).
var Scales = [NumScales]float64{1, 10, 60}

// NumScales is len(Scales).
const NumScales = 3

// damped is a count that decays with half-life h: each unit added at t
// is worth 2^-(now-t)/h at now (a damped window, no buffer of events).
type damped struct {
	W    float64
	AtNs int64
}

func (d *damped) at(nowNs int64, h float64) float64 {
	if nowNs <= d.AtNs || d.W == 0 {
		return d.W
	}
	return d.W * math.Exp2(-float64(nowNs-d.AtNs)/(h*1e9))
}

func (d *damped) add(nowNs int64, h, x float64) {
	d.W = d.at(nowNs, h) + x
	if nowNs > d.AtNs {
		d.AtNs = nowNs
	}
}

// distinct estimates how many distinct values a host saw within about a
// time scale: linear counting (Whang et al. 1990) on a 128-bit bitmap per
// window of the scale, the current window OR'ed with the previous one. A
// bounded sketch: 4 words whatever the traffic. Hand-written: a
// HyperLogLog library (axiomhq/hyperloglog) allocates per sketch and has
// no time windows; 128 bits estimate up to a few hundred values, enough
// to tell a scan from a client.
type distinct struct {
	Cur, Prev [2]uint64
	Win       int64 // window number of Cur
}

const distinctBits = 128

func (s *distinct) roll(nowNs int64, h float64) {
	win := nowNs / int64(h*1e9)
	switch {
	case win == s.Win:
	case win == s.Win+1:
		s.Prev, s.Cur, s.Win = s.Cur, [2]uint64{}, win
	case win > s.Win:
		s.Prev, s.Cur, s.Win = [2]uint64{}, [2]uint64{}, win
	}
}

func (s *distinct) add(nowNs int64, h float64, hash uint64) {
	s.roll(nowNs, h)
	b := hash % distinctBits
	s.Cur[b/64] |= 1 << (b % 64)
}

func (s *distinct) estimate(nowNs int64, h float64) float64 {
	s.roll(nowNs, h)
	set := bits.OnesCount64(s.Cur[0]|s.Prev[0]) + bits.OnesCount64(s.Cur[1]|s.Prev[1])
	zeros := distinctBits - set
	if zeros == 0 {
		zeros = 1 // saturated: the largest estimate the bitmap gives
	}
	return -distinctBits * math.Log(float64(zeros)/distinctBits)
}

// mix64 is splitmix64's finaliser: a cheap, well-spread hash of a port
// or an address word.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
