package stream

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

const t0 = int64(1_700_000_000_000_000_000)

const (
	syn    = decode.FlagSYN
	ack    = decode.FlagACK
	synack = decode.FlagSYN | decode.FlagACK
	psh    = decode.FlagPSH | decode.FlagACK
	finack = decode.FlagFIN | decode.FlagACK
	rst    = decode.FlagRST
	rstack = decode.FlagRST | decode.FlagACK
)

var (
	cliAddr = netip.MustParseAddr("10.0.0.1")
	srvAddr = netip.MustParseAddr("10.0.0.2")
)

// conv builds the segments of one connection; seq and ack are given
// relative to each side's ISN+1.
type conv struct {
	cli, srv     netip.Addr
	cport, sport uint16
	cisn, sisn   uint32
}

func newConv(cport uint16) conv {
	return conv{cli: cliAddr, srv: srvAddr, cport: cport, sport: 80, cisn: 1000, sisn: 5000}
}

func (c conv) pkt(toServer bool, flags uint8, rel, relAck uint32, data string) *decode.Packet {
	p := new(decode.Packet)
	c.fill(p, toServer, flags, rel, relAck, []byte(data))
	return p
}

// fill sets p to a segment without allocating (the payload is aliased).
func (c conv) fill(p *decode.Packet, toServer bool, flags uint8, rel, relAck uint32, data []byte) {
	*p = decode.Packet{Family: 4, Proto: decode.ProtoTCP, HasL4: true, TCPFlags: flags,
		Payload: data, PayloadLen: uint32(len(data))}
	if toServer {
		p.Src, p.Dst, p.SrcPort, p.DstPort = c.cli, c.srv, c.cport, c.sport
		p.Seq, p.Ack = c.cisn+1+rel, c.sisn+1+relAck
	} else {
		p.Src, p.Dst, p.SrcPort, p.DstPort = c.srv, c.cli, c.sport, c.cport
		p.Seq, p.Ack = c.sisn+1+rel, c.cisn+1+relAck
	}
	if flags&decode.FlagACK == 0 {
		p.Ack = 0
	}
	if flags&decode.FlagSYN != 0 {
		p.Seq-- // the SYN itself is at the ISN
	}
	p.WireLen = uint32(54 + len(data))
}

// c2s and s2c are data segments; ack is 0 relative (the handshake).
func (c conv) c2s(rel uint32, data string) *decode.Packet { return c.pkt(true, psh, rel, 0, data) }
func (c conv) s2c(rel uint32, data string) *decode.Packet { return c.pkt(false, psh, rel, 0, data) }
func (c conv) handshake() []*decode.Packet {
	return []*decode.Packet{c.pkt(true, syn, 0, 0, ""), c.pkt(false, synack, 0, 0, ""), c.pkt(true, ack, 0, 0, "")}
}

// event is one callback.
type event struct {
	flow     uint64
	toServer bool
	depth    bool // OnDepthReached
	off      uint64
	data     string
}

func (e event) String() string {
	if e.depth {
		return fmt.Sprintf("%x depth %v", e.flow, e.toServer)
	}
	return fmt.Sprintf("%x %v @%d %q", e.flow, e.toServer, e.off, e.data)
}

// harness runs packets through a flow table and a Reassembler and
// records the callbacks.
type harness struct {
	t      testing.TB
	tab    *flows.Table
	r      *Reassembler
	events []event
	ts     int64
	gaps   int // OnGap calls
}

func newHarness(t testing.TB, cfg Config) *harness {
	h := &harness{t: t, tab: flows.NewTable(4096, flows.DefaultTimeouts), ts: t0}
	cfg.OnData = func(f *flows.Flow, toServer bool, data []byte, off uint64) {
		h.events = append(h.events, event{flow: f.ID, toServer: toServer, off: off, data: string(data)})
	}
	cfg.OnDepthReached = func(f *flows.Flow, toServer bool) {
		h.events = append(h.events, event{flow: f.ID, toServer: toServer, depth: true})
	}
	cfg.OnGap = func(*flows.Flow, bool) { h.gaps++ }
	h.r = New(cfg)
	return h
}

