package testgen

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// The protected hosts are in 198.51.100.0/24 and 2001:db8:1::/48; the
// attackers, reflectors and benign clients are outside.
var (
	Attacker  = netip.MustParseAddr("203.0.113.66")
	Victim    = netip.MustParseAddr("198.51.100.10")
	Attacker6 = netip.MustParseAddr("2001:db8:bad:1::66")
	Victim6   = netip.MustParseAddr("2001:db8:1::10")

	spoofNet24 = netip.MustParsePrefix("203.0.113.0/24")
	benchNet   = netip.MustParsePrefix("198.18.0.0/15")
)

const (
	ms = time.Millisecond
	us = time.Microsecond
	// wanRTT is the round trip to hosts beyond the router.
	wanRTT = 30 * ms
)

var captures = []Capture{
	{"scan_syn", "nmap -sS: 1000 TCP ports of one host, SYN probes 1 ms apart from one source port; " +
		"closed ports answer RST-ACK, open ones (22, 80, 443) SYN-ACK, which the scanner's kernel resets", scanSYN},
	{"scan_connect", "nmap -sT: connect() to 1000 ports 2 ms apart, a new source port each; " +
		"the open ports (80, 443, 22, probed early) complete the handshake and are reset by the scanner, the others answer RST-ACK", scanConnect},
	{"scan_fin", "nmap -sF: FIN probes to 1000 ports; closed ports answer RST-ACK, open ones stay silent", scanFIN},
	{"scan_null", "nmap -sN: probes without flags to 1000 ports; closed ports answer RST-ACK", scanNULL},
	{"scan_xmas", "nmap -sX: FIN+PSH+URG probes to 1000 ports; closed ports answer RST-ACK", scanXMAS},
	{"scan_ack", "nmap -sA: ACK probes to 1000 ports of an unfiltered host, each answered by a RST", scanACK},
	{"scan_udp", "nmap -sU: UDP probes to 1000 ports 20 ms apart (protocol payloads for 53, 123, 161, which answer); " +
		"closed ports answer ICMP port unreachable at Linux's rate (a burst of 6, then 1/s)", scanUDP},
	{"sweep_tcp", "masscan-style sweep of TCP/22 over 50 hosts of 198.51.100.0/24, 10 ms apart; " +
		"sshd hosts answer SYN-ACK (reset by the scanner), some RST-ACK, the rest nothing", sweepTCP},
	{"scan_ipproto", "nmap -sO: the 256 IP protocol numbers in random order 5 ms apart; ICMP, TCP and UDP probes " +
		"with their headers, the rest empty; the host answers protocol unreachable at Linux's ICMP rate", scanIPProto},
	{"synflood_single", "hping3 -S -p 80 -i u100: 20000 SYNs in 2 s from one source, source port incrementing", synFloodSingle},
	{"synflood_spoofed", "hping3 -S --rand-source -p 80: 8000 SYNs in 2 s to one server, sources random in " +
		"198.18.0.0/15 (3/4) and 203.0.113.0/24 (1/4), random source ports", synFloodSpoofed},
	{"udpflood_single", "hping3 --udp -p 27015 -d 18 -i u100: 12000 datagrams in 1.2 s from one source, source port incrementing", udpFloodSingle},
	{"udpflood_oneflow", "hping3 --udp -k -s 4000 -p 27015 -i u100: 12000 datagrams in 1.2 s on one flow (fixed source port)", udpFloodOneFlow},
	{"icmpflood_single", "ping -f: 5000 echo requests (56 data bytes) in 1 s from one source", icmpFloodSingle},
	{"synack_reflection", "SYN-ACKs from 300 servers (ports 80, 443) in 198.18.0.0/15 to one victim: 3000 in 1.5 s, " +
		"to random ports (the attacker spoofed the victim in SYNs to those servers)", synAckReflection},
	{"amp_dns", "DNS amplification: 600 unsolicited 1232-byte ANY responses from UDP/53 of 20 resolvers to one victim in 3 s", ampDNS},
	{"amp_ntp", "NTP monlist amplification: 20 reflectors each answer 3 spoofed requests 1 s apart with 50 mode 7 " +
		"packets of 440 bytes, all on the request's ports", ampNTP},
	{"amp_snmp", "SNMP GetBulk amplification: 300 unsolicited ~1400-byte responses from UDP/161 of 15 agents in 3 s", ampSNMP},
	{"amp_wsd", "WS-Discovery reflection (a service with no named detector): 400 unsolicited ~1.3 KB ProbeMatches " +
		"from UDP/3702 of 20 cameras in 198.18.0.0/15 to one victim in 2 s, to random ports", ampWSD},
	{"brute_ssh", "hydra ssh: 15 connections to port 22 in 60 s from one source, each a handshake, banners, key exchange, " +
		"two failed passwords and a FIN", bruteSSH},
	{"brute_ftp", "hydra ftp: 15 connections to port 21 in 60 s from one source, each banner, USER, PASS, 530, QUIT", bruteFTP},
	{"scan_ipv6", "nmap -6 -sS: 1000 TCP ports of one host in 2001:db8:1::/48 from 2001:db8:bad:1::66", scanIPv6},
	{"dns_three_resolvers", "a protected mail server resolving 600 names in 20 s, round-robin over three resolvers, " +
		"a new ephemeral port per query, every query answered: solicited, and only three sources", dnsThreeResolvers},
	{"benign", "two minutes of ordinary traffic: HTTP and HTTPS connections of three clients, DNS queries answered by " +
		"the resolver, one long SSH session, ping at 1/s, NTP client polls, and the protected NTP server answering " +
		"200 ntpd clients (which poll from port 123) in 10 s", benign},
}

