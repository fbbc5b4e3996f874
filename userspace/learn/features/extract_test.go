package features

import (
	"math"
	"net/netip"
	"testing"

	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

var (
	cli = netip.MustParseAddr("192.0.2.10")
	srv = netip.MustParseAddr("198.51.100.80")
)

type pkt struct {
	atMs    int64
	fromCli bool
	flags   uint8
	wire    uint32
	payload uint32
	win     uint16
}

func run(t testing.TB, x *Extractor, tb *flows.Table, ps []pkt, sport uint16) *flows.Flow {
	t.Helper()
	var f *flows.Flow
	for _, q := range ps {
		p := decode.Packet{TsNs: 1e18 + q.atMs*1e6, Family: 4, Proto: decode.ProtoTCP, HasL4: true,
			TCPFlags: q.flags, WireLen: q.wire, PayloadLen: q.payload, Window: q.win}
		if q.fromCli {
			p.Src, p.Dst, p.SrcPort, p.DstPort = cli, srv, sport, 80
		} else {
			p.Src, p.Dst, p.SrcPort, p.DstPort = srv, cli, 80, sport
		}
		var orig bool
		var ev int
		f, orig, ev = tb.Track(&p)
		x.Packet(f, &p, orig, ev)
	}
	return f
}

const (
	syn = decode.FlagSYN
	ack = decode.FlagACK
	psh = decode.FlagPSH
	fin = decode.FlagFIN
	rst = decode.FlagRST
)

// A TCP session: handshake, request, response, close.
var session = []pkt{
	{0, true, syn, 74, 0, 64240},
	{10, false, syn | ack, 74, 0, 65160},
	{20, true, ack, 66, 0, 502},
	{30, true, psh | ack, 166, 100, 502},
	{50, false, psh | ack, 1066, 1000, 509},
	{60, true, fin | ack, 66, 0, 502},
	{70, false, fin | ack, 66, 0, 509},
	{80, true, ack, 66, 0, 502},
}

func TestFeaturesHandComputed(t *testing.T) {
	tb := flows.NewTable(16, flows.DefaultTimeouts)
	x := New(Config{Flows: tb.Cap()})
	f := run(t, x, tb, session, 40000)
	var v Vector
	x.Fill(f, f.LastNs, &v)
	approx := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9*max(1, math.Abs(want)) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	approx("proto", v[Proto], 6)
	approx("resp_port", v[RespPort], 80)
	approx("duration", v[Duration], 0.080)
	approx("first_reply", v[FirstReply], 0.010)
	approx("handshake", v[Handshake], 1)
	approx("fwd_pkts", v[Fwd+DirPkts], 5)
	approx("bwd_pkts", v[Bwd+DirPkts], 3)
	approx("fwd_bytes", v[Fwd+DirBytes], 74+66+166+66+66)
	approx("bwd_payload", v[Bwd+DirPayload], 1000)
	// fwd lengths 74 66 166 66 66: mean 87.6, population std
	mean := (74 + 66 + 166 + 66 + 66) / 5.0
	ss := 0.0
	for _, l := range []float64{74, 66, 166, 66, 66} {
		ss += (l - mean) * (l - mean)
	}
	approx("fwd_len_mean", v[Fwd+DirLenMean], mean)
	approx("fwd_len_std", v[Fwd+DirLenStd], math.Sqrt(ss/5))
	approx("fwd_len_min", v[Fwd+DirLenMin], 66)
	approx("fwd_len_max", v[Fwd+DirLenMax], 166)
	// fwd gaps 20 10 30 20 ms
	approx("fwd_iat_mean", v[Fwd+DirIATMean], 0.020)
	approx("fwd_iat_std", v[Fwd+DirIATStd], math.Sqrt((0+0.0001+0.0001+0)/4))
	approx("fwd_iat_min", v[Fwd+DirIATMin], 0.010)
	approx("fwd_iat_max", v[Fwd+DirIATMax], 0.030)
	// bwd gaps 40 20 ms
	approx("bwd_iat_mean", v[Bwd+DirIATMean], 0.030)
	approx("fwd_syn", v[Fwd+DirSYN], 1)
	approx("fwd_ack", v[Fwd+DirACK], 4)
	approx("bwd_fin", v[Bwd+DirFIN], 1)
	approx("fwd_psh", v[Fwd+DirPSH], 1)
	approx("fwd_win_first", v[Fwd+DirWinFirst], 64240)
	approx("bwd_win_max", v[Bwd+DirWinMax], 65160)
	approx("src_flows_1s", v[SrcBase+SrcFlows], math.Exp2(-0.080))
	approx("src_ports_1s", v[SrcBase+SrcPorts], -128*math.Log(127.0/128))
	approx("dst_srcs_60s", v[DstBase+2*DstLen+DstSrcs], -128*math.Log(127.0/128))
	approx("resp_first", v[RespFirst], 0)
	approx("svc_flows_1s", v[SvcBase+SvcFlows], math.Exp2(-0.080))
	approx("svc_resp_mean_1s", v[SvcBase+SvcRespMean], 0) // nothing ended yet
	if x.Failed(f) {
		t.Error("a completed session counted as failed")
	}
	// Ended, the flow's payloads are its service's means; a second
	// session to the same service 1 s later counts two new flows.
	x.End(f)
	x.Fill(f, f.LastNs, &v)
	approx("svc_resp_mean_60s", v[SvcBase+2*SvcLen+SvcRespMean], 1000)
	approx("svc_fwd_mean_60s", v[SvcBase+2*SvcLen+SvcFwdMean], 100)
	late := make([]pkt, len(session))
	for i, q := range session {
		q.atMs += 1000
		late[i] = q
	}
	g := run(t, x, tb, late, 40001)
	x.Fill(g, g.LastNs, &v)
	// the first flow's unit, added at 0 ms, seen at 1080 ms; the second's at 1000 ms
	approx("svc_flows_1s (2)", v[SvcBase+SvcFlows], math.Exp2(-1.080)+math.Exp2(-0.080))
}

// A login banner: the server speaks first.
func TestFeaturesRespFirst(t *testing.T) {
	tb := flows.NewTable(16, flows.DefaultTimeouts)
	x := New(Config{Flows: tb.Cap()})
	f := run(t, x, tb, []pkt{
		{0, true, syn, 74, 0, 64240},
		{1, false, syn | ack, 74, 0, 65160},
		{2, true, ack, 66, 0, 502},
		{3, false, psh | ack, 77, 11, 509}, // "220 ready\r\n"
		{4, true, psh | ack, 90, 24, 502},
	}, 40000)
	var v Vector
	x.Fill(f, f.LastNs, &v)
	if v[RespFirst] != 1 {
		t.Errorf("resp_first = %v, want 1", v[RespFirst])
	}
}

// A vertical scan: many SYNs answered by RST from one source to many
// ports. Its per-source windows must say so.
func TestFeaturesScanSource(t *testing.T) {
	tb := flows.NewTable(4096, flows.DefaultTimeouts)
	x := New(Config{Flows: tb.Cap()})
	var last *flows.Flow
	for i := range 200 {
		at := int64(i) // 1 ms apart
		p := decode.Packet{TsNs: 1e18 + at*1e6, Family: 4, Proto: decode.ProtoTCP, HasL4: true, TCPFlags: syn,
			Src: cli, Dst: srv, SrcPort: 40000, DstPort: uint16(1 + i), WireLen: 58, Window: 1024}
		f, o, ev := tb.Track(&p)
		x.Packet(f, &p, o, ev)
		r := decode.Packet{TsNs: p.TsNs + 1e5, Family: 4, Proto: decode.ProtoTCP, HasL4: true, TCPFlags: rst | ack,
			Src: srv, Dst: cli, SrcPort: p.DstPort, DstPort: 40000, WireLen: 54}
		f, o, ev = tb.Track(&r)
		x.Packet(f, &r, o, ev)
		if !x.Failed(f) {
			t.Fatal("a reset probe not counted as failed")
		}
		f.EndNs = r.TsNs
		x.End(f)
		last = f
	}
	var v Vector
	x.Fill(last, last.LastNs, &v)
	if got := v[SrcBase+2*SrcLen+SrcPorts]; got < 150 {
		t.Errorf("distinct ports at 60 s = %v, want about 200 (at least 150)", got)
	}
	if got := v[SrcBase+2*SrcLen+SrcFailShare]; math.Abs(got-1) > 1e-9 {
		t.Errorf("fail share = %v, want 1", got)
	}
	if got := v[SrcBase+2*SrcLen+SrcPeers]; got > 2 {
		t.Errorf("distinct peers = %v, want 1", got)
	}
}

func TestNames(t *testing.T) {
	seen := map[string]bool{}
	for i, n := range Names {
		if n == "" || seen[n] {
			t.Fatalf("feature %d: name %q empty or repeated", i, n)
		}
		seen[n] = true
	}
}

func TestHostTableBounded(t *testing.T) {
	h := newHostTable(8)
	for i := range 1000 {
		a := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		if e := h.get(a, int64(i)); e.Addr != a {
			t.Fatal("get returned another host")
		}
	}
	if len(h.slots) != 8 || h.Replaced < 900 {
		t.Errorf("slots %d, replaced %d", len(h.slots), h.Replaced)
	}
}

func TestExtractNoAlloc(t *testing.T) {
	tb := flows.NewTable(1024, flows.DefaultTimeouts)
	x := New(Config{Flows: tb.Cap()})
	var v Vector
	sport := uint16(1)
	run(t, x, tb, session, sport) // warm the table's map
	n := testing.AllocsPerRun(200, func() {
		sport = sport%500 + 1
		f := run(t, x, tb, session, 20000+sport)
		x.Fill(f, f.LastNs, &v)
		x.End(f)
	})
	if n > 0 {
		t.Errorf("%v allocations per flow", n)
	}
}

func BenchmarkFeaturesPerFlow(b *testing.B) {
	tb := flows.NewTable(1024, flows.DefaultTimeouts)
	x := New(Config{Flows: tb.Cap()})
	var v Vector
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f := run(b, x, tb, session, uint16(20000+i%500))
		x.Fill(f, f.LastNs, &v)
		x.End(f)
	}
}
