package loader

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/internal/testenv"
)

// Tests of the SYN cookie path and the verified sources through
// BPF_PROG_TEST_RUN. A handshake needs the SYN-ACK's cookie for the ACK,
// so these cases are scripts: each step runs a frame, checks the action,
// and may build the next frame from the frame the program sent back.

const actTX = 3 // XDP_TX

var (
	txCookie   = vr{bpf.VerdictTX, bpf.ReasonSYNCookie}
	dropCookie = vr{bpf.VerdictDrop, bpf.ReasonBadCookie}
)

// cookieConfig is testConfig with every eligible SYN answered with a
// cookie, no refresh SYNs and an exact hop count.
func cookieConfig(c *Config) {
	c.CookieAlways = true
	c.CookieRefresh = 0
	c.HopTolerance = 2
}

// cookieRun runs frames through the program and keeps the tally checkStats needs.
type cookieRun struct {
	t    *testing.T
	d    *Datapath
	sent Counter
}

func newCookieRun(t *testing.T, tweak func(*Config)) *cookieRun {
	testenv.RequireBPF(t)
	pinCPU(t, firstCPU(t))
	cfg := testConfig()
	tweak(&cfg)
	return &cookieRun{t: t, d: loadDatapath(t, cfg)}
}

// run runs pkt, checks the action and returns the frame the program left.
func (r *cookieRun) run(pkt []byte, want uint32) []byte {
	r.t.Helper()
	out := make([]byte, len(pkt)+256)
	opts := ebpf.RunOptions{Data: pkt, DataOut: out}
	got, err := r.d.Program().Run(&opts)
	if err != nil {
		r.t.Fatalf("run %d-byte frame: %v", len(pkt), err)
	}
	r.sent.Add(Counter{Packets: 1, Bytes: uint64(len(pkt))})
	if got != want {
		r.t.Fatalf("%s, want %s", actName(got), actName(want))
	}
	return opts.DataOut
}

func actName(a uint32) string {
	if a == actTX {
		return "XDP_TX"
	}
	return actionName(a)
}

// stats checks the counters: every packet under exactly one verdict.
func (r *cookieRun) stats(verdicts map[vr]uint64, protos map[int]uint64, verifiedNew, hopMismatch uint64) {
	r.t.Helper()
	st, err := r.d.Maps().SlotStats(0)
	if err != nil {
		r.t.Fatal(err)
	}
	checkStats(r.t, &st, r.sent, verdicts, protos)
	if st.VerifiedNew != verifiedNew || st.HopMismatch != hopMismatch {
		r.t.Errorf("verified_new %d hop_mismatch %d, want %d %d", st.VerifiedNew, st.HopMismatch, verifiedNew, hopMismatch)
	}
}

