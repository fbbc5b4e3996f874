package flows

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/xdpids/xdpids/userspace/packet/decode"
)

const t0 = int64(1_700_000_000_000_000_000)

const (
	syn    = decode.FlagSYN
	ack    = decode.FlagACK
	synack = decode.FlagSYN | decode.FlagACK
	rst    = decode.FlagRST
	finack = decode.FlagFIN | decode.FlagACK
	pshack = decode.FlagPSH | decode.FlagACK
)

var (
	cli  = netip.MustParseAddr("10.0.0.1")
	srv  = netip.MustParseAddr("10.0.0.2")
	cli6 = netip.MustParseAddr("2001:db8::1")
	srv6 = netip.MustParseAddr("2001:db8::2")
)

// tcpPkt is a TCP packet from src:sp to dst:dp.
func tcpPkt(src, dst netip.Addr, sp, dp uint16, flags uint8, ts int64, payload int) *decode.Packet {
	fam := uint8(4)
	if src.Is6() {
		fam = 6
	}
	return &decode.Packet{TsNs: ts, Ifindex: 2, WireLen: uint32(54 + payload), Family: fam, Src: src, Dst: dst,
		Proto: decode.ProtoTCP, HasL4: true, SrcPort: sp, DstPort: dp, TCPFlags: flags, PayloadLen: uint32(payload)}
}

func udpPkt(src, dst netip.Addr, sp, dp uint16, ts int64, payload int) *decode.Packet {
	fam := uint8(4)
	if src.Is6() {
		fam = 6
	}
	return &decode.Packet{TsNs: ts, Ifindex: 2, WireLen: uint32(42 + payload), Family: fam, Src: src, Dst: dst,
		Proto: decode.ProtoUDP, HasL4: true, SrcPort: sp, DstPort: dp, PayloadLen: uint32(payload)}
}

func icmpPkt(src, dst netip.Addr, typ, code uint8, id uint16, ts int64) *decode.Packet {
	p := &decode.Packet{TsNs: ts, WireLen: 98, Family: 4, Src: src, Dst: dst, Proto: decode.ProtoICMP, HasL4: true,
		ICMPType: typ, ICMPCode: code, ICMPID: id, SrcPort: uint16(typ), DstPort: uint16(code)}
	if src.Is6() {
		p.Family, p.Proto = 6, decode.ProtoICMPv6
	}
	return p
}

// reverse returns p as sent by the other endpoint.
func reverse(p *decode.Packet) *decode.Packet {
	q := *p
	q.Src, q.Dst, q.SrcPort, q.DstPort = p.Dst, p.Src, p.DstPort, p.SrcPort
	return &q
}

func TestKeyOfSymmetry(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    *decode.Packet
	}{
		{"tcp v4", tcpPkt(cli, srv, 40000, 80, syn, t0, 0)},
		{"tcp v4 high to low", tcpPkt(srv, cli, 80, 40000, synack, t0, 0)},
		{"tcp v6", tcpPkt(cli6, srv6, 40000, 443, syn, t0, 0)},
		{"udp v4", udpPkt(cli, srv, 5353, 53, t0, 10)},
		{"udp v6", udpPkt(srv6, cli6, 53, 5353, t0, 10)},
		{"same address, ports decide", tcpPkt(cli, cli, 50000, 22, syn, t0, 0)},
		{"icmp echo request", icmpPkt(cli, srv, 8, 0, 77, t0)},
		{"icmpv6 echo request", icmpPkt(cli6, srv6, 128, 0, 77, t0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k1, a1 := KeyOf(tc.p)
			r := reverse(tc.p)
			if tc.p.Proto == decode.ProtoICMP || tc.p.Proto == decode.ProtoICMPv6 {
				// The reply has the other echo type.
				r.ICMPType = map[uint8]uint8{8: 0, 128: 129}[tc.p.ICMPType]
			}
			k2, a2 := KeyOf(r)
			if k1 != k2 {
				t.Fatalf("keys differ:\n%+v\n%+v", k1, k2)
			}
			if a1 == a2 {
				t.Errorf("both directions say fromA=%v", a1)
			}
			if k1.A.Compare(k1.B) > 0 || (k1.A == k1.B && k1.APort > k1.BPort) {
				t.Errorf("key not ordered: %+v", k1)
			}
			if k1.Proto != tc.p.Proto {
				t.Errorf("Proto = %d", k1.Proto)
			}
		})
	}

	// VLANs keep flows apart.
	p := tcpPkt(cli, srv, 1, 2, syn, t0, 0)
	q := *p
	q.VLAN = 10
	if k1, _ := KeyOf(p); k1 == func() Key { k, _ := KeyOf(&q); return k }() {
		t.Error("flows of different VLANs share a key")
	}
	// ICMP echo flows are keyed by id: two pings are two flows.
	k1, _ := KeyOf(icmpPkt(cli, srv, 8, 0, 1, t0))
	k2, _ := KeyOf(icmpPkt(cli, srv, 8, 0, 2, t0))
	if k1 == k2 || k1.APort != 1 || k1.BPort != 1 {
		t.Errorf("echo keys %+v %+v", k1, k2)
	}
	// Other ICMP messages are keyed by type and code.
	k, _ := KeyOf(icmpPkt(srv, cli, 3, 3, 0, t0))
	if k.APort != 3 || k.BPort != 3 {
		t.Errorf("unreachable key %+v", k)
	}
	// Later fragments have no ports.
	fr := udpPkt(cli, srv, 0, 0, t0, 0)
	fr.SrcPort, fr.DstPort, fr.LaterFrag, fr.Fragment, fr.HasL4 = 999, 888, true, true, false
	if k, _ := KeyOf(fr); k.APort != 0 || k.BPort != 0 {
		t.Errorf("later fragment key %+v", k)
	}
}

