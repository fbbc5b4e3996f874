package detect

import (
	"net/netip"
	"slices"
	"time"

	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

// AmplificationConfig is amplification's section:
//
//   - Named services: responses from a reflection-prone UDP service port
//     (DNS 53, NTP 123, SNMP 161, CLDAP 389, SSDP 1900, memcached 11211)
//     that the target did not ask for, 100 in 10 s from at least 5
//     reflectors (a resolver client talks to 1-3 resolvers).
//   - Reflection over any other UDP service (Chargen 19, QOTD 17, Portmap
//     111, NetBIOS 137, RIPv1 520, WS-Discovery 3702, CoAP 5683, Jenkins
//     33848, ...; amplification_any_port): the same thresholds per
//     destination and UDP source port, and the port must carry at least
//     1/8 of the destination's unsolicited UDP packets in the window (see
//     reflection for why, and what is not counted).
//   - Fragment floods: 200 later fragments in 10 s from at least 5
//     sources.
type AmplificationConfig struct {
	AmpWindow     time.Duration `yaml:"amplification_window"`
	AmpPackets    int           `yaml:"amplification_packets"`
	AmpReflectors int           `yaml:"amplification_reflectors"`
	AmpFragments  int           `yaml:"amplification_fragments"`
	AmpAnyPort    bool          `yaml:"amplification_any_port"`
}

func (c *AmplificationConfig) setDefaults() {
	*c = AmplificationConfig{AmpWindow: 10 * time.Second, AmpPackets: 100, AmpReflectors: 5, AmpFragments: 200, AmpAnyPort: true}
}

var ampServices = map[uint16]alert.Signature{
	53: alert.AmpDNS, 123: alert.AmpNTP, 161: alert.AmpSNMP, 389: alert.AmpCLDAP, 1900: alert.AmpSSDP, 11211: alert.AmpMemcached,
}

// amplification counts unsolicited UDP responses and fragments per
// target. It runs before dhcp_flood and port_scan and tells them
// (Ctx.Response, Ctx.NotProbe) which packets it explained.
type amplification struct {
	cfg   *Config
	st    *state
	amp   *sourceTable[dstPort] // dst, service port
	frags *sourceTable[netip.Addr]
	refl  table[netip.Addr, *reflTarget]
}

func newAmplification(st *state, cfg *Config) Detector {
	return &amplification{cfg: cfg, st: st, amp: newSourceTable[dstPort](st), frags: newSourceTable[netip.Addr](st),
		refl: newTable[netip.Addr, *reflTarget](st, false)}
}

func (d *amplification) Name() string   { return "amplification" }
func (d *amplification) Classes() Class { return AnyUDP | ClassFragment }

func (d *amplification) Describe() Description {
	sigs := []alert.Signature{alert.AmpFragments, alert.AmpOther}
	for _, s := range ampServices {
		sigs = append(sigs, s)
	}
	slices.SortFunc(sigs, func(a, b alert.Signature) int { return int(a.SID) - int(b.SID) })
	return Description{Name: d.Name(), Config: &d.cfg.AmplificationConfig, Signatures: sigs}
}

func (d *amplification) Observe(in *Input, c *Ctx) {
	p := in.P
	if c.Class == ClassFragment {
		d.fragment(in, c)
		return
	}
	if sig, named := ampServices[p.SrcPort]; named {
		if in.FromOrig && !isServiceRequest(p) {
			// From a reflection-prone service port, on a flow the target
			// did not open: a response nobody here asked for.
			c.Response = true
			d.named(in, c, sig)
		}
		return
	}
	if in.FromOrig && d.cfg.AmpAnyPort && d.reflection(in, c) {
		// Packets of a reflection already recognised are not probes by
		// the reflectors (as the known services' responses never are).
		c.NotProbe = true
	}
}

func (d *amplification) Expire(now int64) {
	win := int64(d.cfg.AmpWindow)
	d.amp.expire(now, win)
	d.frags.expire(now, win)
	d.refl.expire(func(t *reflTarget) bool { return expired(now, t.start, win) })
}

// named counts an unsolicited response from a reflection-prone service:
// the flow was opened by the service side, so the target sent no request
// we saw.
func (d *amplification) named(in *Input, c *Ctx, sig alert.Signature) {
	p := in.P
	win := int64(d.cfg.AmpWindow)
	wt := in.weight(win)
	n := d.amp.count(dstPort{p.Dst, p.SrcPort}, p.Src, p.TsNs, win, wt, d.cfg.AmpReflectors)
	if n == nil {
		return
	}
	n.m += int(p.PayloadLen) * wt
	if n.n >= d.cfg.AmpPackets && len(n.sources) >= d.cfg.AmpReflectors {
		c.fire(in, sig, p.Dst, true, 0,
			func() map[string]string {
				return map[string]string{"responses": itoa(n.n), "payload_bytes": itoa(n.m), "reflectors_at_least": itoa(len(n.sources)), "window": d.cfg.AmpWindow.String()}
			})
	}
}

// isServiceRequest reports a DNS query or an NTP request sent from the
// service port itself: ntpd polls its servers from port 123 to port 123, so
// a busy NTP server receives many "packets from UDP/123" on flows it did not
// open. They are requests, never what a reflector sends back (DNS responses
// carry the QR bit, NTP replies are modes 2, 4, 5 or have the response bit).
// A payload cut before the field counts as a response.
func isServiceRequest(p *decode.Packet) bool {
	pl := p.Payload
	switch p.SrcPort {
	case 53:
		return len(pl) >= 3 && pl[2]&0x80 == 0 // QR clear: a query
	case 123:
		if len(pl) < 2 {
			return false
		}
		switch pl[0] & 7 {
		case 1, 3: // symmetric active, client
			return true
		case 6: // control: R bit in the second byte
			return pl[1]&0x80 == 0
		case 7: // private (monlist): R bit in the first byte
			return pl[0]&0x80 == 0
		}
	}
	return false
}

// reflSlots is how many source ports each destination's reflection tracker
// holds. A port needs at least 1/reflSlots of the destination's unsolicited
// UDP packets in the window to alert, which is also what the space-saving
// table below guarantees to keep.
const reflSlots = 8

// reflSlot counts one source port's unsolicited packets to a destination.
type reflSlot struct {
	port  uint16
	n     int // weighted packets, including err
	err   int // the count inherited from the port this slot replaced
	bytes int
	hit   bool         // the thresholds were met in this window
	srcs  []netip.Addr // distinct reflectors, at most AmpReflectors (preallocated)
}

// reflTarget is one destination's tumbling window of unsolicited UDP
// packets: the total, and the heaviest source ports in a space-saving
// table (Metwally et al., 2005): a port not in the table takes the slot
// with the smallest count and inherits that count as its error, so a port
// with more than total/reflSlots packets is always in the table, and n-err
// never overstates a port. Fixed size: no allocation per packet, and a
// server's clients, each on its own ephemeral port, cannot grow it.
type reflTarget struct {
	start int64
	total int
	slots [reflSlots]reflSlot
}

func newReflTarget(reflectors int) *reflTarget {
	t := &reflTarget{}
	backing := make([]netip.Addr, reflSlots*reflectors)
	for i := range t.slots {
		t.slots[i].srcs = backing[i*reflectors : i*reflectors : (i+1)*reflectors]
	}
	return t
}

// reflection is the behavioural amplification detector, for every UDP
// source port without a named detector: unsolicited packets (on a flow the
// destination did not open: the caller checks FromOrig) to one
// destination, grouped by their source port, alert when one port delivers
// AmpPackets from AmpReflectors distinct sources within AmpWindow and at
// least 1/reflSlots of the destination's unsolicited UDP packets. It
// reports whether this packet's port is a reflection met in this window.
//
// Why grouping by source port is the test: a reflector answers from its
// service's port, so a reflection flood is many sources sharing one source
// port. Clients of a UDP server (QUIC, DNS, games, VPN) each send from an
// ephemeral port of their own: grouped by source port they scatter over
// ~28k ports (Linux 32768-60999, Windows 49152-65535, NATs anywhere above
// 1023). High ports count as well, because reflectors live there too
// (memcached 11211, Plex 32414, Jenkins 33848, Dahua DVR 37810), and many
// hosts on one high port at once is no accident. By chance alone a few
// clients do share a port on a busy server (with 50k clients in 10 s, ~1.8
// per port), which is what the share condition is for: such a port carries
// a ten-thousandth of the server's traffic, a reflection the bulk of it.
//
// Not counted, as they are not what a reflector sends to a victim:
//   - source port equal to the destination port: peer protocols talk from
//     their own port to the same port (syslog 514, IKE 500/4500, RIP 520
//     between routers, NetBIOS 137/138, mDNS 5353, SIP 5060, WireGuard,
//     gossip protocols), and many peers to one host is their normal shape;
//   - multicast and limited broadcast destinations: discovery answers and
//     announcements (mDNS, SSDP, WS-Discovery) on a LAN, never one victim;
//   - QUIC short-header packets from port 443: they need the keys of a
//     handshake the destination took part in. XDP sees ingress only, so
//     live, the answers of the servers a host's HTTP/3 client talks to
//     arrive on flows the host did not (visibly) open. A reflector
//     answering spoofed Initials sends long headers, and DTLS (Citrix
//     ADC reflection on 443) starts 0x16: both count;
//   - source port 0 (no service answers from it; the UDP flood
//     detectors see such packets).
//
// Live, that ingress-only view leaves one kind of false positive: a host
// that is itself the client of five or more servers of one UDP service at
// 10 packets/s (the Steam server browser querying port 27015, a crawler
// opening QUIC connections) looks like their victim. The named services
// have the same property; amplification_any_port: false turns this
// detector off.
func (d *amplification) reflection(in *Input, c *Ctx) bool {
	p := in.P
	if p.SrcPort == 0 || p.SrcPort == p.DstPort || p.Dst.IsMulticast() || isLimitedBroadcast(p.Dst) {
		return false
	}
	if p.SrcPort == 443 && len(p.Payload) > 0 && p.Payload[0]&0xc0 == 0x40 {
		return false // QUIC short header
	}
	now := p.TsNs
	length := int64(d.cfg.AmpWindow)
	t, _ := d.refl.get(p.Dst)
	if t == nil {
		if d.st.full() {
			return false
		}
		t = newReflTarget(d.cfg.AmpReflectors)
		d.refl.put(p.Dst, t)
	}
	if t.start == 0 || now-t.start >= length || now < t.start {
		if cap(t.slots[0].srcs) != d.cfg.AmpReflectors {
			// Reconfigured: the reflector lists take the new size (an
			// allocation once per target after a reload, never per packet).
			*t = *newReflTarget(d.cfg.AmpReflectors)
		}
		t.start, t.total = now, 0
		for i := range t.slots {
			s := &t.slots[i]
			*s = reflSlot{srcs: s.srcs[:0]}
		}
	}
	wt := in.weight(length)
	t.total += wt
	var s *reflSlot
	low := &t.slots[0]
	for i := range t.slots {
		c := &t.slots[i]
		if c.port == p.SrcPort && c.n > 0 {
			s = c
			break
		}
		if c.n < low.n {
			low = c
		}
	}
	if s == nil {
		s = low
		*s = reflSlot{port: p.SrcPort, n: s.n, err: s.n, srcs: s.srcs[:0]}
	}
	s.n += wt
	s.bytes += int(p.PayloadLen) * wt
	if len(s.srcs) < cap(s.srcs) && !slices.Contains(s.srcs, p.Src) {
		s.srcs = append(s.srcs, p.Src)
	}
	n := s.n - s.err
	if n < d.cfg.AmpPackets || len(s.srcs) < d.cfg.AmpReflectors || n*reflSlots < t.total {
		return s.hit
	}
	s.hit = true
	c.firePort(in, alert.AmpOther, p.Dst, p.SrcPort, true, 0,
		func() map[string]string {
			return map[string]string{"source_port": itoa(int(p.SrcPort)), "responses": itoa(n), "payload_bytes": itoa(s.bytes),
				"reflectors_at_least": itoa(len(s.srcs)), "share_percent": itoa(100 * n / t.total), "window": d.cfg.AmpWindow.String()}
		})
	return true
}

// isLimitedBroadcast reports 255.255.255.255 (a subnet's directed
// broadcast address needs its mask, which a sensor does not know).
func isLimitedBroadcast(a netip.Addr) bool {
	return a.Is4() && a.As4() == [4]byte{255, 255, 255, 255}
}

func (d *amplification) fragment(in *Input, c *Ctx) {
	p := in.P
	n := d.frags.count(p.Dst, p.Src, p.TsNs, int64(d.cfg.AmpWindow), 1, d.cfg.AmpReflectors)
	if n != nil && n.n >= d.cfg.AmpFragments && len(n.sources) >= d.cfg.AmpReflectors {
		c.fire(in, alert.AmpFragments, p.Dst, true, 0,
			func() map[string]string {
				return map[string]string{"fragments": itoa(n.n), "sources_at_least": itoa(len(n.sources)), "window": d.cfg.AmpWindow.String()}
			})
	}
}