// ports1000 is 1..1000 in the scanner's random order.
func ports1000(b *builder) []uint16 {
	ps := make([]uint16, 1000)
	for i := range ps {
		ps[i] = uint16(i + 1)
	}
	return perm(&b.rnd, ps)
}

// early moves each port of want to the position paired with it.
func early(ps []uint16, want [][2]int) []uint16 {
	for _, w := range want {
		for i, q := range ps {
			if int(q) == w[0] {
				ps[i], ps[w[1]] = ps[w[1]], ps[i]
				break
			}
		}
	}
	return ps
}

var openTCP = map[uint16]bool{22: true, 80: true, 443: true}

func scanSYN(b *builder)  { synScan(b, Attacker, Victim) }
func scanIPv6(b *builder) { synScan(b, Attacker6, Victim6) }

func synScan(b *builder, scanner, target netip.Addr) {
	src := netip.AddrPortFrom(scanner, b.rnd.ephemeral())
	for i, p := range ports1000(b) {
		t := time.Duration(i) * ms
		dst := netip.AddrPortFrom(target, p)
		s := b.rnd.u32()
		b.tcp(t, src, dst, seg{flags: syn, seq: s, win: 1024, opts: nmapSYN})
		if openTCP[p] {
			b.tcp(t+srvDelay, dst, src, seg{flags: syn | ack, seq: b.rnd.u32(), ack: s + 1, win: 64240, opts: nmapSYN})
			b.tcp(t+srvDelay+wanRTT, src, dst, seg{flags: rst, seq: s + 1})
		} else {
			b.tcp(t+srvDelay, dst, src, seg{flags: rst | ack, ack: s + 1})
		}
	}
}

func scanConnect(b *builder) {
	ps := early(ports1000(b), [][2]int{{80, 1}, {443, 4}, {22, 9}})
	for i, p := range ps {
		t := time.Duration(i) * 2 * ms
		cli := netip.AddrPortFrom(Attacker, b.rnd.ephemeral())
		srv := netip.AddrPortFrom(Victim, p)
		if openTCP[p] {
			c, t2 := b.dial(t, cli, srv, wanRTT)
			// nmap closes a connect() probe with SO_LINGER 0: a RST.
			b.tcp(t2+50*us, cli, srv, seg{flags: rst | ack, seq: c.cseq, ack: c.sseq})
			continue
		}
		s := b.rnd.u32()
		b.tcp(t, cli, srv, seg{flags: syn, seq: s, win: 64240, opts: linuxSYN})
		b.tcp(t+srvDelay, srv, cli, seg{flags: rst | ack, ack: s + 1})
	}
}

func scanFIN(b *builder)  { stealthScan(b, fin) }
func scanNULL(b *builder) { stealthScan(b, 0) }
func scanXMAS(b *builder) { stealthScan(b, fin|psh|urg) }

// stealthScan probes with flags; closed ports answer RST-ACK (RFC 9293
// 3.10.7.1), open ones drop the probe.
func stealthScan(b *builder, flags uint8) {
	src := netip.AddrPortFrom(Attacker, b.rnd.ephemeral())
	for i, p := range ports1000(b) {
		t := time.Duration(i) * ms
		dst := netip.AddrPortFrom(Victim, p)
		s := b.rnd.u32()
		b.tcp(t, src, dst, seg{flags: flags, seq: s, win: 1024})
		if !openTCP[p] {
			n := uint32(0)
			if flags&fin != 0 {
				n = 1
			}
			b.tcp(t+srvDelay, dst, src, seg{flags: rst | ack, ack: s + n})
		}
	}
}

func scanACK(b *builder) {
	src := netip.AddrPortFrom(Attacker, b.rnd.ephemeral())
	for i, p := range ports1000(b) {
		t := time.Duration(i) * ms
		dst := netip.AddrPortFrom(Victim, p)
		s, a := b.rnd.u32(), b.rnd.u32()
		b.tcp(t, src, dst, seg{flags: ack, seq: s, ack: a, win: 1024})
		b.tcp(t+srvDelay, dst, src, seg{flags: rst, seq: a})
	}
}

