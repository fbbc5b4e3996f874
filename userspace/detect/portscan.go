package detect

import (
	"net/netip"

	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

// PortScanConfig is port_scan's section. Scans follow Zeek's scan policy
// (policy/misc/scan.zeek): 15 distinct ports on one host, or 25 hosts on
// one port, within scan_window, counting attempts that did not complete a
// handshake. Nmap's default scan probes 1000 ports; a legitimate client
// touches a handful.
type PortScanConfig struct {
	ScanVerticalPorts   int `yaml:"scan_vertical_ports"`
	ScanHorizontalHosts int `yaml:"scan_horizontal_hosts"`
}

func (c *PortScanConfig) setDefaults() { c.ScanVerticalPorts, c.ScanHorizontalHosts = 15, 25 }

// portScan counts the new flows of a source that completed no handshake:
// distinct ports per destination (vertical, TCP and UDP apart) and
// distinct destinations per port (horizontal).
type portScan struct {
	cfg        *Config
	vertical   *setTable[pairKey, uint16] // src, dst: TCP ports
	verticalU  *setTable[pairKey, uint16] // src, dst: UDP ports
	horizontal *setTable[portKey, netip.Addr]
}

func newPortScan(st *state, cfg *Config) Detector {
	return &portScan{cfg: cfg, vertical: newSetTable[pairKey, uint16](st), verticalU: newSetTable[pairKey, uint16](st),
		horizontal: newSetTable[portKey, netip.Addr](st)}
}

func (d *portScan) Name() string   { return "port_scan" }
func (d *portScan) Classes() Class { return ClassTCPHandshake | ClassUDPNew }

func (d *portScan) Describe() Description {
	return Description{Name: d.Name(), Config: &d.cfg.PortScanConfig,
		Signatures: []alert.Signature{alert.ScanVerticalTCP, alert.ScanHorizontalTCP, alert.ScanVerticalUDP, alert.ScanHorizontalUDP}}
}

func (d *portScan) Observe(in *Input, c *Ctx) {
	if c.Class == ClassUDPNew {
		if in.Ev&flows.EvNew != 0 && in.FromOrig && !c.Response && !c.NotProbe {
			d.attempt(in, c, true)
		}
		return
	}
	fl := in.P.TCPFlags
	if in.Ev&flows.EvNew != 0 && !isSynAck(fl) && fl&decode.FlagRST == 0 {
		// SYN, or a stealth probe (FIN, NULL, XMAS, ACK, Maimon).
		d.attempt(in, c, false)
	}
	if in.Ev&flows.EvEstablished != 0 && in.F != nil {
		// A completed handshake: not a failed attempt.
		orig, _ := in.F.Orig()
		resp, rport := in.F.Resp()
		if s := d.vertical.lookup(pairKey{orig, resp}); s != nil && !s.alerted {
			delete(s.items, rport)
		}
		if h := d.horizontal.lookup(portKey{a: orig, port: rport}); h != nil && !h.alerted {
			delete(h.items, resp)
		}
	}
}

// attempt counts a new flow from the packet's source as an attempt
// toward the vertical and horizontal thresholds.
func (d *portScan) attempt(in *Input, c *Ctx, udp bool) {
	p := in.P
	now := p.TsNs
	win := int64(d.cfg.ScanWindow)
	vt, vsig, hsig := d.vertical, alert.ScanVerticalTCP, alert.ScanHorizontalTCP
	if udp {
		vt, vsig, hsig = d.verticalU, alert.ScanVerticalUDP, alert.ScanHorizontalUDP
	}
	s := vt.entry(pairKey{p.Src, p.Dst}, now, win)
	if !s.alerted && vt.add(s, p.DstPort) {
		if len(s.items) >= d.cfg.ScanVerticalPorts {
			s.alerted = true
			c.fire(in, vsig, p.Src, false, int64(d.cfg.ScanBanTTL),
				func() map[string]string {
					return map[string]string{"distinct_ports": itoa(len(s.items)), "window": d.cfg.ScanWindow.String()}
				})
		}
	}
	h := d.horizontal.entry(portKey{p.Src, p.DstPort, udp}, now, win)
	if !h.alerted && d.horizontal.add(h, p.Dst) {
		if len(h.items) >= d.cfg.ScanHorizontalHosts {
			h.alerted = true
			c.fire(in, hsig, p.Src, false, int64(d.cfg.ScanBanTTL),
				func() map[string]string {
					return map[string]string{"distinct_hosts": itoa(len(h.items)), "port": itoa(int(p.DstPort)), "window": d.cfg.ScanWindow.String()}
				})
		}
	}
}

func (d *portScan) Expire(now int64) {
	win := int64(d.cfg.ScanWindow)
	d.vertical.expire(now, win)
	d.verticalU.expire(now, win)
	d.horizontal.expire(now, win)
}