type step struct {
	fromCli bool
	flags   uint8
	payload int
	state   State
	ev      int
}

func TestTCPStateMachine(t *testing.T) {
	const C, S = true, false
	handshake := []step{
		{C, syn, 0, StateSynSent, EvNew},
		{S, synack, 0, StateSynReceived, EvReply},
		{C, ack, 0, StateEstablished, EvEstablished},
	}
	cat := func(a []step, b ...step) []step { return append(append([]step{}, a...), b...) }
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"full handshake, established once", cat(handshake,
			step{C, pshack, 100, StateEstablished, 0},
			step{S, pshack, 1000, StateEstablished, 0},
			step{C, ack, 0, StateEstablished, 0})},
		{"ingress only: SYN then ACK", []step{
			{C, syn, 0, StateSynSent, EvNew},
			{C, ack, 0, StateEstablished, EvEstablished},
			{C, pshack, 10, StateEstablished, 0}}},
		{"SYN retransmitted", []step{
			{C, syn, 0, StateSynSent, EvNew},
			{C, syn, 0, StateSynSent, 0},
			{S, synack, 0, StateSynReceived, EvReply},
			{S, synack, 0, StateSynReceived, 0},
			{C, ack, 0, StateEstablished, EvEstablished}}},
		{"RST answer to SYN (closed port)", []step{
			{C, syn, 0, StateSynSent, EvNew},
			{S, rst | ack, 0, StateReset, EvReset | EvReply},
			{S, rst | ack, 0, StateReset, 0}}},
		{"RST mid-connection", cat(handshake,
			step{C, rst, 0, StateReset, EvReset})},
		{"FIN from both sides", cat(handshake,
			step{C, finack, 0, StateClosing, 0},
			step{C, finack, 0, StateClosing, 0}, // retransmitted: one side only
			step{S, finack, 0, StateClosed, EvClosed},
			step{C, ack, 0, StateClosed, 0},
			step{S, finack, 0, StateClosed, 0})},
		{"FIN then RST", cat(handshake,
			step{S, finack, 0, StateClosing, 0},
			step{C, rst, 0, StateReset, EvReset},
			step{S, finack, 0, StateReset, 0})},
		{"mid-stream ACK with data", []step{
			{C, pshack, 500, StateEstablished, EvNew | EvMidstream},
			{S, ack, 0, StateEstablished, EvReply}}},
		{"mid-stream pure ACK stays new", []step{
			{C, ack, 0, StateNew, EvNew | EvMidstream},
			{C, ack, 0, StateNew, 0},
			{C, pshack, 1, StateEstablished, 0}}},
		{"stealth FIN probe", []step{
			{C, decode.FlagFIN, 0, StateClosing, EvNew | EvMidstream},
			{S, rst | ack, 0, StateReset, EvReset | EvReply}}},
		{"NULL probe", []step{
			{C, 0, 0, StateNew, EvNew | EvMidstream}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := NewTable(16, DefaultTimeouts)
			var first *Flow
			for i, s := range tc.steps {
				p := tcpPkt(cli, srv, 40000, 80, s.flags, t0+int64(i)*1e6, s.payload)
				if !s.fromCli {
					p = reverse(p)
				}
				f, fromOrig, ev := tb.Track(p)
				if first == nil {
					first = f
				} else if f != first {
					t.Fatalf("step %d: a second flow", i)
				}
				if fromOrig != s.fromCli {
					t.Errorf("step %d: fromOrig = %v, want %v", i, fromOrig, s.fromCli)
				}
				if f.State != s.state {
					t.Errorf("step %d (flags %#x): state %v, want %v", i, s.flags, f.State, s.state)
				}
				if ev != s.ev {
					t.Errorf("step %d (flags %#x): ev %#b, want %#b", i, s.flags, ev, s.ev)
				}
			}
			if a, p := first.Orig(); a != cli || p != 40000 {
				t.Errorf("Orig = %v:%d, want the client", a, p)
			}
			if a, p := first.Resp(); a != srv || p != 80 {
				t.Errorf("Resp = %v:%d, want the server", a, p)
			}
			if tb.Len() != 1 {
				t.Errorf("Len = %d", tb.Len())
			}
		})
	}
}

