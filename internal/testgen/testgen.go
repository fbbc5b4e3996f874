// Package testgen writes the captures behind the offline golden tests: one
// per behavioural detector's attack, and a benign mix that must raise
// nothing. Everything is generated here, from code, with gopacket's layers:
// fixed timestamps from Start, fixed MAC addresses (the IANA documentation
// block 00-00-5E-00-53-xx, RFC 7042), addresses only from the documentation
// and benchmarking ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
// 198.18.0.0/15, 2001:db8::/32), and a seeded generator of its own for every
// "random" choice, so a capture is the same bytes on every run, machine and
// Go version.
//
// The captures model what a sensor in front of the protected network sees
// on its uplink: 198.51.100.0/24 and 2001:db8:1::/48 are the protected side,
// everything else arrives through the router. Floods carry only the attack
// direction (the victim's answers to a flood are egress traffic the XDP hook
// never sees, and replaying them as ingress would make the victim look like
// a flooder); scans, brute force and the benign mix carry both directions,
// as a tap on the link would.
package testgen

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Start is the time of every capture's first packet.
var Start = time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)

// Snaplen is the snap length written in capture headers (libpcap's default).
const Snaplen = 262144

// Capture is one generated capture.
type Capture struct {
	Name  string // file stem: testdata/<Name>.pcap
	Doc   string // what the traffic is
	build func(b *builder)
}

// Frame is one generated Ethernet frame.
type Frame struct {
	Time time.Time
	Data []byte
}

// All returns every capture, in a fixed order.
func All() []Capture { return captures }

// Lookup returns the capture called name.
func Lookup(name string) (Capture, bool) {
	for _, c := range captures {
		if c.Name == name {
			return c, true
		}
	}
	return Capture{}, false
}

// Frames generates the capture's frames in time order.
func (c Capture) Frames() ([]Frame, error) {
	h := fnv.New64a()
	h.Write([]byte(c.Name))
	b := &builder{rnd: rng{s: h.Sum64()}}
	c.build(b)
	if b.err != nil {
		return nil, fmt.Errorf("testgen %s: %w", c.Name, b.err)
	}
	// Stable: frames stamped with the same time keep the order they were
	// made in.
	sort.SliceStable(b.frames, func(i, j int) bool { return b.frames[i].at < b.frames[j].at })
	out := make([]Frame, len(b.frames))
	for i, f := range b.frames {
		if f.at < 0 || f.at%time.Microsecond != 0 {
			return nil, fmt.Errorf("testgen %s: frame %d at %v: not a whole microsecond after the start", c.Name, i, f.at)
		}
		out[i] = Frame{Time: Start.Add(f.at), Data: f.data}
	}
	return out, nil
}

// WritePcap writes the capture as a classic pcap file (microsecond
// timestamps, Ethernet).
func (c Capture) WritePcap(w io.Writer) error {
	frames, err := c.Frames()
	if err != nil {
		return err
	}
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(Snaplen, layers.LinkTypeEthernet); err != nil {
		return err
	}
	for _, f := range frames {
		ci := gopacket.CaptureInfo{Timestamp: f.Time, CaptureLength: len(f.Data), Length: len(f.Data)}
		if err := pw.WritePacket(ci, f.Data); err != nil {
			return err
		}
	}
	return nil
}

// WritePcapNG writes the capture as a pcapng file (one section, one
// Ethernet interface).
func (c Capture) WritePcapNG(w io.Writer) error {
	frames, err := c.Frames()
	if err != nil {
		return err
	}
	nw, err := pcapgo.NewNgWriter(w, layers.LinkTypeEthernet)
	if err != nil {
		return err
	}
	for _, f := range frames {
		ci := gopacket.CaptureInfo{Timestamp: f.Time, CaptureLength: len(f.Data), Length: len(f.Data), InterfaceIndex: 0}
		if err := nw.WritePacket(ci, f.Data); err != nil {
			return err
		}
	}
	return nw.Flush()
}

