package loader

import (
	"fmt"
	"time"

	"github.com/xdpids/xdpids/bpf"
)

// Bucket is one per-source token bucket: Rate packets per second with a
// depth of Burst packets. Rate 0 turns the limit off.
type Bucket struct {
	Rate  uint32 `yaml:"rate" json:"rate"`
	Burst uint32 `yaml:"burst" json:"burst"`
}

// Config is the XDP program's run-time configuration (the config map).
type Config struct {
	Monitor             bool          // count would-drops, never drop
	Snaplen             uint32        // bytes of each sampled frame, 1..1536
	FlowSamples         uint32        // first N packets of each flow direction sampled; bpf.FlowSamplesAll: all until bypassed
	SampleOneIn         uint32        // 1-in-N sampling of the rest; 0 = off
	SampleRate          uint32        // per-CPU sample budget per second; 0 = unlimited
	SampleBurst         uint32        // depth of the sample budget
	RateLimitSampleEach time.Duration // one rate-limit sample per source per interval
	SampleMask          uint32        // enabled bpf.Sample* reasons
	SYN, UDP, ICMP      Bucket        // per-source limits (IPv6 per /64)

	// SYN cookies: while a destination port gets more than
	// CookieThreshold SYN/s (0 = off), or always with CookieAlways, the
	// program answers its SYNs with SYN cookie SYN-ACKs (XDP_TX) and
	// verifies the sources whose ACK carries a valid cookie. The listener
	// accepts those connections only with net.ipv4.tcp_syncookies=2 (see
	// bpf/xdpids.c), and only from a stack that sent a cookie itself in
	// the last two minutes: CookieRefresh lets one SYN per port and
	// interval through to the stack for that (0 = none).
	CookieThreshold uint32
	CookieAlways    bool
	CookieRefresh   time.Duration
	// HopTolerance is the TTL / hop limit difference tolerated from a
	// verified source; more is counted as spoofed (255: never).
	HopTolerance uint32
	// EgressSamples has the tcx egress program sample the host's own
	// packets of the flows under inspection (bpf.TrustEgress), so the
	// daemon sees the replies of connections to the host, not only what
	// arrives.
	EgressSamples bool
}

// DefaultConfig is what `xdpids run` uses without a configuration file.
func DefaultConfig() Config {
	return Config{
		Snaplen:             256,
		FlowSamples:         4,
		SampleOneIn:         0,
		SampleRate:          20000,
		SampleBurst:         40000,
		RateLimitSampleEach: time.Second,
		SampleMask:          bpf.SampleAll,
		SYN:                 Bucket{Rate: 1000, Burst: 2000},
		UDP:                 Bucket{Rate: 20000, Burst: 40000},
		ICMP:                Bucket{Rate: 100, Burst: 200},
		CookieThreshold:     2000,
		CookieRefresh:       10 * time.Second,
		HopTolerance:        2,
		EgressSamples:       true,
	}
}

// Validate reports the first field out of range.
func (c Config) Validate() error {
	if c.Snaplen < 1 || c.Snaplen > bpf.MaxSnaplen {
		return fmt.Errorf("snaplen %d out of range 1..%d", c.Snaplen, bpf.MaxSnaplen)
	}
	if c.FlowSamples > 1<<20 && c.FlowSamples != bpf.FlowSamplesAll {
		return fmt.Errorf("flow_samples %d out of range 0..%d (or every packet)", c.FlowSamples, 1<<20)
	}
	if c.SampleMask&^bpf.SampleAll != 0 {
		return fmt.Errorf("sample mask %#x has unknown bits", c.SampleMask)
	}
	if c.RateLimitSampleEach < 0 || c.RateLimitSampleEach > time.Hour {
		return fmt.Errorf("rate-limit sample interval %s out of range 0..1h", c.RateLimitSampleEach)
	}
	if c.CookieThreshold > 1_000_000_000 {
		return fmt.Errorf("syn cookie threshold %d over 1e9 SYN/s", c.CookieThreshold)
	}
	// The stack accepts cookies for two minutes after it sent one itself.
	if c.CookieRefresh < 0 || c.CookieRefresh > time.Minute {
		return fmt.Errorf("syn cookie refresh interval %s out of range 0..1m", c.CookieRefresh)
	}
	if c.HopTolerance > 255 {
		return fmt.Errorf("hop count tolerance %d out of range 0..255", c.HopTolerance)
	}
	for name, b := range map[string]Bucket{"syn": c.SYN, "udp": c.UDP, "icmp": c.ICMP} {
		if b.Rate > 0 && b.Burst == 0 {
			return fmt.Errorf("rate limit %s: burst must be at least 1 when rate is set", name)
		}
		if b.Rate > 1_000_000_000 {
			return fmt.Errorf("rate limit %s: rate %d over 1e9/s", name, b.Rate)
		}
	}
	return nil
}

func (c Config) raw() bpf.XdpidsConfig {
	var r bpf.XdpidsConfig
	if c.Monitor {
		r.Monitor = 1
	}
	r.Snaplen = c.Snaplen
	r.FlowSamples = c.FlowSamples
	r.SampleOneIn = c.SampleOneIn
	r.SampleRate = c.SampleRate
	r.SampleBurst = c.SampleBurst
	r.RatelimitSampleMs = uint32(c.RateLimitSampleEach / time.Millisecond)
	r.SampleMask = c.SampleMask
	r.Limits[bpf.LimitSYN] = bpf.XdpidsBucketConfig{Rate: c.SYN.Rate, Burst: c.SYN.Burst}
	r.Limits[bpf.LimitUDP] = bpf.XdpidsBucketConfig{Rate: c.UDP.Rate, Burst: c.UDP.Burst}
	r.Limits[bpf.LimitICMP] = bpf.XdpidsBucketConfig{Rate: c.ICMP.Rate, Burst: c.ICMP.Burst}
	r.CookieThreshold = c.CookieThreshold
	if c.CookieAlways {
		r.CookieAlways = 1
	}
	r.CookieRefreshMs = uint32(c.CookieRefresh / time.Millisecond)
	r.HopTolerance = c.HopTolerance
	if c.EgressSamples {
		r.EgressSamples = 1
	}
	return r
}

func configFromRaw(r bpf.XdpidsConfig) Config {
	return Config{
		Monitor:             r.Monitor != 0,
		Snaplen:             r.Snaplen,
		FlowSamples:         r.FlowSamples,
		SampleOneIn:         r.SampleOneIn,
		SampleRate:          r.SampleRate,
		SampleBurst:         r.SampleBurst,
		RateLimitSampleEach: time.Duration(r.RatelimitSampleMs) * time.Millisecond,
		SampleMask:          r.SampleMask,
		SYN:                 Bucket{r.Limits[bpf.LimitSYN].Rate, r.Limits[bpf.LimitSYN].Burst},
		UDP:                 Bucket{r.Limits[bpf.LimitUDP].Rate, r.Limits[bpf.LimitUDP].Burst},
		ICMP:                Bucket{r.Limits[bpf.LimitICMP].Rate, r.Limits[bpf.LimitICMP].Burst},
		CookieThreshold:     r.CookieThreshold,
		CookieAlways:        r.CookieAlways != 0,
		CookieRefresh:       time.Duration(r.CookieRefreshMs) * time.Millisecond,
		HopTolerance:        r.HopTolerance,
		EgressSamples:       r.EgressSamples != 0,
	}
}