func TestFirstSeenSynAck(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cli, srv netip.Addr
	}{
		{"client sorts first", cli, srv},
		{"server sorts first", srv, cli},
		{"ipv6", cli6, srv6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := NewTable(4, DefaultTimeouts)
			// Only the SYN-ACK is seen first (the SYN was not sampled).
			f, fromOrig, ev := tb.Track(tcpPkt(tc.srv, tc.cli, 443, 50000, synack, t0, 0))
			if fromOrig {
				t.Error("SYN-ACK counted as from the originator")
			}
			if ev != EvNew|EvReply {
				t.Errorf("ev = %#b", ev)
			}
			if a, p := f.Orig(); a != tc.cli || p != 50000 {
				t.Errorf("Orig = %v:%d, want the SYN-ACK's receiver %v:50000", a, p, tc.cli)
			}
			if f.State != StateSynReceived {
				t.Errorf("state %v", f.State)
			}
			_, fromOrig, ev = tb.Track(tcpPkt(tc.cli, tc.srv, 50000, 443, ack, t0+1, 0))
			if !fromOrig || ev != EvEstablished || f.State != StateEstablished {
				t.Errorf("ACK: fromOrig %v ev %#b state %v", fromOrig, ev, f.State)
			}
			if f.Pkts != [2]uint64{1, 1} {
				t.Errorf("Pkts = %v", f.Pkts)
			}
		})
	}
}

func TestUDPAndICMPStates(t *testing.T) {
	tb := NewTable(8, DefaultTimeouts)
	f, fromOrig, ev := tb.Track(udpPkt(cli, srv, 5353, 53, t0, 30))
	if !fromOrig || ev != EvNew || f.State != StateNew {
		t.Fatalf("query: %v %#b %v", fromOrig, ev, f.State)
	}
	_, _, ev = tb.Track(udpPkt(cli, srv, 5353, 53, t0+1, 30))
	if ev != 0 || f.State != StateNew {
		t.Fatalf("second query: %#b %v", ev, f.State)
	}
	g, fromOrig, ev := tb.Track(udpPkt(srv, cli, 53, 5353, t0+2, 300))
	if g != f || fromOrig || ev != EvReply || f.State != StateEstablished {
		t.Fatalf("reply: %v %#b %v", fromOrig, ev, f.State)
	}
	_, _, ev = tb.Track(udpPkt(srv, cli, 53, 5353, t0+3, 300))
	if ev != 0 {
		t.Fatalf("second reply ev %#b", ev)
	}

	// Echo request and reply share a flow.
	e, _, ev := tb.Track(icmpPkt(cli, srv, 8, 0, 9, t0))
	if ev != EvNew || e.State != StateNew {
		t.Fatalf("echo: %#b %v", ev, e.State)
	}
	e2, fromOrig, ev := tb.Track(icmpPkt(srv, cli, 0, 0, 9, t0+1))
	if e2 != e || fromOrig || ev != EvReply || e.State != StateEstablished {
		t.Fatalf("echo reply: same %v fromOrig %v ev %#b state %v", e2 == e, fromOrig, ev, e.State)
	}
	// ICMPv6 too.
	e, _, _ = tb.Track(icmpPkt(cli6, srv6, 128, 0, 3, t0))
	e2, _, _ = tb.Track(icmpPkt(srv6, cli6, 129, 0, 3, t0+1))
	if e2 != e || e.State != StateEstablished {
		t.Fatalf("icmpv6 echo reply: same %v state %v", e2 == e, e.State)
	}
	if tb.Len() != 3 || tb.Stats().Created != 3 {
		t.Fatalf("Len %d, stats %+v", tb.Len(), tb.Stats())
	}
}