// Pcap returns the capture as pcap file bytes.
func (c Capture) Pcap() ([]byte, error) {
	var buf bytes.Buffer
	if err := c.WritePcap(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteFile writes the capture to dir/<Name>.pcap.
func (c Capture) WriteFile(dir string) (string, error) {
	data, err := c.Pcap()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, c.Name+".pcap")
	return path, os.WriteFile(path, data, 0o644)
}

// rng is splitmix64: small, fast, and fixed here, so the captures do not
// depend on the standard library's generators.
type rng struct{ s uint64 }

func (r *rng) u64() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r *rng) intn(n int) int { return int(r.u64() % uint64(n)) }
func (r *rng) u32() uint32    { return uint32(r.u64() >> 32) }
func (r *rng) u16() uint16    { return uint16(r.u64() >> 48) }

// ephemeral is a Linux ephemeral port (ip_local_port_range 32768-60999).
func (r *rng) ephemeral() uint16 { return uint16(32768 + r.intn(60999-32768+1)) }

func (r *rng) bytes(n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(r.u64() >> 56)
	}
	return out
}

// perm is a Fisher-Yates shuffle of s.
func perm[T any](r *rng, s []T) []T {
	out := append([]T(nil), s...)
	for i := len(out) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// addrIn is a random address inside p (for IPv4 prefixes shorter than
// /31, not the network or broadcast address; for IPv6, random in the low
// 64 bits at most).
func (r *rng) addrIn(p netip.Prefix) netip.Addr {
	p = p.Masked()
	bits := p.Addr().BitLen() - p.Bits()
	base := p.Addr().As16()
	for {
		v := r.u64()
		if bits < 64 {
			v &= 1<<bits - 1
		}
		if p.Addr().Is4() && bits > 1 && (v == 0 || v == 1<<bits-1) {
			continue
		}
		a := base
		for i := 15; i >= 8 && v != 0; i-- {
			a[i] |= byte(v)
			v >>= 8
		}
		if p.Addr().Is4() {
			return netip.AddrFrom16(a).Unmap()
		}
		return netip.AddrFrom16(a)
	}
}

type frame struct {
	at   time.Duration
	data []byte
}

// builder collects frames.
type builder struct {
	frames []frame
	rnd    rng
	ipid   uint16
	err    error
	// srcMAC and dstMAC, when set, are every frame's (a live replay's
	// link), not the capture's per-host ones.
	srcMAC, dstMAC net.HardwareAddr
}

var (
	routerMAC = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0xfe}
	inside4   = netip.MustParsePrefix("198.51.100.0/24")
	inside6   = netip.MustParsePrefix("2001:db8:1::/48")
)

func inside(a netip.Addr) bool { return inside4.Contains(a) || inside6.Contains(a) }

// macOf is a protected host's own MAC, or the router's for anything that
// lives beyond it.
func macOf(a netip.Addr) net.HardwareAddr {
	if !inside(a) {
		return routerMAC
	}
	s := a.AsSlice()
	low := s[len(s)-1]
	if low == 0xfe {
		low = 0xfd
	}
	return net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, low}
}

var serializeOpts = gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}

func serialize(ls ...gopacket.SerializableLayer) ([]byte, error) {
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, serializeOpts, ls...); err != nil {
		return nil, err
	}
	return bytes.Clone(buf.Bytes()), nil
}

