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
	vmeta := func(n int) func() map[string]string {
		return func() map[string]string {
			m := map[string]string{"distinct_ports": itoa(len(s.items)), "window": d.cfg.ScanWindow.String()}
			if n > len(s.items) {
				m["probes"] = itoa(n)
			}
			return m
		}
	}
	if !s.alerted && vt.add(s, p.DstPort) {
		if n := len(s.items); n >= d.cfg.ScanVerticalPorts {
			s.alerted = true
			d.alert(in, c, vsig, &s.again, n, d.cfg.ScanVerticalPorts, false, vmeta(n))
		}
	} else if s.alerted {
		if n, due := s.again.attempt(len(s.items)); due {
			if c.e.wantsMore(in.P.Src) {
				d.alert(in, c, vsig, &s.again, n, d.cfg.ScanVerticalPorts, true, vmeta(n))
			} else {
				s.again.later(n, d.cfg.ScanVerticalPorts)
			}
		}
	}
	h := d.horizontal.entry(portKey{p.Src, p.DstPort, udp}, now, win)
	hmeta := func(n int) func() map[string]string {
		return func() map[string]string {
			m := map[string]string{"distinct_hosts": itoa(len(h.items)), "port": itoa(int(p.DstPort)), "window": d.cfg.ScanWindow.String()}
			if n > len(h.items) {
				m["probes"] = itoa(n)
			}
			return m
		}
	}
	if !h.alerted && d.horizontal.add(h, p.Dst) {
		if n := len(h.items); n >= d.cfg.ScanHorizontalHosts {
			h.alerted = true
			d.alert(in, c, hsig, &h.again, n, d.cfg.ScanHorizontalHosts, false, hmeta(n))
		}
	} else if h.alerted {
		if n, due := h.again.attempt(len(h.items)); due {
			if c.e.wantsMore(in.P.Src) {
				d.alert(in, c, hsig, &h.again, n, d.cfg.ScanHorizontalHosts, true, hmeta(n))
			} else {
				h.again.later(n, d.cfg.ScanHorizontalHosts)
			}
		}
	}
}

// alert fires a scan alert on evidence n against threshold thr (again:
// the alert the responder asked for once the evidence doubled), and sets
// when the entry alerts again.
func (d *portScan) alert(in *Input, c *Ctx, sig alert.Signature, m *moreEvidence, n, thr int, again bool, meta func() map[string]string) {
	a := c.fireEvidence(in, sig, in.P.Src, 0, false, int64(d.cfg.ScanBanTTL), meta, float64(n)/float64(max(thr, 1)), again)
	m.after(a, n, thr, c.e.wantMore != nil)
}

func (d *portScan) Expire(now int64) {
	win := int64(d.cfg.ScanWindow)
	d.vertical.expire(now, win)
	d.verticalU.expire(now, win)
	d.horizontal.expire(now, win)
}

// moreEvidence is a scan entry's count past its alert, kept while the
// responder may ask for more evidence (WantsMoreEvidence: the forgeable
// share refused the ban): the entry alerts again each time its evidence
// has doubled, so a real scanner is told apart from forged sources that
// stop just past the threshold. A count of attempts (new flows), not a
// set: an entry past its alert holds no more memory than at it.
type moreEvidence struct {
	more int // attempts since the alert
	next int // evidence (alert's set size + more) to look again at; 0: never
}

// maxEvidence is how far past its threshold a scan keeps counting: the
// responder's top evidence tier (respond.EvidenceTiers doublings).
const maxEvidence = 64

// attempt counts one more attempt and reports whether the entry is due
// to look again, with its evidence.
func (m *moreEvidence) attempt(set int) (int, bool) {
	if m.next == 0 {
		return 0, false
	}
	m.more++
	n := set + m.more
	return n, n >= m.next
}

// after sets when to look again after an alert on evidence n against
// threshold thr: once the evidence has doubled, the entry asks the
// responder (Engine.wantsMore) whether it refused the ban for want of
// evidence. The alert reaches the responder after the detectors' lock is
// released (the pipeline's outbox), so the answer cannot come back on
// the alert itself; by the time the evidence has doubled it has.
func (m *moreEvidence) after(a *alert.Alert, n, thr int, asking bool) {
	m.next = 0
	if a != nil && asking && a.Trust == alert.TrustForgeable {
		m.later(n, thr)
	}
}

// later looks again once the evidence has doubled, up to maxEvidence
// times the threshold.
func (m *moreEvidence) later(n, thr int) {
	m.next = 0
	if n < maxEvidence*max(thr, 1) {
		m.next = 2 * n
	}
}
