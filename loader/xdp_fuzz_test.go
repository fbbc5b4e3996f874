package loader

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/internal/testenv"
)

var updateFuzzSeeds = flag.Bool("update-fuzz-seeds", false,
	"rewrite testdata/fuzz/FuzzXDP/seed-* from the frames of the table tests")

// Fuzz set-up: lists and limits that give random frames every verdict.
var (
	fuzzAllow = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8:a::/48")}
	fuzzBlock = []netip.Prefix{netip.MustParsePrefix("198.51.100.8/32"), netip.MustParsePrefix("2001:db8:1:2::/64")}
)

// fuzzMaxLen is the longest frame run: what BPF_PROG_TEST_RUN puts in
// one page (4096 less 256 bytes of XDP headroom and 320 of
// skb_shared_info). It takes longer frames, but puts the rest in
// fragments the program (loaded without BPF_F_XDP_HAS_FRAGS, as no
// device would give it such a frame) does not see: it counts 3520 bytes of
// a 4232-byte frame. Longer frames come only from test runs.
const fuzzMaxLen = 3520

func fuzzConfig() Config {
	return Config{
		Snaplen:             128,
		FlowSamples:         2,
		SampleOneIn:         3,
		RateLimitSampleEach: time.Millisecond,
		SampleMask:          bpf.SampleAll,
		SYN:                 Bucket{Rate: 1000, Burst: 5},
		UDP:                 Bucket{Rate: 1000, Burst: 5},
		ICMP:                Bucket{Rate: 1000, Burst: 5},
		// every SYN the program can answer gets a cookie, and after the
		// first a new flow's ACK to its port needs a valid one
		CookieAlways: true,
		HopTolerance: 2,
	}
}

// FuzzXDP runs random frames through the program (seeded with the frames of
// the table tests, testdata/fuzz/FuzzXDP) and checks, for each:
//   - the action is XDP_PASS, XDP_DROP or XDP_TX, and the run does not fail;
//   - the verdict counters rose by exactly this one packet and its bytes,
//     under a drop verdict exactly when the action is XDP_DROP, and they
//     add up to the packets run so far;
//   - the protocol counters and the verdict/reason agree with parseModel,
//     a restatement in Go of what the parser must make of the bytes;
//   - a sample, if any, carries the frame's first bytes and lengths.
//
// The program is loaded once per fuzzing process, not per input: the
// buckets and the flow table fill up as inputs go by, as they would.
//
//	go test -run '^$' -fuzz FuzzXDP -fuzztime 60s ./loader/
//	go test -run FuzzXDP ./loader/ -update-fuzz-seeds  # after changing a table
//
// Inputs the fuzzer found worth keeping are in testdata beside the seeds,
// named by their hash as the fuzzer names them.
func FuzzXDP(f *testing.F) {
	if *updateFuzzSeeds {
		writeFuzzSeeds(f)
	}
	testenv.RequireBPF(f)
	d := loadDatapath(f, fuzzConfig())
	for _, p := range fuzzAllow {
		if err := d.Maps().Allow(p); err != nil {
			f.Fatal(err)
		}
	}
	for _, p := range fuzzBlock {
		if err := d.Maps().Block(p, BlockOptions{}); err != nil {
			f.Fatal(err)
		}
	}
	rd, err := ringbuf.NewReader(d.SamplesMap())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { rd.Close() })

	var ran Counter // packets run through d so far
	f.Fuzz(func(t *testing.T, pkt []byte) {
		if len(pkt) < ethLen {
			return // BPF_PROG_TEST_RUN rejects frames shorter than an Ethernet header
		}
		pkt = pkt[:min(len(pkt), fuzzMaxLen)]
		before, err := d.Maps().SlotStats(0)
		if err != nil {
			t.Fatal(err)
		}
		act, err := d.Program().Run(&ebpf.RunOptions{Data: pkt})
		if err != nil {
			t.Fatalf("run %d-byte frame: %v", len(pkt), err)
		}
		ran.Add(Counter{Packets: 1, Bytes: uint64(len(pkt))})
		after, err := d.Maps().SlotStats(0)
		if err != nil {
			t.Fatal(err)
		}
		if act != actPass && act != actDrop && act != actTX {
			t.Fatalf("%s, want XDP_PASS, XDP_DROP or XDP_TX", actionName(act))
		}
		if tot := after.Total(); tot != ran {
			t.Fatalf("verdict counters add up to %+v, ran %+v", tot, ran)
		}
		got, ok := risen(&before, &after, len(pkt))
		if !ok {
			t.Fatalf("not exactly one verdict counter rose by one packet of %d bytes", len(pkt))
		}
		if (got.verdict == bpf.VerdictDrop) != (act == actDrop) || (got.verdict == bpf.VerdictTX) != (act == actTX) {
			t.Fatalf("%s counted as %s", actionName(act), vrName(got))
		}

		m := parseModel(pkt)
		for p := range bpf.ProtoMax {
			rose := after.Protos[p].Packets - before.Protos[p].Packets
			if want := m.protos[p]; rose != b2u(want) {
				t.Errorf("protocol counter %s rose by %d, model says %v: %v", bpf.ProtoNames[p], rose, want, m)
			}
		}
		if !m.allows(got) {
			t.Errorf("counted as %s, model allows %v: %v", vrName(got), m.verdictNames(), m)
		}

		samples := readSamples(t, rd)
		if sent := after.SamplesSent - before.SamplesSent; sent != uint64(len(samples)) || len(samples) > 1 {
			t.Fatalf("%d samples read, %d counted sent, for one packet", len(samples), sent)
		}
		for _, s := range samples {
			capLen := min(len(pkt), int(fuzzConfig().Snaplen))
			if int(s.hdr.WireLen) != len(pkt) || int(s.hdr.CapLen) != capLen || !bytes.Equal(s.data, pkt[:capLen]) {
				t.Errorf("sample wire_len %d cap_len %d of a %d-byte frame, or data not its prefix", s.hdr.WireLen, s.hdr.CapLen, len(pkt))
			}
			if s.hdr.Flags == 0 || s.hdr.Flags&^bpf.SampleAll != 0 || s.hdr.Verdict != uint8(got.verdict) {
				t.Errorf("sample flags %#x verdict %d, packet counted %s", s.hdr.Flags, s.hdr.Verdict, vrName(got))
			}
		}
	})
}