func TestPortReuse(t *testing.T) {
	tb := NewTable(4, DefaultTimeouts)
	var ended []EndReason
	tb.OnRemove = func(f *Flow) { ended = append(ended, f.EndReason) }
	f, _, _ := tb.Track(tcpPkt(cli, srv, 40000, 80, syn, t0, 0))
	id := f.ID
	tb.Track(tcpPkt(srv, cli, 80, 40000, synack, t0+1, 0))
	tb.Track(tcpPkt(cli, srv, 40000, 80, ack, t0+2, 0))
	tb.Track(tcpPkt(cli, srv, 40000, 80, finack, t0+3, 0))
	tb.Track(tcpPkt(srv, cli, 80, 40000, finack, t0+4, 0))
	if f.State != StateClosed {
		t.Fatalf("state %v", f.State)
	}
	// The responder's SYN-ACK retransmission is no new connection.
	if _, _, ev := tb.Track(tcpPkt(srv, cli, 80, 40000, synack, t0+5, 0)); ev&EvNew != 0 {
		t.Fatal("SYN-ACK on a closed connection opened a new one")
	}
	// The client reuses its port: a new connection on the same key.
	g, fromOrig, ev := tb.Track(tcpPkt(cli, srv, 40000, 80, syn, t0+6, 0))
	if g != f || !fromOrig || ev != EvNew || g.State != StateSynSent {
		t.Fatalf("reuse: same slot %v fromOrig %v ev %#b state %v", g == f, fromOrig, ev, g.State)
	}
	if g.ID == id || g.Pkts != [2]uint64{1, 0} || g.FirstNs != t0+6 || g.Flags != [2]uint8{syn, 0} {
		t.Errorf("reused flow: id %d (was %d) pkts %v first %d flags %v", g.ID, id, g.Pkts, g.FirstNs, g.Flags)
	}
	if len(ended) != 1 || ended[0] != EndForced {
		t.Errorf("old connection ended %v, want [forced]", ended)
	}
	if st := tb.Stats(); st.Created != 2 || st.Active != 1 {
		t.Errorf("stats %+v", st)
	}
	// A retransmitted SYN of a connection still opening is no reuse.
	if _, _, ev := tb.Track(tcpPkt(cli, srv, 40000, 80, syn, t0+7, 0)); ev != 0 {
		t.Errorf("retransmitted SYN: ev %#b", ev)
	}
}

func TestCounters(t *testing.T) {
	tb := NewTable(4, DefaultTimeouts)
	seq := []struct {
		fromCli bool
		flags   uint8
		payload int
	}{
		{true, syn, 0}, {false, synack, 0}, {true, ack, 0},
		{true, pshack, 100}, {false, pshack, 1400}, {false, pshack, 1400}, {true, finack, 0},
	}
	var f *Flow
	var want [2]uint64
	var wantBytes [2]uint64
	for i, s := range seq {
		p := tcpPkt(cli, srv, 40000, 80, s.flags, t0+int64(i)*1e9, s.payload)
		d := 0
		if !s.fromCli {
			p, d = reverse(p), 1
		}
		f, _, _ = tb.Track(p)
		want[d]++
		wantBytes[d] += uint64(p.WireLen)
	}
	if f.Pkts != want || f.Bytes != wantBytes {
		t.Errorf("Pkts %v Bytes %v, want %v %v", f.Pkts, f.Bytes, want, wantBytes)
	}
	if f.Flags[0] != syn|ack|decode.FlagPSH|decode.FlagFIN || f.Flags[1] != synack|decode.FlagPSH {
		t.Errorf("Flags %#x %#x", f.Flags[0], f.Flags[1])
	}
	if f.FirstNs != t0 || f.LastNs != t0+6e9 || f.Ifindex != 2 {
		t.Errorf("FirstNs %d LastNs %d Ifindex %d", f.FirstNs, f.LastNs, f.Ifindex)
	}
	if k, _ := KeyOf(tcpPkt(cli, srv, 40000, 80, 0, 0, 0)); tb.Lookup(k) != f {
		t.Error("Lookup does not find the flow")
	}
	if tb.Lookup(Key{A: cli, B: srv, Proto: 6}) != nil {
		t.Error("Lookup finds a flow that does not exist")
	}
}

func TestStateString(t *testing.T) {
	want := []string{"new", "syn_sent", "syn_recv", "established", "closing", "closed", "reset"}
	for i, w := range want {
		if got := State(i).String(); got != w {
			t.Errorf("State(%d) = %q, want %q", i, got, w)
		}
	}
	if State(200).String() != "unknown" {
		t.Error("out of range state")
	}
}

func TestDefaultTimeouts(t *testing.T) {
	if DefaultTimeouts != (Timeouts{New: 30e9, Established: 300e9, Closed: 10e9}) {
		t.Fatalf("DefaultTimeouts = %+v", DefaultTimeouts)
	}
}