// icmpLimiter is Linux's per-destination ICMP error rate limit
// (icmp_ratelimit 1000 ms, a burst of 6).
type icmpLimiter struct {
	tokens float64
	last   time.Duration
}

func (l *icmpLimiter) allow(t time.Duration) bool {
	if l.last == 0 && l.tokens == 0 {
		l.tokens = 6
	} else {
		l.tokens = min(6, l.tokens+(t-l.last).Seconds())
	}
	l.last = t
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}

func scanUDP(b *builder) {
	ps := early(ports1000(b), [][2]int{{53, 2}, {123, 5}, {161, 8}})
	src := netip.AddrPortFrom(Attacker, b.rnd.ephemeral())
	var lim icmpLimiter
	for i, p := range ps {
		t := time.Duration(i) * 20 * ms
		dst := netip.AddrPortFrom(Victim, p)
		var probe, answer []byte
		switch p {
		case 53: // nmap's DNS server status request
			probe = make([]byte, 12)
			probe[2] = 0x10
			answer = []byte{0, 0, 0x90, 0x04, 0, 0, 0, 0, 0, 0, 0, 0} // NOTIMP
		case 123:
			probe = ntpPacket(0xe3, 0, 0)
			answer = ntpPacket(0x24, 2, b.rnd.u64())
		case 161:
			probe = snmpGet(b.rnd.u32())
			answer = snmpResponse(&b.rnd, 1)
		}
		l3 := b.udp(t, src, dst, probe)
		switch {
		case answer != nil:
			b.udp(t+srvDelay, dst, src, answer)
		case lim.allow(t):
			b.unreachable(t+srvDelay, Victim, Attacker, 3, l3)
		}
	}
}

func sweepTCP(b *builder) {
	hosts := make([]int, 50)
	for i := range hosts {
		hosts[i] = i + 1
	}
	src := netip.AddrPortFrom(Attacker, b.rnd.ephemeral())
	for i, h := range perm(&b.rnd, hosts) {
		t := time.Duration(i) * 10 * ms
		dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(h)}), 22)
		s := b.rnd.u32()
		b.tcp(t, src, dst, seg{flags: syn, seq: s, win: 1024})
		switch {
		case h%5 == 0: // sshd listening
			b.tcp(t+srvDelay, dst, src, seg{flags: syn | ack, seq: b.rnd.u32(), ack: s + 1, win: 64240, opts: nmapSYN})
			b.tcp(t+srvDelay+wanRTT, src, dst, seg{flags: rst, seq: s + 1})
		case h%3 == 0: // host up, port closed
			b.tcp(t+srvDelay, dst, src, seg{flags: rst | ack, ack: s + 1})
		}
	}
}

func scanIPProto(b *builder) {
	protos := make([]int, 256)
	for i := range protos {
		protos[i] = i
	}
	var lim icmpLimiter
	for i, p := range perm(&b.rnd, protos) {
		t := time.Duration(i) * 5 * ms
		switch p {
		case 1:
			id := b.rnd.u16()
			b.icmp4(t, Attacker, Victim, 8, 0, id, 0, nil)
			b.icmp4(t+srvDelay, Victim, Attacker, 0, 0, id, 0, nil)
		case 6:
			src, dst := netip.AddrPortFrom(Attacker, b.rnd.ephemeral()), netip.AddrPortFrom(Victim, 80)
			a := b.rnd.u32()
			b.tcp(t, src, dst, seg{flags: ack, seq: b.rnd.u32(), ack: a, win: 1024})
			b.tcp(t+srvDelay, dst, src, seg{flags: rst, seq: a})
		case 17:
			src, dst := netip.AddrPortFrom(Attacker, b.rnd.ephemeral()), netip.AddrPortFrom(Victim, 40125)
			l3 := b.udp(t, src, dst, nil)
			if lim.allow(t) {
				b.unreachable(t+srvDelay, Victim, Attacker, 3, l3)
			}
		case 2: // IGMP: the host takes it and says nothing
			b.rawIP(t, Attacker, Victim, layers.IPProtocol(p))
		default:
			l3 := b.rawIP(t, Attacker, Victim, layers.IPProtocol(p))
			if lim.allow(t) {
				b.unreachable(t+srvDelay, Victim, Attacker, 2, l3)
			}
		}
	}
}

func synFloodSingle(b *builder) {
	sport := uint16(1024 + b.rnd.intn(30000))
	dst := netip.AddrPortFrom(Victim, 80)
	for i := 0; i < 20000; i++ {
		t := time.Duration(i) * 100 * us
		b.tcp(t, netip.AddrPortFrom(Attacker, sport+uint16(i)), dst, seg{flags: syn, seq: b.rnd.u32(), win: 512})
	}
}