// risen finds the one verdict counter that rose, by one packet of n bytes.
func risen(before, after *IfaceStats, n int) (vr, bool) {
	var found []vr
	for v := range bpf.VerdictMax {
		for r := range bpf.ReasonMax {
			b, a := before.Verdicts[v][r], after.Verdicts[v][r]
			if a == b {
				continue
			}
			if a.Packets != b.Packets+1 || a.Bytes != b.Bytes+uint64(n) {
				return vr{}, false
			}
			found = append(found, vr{v, r})
		}
	}
	if len(found) != 1 {
		return vr{}, false
	}
	return found[0], true
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// model is what the parser must find in a frame (see xdpids.h: up to three
// VLAN tags, up to six IPv6 extension headers, a cut header is malformed).
type model struct {
	protos    [bpf.ProtoMax]bool
	cut       bool // cut before the addresses: no lists apply
	family    int  // 4, 6, or 0 (not IP)
	src       netip.Addr
	malformed bool // an IP packet with a cut or invalid header after the addresses
	hasL4     bool
	l4proto   uint8
	tcpFlags  uint8
	frag      int // 0 none, 1 first, 2 later
	// cookie: a SYN the program answers with a SYN cookie in cookie
	// mode: no IP options or IPv6 extension headers, no data, good
	// checksums
	cookie bool
}

func (m model) String() string {
	var ps []string
	for p, on := range m.protos {
		if on {
			ps = append(ps, bpf.ProtoNames[p])
		}
	}
	return fmt.Sprintf("{protos %v cut %v family %d src %v malformed %v l4 %v proto %d flags %#x frag %d}",
		ps, m.cut, m.family, m.src, m.malformed, m.hasL4, m.l4proto, m.tcpFlags, m.frag)
}

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }

// parseModel parses a frame the way the XDP program must.
func parseModel(b []byte) model {
	var m model
	off, tags := ethLen, 0
	typ := be16(b[12:])
	for ; tags < bpf.VLANMaxDepth && (typ == 0x8100 || typ == 0x88a8); tags++ {
		if off+4 > len(b) {
			m.cut = true
			break
		}
		typ = be16(b[off+2:])
		off += 4
	}
	m.protos[bpf.ProtoVLAN] = tags > 0
	if !m.cut {
		switch typ {
		case 0x0800:
			m.parseIPv4(b, off)
		case 0x86dd:
			m.parseIPv6(b, off)
		}
	}
	switch {
	case m.cut:
		m.protos[bpf.ProtoMalformed] = true
	case m.family == 0:
		m.protos[bpf.ProtoOther] = true
	default:
		m.protos[bpf.ProtoIPv4] = m.family == 4
		m.protos[bpf.ProtoIPv6] = m.family == 6
		m.protos[bpf.ProtoFragment] = m.frag != 0
		switch {
		case m.malformed:
			m.protos[bpf.ProtoMalformed] = true
		case m.hasL4:
			m.protos[map[uint8]int{6: bpf.ProtoTCP, 17: bpf.ProtoUDP, 1: bpf.ProtoICMP, 58: bpf.ProtoICMPv6}[m.l4proto]] = true
		case m.frag != 2:
			m.protos[bpf.ProtoOther] = true
		}
	}
	return m
}

func (m *model) parseIPv4(b []byte, off int) {
	if off+20 > len(b) || b[off]>>4 != 4 || b[off]&0xf < 5 || off+int(b[off]&0xf)*4 > len(b) {
		m.cut = true
		return
	}
	m.family = 4
	m.src = netip.AddrFrom4([4]byte(b[off+12 : off+16]))
	m.l4proto = b[off+9]
	switch frag := be16(b[off+6:]); {
	case frag&0x1fff != 0:
		m.frag = 2
		return
	case frag&0x2000 != 0:
		m.frag = 1
	}
	ipEnd := 0xffff // the datagram's end in the frame, as the program takes it
	if tot, hlen := int(be16(b[off+2:])), int(b[off]&0xf)*4; tot >= hlen {
		ipEnd = off + tot
	}
	m.parseL4(b, off+int(b[off]&0xf)*4, ipEnd)
	if m.hasL4 && m.l4proto == 6 && m.frag == 0 && b[off]&0xf == 5 && be16(b[off+6:])&^0x4000 == 0 &&
		onesSum(0, b[off:off+20]) == 0xffff {
		doff := int(b[off+20+12]>>4) * 4
		if int(be16(b[off+2:])) == 20+doff {
			m.cookie = tcpSumOK(b[off:off+20], b[off+20:off+20+doff])
		}
	}
}

func (m *model) parseIPv6(b []byte, off int) {
	if off+40 > len(b) || b[off]>>4 != 6 {
		m.cut = true
		return
	}
	m.family = 6
	m.src = netip.AddrFrom16([16]byte(b[off+8 : off+24]))
	next, l3 := b[off+6], off
	off += 40
	isExt := func(p uint8) bool {
		switch p {
		case 0, 43, 60, 135, 139, 140, 51, 44: // hop-by-hop, routing, destination, mobility, HIP, shim6, AH, fragment
			return true
		}
		return false
	}
	for range 6 {
		if !isExt(next) {
			break
		}
		need := 2
		if next == 44 {
			need = 8
		}
		if off+need > len(b) {
			m.l4proto, m.malformed = next, true
			return
		}
		switch next {
		case 44:
			frag := be16(b[off+2:])
			next = b[off]
			off += 8
			if frag&0xfff8 != 0 {
				m.l4proto, m.frag = next, 2
				return
			}
			if frag&1 != 0 {
				m.frag = 1
			}
		case 51:
			next, off = b[off], off+(int(b[off+1])+2)*4
		default:
			next, off = b[off], off+(int(b[off+1])+1)*8
		}
		if off > len(b) {
			m.l4proto, m.malformed = next, true
			return
		}
	}
	m.l4proto = next
	if isExt(next) {
		return // more than six extension headers: not followed
	}
	ipEnd := 0xffff // a jumbogram
	if plen := int(be16(b[l3+4:])); plen != 0 {
		ipEnd = l3 + 40 + plen
	}
	m.parseL4(b, off, ipEnd)
	if m.hasL4 && m.l4proto == 6 && m.frag == 0 && b[l3+6] == 6 {
		doff := int(b[off+12]>>4) * 4
		if int(be16(b[l3+4:])) == doff {
			m.cookie = tcpSumOK(b[l3:l3+40], b[off:off+doff])
		}
	}
}