// synOpts is a client's SYN to port 80 with an MSS option (and window
// scale, SACK permitted: options the cookie SYN-ACK does not echo).
func synOpts(src, dst netip.Addr, ttl uint8) []byte {
	th := tcp(40000, 80, syn)
	th.Options = []layers.TCPOption{
		{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
		{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
		{OptionType: layers.TCPOptionKindNop},
		{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}},
	}
	return frame(eth(), ipWithTTL(src, dst, ttl), th)
}

// ipWithTTL is an IPv4 or IPv6 header with the given TTL / hop limit.
func ipWithTTL(src, dst netip.Addr, ttl uint8) gopacket.SerializableLayer {
	if src.Is4() {
		ip := ip4(src, dst)
		ip.TTL = ttl
		return ip
	}
	ip := ip6(src, dst)
	ip.HopLimit = ttl
	return ip
}

// segment is a client's segment on the connection: seq and ack given.
func segment(src, dst netip.Addr, ttl, flags uint8, seq, ackNum uint32, data int) []byte {
	th := tcp(40000, 80, flags)
	th.Seq, th.Ack = seq, ackNum
	ls := []gopacket.SerializableLayer{eth(), ipWithTTL(src, dst, ttl), th}
	if data > 0 {
		ls = append(ls, payload(data))
	}
	return frame(ls...)
}

// synAck parses and checks the program's answer to a SYN from client to
// server (the SYN's seq is 1000): addresses and ports swapped, SYN|ACK,
// ack = seq + 1, good checksums, TTL 64, the MSS option when wantMSS is
// not 0 and no options otherwise. It returns the cookie (the seq).
func synAck(t *testing.T, out []byte, client, server netip.Addr, wantMSS uint16, vlan bool) uint32 {
	t.Helper()
	p := gopacket.NewPacket(out, layers.LayerTypeEthernet, gopacket.Default)
	if el := p.ErrorLayer(); el != nil {
		t.Fatalf("SYN-ACK does not decode: %v\n% x", el.Error(), out)
	}
	e := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if e.SrcMAC.String() != macDst.String() || e.DstMAC.String() != macSrc.String() {
		t.Errorf("SYN-ACK MACs %s -> %s, want %s -> %s", e.SrcMAC, e.DstMAC, macDst, macSrc)
	}
	if d := p.Layer(layers.LayerTypeDot1Q); (d != nil) != vlan {
		t.Errorf("SYN-ACK VLAN tag present %v, want %v", d != nil, vlan)
	}
	th, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if th == nil {
		t.Fatalf("SYN-ACK has no TCP layer: %v", p)
	}
	var src, dst netip.Addr
	var l3 []byte
	if ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
		src, dst = netip.AddrFrom4([4]byte(ip.SrcIP.To4())), netip.AddrFrom4([4]byte(ip.DstIP.To4()))
		if ip.TTL != 64 || ip.Flags != layers.IPv4DontFragment || ip.IHL != 5 || int(ip.Length) != 20+len(th.Contents) {
			t.Errorf("SYN-ACK IPv4 ttl %d flags %v ihl %d length %d", ip.TTL, ip.Flags, ip.IHL, ip.Length)
		}
		if sum := onesSum(0, ip.Contents); sum != 0xffff {
			t.Errorf("SYN-ACK IPv4 header checksum wrong (sum %#x)", sum)
		}
		l3 = ip.Contents
	} else if ip, ok := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6); ok {
		src, dst = netip.AddrFrom16([16]byte(ip.SrcIP)), netip.AddrFrom16([16]byte(ip.DstIP))
		if ip.HopLimit != 64 || ip.NextHeader != layers.IPProtocolTCP || int(ip.Length) != len(th.Contents) {
			t.Errorf("SYN-ACK IPv6 hop limit %d next %v length %d", ip.HopLimit, ip.NextHeader, ip.Length)
		}
		l3 = ip.Contents
	} else {
		t.Fatalf("SYN-ACK has no IP layer")
	}
	if src != server || dst != client {
		t.Errorf("SYN-ACK %s -> %s, want %s -> %s", src, dst, server, client)
	}
	if th.SrcPort != 80 || th.DstPort != 40000 || !th.SYN || !th.ACK || th.FIN || th.RST || th.PSH || th.URG || th.ECE || th.CWR {
		t.Errorf("SYN-ACK ports %d -> %d flags %s", th.SrcPort, th.DstPort, tcpFlags(th))
	}
	if th.Ack != 1001 {
		t.Errorf("SYN-ACK ack %d, want 1001", th.Ack)
	}
	if len(th.Payload) != 0 || len(out) != len(p.Data()) || int(th.DataOffset)*4 != len(th.Contents) {
		t.Errorf("SYN-ACK carries %d payload bytes, data offset %d", len(th.Payload), th.DataOffset)
	}
	if !tcpSumOK(l3, th.Contents) {
		t.Errorf("SYN-ACK TCP checksum wrong")
	}
	switch {
	case wantMSS == 0 && len(th.Options) != 0:
		t.Errorf("SYN-ACK options %v, want none", th.Options)
	case wantMSS != 0 && (len(th.Options) != 1 || th.Options[0].OptionType != layers.TCPOptionKindMSS ||
		binary.BigEndian.Uint16(th.Options[0].OptionData) != wantMSS):
		t.Errorf("SYN-ACK options %v, want MSS %d only", th.Options, wantMSS)
	}
	return th.Seq
}

func tcpFlags(th *layers.TCP) string {
	s := ""
	for _, f := range []struct {
		on   bool
		name string
	}{{th.SYN, "S"}, {th.ACK, "A"}, {th.FIN, "F"}, {th.RST, "R"}, {th.PSH, "P"}, {th.URG, "U"}, {th.ECE, "E"}, {th.CWR, "C"}} {
		if f.on {
			s += f.name
		}
	}
	return s
}