// l3 is the network layer from src to dst carrying proto.
func (b *builder) l3(src, dst netip.Addr, proto layers.IPProtocol, df bool) gopacket.NetworkLayer {
	ttl := uint8(64)
	if !inside(src) {
		ttl = 51 // routed from afar
	}
	if src.Is4() {
		b.ipid++
		ip := &layers.IPv4{Version: 4, TTL: ttl, Protocol: proto, Id: b.ipid, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		if df {
			ip.Flags = layers.IPv4DontFragment
		}
		return ip
	}
	return &layers.IPv6{Version: 6, HopLimit: ttl, NextHeader: proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
}

// put emits an Ethernet frame carrying the network layer nl and what follows.
func (b *builder) put(at time.Duration, src, dst netip.Addr, nl gopacket.NetworkLayer, rest ...gopacket.SerializableLayer) []byte {
	et := layers.EthernetTypeIPv4
	if src.Is6() {
		et = layers.EthernetTypeIPv6
	}
	eth := &layers.Ethernet{SrcMAC: macOf(src), DstMAC: macOf(dst), EthernetType: et}
	if b.srcMAC != nil {
		eth.SrcMAC, eth.DstMAC = b.srcMAC, b.dstMAC
	}
	ls := append([]gopacket.SerializableLayer{eth, nl.(gopacket.SerializableLayer)}, rest...)
	data, err := serialize(ls...)
	if err != nil {
		if b.err == nil {
			b.err = err
		}
		return nil
	}
	b.frames = append(b.frames, frame{at: at, data: data})
	return data[14:]
}

// TCP flag bits.
const (
	fin = 1 << iota
	syn
	rst
	psh
	ack
	urg
)

// seg is one TCP segment.
type seg struct {
	flags    uint8
	seq, ack uint32
	win      uint16
	opts     []layers.TCPOption
	data     []byte
}

var (
	optMSS    = layers.TCPOption{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}}
	optSACKOK = layers.TCPOption{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2}
	optNOP    = layers.TCPOption{OptionType: layers.TCPOptionKindNop}
	optWS7    = layers.TCPOption{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}}
	// linuxSYN is what a Linux stack with TCP timestamps off puts in a SYN.
	linuxSYN = []layers.TCPOption{optMSS, optNOP, optNOP, optSACKOK, optNOP, optWS7}
	// nmapSYN is the single MSS option of nmap's raw probes.
	nmapSYN = []layers.TCPOption{optMSS}
)

func (b *builder) tcp(at time.Duration, src, dst netip.AddrPort, s seg) []byte {
	t := &layers.TCP{
		SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()), Seq: s.seq, Ack: s.ack,
		FIN: s.flags&fin != 0, SYN: s.flags&syn != 0, RST: s.flags&rst != 0, PSH: s.flags&psh != 0,
		ACK: s.flags&ack != 0, URG: s.flags&urg != 0, Window: s.win, Options: s.opts,
	}
	nl := b.l3(src.Addr(), dst.Addr(), layers.IPProtocolTCP, true)
	if err := t.SetNetworkLayerForChecksum(nl); err != nil && b.err == nil {
		b.err = err
	}
	if len(s.data) > 0 {
		return b.put(at, src.Addr(), dst.Addr(), nl, t, gopacket.Payload(s.data))
	}
	return b.put(at, src.Addr(), dst.Addr(), nl, t)
}

func (b *builder) udp(at time.Duration, src, dst netip.AddrPort, payload []byte) []byte {
	u := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
	nl := b.l3(src.Addr(), dst.Addr(), layers.IPProtocolUDP, true)
	if err := u.SetNetworkLayerForChecksum(nl); err != nil && b.err == nil {
		b.err = err
	}
	return b.put(at, src.Addr(), dst.Addr(), nl, u, gopacket.Payload(payload))
}

// icmp4 emits an ICMPv4 message; body follows the 8-byte header's id/seq.
func (b *builder) icmp4(at time.Duration, src, dst netip.Addr, typ, code uint8, id, seqno uint16, body []byte) []byte {
	m := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, code), Id: id, Seq: seqno}
	nl := b.l3(src, dst, layers.IPProtocolICMPv4, false)
	return b.put(at, src, dst, nl, m, gopacket.Payload(body))
}

// unreachable emits the ICMP destination unreachable (code) that dst's
// stack sends to src about the datagram orig (its IP header and 8 bytes).
func (b *builder) unreachable(at time.Duration, from, to netip.Addr, code uint8, orig []byte) {
	n := min(len(orig), 28)
	b.icmp4(at, from, to, 3, code, 0, 0, orig[:n])
}

// rawIP emits an IP packet of protocol proto with an empty payload.
func (b *builder) rawIP(at time.Duration, src, dst netip.Addr, proto layers.IPProtocol) []byte {
	nl := b.l3(src, dst, proto, false)
	return b.put(at, src, dst, nl)
}

// conn is a TCP connection between a client and a server.
type conn struct {
	b          *builder
	cli, srv   netip.AddrPort
	cseq, sseq uint32 // next sequence number of each side
	cwin, swin uint16
}