func synFloodSpoofed(b *builder) {
	dst := netip.AddrPortFrom(Victim, 80)
	for i := 0; i < 8000; i++ {
		t := time.Duration(i) * 250 * us
		src := b.rnd.addrIn(benchNet)
		if b.rnd.intn(4) == 0 {
			src = b.rnd.addrIn(spoofNet24)
		}
		sport := uint16(1024 + b.rnd.intn(65536-1024))
		b.tcp(t, netip.AddrPortFrom(src, sport), dst, seg{flags: syn, seq: b.rnd.u32(), win: 512})
	}
}

func udpFloodSingle(b *builder) {
	sport := uint16(1024 + b.rnd.intn(30000))
	dst := netip.AddrPortFrom(Victim, 27015)
	payload := make([]byte, 18)
	for i := 0; i < 12000; i++ {
		t := time.Duration(i) * 100 * us
		b.udp(t, netip.AddrPortFrom(Attacker, sport+uint16(i)), dst, payload)
	}
}

// udpFloodOneFlow stays on one 5-tuple: the XDP program samples its first
// packets and then milestones (16, 32, ... 512, every 1024) carrying the
// kernel's packet count, from which userspace sees the rate.
func udpFloodOneFlow(b *builder) {
	src := netip.AddrPortFrom(Attacker, 4000)
	dst := netip.AddrPortFrom(Victim, 27015)
	payload := make([]byte, 18)
	for i := 0; i < 12000; i++ {
		b.udp(time.Duration(i)*100*us, src, dst, payload)
	}
}

func icmpFloodSingle(b *builder) {
	id := b.rnd.u16()
	for i := 0; i < 5000; i++ {
		t := time.Duration(i) * 200 * us
		b.icmp4(t, Attacker, Victim, 8, 0, id, uint16(i+1), pingData(Start.Add(t)))
	}
}

// pingData is iputils ping's 56 data bytes: a timeval, then 0x10, 0x11, ...
func pingData(at time.Time) []byte {
	d := make([]byte, 56)
	binary.LittleEndian.PutUint64(d[0:], uint64(at.Unix()))
	binary.LittleEndian.PutUint64(d[8:], uint64(at.Nanosecond()/1000))
	for i := 16; i < 56; i++ {
		d[i] = byte(i)
	}
	return d
}

func synAckReflection(b *builder) {
	refl := make([]netip.AddrPort, 300)
	for i := range refl {
		port := uint16(80)
		if i%3 == 0 {
			port = 443
		}
		refl[i] = netip.AddrPortFrom(b.rnd.addrIn(benchNet), port)
	}
	for i := 0; i < 3000; i++ {
		t := time.Duration(i) * 500 * us
		src := refl[b.rnd.intn(len(refl))]
		dst := netip.AddrPortFrom(Victim, uint16(1024+b.rnd.intn(65536-1024)))
		b.tcp(t, src, dst, seg{flags: syn | ack, seq: b.rnd.u32(), ack: b.rnd.u32(), win: 64240, opts: nmapSYN})
	}
}

func reflectors(b *builder, n int) []netip.Addr {
	out := make([]netip.Addr, n)
	for i := range out {
		out[i] = b.rnd.addrIn(benchNet)
	}
	return out
}

func ampDNS(b *builder) {
	res := reflectors(b, 20)
	for i := 0; i < 600; i++ {
		t := time.Duration(i) * 5 * ms
		src := netip.AddrPortFrom(res[b.rnd.intn(len(res))], 53)
		dst := netip.AddrPortFrom(Victim, uint16(1024+b.rnd.intn(65536-1024)))
		b.udp(t, src, dst, dnsANYResponse(&b.rnd))
	}
}

// dnsANYResponse is an answer to "ANY example.com" with EDNS, filled with
// TXT records up to the 1232-byte EDNS buffer of DNS flag day 2020.
func dnsANYResponse(r *rng) []byte {
	name := []byte("example.com")
	d := &layers.DNS{
		ID: r.u16(), QR: true, OpCode: layers.DNSOpCodeQuery, RD: true, RA: true,
		Questions:   []layers.DNSQuestion{{Name: name, Type: dnsTypeANY, Class: layers.DNSClassIN}},
		Additionals: []layers.DNSResourceRecord{{Type: layers.DNSTypeOPT, Class: layers.DNSClass(1232)}},
	}
	for i := 0; i < 4; i++ {
		txt := []byte(fmt.Sprintf("v=spf1 ip4:198.51.100.%d/32 include:_spf%d.example.com ", i, i))
		for len(txt) < 255 {
			txt = append(txt, "~all ip4:192.0.2.0/24 "...)
		}
		d.Answers = append(d.Answers, layers.DNSResourceRecord{Name: name, Type: layers.DNSTypeTXT,
			Class: layers.DNSClassIN, TTL: 3600, TXTs: [][]byte{txt[:255]}})
	}
	out, err := serialize(d)
	if err != nil {
		panic(err)
	}
	// A second string in the last TXT record brings the message to exactly
	// 1232 bytes (one length byte plus the string).
	last := &d.Answers[len(d.Answers)-1]
	pad := 1232 - len(out) - 1
	if pad < 0 || pad > 255 {
		panic(fmt.Sprintf("dns response of %d bytes cannot be padded to 1232", len(out)))
	}
	last.TXTs = append(last.TXTs, []byte(strings.Repeat("x", pad)))
	if out, err = serialize(d); err != nil || len(out) != 1232 {
		panic(fmt.Sprintf("dns response: %d bytes, %v", len(out), err))
	}
	return out
}