// onesSum is the 16-bit one's complement sum of b added to s. It is
// written out here rather than taken from gopacket, which computes
// checksums only when serializing, to check the program's independently.
func onesSum(s uint32, b []byte) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// tcpSumOK checks a TCP segment's checksum against its IP header's
// pseudo-header.
func tcpSumOK(l3, seg []byte) bool {
	var ph []byte
	if l3[0]>>4 == 4 {
		ph = append(append([]byte{}, l3[12:20]...), 0, 6, byte(len(seg)>>8), byte(len(seg)))
	} else {
		ph = append(append([]byte{}, l3[8:40]...), 0, 0, byte(len(seg)>>8), byte(len(seg)), 0, 0, 0, 6)
	}
	return onesSum(uint32(onesSum(0, ph)), seg) == 0xffff
}

// verifiedTTL checks addr's verified map entry.
func verifiedTTL(t *testing.T, d *Datapath, addr netip.Addr, ttl uint8, spoofed uint64) {
	t.Helper()
	v, err := d.Maps().LookupVerified(addr)
	if err != nil {
		t.Fatalf("verified map: %v", err)
	}
	if v.Addr != addr || v.TTL != ttl || v.Spoofed != spoofed || v.VerifiedNs == 0 || v.LastNs < v.VerifiedNs {
		t.Errorf("verified entry %+v, want %s with ttl %d, %d spoofed", v, addr, ttl, spoofed)
	}
}

func notVerified(t *testing.T, d *Datapath, addr netip.Addr) {
	t.Helper()
	if v, err := d.Maps().LookupVerified(addr); err == nil {
		t.Errorf("%s verified: %+v", addr, v)
	}
}

// TestXDPSynCookieHandshake: a SYN comes back as a SYN-ACK carrying a
// cookie, the client's ACK with it passes and verifies the client (with
// its TTL), a forged ACK is dropped, and the connection's later segments
// pass unchecked. In both address families.
func TestXDPSynCookieHandshake(t *testing.T) {
	for _, fam := range []struct {
		name           string
		client, forger netip.Addr
		server         netip.Addr
		mss            uint16
		ip             int
	}{
		{"ipv4", srcA, srcB, dst4, 1460, bpf.ProtoIPv4},
		{"ipv6", src6A, src6B, dst6, 1440, bpf.ProtoIPv6}, // the client's 1460 cut to ours
	} {
		t.Run(fam.name, func(t *testing.T) {
			r := newCookieRun(t, cookieConfig)
			cookie := synAck(t, r.run(synOpts(fam.client, fam.server, 60), actTX), fam.client, fam.server, fam.mss, false)
			notVerified(t, r.d, fam.client)

			// the forger guesses: the right ports, but not the cookie
			r.run(segment(fam.forger, fam.server, 60, ack, 1001, cookie+1, 0), actDrop)
			// (flipping the cookie's top bit: a change of its low bits can
			// land on another valid MSS index, as in the stack)
			r.run(segment(fam.client, fam.server, 60, ack, 1001, (cookie^1<<31)+1, 0), actDrop)
			notVerified(t, r.d, fam.client)

			r.run(segment(fam.client, fam.server, 60, ack, 1001, cookie+1, 0), actPass)
			verifiedTTL(t, r.d, fam.client, 60, 0)
			// the flow is known now: data with any ack passes
			r.run(segment(fam.client, fam.server, 60, psh|ack, 1001, cookie+1, 100), actPass)
			r.run(segment(fam.client, fam.server, 60, ack, 1101, cookie+7, 0), actPass)
			r.stats(map[vr]uint64{txCookie: 1, dropCookie: 2, passNone: 3},
				map[int]uint64{fam.ip: 6, bpf.ProtoTCP: 6}, 1, 0)
			if f := flowsOf(t, r.d); len(f) != 1 || f[0].Src != fam.client || f[0].Packets != 3 {
				t.Errorf("flows %+v, want one of the client's 3 packets after the handshake (none for the SYN)", f)
			}
		})
	}
}