func (m *model) parseL4(b []byte, off, ipEnd int) {
	need := 0
	switch {
	case m.l4proto == 6:
		need = 20
	case m.l4proto == 17, m.l4proto == 1 && m.family == 4, m.l4proto == 58 && m.family == 6:
		need = 8
	default:
		return
	}
	if off+need > len(b) || (m.l4proto == 6 && b[off+12]>>4 < 5) {
		m.malformed = true
		return
	}
	// the TCP options cut by the frame's or the datagram's end
	if m.l4proto == 6 && (off+int(b[off+12]>>4)*4 > len(b) || off+int(b[off+12]>>4)*4 > ipEnd) {
		m.malformed = true
		return
	}
	if m.l4proto == 6 {
		m.tcpFlags = b[off+13]
	}
	m.hasL4 = true
}

// verdicts lists what the packet may be counted as: the lists are fixed,
// but whether a bucket is empty depends on the inputs before.
func (m *model) verdicts() []vr {
	if m.cut {
		return []vr{passMalformed}
	}
	if m.family == 0 {
		return []vr{passNotIP}
	}
	for _, p := range fuzzAllow {
		if p.Contains(m.src) {
			return []vr{passAllow}
		}
	}
	for _, p := range fuzzBlock {
		if p.Contains(m.src) {
			return []vr{dropBlock}
		}
	}
	if m.malformed {
		return []vr{passMalformed}
	}
	if m.hasL4 {
		switch {
		case m.l4proto == 6 && m.tcpFlags&(syn|ack|rst|fin) == syn && m.cookie:
			return []vr{txCookie, dropSYN}
		case m.l4proto == 6 && m.tcpFlags&(syn|ack) == syn:
			return []vr{passNone, dropSYN}
		case m.l4proto == 6 && m.tcpFlags&(syn|ack|rst|fin) == ack:
			// a new flow's ACK to a port that has sent cookies
			return []vr{passNone, dropCookie}
		case m.l4proto == 17:
			return []vr{passNone, dropUDP}
		case m.l4proto == 1 || m.l4proto == 58:
			return []vr{passNone, dropICMP}
		}
	}
	return []vr{passNone}
}

func (m *model) verdictNames() []string {
	var out []string
	for _, v := range m.verdicts() {
		out = append(out, vrName(v))
	}
	return out
}

func (m *model) allows(got vr) bool {
	for _, v := range m.verdicts() {
		if v == got {
			return true
		}
	}
	return false
}

var seedNameRe = regexp.MustCompile(`[^a-zA-Z0-9.+-]+`)

// writeFuzzSeeds writes every frame of the table tests to the seed corpus,
// one file per frame, named after its case.
func writeFuzzSeeds(f *testing.F) {
	dir := filepath.Join("testdata", "fuzz", "FuzzXDP")
	old, _ := filepath.Glob(filepath.Join(dir, "seed-*"))
	for _, p := range old {
		if err := os.Remove(p); err != nil {
			f.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.Fatal(err)
	}
	seen := map[string]bool{}
	tables := [][]xdpCase{parseCases(), listCases(), rateLimitCases(), monitorCases(), sampleCases()}
	for _, cases := range tables {
		for _, c := range cases {
			for i, s := range c.sends {
				if seen[string(s.pkt)] {
					continue
				}
				seen[string(s.pkt)] = true
				name := "seed-" + strings.Trim(seedNameRe.ReplaceAllString(c.name, "_"), "_")
				if len(c.sends) > 1 {
					name += fmt.Sprintf("-%d", i)
				}
				data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s.pkt)
				if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
					f.Fatal(err)
				}
			}
		}
	}
	f.Logf("wrote %d seeds to %s", len(seen), dir)
}