// dnsQuery is a recursive A query for name.
func dnsQuery(id uint16, name string) []byte {
	d := &layers.DNS{ID: id, RD: true, OpCode: layers.DNSOpCodeQuery,
		Questions: []layers.DNSQuestion{{Name: []byte(name), Type: layers.DNSTypeA, Class: layers.DNSClassIN}}}
	out, err := serialize(d)
	if err != nil {
		panic(err)
	}
	return out
}

// dnsAnswer answers dnsQuery with addr.
func dnsAnswer(id uint16, name string, addr netip.Addr) []byte {
	d := &layers.DNS{ID: id, QR: true, RD: true, RA: true, OpCode: layers.DNSOpCodeQuery,
		Questions: []layers.DNSQuestion{{Name: []byte(name), Type: layers.DNSTypeA, Class: layers.DNSClassIN}},
		Answers: []layers.DNSResourceRecord{{Name: []byte(name), Type: layers.DNSTypeA, Class: layers.DNSClassIN,
			TTL: 300, IP: addr.AsSlice()}}}
	out, err := serialize(d)
	if err != nil {
		panic(err)
	}
	return out
}

// ntpPacket is a 48-byte NTPv4 header: first byte (LI, VN, mode), stratum,
// transmit timestamp.
func ntpPacket(first, stratum byte, xmt uint64) []byte {
	p := make([]byte, 48)
	p[0], p[1], p[2] = first, stratum, 6
	if stratum != 0 {
		p[3] = 0xe9 // precision
		copy(p[12:16], []byte{192, 0, 2, 123})
	}
	binary.BigEndian.PutUint64(p[40:], xmt)
	return p
}

// monlist is one NTP mode 7 MON_GETLIST_1 response packet: 8 bytes of
// header and 6 entries of 72 bytes.
func monlist(r *rng, more bool, seqno int) []byte {
	p := make([]byte, 8+6*72)
	p[0] = 0x97 // response, version 2, mode 7
	if more {
		p[0] |= 0x40
	}
	p[1] = byte(seqno & 0x7f)
	p[2], p[3] = 3, 42 // implementation XNTPD, MON_GETLIST_1
	binary.BigEndian.PutUint16(p[4:], 6)
	binary.BigEndian.PutUint16(p[6:], 72)
	for e := 0; e < 6; e++ {
		ent := p[8+e*72:]
		binary.BigEndian.PutUint32(ent[0:], uint32(r.intn(86400)))
		binary.BigEndian.PutUint32(ent[4:], uint32(r.intn(86400)))
		binary.BigEndian.PutUint32(ent[8:], 0)
		binary.BigEndian.PutUint32(ent[12:], uint32(1+r.intn(1000)))
		a := r.addrIn(benchNet).As4()
		copy(ent[16:20], a[:])
		copy(ent[20:24], []byte{198, 18, 0, 1})
		binary.BigEndian.PutUint32(ent[24:], 0)
		binary.BigEndian.PutUint16(ent[28:], 123)
		ent[30], ent[31] = 3, 4
	}
	return p
}

func ampNTP(b *builder) {
	refl := reflectors(b, 20)
	for round := 0; round < 3; round++ {
		for k, a := range refl {
			t := time.Duration(round)*time.Second + time.Duration(k)*10*ms
			src := netip.AddrPortFrom(a, 123)
			dst := netip.AddrPortFrom(Victim, uint16(1024+b.rnd.intn(65536-1024)))
			for j := 0; j < 50; j++ {
				b.udp(t+time.Duration(j)*100*us, src, dst, monlist(&b.rnd, j < 49, j))
			}
		}
	}
}

// ber encodes one BER TLV (definite length).
func ber(tag byte, content ...[]byte) []byte {
	n := 0
	for _, c := range content {
		n += len(c)
	}
	out := []byte{tag}
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	case n < 0x100:
		out = append(out, 0x81, byte(n))
	default:
		out = append(out, 0x82, byte(n>>8), byte(n))
	}
	for _, c := range content {
		out = append(out, c...)
	}
	return out
}

func berInt(v uint32) []byte {
	b := []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
	for len(b) > 1 && b[0] == 0 && b[1] < 0x80 {
		b = b[1:]
	}
	if b[0] >= 0x80 {
		b = append([]byte{0}, b...)
	}
	return ber(0x02, b)
}

// ifDescrOID is 1.3.6.1.2.1.2.2.1.2.<n>.
func ifDescrOID(n int) []byte {
	return ber(0x06, []byte{0x2b, 6, 1, 2, 1, 2, 2, 1, 2, byte(n)})
}