func TestExpire(t *testing.T) {
	// One flow per state, all last seen at t0.
	build := func() (*Table, map[string]Key) {
		tb := NewTable(16, DefaultTimeouts)
		keys := map[string]Key{}
		track := func(name string, ps ...*decode.Packet) {
			for _, p := range ps {
				f, _, _ := tb.Track(p)
				keys[name] = f.Key
			}
		}
		track("new udp", udpPkt(cli, srv, 1000, 53, t0, 10))
		track("syn_sent", tcpPkt(cli, srv, 1001, 80, syn, t0, 0))
		track("established", tcpPkt(cli, srv, 1002, 80, syn, t0-1, 0), tcpPkt(cli, srv, 1002, 80, ack, t0, 0))
		track("established udp", udpPkt(cli, srv, 1003, 53, t0-1, 10), udpPkt(srv, cli, 53, 1003, t0, 10))
		track("closing", tcpPkt(cli, srv, 1004, 80, pshack, t0-1, 5), tcpPkt(cli, srv, 1004, 80, finack, t0, 0))
		track("closed", tcpPkt(cli, srv, 1005, 80, pshack, t0-2, 5), tcpPkt(cli, srv, 1005, 80, finack, t0-1, 0),
			tcpPkt(srv, cli, 80, 1005, finack, t0, 0))
		track("reset", tcpPkt(cli, srv, 1006, 80, syn, t0-1, 0), tcpPkt(srv, cli, 80, 1006, rst|ack, t0, 0))
		return tb, keys
	}
	tb, keys := build()
	if tb.Len() != 7 {
		t.Fatalf("Len %d", tb.Len())
	}
	states := map[string]State{"new udp": StateNew, "syn_sent": StateSynSent, "established": StateEstablished,
		"established udp": StateEstablished, "closing": StateClosing, "closed": StateClosed, "reset": StateReset}
	for name, k := range keys {
		if f := tb.Lookup(k); f == nil || f.State != states[name] {
			t.Fatalf("%s: flow %+v", name, f)
		}
	}
	for _, tc := range []struct {
		age  int64
		gone []string // removed by this call (cumulative table)
	}{
		{10e9 - 1, nil},
		{10e9, []string{"closed", "reset"}},
		{30e9 - 1, nil},
		{30e9, []string{"new udp", "syn_sent"}},
		{300e9 - 1, nil},
		{300e9, []string{"established", "established udp", "closing"}},
	} {
		var removed []Key
		n := tb.Expire(t0+tc.age, func(f *Flow) { removed = append(removed, f.Key) })
		if n != len(tc.gone) || len(removed) != n {
			t.Fatalf("age %v: expired %d (callback %d), want %v", tc.age, n, len(removed), tc.gone)
		}
		for _, name := range tc.gone {
			if tb.Lookup(keys[name]) != nil {
				t.Errorf("age %v: %s still there", tc.age, name)
			}
		}
	}
	if tb.Len() != 0 || tb.Stats().Expired != 7 || tb.Stats().Active != 0 {
		t.Fatalf("after expiry: Len %d stats %+v", tb.Len(), tb.Stats())
	}

	// An established flow older than a new one does not stop the scan.
	tb = NewTable(4, DefaultTimeouts)
	e, _, _ := tb.Track(udpPkt(cli, srv, 1, 2, t0, 1))
	tb.Track(udpPkt(srv, cli, 2, 1, t0, 1))
	n, _, _ := tb.Track(udpPkt(cli, srv, 3, 4, t0+1e9, 1))
	nk := n.Key
	if got := tb.Expire(t0+31e9, nil); got != 1 || tb.Lookup(nk) != nil || tb.Lookup(e.Key) == nil {
		t.Fatalf("Expire = %d, new flow present %v, established present %v", got, tb.Lookup(nk) != nil, tb.Lookup(e.Key) != nil)
	}
	// Activity refreshes a flow: it is not expired by its first packet's time.
	tb.Track(udpPkt(cli, srv, 1, 2, t0+299e9, 1))
	if got := tb.Expire(t0+300e9, nil); got != 0 {
		t.Fatalf("a flow seen 1 s ago expired")
	}
	// Custom timeouts are honoured.
	tb = NewTable(4, Timeouts{New: 5, Established: 50, Closed: 1})
	tb.Track(udpPkt(cli, srv, 1, 2, 100, 1))
	if tb.Expire(104, nil) != 0 || tb.Expire(105, nil) != 1 {
		t.Fatal("custom New timeout not honoured")
	}
}

