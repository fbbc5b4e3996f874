package detect

import (
	"time"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/flow/flows"
)

// SynFloodConfig is syn_flood's section. From one source: 200 SYNs to one
// ip:port within flood_window (1 s) with fewer than 20% completing the
// handshake. Per destination (spoofed, distributed): 2500 SYNs in 5 s
// (500/s, Linux's default tcp_max_syn_backlog is 512-4096) from at least
// 100 sources, <20% completed. A busy web server completes most of its
// handshakes. A kernel SYN rate-limit sample is a flood from its source.
type SynFloodConfig struct {
	SynFloodSrc       int           `yaml:"syn_flood_source"`
	SynFloodDst       int           `yaml:"syn_flood_destination"`
	SynFloodDstWindow time.Duration `yaml:"syn_flood_destination_window"`
	SynFloodSources   int           `yaml:"syn_flood_min_sources"`
	SynCompletedRatio float64       `yaml:"syn_completed_ratio"`
}

func (c *SynFloodConfig) setDefaults() {
	*c = SynFloodConfig{SynFloodSrc: 200, SynFloodDst: 2500, SynFloodDstWindow: 5 * time.Second, SynFloodSources: 100, SynCompletedRatio: 0.2}
}

// synFlood counts SYNs and completed handshakes per source and tuple and
// per destination port.
type synFlood struct {
	cfg *Config
	src *windowTable[triple] // src->dst:port SYNs, completions
	dst *sourceTable[dstPort]
}

func newSynFlood(st *state, cfg *Config) Detector {
	return &synFlood{cfg: cfg, src: newWindowTable[triple](st), dst: newSourceTable[dstPort](st)}
}

func (d *synFlood) Name() string   { return "syn_flood" }
func (d *synFlood) Classes() Class { return ClassRateLimit | ClassTCPHandshake }

func (d *synFlood) Describe() Description {
	return Description{Name: d.Name(), Config: &d.cfg.SynFloodConfig, Signatures: []alert.Signature{alert.SynFloodSrc, alert.SynFloodDst}}
}

func (d *synFlood) Observe(in *Input, c *Ctx) {
	p := in.P
	if c.Class == ClassRateLimit {
		if p.Reason == bpf.ReasonRateSYN {
			c.fire(in, alert.SynFloodSrc, p.Src, false, int64(d.cfg.FloodBanTTL), func() map[string]string { return kernelLimitMeta(p) })
		}
		return
	}
	if isSyn(p.TCPFlags) && in.FromOrig {
		d.syn(in, c)
	}
	if in.Ev&flows.EvEstablished != 0 && in.F != nil {
		// A completed handshake, for the ratios.
		orig, _ := in.F.Orig()
		resp, rport := in.F.Resp()
		k := triple{orig, resp, rport}
		if w, ok := d.src.get(k); ok && w.start != 0 {
			w.m++
			d.src.put(k, w)
		}
		if n := d.dst.lookup(dstPort{resp, rport}); n != nil {
			n.m++
		}
	}
}

func (d *synFlood) syn(in *Input, c *Ctx) {
	p := in.P
	now := p.TsNs
	w, ok := d.src.count(triple{p.Src, p.Dst, p.DstPort}, now, 1)
	if !ok {
		return
	}
	if w.n >= d.cfg.SynFloodSrc && float64(w.m) < d.cfg.SynCompletedRatio*float64(w.n) {
		c.fire(in, alert.SynFloodSrc, p.Src, false, int64(d.cfg.FloodBanTTL),
			func() map[string]string {
				return map[string]string{"syns": itoa(w.n), "completed": itoa(w.m), "window": d.cfg.FloodWindow.String()}
			})
	}
	n := d.dst.count(dstPort{p.Dst, p.DstPort}, p.Src, now, int64(d.cfg.SynFloodDstWindow), 1, d.cfg.SynFloodSources)
	if n == nil {
		return
	}
	if n.n >= d.cfg.SynFloodDst && len(n.sources) >= d.cfg.SynFloodSources && float64(n.m) < d.cfg.SynCompletedRatio*float64(n.n) {
		c.fire(in, alert.SynFloodDst, p.Dst, true, 0,
			func() map[string]string {
				return map[string]string{"syns": itoa(n.n), "completed": itoa(n.m), "sources_at_least": itoa(len(n.sources)), "window": d.cfg.SynFloodDstWindow.String()}
			})
	}
}

func (d *synFlood) Expire(now int64) {
	d.src.expire(now, int64(d.cfg.FloodWindow))
	d.dst.expire(now, int64(d.cfg.SynFloodDstWindow))
}