// snmpGet is an SNMPv1 GetRequest for sysDescr.0 with community public.
func snmpGet(reqID uint32) []byte {
	vb := ber(0x30, ber(0x06, []byte{0x2b, 6, 1, 2, 1, 1, 1, 0}), []byte{0x05, 0x00})
	pdu := ber(0xa0, berInt(reqID), berInt(0), berInt(0), ber(0x30, vb))
	return ber(0x30, berInt(0), ber(0x04, []byte("public")), pdu)
}

// snmpResponse is an SNMPv2c GetResponse with n interface descriptions of
// 50 bytes each (a GetBulk answer of 20 is about 1.4 kB).
func snmpResponse(r *rng, n int) []byte {
	var vbs [][]byte
	for i := 1; i <= n; i++ {
		desc := []byte(fmt.Sprintf("GigabitEthernet0/%d uplink to core switch, vlan 100-%03d ......", i, r.intn(1000)))
		vbs = append(vbs, ber(0x30, ifDescrOID(i), ber(0x04, desc[:50])))
	}
	pdu := ber(0xa2, berInt(r.u32()&0x7fffffff), berInt(0), berInt(0), ber(0x30, vbs...))
	return ber(0x30, berInt(1), ber(0x04, []byte("public")), pdu)
}

func ampSNMP(b *builder) {
	agents := reflectors(b, 15)
	for i := 0; i < 300; i++ {
		t := time.Duration(i) * 10 * ms
		src := netip.AddrPortFrom(agents[b.rnd.intn(len(agents))], 161)
		dst := netip.AddrPortFrom(Victim, uint16(1024+b.rnd.intn(65536-1024)))
		b.udp(t, src, dst, snmpResponse(&b.rnd, 20))
	}
}

// ampWSD is WS-Discovery reflection: the attacker sends Probe messages to
// UDP/3702 of exposed devices with the victim's address and random ports
// as source; each device answers with a ProbeMatches (SOAP over UDP, no
// fragmentation at these sizes: about 1300 bytes).
func ampWSD(b *builder) {
	devs := reflectors(b, 20)
	for i := 0; i < 400; i++ {
		t := time.Duration(i) * 5 * ms
		src := netip.AddrPortFrom(devs[b.rnd.intn(len(devs))], 3702)
		dst := netip.AddrPortFrom(Victim, uint16(1024+b.rnd.intn(65536-1024)))
		b.udp(t, src, dst, wsdProbeMatches(&b.rnd))
	}
}

// uuid is a random (version 4) UUID in its text form.
func uuid(r *rng) string {
	u := r.bytes(16)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// wsdProbeMatches is a WS-Discovery 1.1 ProbeMatches of a network camera.
func wsdProbeMatches(r *rng) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>` +
		`<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" ` +
		`xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" ` +
		`xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery" ` +
		`xmlns:dn="http://www.onvif.org/ver10/network/wsdl">` +
		`<SOAP-ENV:Header><wsa:MessageID>uuid:` + uuid(r) + `</wsa:MessageID>` +
		`<wsa:RelatesTo>uuid:` + uuid(r) + `</wsa:RelatesTo>` +
		`<wsa:Action SOAP-ENV:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action>` +
		`<wsd:AppSequence InstanceId="` + fmt.Sprint(r.intn(1<<30)) + `" MessageNumber="` + fmt.Sprint(r.intn(1000)) + `"/>` +
		`</SOAP-ENV:Header><SOAP-ENV:Body><wsd:ProbeMatches><wsd:ProbeMatch>` +
		`<wsa:EndpointReference><wsa:Address>urn:uuid:` + uuid(r) + `</wsa:Address></wsa:EndpointReference>` +
		`<wsd:Types>dn:NetworkVideoTransmitter</wsd:Types>` +
		`<wsd:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/type/audio_encoder ` +
		`onvif://www.onvif.org/hardware/IPC-model ` +
		`onvif://www.onvif.org/name/NVT onvif://www.onvif.org/Profile/Streaming onvif://www.onvif.org/Profile/G ` +
		`onvif://www.onvif.org/Profile/T</wsd:Scopes>` +
		`<wsd:XAddrs>http://` + r.addrIn(benchNet).String() + `/onvif/device_service</wsd:XAddrs>` +
		`<wsd:MetadataVersion>1</wsd:MetadataVersion></wsd:ProbeMatch></wsd:ProbeMatches>` +
		`</SOAP-ENV:Body></SOAP-ENV:Envelope>`)
}