func TestEvictLeastRecentlySeen(t *testing.T) {
	tb := NewTable(3, DefaultTimeouts)
	var keys []Key
	for i := range 3 {
		f, _, _ := tb.Track(udpPkt(cli, srv, uint16(1000+i), 53, t0+int64(i), 10))
		keys = append(keys, f.Key)
	}
	// Flow 0 is seen again: flow 1 is now the least recently seen.
	tb.Track(udpPkt(srv, cli, 53, 1000, t0+10, 10))
	f, _, ev := tb.Track(udpPkt(cli, srv, 2000, 53, t0+11, 10))
	if ev&EvNew == 0 {
		t.Fatal("no new flow")
	}
	st := tb.Stats()
	if st.Evicted != 1 || st.Active != 3 || st.Created != 4 || tb.Len() != 3 {
		t.Fatalf("stats %+v Len %d", st, tb.Len())
	}
	if tb.Lookup(keys[1]) != nil {
		t.Error("flow 1 (least recently seen) not evicted")
	}
	if tb.Lookup(keys[0]) == nil || tb.Lookup(keys[2]) == nil || tb.Lookup(f.Key) != f {
		t.Error("a recently seen flow was evicted")
	}
	// The eviction order follows Each: least recently seen first.
	var order []uint16
	tb.Each(func(f *Flow) { _, p := f.Orig(); order = append(order, p) })
	if fmt.Sprint(order) != "[1002 1000 2000]" {
		t.Errorf("Each order %v", order)
	}
	// Many more flows: the table never grows past its bound.
	for i := range 100 {
		tb.Track(udpPkt(cli, srv, uint16(3000+i), 53, t0+100+int64(i), 10))
		if tb.Len() > 3 {
			t.Fatalf("Len %d > 3", tb.Len())
		}
	}
	if tb.Stats().Evicted != 101 {
		t.Errorf("Evicted %d, want 101", tb.Stats().Evicted)
	}
	// A table of size < 1 holds one flow.
	tb = NewTable(0, DefaultTimeouts)
	tb.Track(udpPkt(cli, srv, 1, 2, t0, 1))
	tb.Track(udpPkt(cli, srv, 3, 4, t0, 1))
	if tb.Len() != 1 || tb.Stats().Evicted != 1 {
		t.Errorf("NewTable(0): Len %d stats %+v", tb.Len(), tb.Stats())
	}
}

func TestFlowID(t *testing.T) {
	ids := map[uint64]string{}
	for _, tc := range []struct {
		name string
		p    *decode.Packet
	}{
		{"tcp", tcpPkt(cli, srv, 40000, 80, syn, t0, 0)},
		{"tcp other port", tcpPkt(cli, srv, 40001, 80, syn, t0, 0)},
		{"udp same ports", udpPkt(cli, srv, 40000, 80, t0, 0)},
		{"tcp v6", tcpPkt(cli6, srv6, 40000, 80, syn, t0, 0)},
		{"tcp vlan 7", func() *decode.Packet { p := tcpPkt(cli, srv, 40000, 80, syn, t0, 0); p.VLAN = 7; return p }()},
		{"icmp", icmpPkt(cli, srv, 8, 0, 1, t0)},
	} {
		a := NewTable(4, DefaultTimeouts)
		b := NewTable(1000, Timeouts{})
		f1, _, _ := a.Track(tc.p)
		f2, _, _ := b.Track(reverse(tc.p))
		if f1.ID != f2.ID {
			t.Errorf("%s: ids differ across tables and directions: %d %d", tc.name, f1.ID, f2.ID)
		}
		if f1.ID == 0 || f1.ID > FlowIDMask {
			t.Errorf("%s: id %d not in 51 bits", tc.name, f1.ID)
		}
		if other, dup := ids[f1.ID]; dup {
			t.Errorf("%s: same id as %s", tc.name, other)
		}
		ids[f1.ID] = tc.name
	}
}

// A 5-tuple used again after its flow ended is another flow: another id.
// The same flow (key and start) always has the same id.
func TestFlowIDStart(t *testing.T) {
	tb := NewTable(4, DefaultTimeouts)
	f, _, _ := tb.Track(udpPkt(cli, srv, 40000, 53, t0, 0))
	first := f.ID
	tb.EndAll(t0 + 1)
	g, _, _ := tb.Track(udpPkt(cli, srv, 40000, 53, t0+60e9, 0))
	if g.ID == first {
		t.Fatalf("reused 5-tuple kept id %d", first)
	}
	k := f.Key
	if FlowID(&k, t0) != first || FlowID(&k, t0) == FlowID(&k, t0+1) {
		t.Fatal("FlowID not a function of key and start")
	}
	// 51 bits over many keys and starts, never 0.
	seen := map[uint64]bool{}
	for i := 0; i < 20000; i++ {
		k.APort = uint16(i)
		id := FlowID(&k, t0+int64(i)*1e6)
		if id == 0 || id > FlowIDMask {
			t.Fatalf("id %#x not in 51 bits", id)
		}
		seen[id] = true
	}
	if len(seen) != 20000 {
		t.Errorf("%d distinct ids of 20000", len(seen))
	}
}

