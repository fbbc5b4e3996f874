package signature

import (
	"github.com/xdpids/xdpids/userspace/app/appproto"
	"slices"
	"testing"

	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/flow/flows"
)

// TestMatchStream feeds synthetic reassembled data: a pattern split
// across two segments matches the stream, not the packets.
func TestMatchStream(t *testing.T) {
	const c, s = "10.0.0.1", "10.0.0.2"
	h := newHarness(t, `
alert tcp any any -> any 80 (msg:"tcp"; flow:to_server,established; content:"EVIL"; sid:1;)
alert tcp-stream any any -> any any (msg:"tcp-stream"; content:"EVIL"; sid:2;)
alert tcp-pkt any any -> any any (msg:"tcp-pkt"; content:"EVIL"; sid:3;)
alert tcp any any -> any any (msg:"to client"; flow:to_client; content:"GOOD"; sid:4;)
alert tcp any any -> any any (msg:"stream, not packet keyword"; content:"EVIL"; dsize:>0; sid:5;)
alert tcp any any -> any any (msg:"relative across segments"; content:"BEGIN"; content:"END"; distance:0; within:20; sid:6;)
`, Options{})
	h.handshake(c, s, 40000, 80)
	seg1 := frame(t, pkt{src: c, dst: s, sport: 40000, dport: 80, flags: "PA", seq: 101, ack: 501, payload: "BEGIN xx EV"})
	seg2 := frame(t, pkt{src: c, dst: s, sport: 40000, dport: 80, flags: "PA", seq: 112, ack: 501, payload: "IL yy END"})
	// The packets, marked as going to the stream: no packet holds EVIL.
	for _, fr := range [][]byte{seg1, seg2} {
		if got := h.sendStream(fr); len(got) != 0 {
			t.Fatalf("packet alerts %v, want none", got)
		}
	}
	f := h.lastFlow(t)
	var got []uint32
	h.eng.MatchStream(&StreamInput{F: f, ToServer: true, Data: []byte("BEGIN xx EVIL yy END"), TsNs: h.ts}, func(a *alert.Alert) {
		got = append(got, a.SID)
		if a.Src.String() != c || a.DstPort != 80 || a.FlowID != f.ID {
			t.Errorf("stream alert from %v:%d to port %d flow %d", a.Src, a.SrcPort, a.DstPort, a.FlowID)
		}
	})
	slices.Sort(got)
	if !slices.Equal(got, []uint32{1, 2, 6}) {
		t.Errorf("stream to server alerts %v, want [1 2 6] (5 has dsize: packet only)", got)
	}
	got = got[:0]
	h.eng.MatchStream(&StreamInput{F: f, ToServer: false, Data: []byte("HTTP/1.1 200 OK\r\n\r\nGOOD EVIL"), TsNs: h.ts}, func(a *alert.Alert) {
		got = append(got, a.SID)
		if a.Src.String() != s || a.SrcPort != 80 {
			t.Errorf("to-client stream alert from %v:%d", a.Src, a.SrcPort)
		}
	})
	slices.Sort(got)
	if !slices.Equal(got, []uint32{2, 4}) {
		t.Errorf("stream to client alerts %v, want [2 4]", got)
	}
	// A tcp-pkt rule still sees the packet when the stream handles the flow.
	whole := frame(t, pkt{src: c, dst: s, sport: 40000, dport: 80, flags: "PA", seq: 121, ack: 501, payload: "EVIL"})
	if got := h.sendStream(whole); !slices.Equal(got, []uint32{3}) {
		t.Errorf("packet alerts with stream inspection %v, want [3]", got)
	}
	// Without a stream engine, tcp rules match packets.
	if got := h.send(whole); !slices.Contains(got, 1) || !slices.Contains(got, 3) || slices.Contains(got, 2) {
		t.Errorf("packet alerts without stream inspection %v, want 1 and 3, not 2", got)
	}
}

