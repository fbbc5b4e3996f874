package detect

import (
	"net/netip"
	"time"

	"github.com/xdpids/xdpids/userspace/detect/alert"
)

// DHCPFloodConfig is dhcp_flood's section: 100 DHCP messages (to port 67
// or 68) on the segment within 10 s: starvation tools forge a client per
// message.
type DHCPFloodConfig struct {
	DHCPFlood  int           `yaml:"dhcp_flood"`
	DHCPWindow time.Duration `yaml:"dhcp_window"`
}

func (c *DHCPFloodConfig) setDefaults() { c.DHCPFlood, c.DHCPWindow = 100, 10*time.Second }

// dhcpFlood counts DHCP messages in one window for the whole segment.
type dhcpFlood struct {
	cfg *Config
	w   window
}

func newDHCPFlood(_ *state, cfg *Config) Detector { return &dhcpFlood{cfg: cfg} }

func (d *dhcpFlood) Name() string   { return "dhcp_flood" }
func (d *dhcpFlood) Classes() Class { return AnyUDP }
func (d *dhcpFlood) Expire(int64)   {}

func (d *dhcpFlood) Describe() Description {
	return Description{Name: d.Name(), Config: &d.cfg.DHCPFloodConfig, Signatures: []alert.Signature{alert.DHCPFlood}}
}

func (d *dhcpFlood) Observe(in *Input, c *Ctx) {
	p := in.P
	if c.Response || p.DstPort != 67 && p.DstPort != 68 {
		return
	}
	c.NotProbe = true // a DHCP message, not a UDP probe
	d.w.roll(p.TsNs, int64(d.cfg.DHCPWindow))
	d.w.n++
	if d.w.n >= d.cfg.DHCPFlood {
		// Starvation tools forge a new client for every message: the
		// alert is about the segment, not one subject.
		c.fire(in, alert.DHCPFlood, netip.Addr{}, true, 0,
			func() map[string]string {
				return map[string]string{"messages": itoa(d.w.n), "window": d.cfg.DHCPWindow.String()}
			})
	}
}