// TestXDPSynCookies: which SYNs get a cookie, and when.
func TestXDPSynCookies(t *testing.T) {
	ip4tcp := map[int]uint64{bpf.ProtoIPv4: 1, bpf.ProtoTCP: 1}
	t.Run("syn without options: syn-ack without options", func(t *testing.T) {
		r := newCookieRun(t, cookieConfig)
		out := r.run(tcp4(srcA, syn), actTX)
		if len(out) != ethLen+ip4Len+20 {
			t.Errorf("SYN-ACK of %d bytes, want %d", len(out), ethLen+ip4Len+20)
		}
		cookie := synAck(t, out, srcA, dst4, 0, false)
		r.run(segment(srcA, dst4, 64, ack, 1001, cookie+1, 0), actPass)
		verifiedTTL(t, r.d, srcA, 64, 0)
		r.stats(map[vr]uint64{txCookie: 1, passNone: 1}, scaled(ip4tcp, 2), 1, 0)
	})
	t.Run("ethernet padding is cut from the syn-ack", func(t *testing.T) {
		r := newCookieRun(t, cookieConfig)
		padded := append(tcp4(srcA, syn), make([]byte, 6)...) // 60 bytes, the Ethernet minimum
		out := r.run(padded, actTX)
		if len(out) != ethLen+ip4Len+20 {
			t.Errorf("SYN-ACK of %d bytes, want %d", len(out), ethLen+ip4Len+20)
		}
		synAck(t, out, srcA, dst4, 0, false)
		r.stats(map[vr]uint64{txCookie: 1}, ip4tcp, 0, 0)
	})
	t.Run("vlan tag kept", func(t *testing.T) {
		r := newCookieRun(t, cookieConfig)
		out := r.run(frame(eth(), dot1q(7), ip4(srcA, dst4), tcp(40000, 80, syn)), actTX)
		cookie := synAck(t, out, srcA, dst4, 0, true)
		r.run(frame(eth(), dot1q(7), ip4(srcA, dst4), withSeqAck(tcp(40000, 80, ack), 1001, cookie+1)), actPass)
		r.stats(map[vr]uint64{txCookie: 1, passNone: 1}, map[int]uint64{bpf.ProtoIPv4: 2, bpf.ProtoTCP: 2, bpf.ProtoVLAN: 2}, 1, 0)
	})
	// SYNs the program leaves to the stack: what it cannot answer
	// exactly as the stack would, or should not answer at all.
	badSum := tcp4(srcA, syn)
	badSum[ethLen+ip4Len+16] ^= 0xff
	badIPSum := tcp4(srcA, syn)
	badIPSum[ethLen+10] ^= 0xff
	for _, c := range []struct {
		name string
		pkt  []byte
		prot map[int]uint64
	}{
		{"syn with data", frame(eth(), ip4(srcA, dst4), tcp(40000, 80, syn), payload(10)), ip4tcp},
		{"syn with a bad tcp checksum", badSum, ip4tcp},
		{"syn with a bad ip checksum", badIPSum, ip4tcp},
		{"syn with ip options", frame(eth(), ip4Opts(ip4(srcA, dst4), false), tcp(40000, 80, syn)), ip4tcp},
		{"syn in a first fragment", frame(eth(), ip4Frag(ip4(srcA, dst4), true, 0), tcp(40000, 80, syn)), map[int]uint64{bpf.ProtoIPv4: 1, bpf.ProtoTCP: 1, bpf.ProtoFragment: 1}},
		{"syn+fin", tcp4(srcA, syn|fin), ip4tcp},
		{"syn after an ipv6 extension header", frame(eth(), ip6(src6A, dst6), destOpts(), tcp(40000, 80, syn)), map[int]uint64{bpf.ProtoIPv6: 1, bpf.ProtoTCP: 1}},
		{"syn+ack", tcp4(srcA, syn|ack), ip4tcp},
	} {
		t.Run("passed: "+c.name, func(t *testing.T) {
			r := newCookieRun(t, cookieConfig)
			r.run(c.pkt, actPass)
			r.stats(map[vr]uint64{passNone: 1}, c.prot, 0, 0)
		})
	}
	t.Run("monitor mode sends no cookies", func(t *testing.T) {
		r := newCookieRun(t, func(c *Config) { cookieConfig(c); c.Monitor = true })
		r.run(tcp4(srcA, syn), actPass)
		r.run(segment(srcA, dst4, 64, ack, 1001, 12345, 0), actPass)
		r.stats(map[vr]uint64{passNone: 2}, scaled(ip4tcp, 2), 0, 0)
	})
	t.Run("below the threshold syns pass, over it they get cookies", func(t *testing.T) {
		r := newCookieRun(t, func(c *Config) { c.CookieThreshold = 3 })
		for range 3 {
			r.run(tcp4(srcA, syn), actPass)
		}
		// before any cookie, an unknown ACK is not checked
		r.run(segment(srcB, dst4, 64, ack, 1001, 12345, 0), actPass)
		r.run(tcp4(srcA, syn), actTX)
		r.run(frame(eth(), ip4(srcA, dst4), tcp(40000, 81, syn)), actPass) // another port: its own rate
		r.run(segment(srcB, dst4, 64, ack, 1001, 54321, 0), actPass)       // a known flow now
		r.run(frame(eth(), ip4(srcA, dst4), withSeqAck(tcp(40001, 80, ack), 1001, 54321)), actDrop)
		r.stats(map[vr]uint64{passNone: 6, txCookie: 1, dropCookie: 1}, scaled(ip4tcp, 8), 0, 0)
	})
	t.Run("cookie mode lets a refresh syn through to the stack", func(t *testing.T) {
		r := newCookieRun(t, func(c *Config) { cookieConfig(c); c.CookieRefresh = time.Minute })
		r.run(tcp4(srcA, syn), actPass)
		r.run(tcp4(srcA, syn), actTX)
		r.run(frame(eth(), ip4(srcA, dst4), tcp(40000, 443, syn)), actPass) // per port
		r.run(tcp4(srcB, syn), actTX)
		r.stats(map[vr]uint64{passNone: 2, txCookie: 2}, scaled(ip4tcp, 4), 0, 0)
	})
	t.Run("rst and fin acks are not checked", func(t *testing.T) {
		r := newCookieRun(t, cookieConfig)
		r.run(tcp4(srcA, syn), actTX)
		r.run(segment(srcB, dst4, 64, rst|ack, 1001, 1, 0), actPass)
		r.run(segment(srcB, dst4, 64, fin|ack, 1001, 1, 0), actPass)
		r.stats(map[vr]uint64{txCookie: 1, passNone: 2}, scaled(ip4tcp, 3), 0, 0)
	})
}