func (h *harness) sendStream(fr []byte) []uint32 {
	h.t.Helper()
	h.ts += 1e6
	pk := &h.pk
	pk.Reset()
	pk.TsNs, pk.WireLen, pk.CapLen = h.ts, uint32(len(fr)), uint32(len(fr))
	if err := h.dec.Decode(fr, pk); err != nil {
		h.t.Fatal(err)
	}
	in := Input{P: pk, Frame: fr, StreamInspected: true}
	in.F, in.FromOrig, in.Ev = h.table.Track(pk)
	var sids []uint32
	h.eng.MatchPacket(&in, func(a *alert.Alert) { sids = append(sids, a.SID) })
	return sids
}

func (h *harness) lastFlow(t *testing.T) *flows.Flow {
	var f *flows.Flow
	h.table.Each(func(x *flows.Flow) { f = x })
	if f == nil {
		t.Fatal("no flow")
	}
	return f
}

// TestStreamWindow: chunks that follow on are inspected with the tail of
// the direction before them, so a pattern split across chunks matches
// once, a match wholly in the kept tail does not alert again, a new
// occurrence does, and a gap starts afresh.
func TestStreamWindow(t *testing.T) {
	const c, s = "10.0.0.1", "10.0.0.2"
	h := newHarness(t, `
alert tcp any any -> any any (msg:"split"; content:"Please Let Me In!"; sid:1;)
alert tcp any any -> any any (msg:"evil"; content:"EVIL"; sid:2;)
`, Options{})
	h.handshake(c, s, 40000, 80)
	f := h.lastFlow(t)
	var got []uint32
	chunk := func(off uint64, data string) []uint32 {
		got = got[:0]
		h.eng.MatchStream(&StreamInput{F: f, ToServer: false, Data: []byte(data), TsNs: h.ts, Offset: off}, func(a *alert.Alert) {
			got = append(got, a.SID)
		})
		return slices.Clone(got)
	}
	steps := []struct {
		off  uint64
		data string
		want []uint32
	}{
		{0, "Please ", nil},
		{7, "Let ", nil},
		{11, "Me ", nil},
		{14, "In! EVIL", []uint32{1, 2}},
		{22, " and more", nil},           // both matches are in the tail: not again
		{31, " EVIL again", []uint32{2}}, // a new occurrence
		{100, "In! there", nil},          // a gap: the tail is not joined
	}
	for _, st := range steps {
		if g := chunk(st.off, st.data); !slices.Equal(g, st.want) {
			t.Errorf("chunk %d %q: alerts %v, want %v", st.off, st.data, g, st.want)
		}
	}
}

// TestStreamSession: without the originator's SYN (and without
// Midstream) a TCP flow has no stream session: its packets' payload is
// inspected by packet and MatchStream ignores the flow; a RST's payload
// is always inspected by packet.
func TestStreamSession(t *testing.T) {
	const c, s = "10.0.0.1", "10.0.0.2"
	rs := `alert tcp any any -> any any (msg:"evil"; content:"EVIL"; sid:1;)`
	for _, tc := range []struct {
		name      string
		midstream bool
		handshake bool
		flags     string
		pkt, strm bool // alerts by packet, by stream
	}{
		{"session", false, true, "PA", false, true},
		{"no session", false, false, "PA", true, false},
		{"midstream session", true, false, "PA", false, true},
		{"rst data", false, true, "RA", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, rs, Options{Midstream: tc.midstream})
			if tc.handshake {
				h.handshake(c, s, 40000, 80)
			}
			got := h.sendStream(frame(t, pkt{src: c, dst: s, sport: 40000, dport: 80, flags: tc.flags, seq: 101, ack: 501, payload: "EVIL"}))
			if (len(got) > 0) != tc.pkt {
				t.Errorf("packet alerts %v, want alert %v", got, tc.pkt)
			}
			n := 0
			h.eng.MatchStream(&StreamInput{F: h.lastFlow(t), ToServer: true, Data: []byte("EVIL"), TsNs: h.ts}, func(*alert.Alert) { n++ })
			if (n > 0) != tc.strm {
				t.Errorf("stream alerts %d, want alert %v", n, tc.strm)
			}
		})
	}
}

