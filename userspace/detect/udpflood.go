package detect

import (
	"net/netip"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/userspace/detect/alert"
)

// UDPFloodConfig is udp_flood's section: 5000 UDP packets a second from
// one source; 10000 a second to one destination from at least
// flood_destination_min_sources sources. A kernel UDP rate-limit sample
// is a flood from its source.
type UDPFloodConfig struct {
	UDPFloodSrc int `yaml:"udp_flood_source"`
	UDPFloodDst int `yaml:"udp_flood_destination"`
}

func (c *UDPFloodConfig) setDefaults() { c.UDPFloodSrc, c.UDPFloodDst = 5000, 10000 }

// udpFlood counts UDP packets per source and per destination.
type udpFlood struct {
	cfg *Config
	src *windowTable[netip.Addr]
	dst *sourceTable[netip.Addr]
}

func newUDPFlood(st *state, cfg *Config) Detector {
	return &udpFlood{cfg: cfg, src: newWindowTable[netip.Addr](st), dst: newSourceTable[netip.Addr](st)}
}

func (d *udpFlood) Name() string   { return "udp_flood" }
func (d *udpFlood) Classes() Class { return ClassRateLimit | AnyUDP }

func (d *udpFlood) Describe() Description {
	return Description{Name: d.Name(), Config: &d.cfg.UDPFloodConfig, Signatures: []alert.Signature{alert.UDPFloodSrc, alert.UDPFloodDst}}
}

func (d *udpFlood) Observe(in *Input, c *Ctx) {
	p := in.P
	if c.Class == ClassRateLimit {
		if p.Reason == bpf.ReasonRateUDP {
			c.fire(in, alert.UDPFloodSrc, p.Src, false, int64(d.cfg.FloodBanTTL), func() map[string]string { return kernelLimitMeta(p) })
		}
		return
	}
	now, flood := p.TsNs, int64(d.cfg.FloodWindow)
	wt := in.weight(flood)
	if w, ok := d.src.count(p.Src, now, wt); ok && w.n >= d.cfg.UDPFloodSrc {
		c.fire(in, alert.UDPFloodSrc, p.Src, false, int64(d.cfg.FloodBanTTL),
			func() map[string]string {
				return map[string]string{"packets": itoa(w.n), "window": d.cfg.FloodWindow.String()}
			})
	}
	if n := d.dst.count(p.Dst, p.Src, now, flood, wt, d.cfg.FloodDstSources); n != nil && n.n >= d.cfg.UDPFloodDst && len(n.sources) >= d.cfg.FloodDstSources {
		c.fire(in, alert.UDPFloodDst, p.Dst, true, 0,
			func() map[string]string {
				return map[string]string{"packets": itoa(n.n), "sources_at_least": itoa(len(n.sources)), "window": d.cfg.FloodWindow.String()}
			})
	}
}

func (d *udpFlood) Expire(now int64) {
	flood := int64(d.cfg.FloodWindow)
	d.src.expire(now, flood)
	d.dst.expire(now, flood)
}