// serverOf is the test server of the client's address family.
func serverOf(client netip.Addr) netip.Addr {
	if client.Is4() {
		return dst4
	}
	return dst6
}

// mssOf is the MSS the cookie SYN-ACK announces to synOpts' client: its
// 1460, or for IPv6 the program's 1440.
func mssOf(client netip.Addr) uint16 {
	if client.Is4() {
		return 1460
	}
	return 1440
}

func withSeqAck(th *layers.TCP, seq, ackNum uint32) *layers.TCP {
	th.Seq, th.Ack = seq, ackNum
	return th
}

// TestXDPHopCount: a packet with a verified source's address and a TTL
// off by more than the tolerance is counted as spoofed and marked in its
// sample, and passes; within the tolerance it is the source.
func TestXDPHopCount(t *testing.T) {
	for _, fam := range []struct {
		name           string
		client, server netip.Addr
		ip             int
	}{{"ipv4", srcA, dst4, bpf.ProtoIPv4}, {"ipv6", src6A, dst6, bpf.ProtoIPv6}} {
		t.Run(fam.name, func(t *testing.T) {
			r := newCookieRun(t, func(c *Config) { cookieConfig(c); c.SampleMask = bpf.SampleICMP })
			rd, err := ringbuf.NewReader(r.d.SamplesMap())
			if err != nil {
				t.Fatal(err)
			}
			defer rd.Close()
			cookie := synAck(t, r.run(synOpts(fam.client, fam.server, 57), actTX), fam.client, fam.server, mssOf(fam.client), false)
			r.run(segment(fam.client, fam.server, 57, ack, 1001, cookie+1, 0), actPass)

			ping := func(ttl uint8) []byte {
				if fam.client.Is4() {
					return frame(eth(), ipWithTTL(fam.client, fam.server, ttl), icmp4Echo(), payload(8))
				}
				return frame(eth(), ipWithTTL(fam.client, fam.server, ttl), icmp6Echo(), payload(8))
			}
			for _, ttl := range []uint8{57, 59, 55, 60, 40, 120} {
				r.run(ping(ttl), actPass)
			}
			// a spoofed SYN in the client's name still gets a cookie (the
			// SYN-ACK goes to the real client), counted as spoofed
			r.run(synOpts(fam.client, fam.server, 30), actTX)
			// another source is not verified
			other := map[bool]netip.Addr{true: srcB, false: src6B}[fam.client.Is4()]
			r.run(frame(eth(), ipWithTTL(other, fam.server, 57), map[bool]gopacket.SerializableLayer{true: icmp4Echo(), false: icmp6Echo()}[fam.client.Is4()], payload(8)), actPass)

			icmp := map[bool]int{true: bpf.ProtoICMP, false: bpf.ProtoICMPv6}[fam.client.Is4()]
			r.stats(map[vr]uint64{txCookie: 2, passNone: 8},
				map[int]uint64{fam.ip: 10, bpf.ProtoTCP: 3, icmp: 7}, 1, 4)
			verifiedTTL(t, r.d, fam.client, 57, 4)

			var trust []uint32
			for _, s := range readSamples(t, rd) {
				trust = append(trust, uint32(s.hdr.Trust))
			}
			v, m := uint32(bpf.TrustVerified), uint32(bpf.TrustVerified|bpf.TrustHopMismatch)
			want := []uint32{v, v, v, m, m, m, 0}
			if len(trust) != len(want) {
				t.Fatalf("sample trust bits %v, want %v", trust, want)
			}
			for i := range want {
				if trust[i] != want[i] {
					t.Errorf("sample trust bits %v, want %v", trust, want)
					break
				}
			}
		})
	}
}

