package detect

import (
	"net/netip"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

// ICMPFloodConfig is icmp_flood's section: 500 ICMP packets a second from
// one source (ping -f sends ~10k/s, a normal ping 1/s), ten times that for
// ICMP errors; 2000 a second to one destination from at least
// flood_destination_min_sources sources. A kernel ICMP rate-limit sample
// is a flood from its source.
type ICMPFloodConfig struct {
	ICMPFloodSrc int `yaml:"icmp_flood_source"`
	ICMPFloodDst int `yaml:"icmp_flood_destination"`
}

func (c *ICMPFloodConfig) setDefaults() { c.ICMPFloodSrc, c.ICMPFloodDst = 500, 2000 }

// icmpFlood counts ICMP packets per source and per destination.
type icmpFlood struct {
	cfg *Config
	src *windowTable[netip.Addr]
	dst *sourceTable[netip.Addr]
}

func newICMPFlood(st *state, cfg *Config) Detector {
	return &icmpFlood{cfg: cfg, src: newWindowTable[netip.Addr](st), dst: newSourceTable[netip.Addr](st)}
}

func (d *icmpFlood) Name() string   { return "icmp_flood" }
func (d *icmpFlood) Classes() Class { return ClassRateLimit | ClassICMP }

func (d *icmpFlood) Describe() Description {
	return Description{Name: d.Name(), Config: &d.cfg.ICMPFloodConfig, Signatures: []alert.Signature{alert.ICMPFloodSrc, alert.ICMPFloodDst}}
}

func (d *icmpFlood) Observe(in *Input, c *Ctx) {
	p := in.P
	if c.Class == ClassRateLimit {
		// Errors answer traffic (see below); the kernel limit still applies.
		if p.Reason == bpf.ReasonRateICMP && !isICMPError(p) {
			c.fire(in, alert.ICMPFloodSrc, p.Src, false, int64(d.cfg.FloodBanTTL), func() map[string]string { return kernelLimitMeta(p) })
		}
		return
	}
	now, flood := p.TsNs, int64(d.cfg.FloodWindow)
	limit := d.cfg.ICMPFloodSrc
	if isICMPError(p) {
		// Errors answer traffic (a host scanned with UDP sends a port
		// unreachable per probe): only a far larger rate is a flood
		// (BlackNurse-style type 3 floods run at tens of thousands/s).
		limit *= 10
	}
	// Echo replies answer someone's requests: they count against the
	// destination (a smurf flood), never as a flood from their sender.
	reply := (p.Proto == decode.ProtoICMP && p.ICMPType == 0) || (p.Proto == decode.ProtoICMPv6 && p.ICMPType == 129)
	wt := in.weight(flood)
	if w, ok := d.src.count(p.Src, now, wt); ok && w.n >= limit && !reply {
		c.fire(in, alert.ICMPFloodSrc, p.Src, false, int64(d.cfg.FloodBanTTL),
			func() map[string]string {
				return map[string]string{"packets": itoa(w.n), "window": d.cfg.FloodWindow.String()}
			})
	}
	if n := d.dst.count(p.Dst, p.Src, now, flood, wt, d.cfg.FloodDstSources); n != nil && n.n >= d.cfg.ICMPFloodDst && len(n.sources) >= d.cfg.FloodDstSources {
		c.fire(in, alert.ICMPFloodDst, p.Dst, true, 0,
			func() map[string]string {
				return map[string]string{"packets": itoa(n.n), "sources_at_least": itoa(len(n.sources)), "window": d.cfg.FloodWindow.String()}
			})
	}
}

func (d *icmpFlood) Expire(now int64) {
	flood := int64(d.cfg.FloodWindow)
	d.src.expire(now, flood)
	d.dst.expire(now, flood)
}

// isICMPError reports ICMP error messages (destination unreachable, time
// exceeded, parameter problem; ICMPv6 types 1-4).
func isICMPError(p *decode.Packet) bool {
	if p.Proto == decode.ProtoICMP {
		return p.ICMPType == 3 || p.ICMPType == 11 || p.ICMPType == 12
	}
	return p.Proto == decode.ProtoICMPv6 && p.ICMPType >= 1 && p.ICMPType <= 4
}