// TestStreamSizeOnStream: stream_size applies to stream rules too (the
// stream runs before the packet's own rules, with the packet counted).
func TestStreamSizeOnStream(t *testing.T) {
	const c, s = "10.0.0.1", "10.0.0.2"
	h := newHarness(t, `alert tcp any any -> any any (flow:established,to_server; stream_size:client,<,12; content:"EVIL"; sid:1;)
alert tcp any any -> any any (flow:established,to_server; stream_size:client,>=,12; content:"EVIL"; sid:2;)`, Options{})
	h.handshake(c, s, 40000, 80)
	pk := pkt{src: c, dst: s, sport: 40000, dport: 80, flags: "PA", seq: 101, ack: 501, payload: "EVIL xxxxxx"} // client 1+11
	fr := frame(t, pk)
	h.pk.Reset()
	h.pk.TsNs, h.pk.WireLen, h.pk.CapLen = h.ts+1, uint32(len(fr)), uint32(len(fr))
	if err := h.dec.Decode(fr, &h.pk); err != nil {
		t.Fatal(err)
	}
	f := h.lastFlow(t)
	var got []uint32
	h.eng.MatchStream(&StreamInput{F: f, ToServer: true, Data: []byte(pk.payload), TsNs: h.ts, P: &h.pk}, func(a *alert.Alert) { got = append(got, a.SID) })
	if !slices.Equal(got, []uint32{2}) {
		t.Errorf("stream alerts %v, want [2]", got)
	}
}

// TestAppGatedStreamRules: a rule that names an app protocol and inspects
// the payload without app buffers ("alert http ... content") is a stream
// rule limited to flows of that protocol: it matches on an http flow, not
// on a tls one, and on a flow still undecided it alerts with the check
// (AppGate) for the caller to apply once the app layer has decided.
func TestAppGatedStreamRules(t *testing.T) {
	const c, s = "10.0.0.1", "10.0.0.2"
	h := newHarness(t, `
alert http any any -> any any (msg:"http payload"; flow:to_server; content:"EVIL"; sid:1;)
alert tcp any any -> any any (msg:"not tls payload"; app-layer-protocol:!tls; content:"EVIL"; sid:2;)
alert tcp any any -> any any (msg:"any payload"; content:"EVIL"; sid:3;)
`, Options{})
	h.handshake(c, s, 40000, 80)
	f := h.lastFlow(t)
	run := func(app appproto.Proto) (sids []uint32, gated []uint32) {
		f.App = uint8(app)
		h.eng.MatchStream(&StreamInput{F: f, ToServer: true, Data: []byte("GET /EVIL HTTP/1.1\r\n"), TsNs: h.ts, Again: true}, func(a *alert.Alert) {
			sids = append(sids, a.SID)
			if a.AppGate != nil && a.AppGate("http") && !a.AppGate("tls") {
				gated = append(gated, a.SID)
			}
		})
		slices.Sort(sids)
		return sids, gated
	}
	if got, _ := run(appproto.HTTP1); !slices.Equal(got, []uint32{1, 2, 3}) {
		t.Errorf("http flow: %v, want [1 2 3]", got)
	}
	if got, _ := run(appproto.TLS); !slices.Equal(got, []uint32{3}) {
		t.Errorf("tls flow: %v, want [3]", got)
	}
	if got, gated := run(appproto.Unknown); !slices.Equal(got, []uint32{1, 2, 3}) || !slices.Equal(gated, []uint32{1, 2}) {
		t.Errorf("undecided flow: %v with gates on %v, want [1 2 3] with gates on [1 2]", got, gated)
	}
}
