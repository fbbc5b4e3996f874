package detect

import (
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

// icmpRecon alerts on ICMP timestamp (13), information (15) and address
// mask (17) requests, as OS fingerprinting tools (xprobe2, nmap) send
// them. One packet is enough; no config.
type icmpRecon struct{}

func newICMPRecon(*state, *Config) Detector { return icmpRecon{} }

func (icmpRecon) Name() string   { return "icmp_recon" }
func (icmpRecon) Classes() Class { return ClassICMP }
func (icmpRecon) Expire(int64)   {}

func (d icmpRecon) Describe() Description {
	return Description{Name: d.Name(), Signatures: []alert.Signature{alert.ICMPRecon}}
}

func (icmpRecon) Observe(in *Input, c *Ctx) {
	p := in.P
	if p.Proto == decode.ProtoICMP && (p.ICMPType == 13 || p.ICMPType == 15 || p.ICMPType == 17) {
		c.fire(in, alert.ICMPRecon, p.Src, false, 0,
			func() map[string]string { return map[string]string{"icmp_type": itoa(int(p.ICMPType))} })
	}
}