// Every way out of the table says why and when.
func TestEndReason(t *testing.T) {
	tb := NewTable(2, DefaultTimeouts)
	got := map[uint16]EndReason{}
	at := map[uint16]int64{}
	tb.OnRemove = func(f *Flow) { got[f.APort], at[f.APort] = f.EndReason, f.EndNs }
	tb.Track(udpPkt(cli, srv, 1, 53, t0, 0))
	tb.Track(udpPkt(cli, srv, 2, 53, t0+1, 0))
	tb.Track(udpPkt(cli, srv, 3, 53, t0+2, 0)) // evicts port 1
	tb.Expire(t0+1+DefaultTimeouts.New, nil)   // port 2 times out
	tb.EndAll(t0 + 100)                        // port 3 at shutdown
	want := map[uint16]EndReason{1: EndForced, 2: EndTimeout, 3: EndShutdown}
	wantAt := map[uint16]int64{1: t0 + 2, 2: t0 + 1 + DefaultTimeouts.New, 3: t0 + 100}
	for port, r := range want {
		if got[port] != r || at[port] != wantAt[port] {
			t.Errorf("port %d: %v at %d, want %v at %d", port, got[port], at[port], r, wantAt[port])
		}
	}
	if tb.Len() != 0 || EndForced.String() != "forced" {
		t.Errorf("Len %d, %q", tb.Len(), EndForced)
	}
}

func TestTrackAllocs(t *testing.T) {
	tb := NewTable(256, DefaultTimeouts)
	var pkts []*decode.Packet
	for i := range 64 {
		c := netip.AddrFrom4([4]byte{10, 1, byte(i), 1})
		// A handshake creates the TCP flows; the loop below replays only
		// packets of existing connections (a SYN on an established
		// connection would be port reuse: a new connection).
		tb.Track(tcpPkt(c, srv, uint16(1000+i), 443, syn, t0, 0))
		pkts = append(pkts, tcpPkt(srv, c, 443, uint16(1000+i), synack, t0, 0),
			tcpPkt(c, srv, uint16(1000+i), 443, pshack, t0, 100), udpPkt(cli6, srv6, uint16(i), 53, t0, 20),
			icmpPkt(c, srv, 8, 0, uint16(i), t0), reverse(icmpPkt(c, srv, 0, 0, uint16(i), t0)))
	}
	for _, p := range pkts {
		tb.Track(p)
	}
	n := testing.AllocsPerRun(100, func() {
		for _, p := range pkts {
			p.TsNs++
			tb.Track(p)
		}
	})
	if n != 0 {
		t.Fatalf("%.1f allocations tracking %d packets of existing flows", n, len(pkts))
	}
	if tb.Stats().Created != 64*3 {
		t.Fatalf("Created %d", tb.Stats().Created)
	}
}

func TestTrackChurnAllocs(t *testing.T) {
	// A full table: every new flow evicts one. After warm-up the slab and
	// the index are reused.
	tb := NewTable(128, DefaultTimeouts)
	var pkts []*decode.Packet
	for i := range 512 {
		pkts = append(pkts, udpPkt(cli, srv, uint16(i), 53, t0, 10))
	}
	for range 4 {
		for _, p := range pkts {
			tb.Track(p)
		}
	}
	n := testing.AllocsPerRun(20, func() {
		for _, p := range pkts {
			tb.Track(p)
		}
	})
	if n != 0 {
		t.Errorf("%.1f allocations per %d evicting inserts", n, len(pkts))
	}
	if tb.Len() != 128 {
		t.Fatalf("Len %d", tb.Len())
	}
}

func BenchmarkTrackExisting(b *testing.B) {
	tb := NewTable(1024, DefaultTimeouts)
	var pkts []*decode.Packet
	for i := range 256 {
		pkts = append(pkts, tcpPkt(netip.AddrFrom4([4]byte{10, 2, byte(i), 1}), srv, uint16(i), 443, pshack, t0, 100))
	}
	for _, p := range pkts {
		tb.Track(p)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tb.Track(pkts[i%len(pkts)])
	}
}