// feed tracks and feeds p, stamping it 1 ms after the previous packet
// when it has no time.
func (h *harness) feed(ps ...*decode.Packet) {
	for _, p := range ps {
		if p.TsNs == 0 {
			h.ts += 1e6
			p.TsNs = h.ts
		}
		f, fromOrig, _ := h.tab.Track(p)
		h.r.Feed(p, f, fromOrig)
	}
}

// stream renders what was delivered for one direction of all flows
// (tests use one flow unless they filter): bytes at their offsets, '~'
// for bytes never delivered. It fails on bytes delivered twice or out of
// order.
func (h *harness) stream(toServer bool) string {
	h.t.Helper()
	return render(h.t, h.events, 0, toServer)
}

func render(t testing.TB, events []event, flow uint64, toServer bool) string {
	t.Helper()
	var b []byte
	next := uint64(0)
	for _, e := range events {
		if e.depth || e.toServer != toServer || (flow != 0 && e.flow != flow) {
			continue
		}
		if e.off < next {
			t.Fatalf("delivered at %d after %d: %v", e.off, next, e)
		}
		for uint64(len(b)) < e.off {
			b = append(b, '~')
		}
		b = append(b, e.data...)
		next = e.off + uint64(len(e.data))
	}
	return string(b)
}

func (h *harness) depthEvents() (n [2]int) {
	for _, e := range h.events {
		if e.depth {
			if e.toServer {
				n[0]++
			} else {
				n[1]++
			}
		}
	}
	return n
}