// mss is the payload carried per segment.
const mss = 1448

// dial emits the client's SYN at t and the server's SYN-ACK srvDelay later.
// The client's ACK completes the handshake at t+rtt, returned.
func (b *builder) dial(t time.Duration, cli, srv netip.AddrPort, rtt time.Duration) (*conn, time.Duration) {
	c := &conn{b: b, cli: cli, srv: srv, cseq: b.rnd.u32(), sseq: b.rnd.u32(), cwin: 502, swin: 509}
	b.tcp(t, cli, srv, seg{flags: syn, seq: c.cseq, win: 64240, opts: linuxSYN})
	c.cseq++
	b.tcp(t+srvDelay, srv, cli, seg{flags: syn | ack, seq: c.sseq, ack: c.cseq, win: 65160, opts: linuxSYN})
	c.sseq++
	t += rtt
	b.tcp(t, cli, srv, seg{flags: ack, seq: c.cseq, ack: c.sseq, win: c.cwin})
	return c, t
}

// srvDelay is how long after a client's segment the server's answer
// passes the sensor, which sits next to the server.
const srvDelay = 100 * time.Microsecond

// client sends data from the client at t; the server ACKs it srvDelay later.
// It returns the time of the server's ACK.
func (c *conn) client(t time.Duration, data []byte) time.Duration {
	for len(data) > 0 {
		n := min(len(data), mss)
		c.b.tcp(t, c.cli, c.srv, seg{flags: psh | ack, seq: c.cseq, ack: c.sseq, win: c.cwin, data: data[:n]})
		c.cseq += uint32(n)
		data = data[n:]
		t += 20 * time.Microsecond
	}
	t += srvDelay
	c.b.tcp(t, c.srv, c.cli, seg{flags: ack, seq: c.sseq, ack: c.cseq, win: c.swin})
	return t
}

// server sends data from the server at t; the client's ACK arrives rtt
// later. It returns the time of the client's ACK.
func (c *conn) server(t, rtt time.Duration, data []byte) time.Duration {
	for len(data) > 0 {
		n := min(len(data), mss)
		c.b.tcp(t, c.srv, c.cli, seg{flags: psh | ack, seq: c.sseq, ack: c.cseq, win: c.swin, data: data[:n]})
		c.sseq += uint32(n)
		data = data[n:]
		t += 10 * time.Microsecond
	}
	t += rtt
	c.b.tcp(t, c.cli, c.srv, seg{flags: ack, seq: c.cseq, ack: c.sseq, win: c.cwin})
	return t
}

// closeByClient emits the client's FIN at t, the server's FIN srvDelay
// later and the client's last ACK at t+rtt.
func (c *conn) closeByClient(t, rtt time.Duration) time.Duration {
	c.b.tcp(t, c.cli, c.srv, seg{flags: fin | ack, seq: c.cseq, ack: c.sseq, win: c.cwin})
	c.cseq++
	c.b.tcp(t+srvDelay, c.srv, c.cli, seg{flags: fin | ack, seq: c.sseq, ack: c.cseq, win: c.swin})
	c.sseq++
	t += rtt
	c.b.tcp(t, c.cli, c.srv, seg{flags: ack, seq: c.cseq, ack: c.sseq, win: c.cwin})
	return t
}

// closeByServer emits the server's FIN at t, the client's FIN-ACK at t+rtt
// and the server's last ACK srvDelay after that.
func (c *conn) closeByServer(t, rtt time.Duration) time.Duration {
	c.b.tcp(t, c.srv, c.cli, seg{flags: fin | ack, seq: c.sseq, ack: c.cseq, win: c.swin})
	c.sseq++
	t += rtt
	c.b.tcp(t, c.cli, c.srv, seg{flags: fin | ack, seq: c.cseq, ack: c.sseq, win: c.cwin})
	c.cseq++
	t += srvDelay
	c.b.tcp(t, c.srv, c.cli, seg{flags: ack, seq: c.sseq, ack: c.cseq, win: c.swin})
	return t
}