// Community ID vectors from corelight/community-id-spec
// baseline/baseline_deflt.json (seed 0) and the pycommunityid tests
// (tests/communityid_test.py), which include one-way ICMP messages with
// the endpoints in both orders.
func TestCommunityID(t *testing.T) {
	for _, v := range []struct {
		proto        uint8
		saddr, daddr string
		sport, dport uint16 // ICMP: type, code
		want         string
	}{
		// baseline_deflt.json
		{58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 0, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="},
		{58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 136, 0, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="},
		{58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 135, 0, "1:zavyT/cezQr1fmImYCwYnMXbgck="},
		{58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 136, 0, "1:zavyT/cezQr1fmImYCwYnMXbgck="},
		{58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", 3, 0, "1:2ObVBgIn28oZvibYZhZMBgh7WdQ="},
		{58, "3ffe:501:410:0:2c0:dfff:fe47:33e", "3ffe:507:0:1:200:86ff:fe05:80da", 1, 4, "1:hLZd0XGWojozrvxqE0dWB1iM6R0="},
		{58, "3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:0:1001::2", 128, 0, "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg="},
		{58, "3ffe:501:0:1001::2", "3ffe:507:0:1:200:86ff:fe05:80da", 129, 0, "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg="},
		{58, "fe80::200:86ff:fe05:80da", "ff02::2", 133, 0, "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0="},
		{58, "fe80::260:97ff:fe07:69ea", "ff02::1", 134, 0, "1:pkvHqCL88/tg1k4cPigmZXUtL00="},
		{1, "192.168.0.89", "192.168.0.1", 8, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="},
		{1, "192.168.0.1", "192.168.0.89", 0, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="},
		{1, "192.168.0.1", "192.168.0.89", 0, 8, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="},
		{1, "10.0.0.1", "10.0.0.2", 11, 0, "1:YHxtAirCG//0OzkcVAukqKQN9xM="},
		{6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="},
		{6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 25, 63943, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="},
		{132, "192.168.170.8", "192.168.170.56", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="},
		{132, "192.168.170.56", "192.168.170.8", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="},
		{6, "128.232.110.120", "66.35.250.204", 34855, 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
		{6, "66.35.250.204", "128.232.110.120", 80, 34855, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
		{17, "192.168.1.52", "8.8.8.8", 54585, 53, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
		{17, "8.8.8.8", "192.168.1.52", 53, 54585, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
		{46, "10.1.12.1", "10.1.12.2", 0, 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="},
		{46, "10.1.12.2", "10.1.12.1", 0, 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="},
		// pycommunityid tests/communityid_test.py (seed 0 column)
		{1, "192.168.0.89", "192.168.0.1", 20, 0, "1:3o2RFccXzUgjl7zDpqmY7yJi8rI="},
		{1, "192.168.0.89", "192.168.0.1", 20, 1, "1:tz/fHIDUHs19NkixVVoOZywde+I="},
		{1, "192.168.0.1", "192.168.0.89", 0, 20, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="},
		{58, "3ffe:507:0:1:260:97ff:fe07:69ea", "3ffe:507:0:1:200:86ff:fe05:80da", 3, 0, "1:NdobDX8PQNJbAyfkWxhtL2Pqp5w="},
		{58, "3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:507:0:1:260:97ff:fe07:69ea", 3, 0, "1:/OGBt9BN1ofenrmSPWYicpij2Vc="},
		{132, "192.168.170.8", "192.168.170.56", 7, 80, "1:jQgCxbku+pNGw8WPbEc/TS/uTpQ="},
		{132, "192.168.170.56", "192.168.170.8", 80, 7, "1:jQgCxbku+pNGw8WPbEc/TS/uTpQ="},
		{6, "10.0.0.1", "10.0.0.2", 10, 11569, "1:SXBGMX1lBOwhhoDrZynfROxnhnM="},
		{46, "10.1.24.4", "10.1.12.1", 0, 0, "1:/nQI4Rh/TtY3mf0R2gJFBkVlgS4="},
		{46, "10.1.12.1", "10.1.24.4", 0, 0, "1:/nQI4Rh/TtY3mf0R2gJFBkVlgS4="},
	} {
		name := fmt.Sprintf("%d %s:%d-%s:%d", v.proto, v.saddr, v.sport, v.daddr, v.dport)
		got := CommunityID(netip.MustParseAddr(v.saddr), netip.MustParseAddr(v.daddr), v.sport, v.dport, v.proto)
		if got != v.want {
			t.Errorf("%s: got %s, want %s", name, got, v.want)
		}
	}
}

func TestCommunityIDICMPPairs(t *testing.T) {
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.200")
	// Request/response pairs hash alike in both directions.
	for _, pr := range [][2]uint8{{8, 0}, {13, 14}, {15, 16}, {17, 18}, {10, 9}} {
		if x, y := CommunityID(a, b, uint16(pr[0]), 0, 1), CommunityID(b, a, uint16(pr[1]), 0, 1); x != y {
			t.Errorf("icmp %d/%d: %s != %s", pr[0], pr[1], x, y)
		}
	}
	a6, b6 := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::ff")
	for _, pr := range [][2]uint8{{128, 129}, {130, 131}, {133, 134}, {135, 136}, {139, 140}, {144, 145}} {
		if x, y := CommunityID(a6, b6, uint16(pr[0]), 0, 58), CommunityID(b6, a6, uint16(pr[1]), 0, 58); x != y {
			t.Errorf("icmpv6 %d/%d: %s != %s", pr[0], pr[1], x, y)
		}
	}
	// One-way messages keep their direction.
	if CommunityID(a, b, 3, 3, 1) == CommunityID(b, a, 3, 3, 1) {
		t.Error("a port unreachable hashes alike in both directions")
	}
}

func BenchmarkCommunityID(b *testing.B) {
	s, d := netip.MustParseAddr("128.232.110.120"), netip.MustParseAddr("66.35.250.204")
	b.ReportAllocs()
	for b.Loop() {
		_ = CommunityID(s, d, 34855, 80, 6)
	}
}