func TestInOrderBothDirections(t *testing.T) {
	c := newConv(40000)
	for _, tc := range []struct {
		name       string
		pkts       []*decode.Packet
		wantS      string // to server
		wantC      string // to client
		wantChunks int
	}{
		{"request response", append(c.handshake(),
			c.c2s(0, "GET / HTTP/1.1\r\n"), c.c2s(16, "Host: x\r\n\r\n"),
			c.s2c(0, "HTTP/1.1 200 OK\r\n"), c.s2c(17, "\r\nbody")),
			"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\nbody", 4},
		{"interleaved", append(c.handshake(),
			c.c2s(0, "a"), c.s2c(0, "1"), c.c2s(1, "b"), c.s2c(1, "2"), c.c2s(2, "c")),
			"abc", "12", 5},
		{"empty acks between", append(c.handshake(),
			c.c2s(0, "ab"), c.pkt(false, ack, 0, 2, ""), c.c2s(2, "cd"), c.pkt(false, ack, 0, 4, "")),
			"abcd", "", 2},
		{"syn with data (TFO)", []*decode.Packet{c.pkt(true, syn, 0, 0, "early"), c.pkt(false, synack, 0, 5, ""),
			c.c2s(5, "late")}, "earlylate", "", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			h.feed(tc.pkts...)
			if got := h.stream(true); got != tc.wantS {
				t.Errorf("to server %q, want %q", got, tc.wantS)
			}
			if got := h.stream(false); got != tc.wantC {
				t.Errorf("to client %q, want %q", got, tc.wantC)
			}
			if len(h.events) != tc.wantChunks {
				t.Errorf("%d callbacks, want %d: %v", len(h.events), tc.wantChunks, h.events)
			}
			s := h.r.Stats()
			if s.Bytes != uint64(len(tc.wantS)+len(tc.wantC)) || s.OutOfOrder != 0 || s.Gaps != 0 || s.Overlaps != 0 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

func TestSequenceWrap(t *testing.T) {
	c := newConv(40001)
	c.cisn = 0xfffffff0
	h := newHarness(t, Config{})
	h.feed(c.handshake()...)
	h.feed(c.c2s(0, "0123456789"), c.c2s(20, "klmnopqrst"), c.c2s(10, "abcdefghij"))
	if got := h.stream(true); got != "0123456789abcdefghijklmnopqrst" {
		t.Errorf("got %q", got)
	}
}

func TestOutOfOrder(t *testing.T) {
	c := newConv(40002)
	segs := []string{"aaaa", "bbbb", "cccc", "dddd", "eeee"}
	seg := func(i int) *decode.Packet { return c.c2s(uint32(4*i), segs[i]) }
	for _, tc := range []struct {
		name    string
		order   []int
		wantOOO uint64
	}{
		{"swap pair", []int{1, 0, 2, 3, 4}, 1},
		{"reverse", []int{4, 3, 2, 1, 0}, 4},
		{"hole filled last", []int{0, 2, 3, 4, 1}, 3},
		{"interleaved", []int{0, 3, 1, 4, 2}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			h.feed(c.handshake()...)
			for _, i := range tc.order {
				h.feed(seg(i))
			}
			if got, want := h.stream(true), strings.Join(segs, ""); got != want {
				t.Errorf("got %q, want %q", got, want)
			}
			if s := h.r.Stats(); s.OutOfOrder != tc.wantOOO || s.Bytes != 20 || s.Gaps != 0 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

func TestRetransmission(t *testing.T) {
	c := newConv(40003)
	for _, tc := range []struct {
		name         string
		pkts         []*decode.Packet
		want         string
		wantOverlaps uint64
		wantBytes    uint64 // overlap bytes
	}{
		{"exact", []*decode.Packet{c.c2s(0, "abcd"), c.c2s(0, "abcd"), c.c2s(4, "efgh"), c.c2s(4, "efgh")},
			"abcdefgh", 2, 8},
		{"partial overlap head", []*decode.Packet{c.c2s(0, "abcd"), c.c2s(2, "cdef")}, "abcdef", 1, 2},
		{"inside delivered", []*decode.Packet{c.c2s(0, "abcdef"), c.c2s(2, "cd")}, "abcdef", 1, 2},
		{"first wins for delivered data", []*decode.Packet{c.c2s(0, "abcd"), c.c2s(0, "XXXXef")}, "abcdef", 1, 4},
		{"retransmitted out of order segment", []*decode.Packet{c.c2s(4, "efgh"), c.c2s(4, "efgh"), c.c2s(0, "abcd")},
			"abcdefgh", 0, 0},
		{"overlapping buffered segments", []*decode.Packet{c.c2s(4, "efgh"), c.c2s(6, "ghij"), c.c2s(0, "abcd")},
			"abcdefghij", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			h.feed(c.handshake()...)
			h.feed(tc.pkts...)
			if got := h.stream(true); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if s := h.r.Stats(); s.Overlaps != tc.wantOverlaps || s.OverlapBytes != tc.wantBytes || s.Bytes != uint64(len(tc.want)) {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

// TestOverlapPolicyBuffered pins gopacket's policy for segments that
// overlap while both are buffered out of order: the newest wins. (Suricata's
// default "bsd" policy would keep the first.) Delivered data always wins.
func TestOverlapPolicyBuffered(t *testing.T) {
	c := newConv(40004)
	h := newHarness(t, Config{})
	h.feed(c.handshake()...)
	h.feed(c.c2s(4, "efgh"), c.c2s(4, "EFGH"), c.c2s(0, "abcd"))
	if got := h.stream(true); got != "abcdEFGH" {
		t.Errorf("got %q, want the newest buffered copy %q", got, "abcdEFGH")
	}
}

func TestGap(t *testing.T) {
	c := newConv(40005)
	base := func() []*decode.Packet { // "bbbb" at 4 missing
		return append(c.handshake(), c.c2s(0, "aaaa"), c.c2s(8, "cccc"), c.c2s(12, "dddd"))
	}
	for _, tc := range []struct {
		name  string
		then  func(h *harness)
		want  string
		gaps  uint64
		bytes uint64
	}{
		{"waits for the hole", func(h *harness) {}, "aaaa", 0, 4},
		{"hole arrives", func(h *harness) { h.feed(c.c2s(4, "bbbb")) }, "aaaabbbbccccdddd", 0, 16},
		{"ack below the hole waits", func(h *harness) { h.feed(c.pkt(false, ack, 0, 4, "")) }, "aaaa", 0, 4},
		{"ack past the hole skips it", func(h *harness) { h.feed(c.pkt(false, ack, 0, 16, "")) }, "aaaa~~~~ccccdddd", 1, 12},
		{"ack after the acker's fin skips it", func(h *harness) {
			h.feed(c.pkt(false, finack, 0, 4, ""), c.pkt(false, ack, 1, 16, ""))
		}, "aaaa~~~~ccccdddd", 1, 12},
		{"late hole after skip is dropped", func(h *harness) {
			h.feed(c.pkt(false, ack, 0, 16, ""), c.c2s(4, "bbbb"), c.c2s(16, "eeee"))
		}, "aaaa~~~~ccccddddeeee", 1, 16},
		{"flow end delivers past the hole", func(h *harness) { h.r.FlowEnd(h.tab.Lookup(keyOf(c)).ID) }, "aaaa~~~~ccccdddd", 1, 12},
		{"flush delivers past the hole", func(h *harness) {
			if n := h.r.Flush(h.ts + 1); n != 1 {
				t.Errorf("flushed %d", n)
			}
		}, "aaaa~~~~ccccdddd", 1, 12},
		{"flush of newer flows keeps them", func(h *harness) {
			if n := h.r.Flush(h.ts); n != 0 {
				t.Errorf("flushed %d", n)
			}
		}, "aaaa", 0, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			h.feed(base()...)
			tc.then(h)
			if got := h.stream(true); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			s := h.r.Stats()
			if uint64(h.gaps) != s.Gaps {
				t.Errorf("OnGap fired %d times for %d gaps", h.gaps, s.Gaps)
			}
			if s.Gaps != tc.gaps || s.GapBytes != 4*tc.gaps || s.Bytes != tc.bytes {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

func keyOf(c conv) flows.Key {
	k, _ := flows.KeyOf(c.c2s(0, ""))
	return k
}

func TestMidstream(t *testing.T) {
	c := newConv(40006)
	h := newHarness(t, Config{})
	// No handshake; the first segments seen start each direction.
	h.feed(c.c2s(50, "GET /"), c.s2c(100, "HTTP/1.1 200"), c.c2s(55, " HTTP/1.1"),
		c.c2s(45, "xxxxx"), // older than the start: a retransmission
		c.s2c(112, " OK"))
	if got := h.stream(true); got != "GET / HTTP/1.1" {
		t.Errorf("to server %q", got)
	}
	if got := h.stream(false); got != "HTTP/1.1 200 OK" {
		t.Errorf("to client %q", got)
	}
	if s := h.r.Stats(); s.Overlaps != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestDepth(t *testing.T) {
	c := newConv(40007)
	for _, tc := range []struct {
		name   string
		depth  uint64
		pkts   []*decode.Packet
		want   string
		depthN [2]int
	}{
		{"cut inside a segment", 6, []*decode.Packet{c.c2s(0, "abcd"), c.c2s(4, "efgh"), c.c2s(8, "ijkl")}, "abcdef", [2]int{1, 0}},
		{"exactly at a boundary", 8, []*decode.Packet{c.c2s(0, "abcd"), c.c2s(4, "efgh"), c.c2s(8, "ijkl")}, "abcdefgh", [2]int{1, 0}},
		{"below the depth", 100, []*decode.Packet{c.c2s(0, "abcd"), c.c2s(4, "efgh")}, "abcdefgh", [2]int{0, 0}},
		{"buffered data past the depth is dropped", 6, []*decode.Packet{c.c2s(8, "ijkl"), c.c2s(4, "efgh"), c.c2s(0, "abcd"), c.c2s(12, "mnop")},
			"abcdef", [2]int{1, 0}},
		{"other direction continues", 4, []*decode.Packet{c.c2s(0, "abcdef"), c.s2c(0, "12"), c.c2s(6, "gh"), c.s2c(2, "34"), c.s2c(4, "5")},
			"abcd", [2]int{0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{Depth: tc.depth})
			h.feed(c.handshake()...)
			h.feed(tc.pkts...)
			if tc.name == "other direction continues" {
				if got := h.stream(false); got != "1234" {
					t.Errorf("to client %q", got)
				}
				tc.depthN = [2]int{1, 1}
			}
			if got := h.stream(true); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if got := h.depthEvents(); got != tc.depthN {
				t.Errorf("depth callbacks %v, want %v", got, tc.depthN)
			}
			h.r.FlowEnd(h.tab.Lookup(keyOf(c)).ID)
			if got := h.depthEvents(); got != tc.depthN {
				t.Errorf("after end: depth callbacks %v, want %v", got, tc.depthN)
			}
		})
	}
}

func TestFinRst(t *testing.T) {
	c := newConv(40008)
	for _, tc := range []struct {
		name         string
		pkts         []*decode.Packet
		wantS, wantC string
		finished     bool // both directions ended, the stream holds nothing
	}{
		{"fin ends its direction", []*decode.Packet{c.c2s(0, "ab"), c.pkt(true, finack, 2, 0, ""), c.c2s(3, "late"), c.s2c(0, "ok")},
			"ab", "ok", false},
		{"fin with data", []*decode.Packet{c.pkt(true, finack|decode.FlagPSH, 0, 0, "bye"), c.c2s(4, "late")}, "bye", "", false},
		{"both fins free the stream", []*decode.Packet{c.c2s(0, "ab"), c.s2c(0, "cd"), c.pkt(true, finack, 2, 2, ""),
			c.pkt(false, finack, 2, 3, ""), c.pkt(true, ack, 3, 3, "")}, "ab", "cd", true},
		{"fin ahead of a hole waits for it", []*decode.Packet{c.c2s(0, "ab"), c.pkt(true, finack, 4, 0, ""), c.c2s(2, "cd"), c.c2s(5, "x")},
			"abcd", "", false},
		{"rst ends both directions", []*decode.Packet{c.c2s(0, "ab"), c.s2c(4, "later"), c.pkt(true, rst, 2, 0, ""), c.c2s(2, "cd"), c.s2c(0, "abcd")},
			"ab", "~~~~later", true},
		{"rst out of order is ignored", []*decode.Packet{c.c2s(0, "ab"), c.pkt(true, rst, 5, 0, ""), c.c2s(2, "cd")},
			"abcd", "", false},
		{"data on a rst is not delivered", []*decode.Packet{c.c2s(0, "ab"), c.pkt(true, rstack, 2, 0, "denied")},
			"ab", "", true},
		{"rst from the server", []*decode.Packet{c.c2s(0, "ab"), c.pkt(false, rstack, 0, 2, ""), c.c2s(2, "cd")},
			"ab", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			h.feed(c.handshake()...)
			h.feed(tc.pkts...)
			if got := h.stream(true); got != tc.wantS {
				t.Errorf("to server %q, want %q", got, tc.wantS)
			}
			if got := h.stream(false); got != tc.wantC {
				t.Errorf("to client %q, want %q", got, tc.wantC)
			}
			if s := h.r.Stats(); s.Active != 1 || (s.Finished == 1) != tc.finished {
				t.Errorf("stats %+v, want finished %v", s, tc.finished)
			}
			h.r.FlowEnd(h.tab.Lookup(keyOf(c)).ID)
			if s := h.r.Stats(); s.Active != 0 || s.Finished != 0 || s.Ended != 1 {
				t.Errorf("after FlowEnd: stats %+v", s)
			}
		})
	}
}

func TestPortReuse(t *testing.T) {
	c := newConv(40009)
	h := newHarness(t, Config{})
	// As the pipeline does: a flow leaving the table (here: replaced by
	// a new connection on its tuple, with a new id) ends its stream.
	h.tab.OnRemove = func(f *flows.Flow) { h.r.FlowEnd(f.ID) }
	h.feed(c.handshake()...)
	h.feed(c.c2s(0, "first"), c.c2s(10, "stuck")) // a hole: flushed when the flow is reused
	c2 := c
	c2.cisn, c2.sisn = 900000, 700000
	h.feed(c2.handshake()...)
	h.feed(c2.c2s(0, "second"))
	var offs []uint64
	for _, e := range h.events {
		offs = append(offs, e.off)
	}
	if fmt.Sprint(offs) != "[0 10 0]" {
		t.Errorf("offsets %v, events %v", offs, h.events)
	}
	if s := h.r.Stats(); s.Streams != 2 || s.Ended != 1 || s.Active != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestTruncatedSegments(t *testing.T) {
	c := newConv(40010)
	cut := func(p *decode.Packet, captured int) *decode.Packet {
		p.Payload = p.Payload[:captured]
		return p
	}
	h := newHarness(t, Config{})
	h.feed(c.handshake()...)
	h.feed(cut(c.c2s(0, "aaaaAAAA"), 4), cut(c.c2s(8, "bbbbBBBB"), 4), c.c2s(16, "cc"), c.c2s(18, "dd"))
	if got, want := h.stream(true), "aaaa~~~~bbbb~~~~ccdd"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if s := h.r.Stats(); s.Truncated != 2 || s.Gaps != 2 || s.GapBytes != 8 || s.BufferDrops != 0 {
		t.Errorf("stats %+v", s)
	}
	// Out of order around a cut: the hole before the cut segment waits.
	h = newHarness(t, Config{})
	h.feed(c.handshake()...)
	// The segment after the cut arrives before the hole is filled: it
	// follows as soon as the hole is.
	h.feed(cut(c.c2s(4, "bbbbBBBB"), 4), c.c2s(12, "cc"))
	if got, want := h.stream(true), ""; got != want {
		t.Errorf("out of order: got %q, want %q", got, want)
	}
	h.feed(c.c2s(0, "aaaa"))
	if got, want := h.stream(true), "aaaabbbb~~~~cc"; got != want {
		t.Errorf("out of order: got %q, want %q", got, want)
	}
	h.feed(c.c2s(14, "dd"))
	h.r.FlowEnd(h.tab.Lookup(keyOf(c)).ID)
	if got, want := h.stream(true), "aaaabbbb~~~~ccdd"; got != want {
		t.Errorf("out of order, ended: got %q, want %q", got, want)
	}
}

func TestBufferBounds(t *testing.T) {
	c := newConv(40011)
	page := strings.Repeat("p", PageBytes)
	t.Run("per direction", func(t *testing.T) {
		h := newHarness(t, Config{MaxBufferPerFlow: 2 * PageBytes})
		h.feed(c.handshake()...)
		// A hole of 10 bytes, then three buffered pages: the second page
		// reaches the bound, gopacket gives up the hole.
		h.feed(c.c2s(10, page), c.c2s(10+PageBytes, page))
		s := h.r.Stats()
		if s.BufferDrops != 1 || s.Gaps != 1 || s.GapBytes != 10 || s.Bytes != 2*PageBytes {
			t.Errorf("stats %+v", s)
		}
		if got := h.stream(true); got != strings.Repeat("~", 10)+page+page {
			t.Errorf("stream %d bytes", len(got))
		}
	})
	t.Run("total", func(t *testing.T) {
		h := newHarness(t, Config{MaxBufferTotal: 3 * PageBytes})
		for i := range 3 {
			ci := newConv(41000 + uint16(i))
			h.feed(ci.handshake()...)
			h.feed(ci.c2s(10, "x")) // one page each, the third reaches the bound
		}
		if s := h.r.Stats(); s.BufferDrops != 1 || s.Bytes != 1 {
			t.Errorf("stats %+v", s)
		}
		if n := usedPages(t, h.r); n != 2 {
			t.Errorf("%d pages in use, want 2", n)
		}
	})
	t.Run("max flows", func(t *testing.T) {
		h := newHarness(t, Config{MaxFlows: 2})
		for i := range 3 {
			ci := newConv(42000 + uint16(i))
			h.feed(ci.handshake()...)
			h.feed(ci.c2s(0, "data"))
		}
		s := h.r.Stats()
		// The third flow's handshake needs no stream (deferred); its data
		// finds no room.
		if s.FlowDrops != 1 || s.Deferred != 9 || s.Active != 2 || s.Bytes != 8 {
			t.Errorf("stats %+v", s)
		}
		h.r.Flush(h.ts + 1)
		ci := newConv(42003)
		h.feed(ci.handshake()...)
		h.feed(ci.c2s(0, "data"))
		if s := h.r.Stats(); s.Active != 1 || s.Bytes != 12 {
			t.Errorf("after flush: stats %+v", s)
		}
	})
}

// TestManyFlows interleaves 200 flows with reordering and checks every
// stream, then that Flush frees everything.
func TestManyFlows(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	h := newHarness(t, Config{})
	var queues [][]*decode.Packet
	var convs []conv
	for i := range 200 {
		c := newConv(30000 + uint16(i))
		c.cisn, c.sisn = rng.Uint32(), rng.Uint32()
		convs = append(convs, c)
		q := c.handshake()
		var segs []*decode.Packet
		for j := range 8 {
			segs = append(segs, c.c2s(uint32(9*j), fmt.Sprintf("c%04d-%03d", i, j)))
			segs = append(segs, c.s2c(uint32(9*j), fmt.Sprintf("s%04d-%03d", i, j)))
		}
		// Swap a few segments with the next of the same direction.
		for k := 0; k+2 < len(segs); k += 3 {
			if rng.IntN(2) == 0 {
				segs[k], segs[k+2] = segs[k+2], segs[k]
			}
		}
		queues = append(queues, append(q, segs...))
	}
	for left := true; left; {
		left = false
		for i := range queues {
			if len(queues[i]) > 0 && rng.IntN(3) > 0 {
				h.feed(queues[i][0])
				queues[i] = queues[i][1:]
			}
			left = left || len(queues[i]) > 0
		}
	}
	for i, c := range convs {
		id := h.tab.Lookup(keyOf(c)).ID
		var ws, wc strings.Builder
		for j := range 8 {
			fmt.Fprintf(&ws, "c%04d-%03d", i, j)
			fmt.Fprintf(&wc, "s%04d-%03d", i, j)
		}
		if got := render(t, h.events, id, true); got != ws.String() {
			t.Fatalf("flow %d to server %q", i, got)
		}
		if got := render(t, h.events, id, false); got != wc.String() {
			t.Fatalf("flow %d to client %q", i, got)
		}
	}
	if s := h.r.Stats(); s.Active != 200 || s.Gaps != 0 || s.OutOfOrder == 0 {
		t.Errorf("stats %+v", s)
	}
	if n := h.r.Flush(h.ts + 1); n != 200 {
		t.Errorf("flushed %d", n)
	}
	if s := h.r.Stats(); s.Active != 0 || s.Ended != 200 {
		t.Errorf("after flush %+v", s)
	}
}

// TestDeterminism runs the same reordered, lossy traffic twice, with
// flushes, and compares the callbacks.
func TestDeterminism(t *testing.T) {
	run := func() []event {
		rng := rand.New(rand.NewPCG(7, 7))
		h := newHarness(t, Config{MaxBufferPerFlow: 4 * PageBytes, Depth: 300})
		for round := range 5 {
			for i := range 50 {
				c := newConv(20000 + uint16(i))
				if round == 0 {
					h.feed(c.handshake()...)
				}
				for j := range 4 {
					rel := uint32(round*4+j) * 20
					if rng.IntN(5) > 0 { // some segments lost
						h.feed(c.c2s(rel, fmt.Sprintf("%019d|", rel)))
					}
				}
			}
			h.r.Flush(h.ts - 10e6)
		}
		h.r.Flush(h.ts + 1)
		return h.events
	}
	a, b := run(), run()
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("callbacks differ between runs")
	}
	if len(a) == 0 {
		t.Fatal("no callbacks")
	}
}

// TestDecodePath feeds frames built with gopacket layers through the
// project's decoder.
func TestDecodePath(t *testing.T) {
	dec := decode.NewDecoder()
	tab := flows.NewTable(16, flows.DefaultTimeouts)
	var got bytes.Buffer
	r := New(Config{OnData: func(f *flows.Flow, toServer bool, data []byte, off uint64) {
		if toServer {
			got.Write(data)
		}
	}})
	frame := func(flags string, seq uint32, payload string) []byte {
		eth := &layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 1}, DstMAC: []byte{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv6}
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
			SrcIP: netip.MustParseAddr("2001:db8::1").AsSlice(), DstIP: netip.MustParseAddr("2001:db8::2").AsSlice()}
		tcp := &layers.TCP{SrcPort: 40000, DstPort: 443, Seq: seq, Ack: 1, Window: 1000,
			SYN: strings.Contains(flags, "S"), ACK: strings.Contains(flags, "A"), PSH: strings.Contains(flags, "P")}
		if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			eth, ip, tcp, gopacket.Payload(payload)); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	for i, fr := range [][]byte{frame("S", 99, ""), frame("AP", 107, "world"), frame("AP", 100, "hello, ")} {
		var p decode.Packet
		p.TsNs = t0 + int64(i)*1e6
		p.WireLen, p.CapLen = uint32(len(fr)), uint32(len(fr))
		if err := dec.Decode(fr, &p); err != nil {
			t.Fatal(err)
		}
		f, fromOrig, _ := tab.Track(&p)
		r.Feed(&p, f, fromOrig)
	}
	if got.String() != "hello, world" {
		t.Errorf("got %q", got.String())
	}
}

// TestOverlapReport: Overlap names the leading bytes of the last segment
// that repeat delivered stream space, with their stream offset.
func TestOverlapReport(t *testing.T) {
	c := newConv(40031)
	h := newHarness(t, Config{})
	h.feed(c.handshake()...)
	for _, tc := range []struct {
		p       *decode.Packet
		off     uint64
		n       int
		comment string
	}{
		{c.c2s(0, "abcd"), 0, 0, "new data"},
		{c.c2s(0, "XXXX"), 0, 4, "exact repeat"},
		{c.c2s(2, "cdef"), 2, 2, "two old bytes, two new"},
		{c.c2s(10, "kl"), 0, 0, "ahead of a hole"},
		{c.s2c(0, "srv"), 0, 0, "the other direction"},
		{c.c2s(1, "b"), 1, 1, "inside delivered"},
		{c.pkt(true, ack, 6, 3, ""), 0, 0, "no payload"},
	} {
		h.feed(tc.p)
		if off, n := h.r.Overlap(); off != tc.off || n != tc.n {
			t.Errorf("%s: Overlap() = %d, %d; want %d, %d", tc.comment, off, n, tc.off, tc.n)
		}
	}
}