// dnsThreeResolvers is a protected host's stub resolver spreading its
// lookups over three resolvers beyond the router, as resolv.conf with
// "options rotate" does: both directions, as a tap sees them.
func dnsThreeResolvers(b *builder) {
	host := netip.MustParseAddr("198.51.100.25")
	res := []netip.Addr{
		netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("192.0.2.153"), netip.MustParseAddr("192.0.2.253"),
	}
	for i := 0; i < 600; i++ {
		t := time.Duration(i)*33*ms + time.Duration(b.rnd.intn(1000))*us
		id := b.rnd.u16()
		name := fmt.Sprintf("mx%d.example.net", i)
		q := netip.AddrPortFrom(host, b.rnd.ephemeral())
		r := netip.AddrPortFrom(res[i%len(res)], 53)
		b.udp(t, q, r, dnsQuery(id, name))
		b.udp(t+wanRTT/3+time.Duration(b.rnd.intn(5000))*us, r, q, dnsAnswer(id, name, b.rnd.addrIn(benchNet)))
	}
}

func bruteSSH(b *builder) {
	for i := 0; i < 15; i++ {
		t := time.Duration(i) * 4 * time.Second
		cli := netip.AddrPortFrom(Attacker, b.rnd.ephemeral())
		c, t := b.dial(t, cli, netip.AddrPortFrom(Victim, 22), wanRTT)
		t = c.server(t+2*ms, wanRTT, []byte("SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5\r\n"))
		t = c.client(t+1*ms, []byte("SSH-2.0-libssh_0.10.6\r\n"))
		t = c.client(t+1*ms, b.rnd.bytes(1016))         // KEXINIT
		t = c.server(t+1*ms, wanRTT, b.rnd.bytes(1096)) // KEXINIT
		t = c.client(t+1*ms, b.rnd.bytes(48))           // KEX_ECDH_INIT
		t = c.server(t+3*ms, wanRTT, b.rnd.bytes(564))  // KEX_ECDH_REPLY, NEWKEYS
		t = c.client(t+1*ms, b.rnd.bytes(60))           // NEWKEYS, SERVICE_REQUEST
		t = c.server(t+1*ms, wanRTT, b.rnd.bytes(44))   // SERVICE_ACCEPT
		for try := 0; try < 2; try++ {
			t = c.client(t+1*ms, b.rnd.bytes(84))                  // USERAUTH_REQUEST password
			t = c.server(t+2*time.Second, wanRTT, b.rnd.bytes(52)) // USERAUTH_FAILURE after the delay
		}
		c.closeByClient(t+1*ms, wanRTT)
	}
}

func bruteFTP(b *builder) {
	words := []string{"123456", "password", "admin", "qwerty", "letmein", "welcome", "monkey", "dragon",
		"master", "abc123", "111111", "iloveyou", "sunshine", "princess", "football"}
	for i := 0; i < 15; i++ {
		t := time.Duration(i) * 4 * time.Second
		cli := netip.AddrPortFrom(Attacker, b.rnd.ephemeral())
		c, t := b.dial(t, cli, netip.AddrPortFrom(Victim, 21), wanRTT)
		t = c.server(t+1*ms, wanRTT, []byte("220 (vsFTPd 3.0.5)\r\n"))
		t = c.client(t+1*ms, []byte("USER admin\r\n"))
		t = c.server(t+1*ms, wanRTT, []byte("331 Please specify the password.\r\n"))
		t = c.client(t+1*ms, []byte("PASS "+words[i]+"\r\n"))
		t = c.server(t+1*time.Second, wanRTT, []byte("530 Login incorrect.\r\n"))
		t = c.client(t+1*ms, []byte("QUIT\r\n"))
		t = c.server(t+1*ms, wanRTT, []byte("221 Goodbye.\r\n"))
		c.closeByServer(t+1*ms, wanRTT)
	}
}