// TestVerifiedMap: the accessors of the verified map, and its hint.
func TestVerifiedMap(t *testing.T) {
	r := newCookieRun(t, cookieConfig)
	for _, c := range []netip.Addr{srcA, srcB, src6A} {
		cookie := synAck(t, r.run(synOpts(c, serverOf(c), 64), actTX), c, serverOf(c), mssOf(c), false)
		r.run(segment(c, serverOf(c), 64, ack, 1001, cookie+1, 0), actPass)
	}
	seen := map[netip.Addr]bool{}
	if err := r.d.Maps().EachVerified(func(v VerifiedSource) bool { seen[v.Addr] = true; return true }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 || !seen[srcA] || !seen[srcB] || !seen[src6A] {
		t.Errorf("verified sources %v", seen)
	}
	var hint uint32
	if err := r.d.Maps().ListHints.Lookup(uint32(bpf.HintVerified), &hint); err != nil || hint != 1 {
		t.Errorf("verified hint %d (%v), want 1", hint, err)
	}
	for _, a := range []netip.Addr{srcA, srcB, src6A} {
		if err := r.d.Maps().Unverify(a); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.d.Maps().Unverify(srcA); err == nil {
		t.Error("unverify of a source not there succeeded")
	}
	if err := r.d.Maps().ListHints.Lookup(uint32(bpf.HintVerified), &hint); err != nil || hint != 0 {
		t.Errorf("verified hint %d (%v) with the map empty, want 0", hint, err)
	}
}

// challengeBan bans p with a challenge ban.
func challengeBan(t *testing.T, d *Datapath, p string) {
	t.Helper()
	if err := d.Maps().Block(netip.MustParsePrefix(p), BlockOptions{Origin: bpf.OriginDetector, Challenge: true, Comment: "forged"}); err != nil {
		t.Fatal(err)
	}
	e, err := d.Maps().LookupBlock(netip.MustParsePrefix(p))
	if err != nil || !e.Challenge || e.Origin != bpf.OriginDetector {
		t.Fatalf("challenge ban read back as %+v (%v)", e, err)
	}
}

// TestXDPChallengeBan: a source banned on forgeable evidence proves itself
// through a SYN cookie handshake (on any port, cookie mode or not) and its
// packets then pass the ban; an unverified one, another hop count, or a
// plain ban still drop.
func TestXDPChallengeBan(t *testing.T) {
	for _, fam := range []struct {
		name   string
		client netip.Addr
		ip     int
		icmp   func(netip.Addr, uint8) []byte
	}{
		{"ipv4", srcA, bpf.ProtoIPv4, func(a netip.Addr, ttl uint8) []byte {
			return frame(eth(), ipWithTTL(a, dst4, ttl), icmp4Echo(), payload(8))
		}},
		{"ipv6", src6A, bpf.ProtoIPv6, func(a netip.Addr, ttl uint8) []byte {
			return frame(eth(), ipWithTTL(a, dst6, ttl), icmp6Echo(), payload(8))
		}},
	} {
		t.Run(fam.name, func(t *testing.T) {
			// cookies off: the challenge works without cookie mode
			r := newCookieRun(t, func(c *Config) { c.HopTolerance = 2 })
			challengeBan(t, r.d, netip.PrefixFrom(fam.client, fam.client.BitLen()).String())
			server := serverOf(fam.client)
			r.run(fam.icmp(fam.client, 64), actDrop)
			r.run(segment(fam.client, server, 64, ack, 1001, 777, 0), actDrop) // a forged ACK
			cookie := synAck(t, r.run(synOpts(fam.client, server, 64), actTX), fam.client, server, mssOf(fam.client), false)
			r.run(segment(fam.client, server, 64, ack, 1001, cookie+1, 0), actPass)
			verifiedTTL(t, r.d, fam.client, 64, 0)
			r.run(segment(fam.client, server, 64, psh|ack, 1001, cookie+1, 20), actPass)
			r.run(fam.icmp(fam.client, 63), actPass)
			r.run(fam.icmp(fam.client, 30), actDrop) // its address, another hop count
			r.stats(map[vr]uint64{dropBlock: 3, txCookie: 1, passNone: 3},
				map[int]uint64{fam.ip: 7, bpf.ProtoTCP: 4, map[bool]int{true: bpf.ProtoICMP, false: bpf.ProtoICMPv6}[fam.client.Is4()]: 3}, 1, 0)
		})
	}
	t.Run("a plain ban sends no cookies", func(t *testing.T) {
		r := newCookieRun(t, cookieConfig)
		if err := r.d.Maps().Block(netip.MustParsePrefix("198.51.100.7/32"), BlockOptions{}); err != nil {
			t.Fatal(err)
		}
		r.run(synOpts(srcA, dst4, 64), actDrop)
		r.stats(map[vr]uint64{dropBlock: 1}, map[int]uint64{bpf.ProtoIPv4: 1, bpf.ProtoTCP: 1}, 0, 0)
	})
	t.Run("monitor mode: would drop, no cookies", func(t *testing.T) {
		r := newCookieRun(t, func(c *Config) { c.Monitor = true })
		challengeBan(t, r.d, "198.51.100.0/24")
		r.run(synOpts(srcA, dst4, 64), actPass)
		r.stats(map[vr]uint64{wouldBlock: 1}, map[int]uint64{bpf.ProtoIPv4: 1, bpf.ProtoTCP: 1}, 0, 0)
	})
}

// TestXDPVerifiedEvictedFlow: in cookie mode a verified source's ACK on a
// flow the table no longer has (evicted) passes; an unverified one's drops.
func TestXDPVerifiedEvictedFlow(t *testing.T) {
	r := newCookieRun(t, cookieConfig)
	cookie := synAck(t, r.run(synOpts(srcA, dst4, 64), actTX), srcA, dst4, 1460, false)
	r.run(segment(srcA, dst4, 64, ack, 1001, cookie+1, 0), actPass)
	if err := r.d.Maps().Flows.Delete(FlowKey(srcA, dst4, 40000, 80, 6, 0)); err != nil {
		t.Fatal(err)
	}
	// later in the stream: no valid cookie in it
	r.run(segment(srcA, dst4, 64, psh|ack, 2001, cookie+101, 10), actPass)
	r.run(segment(srcA, dst4, 30, psh|ack, 2011, cookie+101, 10), actPass) // a known flow again
	r.run(frame(eth(), ipWithTTL(srcA, dst4, 30), withSeqAck(tcp(40001, 80, ack), 1001, cookie+1)), actDrop)
	r.stats(map[vr]uint64{txCookie: 1, passNone: 3, dropCookie: 1}, map[int]uint64{bpf.ProtoIPv4: 5, bpf.ProtoTCP: 5}, 1, 2)
}
