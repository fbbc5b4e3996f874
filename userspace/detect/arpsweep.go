package detect

import (
	"net/netip"

	"github.com/xdpids/xdpids/userspace/detect/alert"
)

// ARPSweepConfig is arp_sweep's section: one sender asking for 50 distinct
// addresses within scan_window (nmap -sn on a LAN ARPs every address; a
// host asks for its gateway and a few peers).
type ARPSweepConfig struct {
	ARPSweepHosts int `yaml:"arp_sweep_hosts"`
}

func (c *ARPSweepConfig) setDefaults() { c.ARPSweepHosts = 50 }

// arpSweep counts the distinct targets of each sender's ARP requests.
type arpSweep struct {
	cfg     *Config
	senders *setTable[addrKey, netip.Addr]
}

func newARPSweep(st *state, cfg *Config) Detector {
	return &arpSweep{cfg: cfg, senders: newSetTable[addrKey, netip.Addr](st)}
}

func (d *arpSweep) Name() string   { return "arp_sweep" }
func (d *arpSweep) Classes() Class { return ClassARP }

func (d *arpSweep) Describe() Description {
	return Description{Name: d.Name(), Config: &d.cfg.ARPSweepConfig, Signatures: []alert.Signature{alert.ScanARPSweep}}
}

func (d *arpSweep) Observe(in *Input, c *Ctx) {
	p := in.P
	if p.ARPOp != 1 || !p.ARPSender.IsValid() || !p.ARPTarget.IsValid() || p.ARPSender == p.ARPTarget {
		return // replies, gratuitous ARP and probes (sender 0.0.0.0 is valid but never banned) pass
	}
	h := d.senders.entry(addrKey{p.ARPSender}, p.TsNs, int64(d.cfg.ScanWindow))
	if h.alerted || !d.senders.add(h, p.ARPTarget) {
		return
	}
	if len(h.items) >= d.cfg.ARPSweepHosts {
		h.alerted = true
		subject := p.ARPSender
		ttl := int64(d.cfg.ScanBanTTL)
		if subject.IsUnspecified() {
			ttl = 0
		}
		// EVE needs IP fields: the sender and the last target asked for.
		p.Src, p.Dst = p.ARPSender, p.ARPTarget
		c.fire(in, alert.ScanARPSweep, subject, false, ttl,
			func() map[string]string {
				return map[string]string{"distinct_targets": itoa(len(h.items)), "window": d.cfg.ScanWindow.String()}
			})
	}
}

func (d *arpSweep) Expire(now int64) { d.senders.expire(now, int64(d.cfg.ScanWindow)) }