// benign is two minutes of ordinary traffic to the protected network.
func benign(b *builder) {
	web := netip.MustParseAddr("198.51.100.80")
	resolver := netip.MustParseAddr("198.51.100.53")
	clients := []netip.Addr{
		netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11"), netip.MustParseAddr("192.0.2.12"),
	}
	// Web: each client opens four connections, 80 and 443 alternating,
	// each preceded by a DNS lookup.
	for ci, cl := range clients {
		for k := 0; k < 4; k++ {
			t := 2*time.Second + time.Duration(ci)*7*time.Second + time.Duration(k)*25*time.Second
			id := b.rnd.u16()
			q := netip.AddrPortFrom(cl, b.rnd.ephemeral())
			r := netip.AddrPortFrom(resolver, 53)
			b.udp(t, q, r, dnsQuery(id, "www.example.com"))
			b.udp(t+400*us, r, q, dnsAnswer(id, "www.example.com", web))
			t += 30 * ms
			port := uint16(80)
			if k%2 == 1 {
				port = 443
			}
			c, t := b.dial(t, netip.AddrPortFrom(cl, b.rnd.ephemeral()), netip.AddrPortFrom(web, port), 25*ms)
			if port == 80 {
				t = c.client(t+1*ms, []byte("GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n"))
				body := make([]byte, 4000+b.rnd.intn(3000))
				for i := range body {
					body[i] = "<p>lorem ipsum dolor sit amet</p>\n"[i%34]
				}
				resp := append([]byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n", len(body))), body...)
				t = c.server(t+2*ms, 25*ms, resp)
			} else {
				t = c.client(t+1*ms, append([]byte{0x16, 0x03, 0x01, 0x02, 0x00}, b.rnd.bytes(512)...)) // ClientHello
				t = c.server(t+2*ms, 25*ms, append([]byte{0x16, 0x03, 0x03}, b.rnd.bytes(2900)...))     // ServerHello .. Finished
				t = c.client(t+1*ms, append([]byte{0x14, 0x03, 0x03, 0x00, 0x01, 0x01, 0x17, 0x03, 0x03}, b.rnd.bytes(120)...))
				t = c.server(t+3*ms, 25*ms, append([]byte{0x17, 0x03, 0x03}, b.rnd.bytes(6000)...))
			}
			c.closeByClient(t+3*time.Second, 25*ms)
		}
	}
	// More name lookups.
	for i := 0; i < 20; i++ {
		t := time.Second + time.Duration(i)*5500*ms
		cl := clients[i%len(clients)]
		id := b.rnd.u16()
		name := fmt.Sprintf("host%d.example.org", i)
		q := netip.AddrPortFrom(cl, b.rnd.ephemeral())
		r := netip.AddrPortFrom(resolver, 53)
		b.udp(t, q, r, dnsQuery(id, name))
		b.udp(t+(1+time.Duration(i%4))*ms, r, q, dnsAnswer(id, name, netip.AddrFrom4([4]byte{203, 0, 113, byte(10 + i)})))
	}
	// An interactive SSH session of 90 s.
	{
		cli := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.20"), b.rnd.ephemeral())
		c, t := b.dial(5*time.Second, cli, netip.AddrPortFrom(netip.MustParseAddr("198.51.100.22"), 22), wanRTT)
		t = c.server(t+2*ms, wanRTT, []byte("SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5\r\n"))
		t = c.client(t+1*ms, []byte("SSH-2.0-OpenSSH_9.6\r\n"))
		t = c.client(t+1*ms, b.rnd.bytes(1520))
		t = c.server(t+1*ms, wanRTT, b.rnd.bytes(1096))
		t = c.client(t+1*ms, b.rnd.bytes(1240))
		t = c.server(t+3*ms, wanRTT, b.rnd.bytes(1600))
		t = c.client(t+1*ms, b.rnd.bytes(700))
		t = c.server(t+5*ms, wanRTT, b.rnd.bytes(900))
		for k := 0; k < 85; k++ {
			at := 8*time.Second + time.Duration(k)*time.Second
			if at < t {
				continue
			}
			t = c.client(at, b.rnd.bytes(36))
			t = c.server(t+1*ms, wanRTT, b.rnd.bytes(36+b.rnd.intn(3)*400))
		}
		c.closeByClient(t+500*ms, wanRTT)
	}
	// ping at 1/s.
	{
		src, dst := netip.MustParseAddr("192.0.2.30"), netip.MustParseAddr("198.51.100.1")
		id := b.rnd.u16()
		for i := 0; i < 100; i++ {
			t := 3*time.Second + time.Duration(i)*time.Second
			data := pingData(Start.Add(t))
			b.icmp4(t, src, dst, 8, 0, id, uint16(i+1), data)
			b.icmp4(t+200*us, dst, src, 0, 0, id, uint16(i+1), data)
		}
	}
	// The protected NTP server answers 200 Internet clients in 10 s (20/s;
	// a pool.ntp.org server sees far more). ntpd sends its polls from port
	// 123, so they arrive "from UDP/123" on flows the server did not open.
	{
		srv := netip.AddrPortFrom(netip.MustParseAddr("198.51.100.123"), 123)
		for i := 0; i < 200; i++ {
			t := 40*time.Second + time.Duration(i)*50*ms
			cli := netip.AddrPortFrom(b.rnd.addrIn(benchNet), 123)
			b.udp(t, cli, srv, ntpPacket(0x23, 0, b.rnd.u64()))
			b.udp(t+100*us, srv, cli, ntpPacket(0x24, 2, b.rnd.u64()))
		}
	}
	// ntpd polls at 64 s, from port 123 to port 123.
	{
		cli := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.40"), 123)
		srv := netip.AddrPortFrom(netip.MustParseAddr("198.51.100.123"), 123)
		for i := 0; i < 2; i++ {
			t := 10*time.Second + time.Duration(i)*64*time.Second
			xmt := b.rnd.u64()
			b.udp(t, cli, srv, ntpPacket(0x23, 0, xmt))
			b.udp(t+150*us, srv, cli, ntpPacket(0x24, 2, b.rnd.u64()))
		}
	}
}

// dnsTypeANY is QTYPE * (RFC 1035), which gopacket does not name.
const dnsTypeANY = layers.DNSType(255)
