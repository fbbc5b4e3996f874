package pipeline

import (
	"net/netip"
	"testing"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/userspace/capture/samples"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/flow/flows"
)

type flowAct struct {
	src, dst     netip.Addr
	sport, dport uint16
	action       uint32
}

// TestInspectionBooks: under full inspection (rules active, the kernel
// sends every packet with its count) a jump in a direction's count is a
// gap, booked on the flow and in the stats; a flow no rule can match is
// bypassed in the kernel once the detectors have DetectDepth packets of it,
// a flow some rule can match is not; a bypassed flow's milestones are
// counted but never matched.
func TestInspectionBooks(t *testing.T) {
	res := loadRules(t, false, `alert tcp any any -> any 8080 (msg:"deep"; content:"NEEDLE"; sid:9400001;)`+"\n")
	var acts []flowAct
	var sids []uint32
	p := New(testConfig(), func(a *alert.Alert) { sids = append(sids, a.SID) })
	p.OnFlowAction = func(src, dst netip.Addr, sport, dport uint16, proto uint8, vlan uint16, action uint32) {
		acts = append(acts, flowAct{src, dst, sport, dport, action})
	}
	p.SetRules(res.Engine)
	w := p.Worker(0)
	var s samples.Sample
	send := func(seg tcpSeg, ts, flowPkts uint64, action uint8) {
		t.Helper()
		raw := rawRecord(seg.frame(t), ts, flowPkts)
		raw[29] = action
		if err := samples.Decode(raw, &s); err != nil {
			t.Fatal(err)
		}
		w.ProcessSample(&s)
	}
	const c, srv = "203.0.113.7", "198.51.100.10"
	web := tcpSeg{src: c, dst: srv, sport: 40000, dport: 8080, flags: "A", seq: 1000, payload: "x"}
	// Port 8080 has a rule: packets 1..3, then 7 (3 missed), then 8.
	for i, k := range []uint64{1, 2, 3, 7, 8} {
		send(web, uint64(1e9+i), k, bpf.FlowInspect)
	}
	f := w.in.F
	if f.InspectGaps != 3 || f.Bypass != [2]uint8{} {
		t.Errorf("port 8080 flow: gaps %d bypass %v, want 3 and none", f.InspectGaps, f.Bypass)
	}
	if len(acts) != 0 {
		t.Errorf("a flow a rule can match was bypassed: %+v", acts)
	}
	// Port 22 has none: bypassed after the 4th packet, that direction only.
	ssh := tcpSeg{src: c, dst: srv, sport: 40001, dport: 22, flags: "A", seq: 1000, payload: "NEEDLE"}
	for k := uint64(1); k <= 5; k++ {
		send(ssh, uint64(2e9+k), k, bpf.FlowInspect)
	}
	f = w.in.F
	if f.Bypass[0] != flows.BypassNoRule || f.Bypass[1] != flows.BypassNone {
		t.Errorf("port 22 flow bypass %v, want no_rule from the client only", f.Bypass)
	}
	want := flowAct{netip.MustParseAddr(c), netip.MustParseAddr(srv), 40001, 22, bpf.FlowBypass}
	if len(acts) != 1 || acts[0] != want {
		t.Errorf("flow actions %+v, want %+v", acts, want)
	}
	// Its milestones (and the port 8080 flow's, once bypassed) are counted, not matched.
	before := f.Pkts[0]
	send(ssh, 3e9, 64, bpf.FlowBypass)
	send(tcpSeg{src: c, dst: srv, sport: 40000, dport: 8080, flags: "A", seq: 1000, payload: "NEEDLE"}, 3e9+1, 64, bpf.FlowBypass)
	if w.in.F.InspectGaps != 3 {
		t.Errorf("a bypassed milestone booked gaps: %d", w.in.F.InspectGaps)
	}
	if f.Pkts[0] == before {
		t.Error("a bypassed flow's milestone was not counted")
	}
	if len(sids) != 0 {
		t.Errorf("headers-only milestones matched rules: %v", sids)
	}
	st := p.Stats()
	if st.GapPackets != 3 || st.GapFlows != 1 || st.Bypassed[flows.BypassNoRule] != 1 {
		t.Errorf("stats: gap packets %d flows %d, no-rule bypasses %d; want 3, 1, 1", st.GapPackets, st.GapFlows, st.Bypassed[flows.BypassNoRule])
	}
}

// TestEncryptedBypass: a TLS session is inspected through its handshake;
// the direction that sends its first application-data record is bypassed
// (reason encrypted) and its later bytes are not matched.
func TestEncryptedBypass(t *testing.T) {
	res := loadRules(t, false, `alert tcp any any -> any any (msg:"needle"; content:"NEEDLE"; sid:9400002;)`+"\n")
	var acts []flowAct
	var sids []uint32
	p := New(testConfig(), func(a *alert.Alert) { sids = append(sids, a.SID) })
	p.OnFlowAction = func(src, dst netip.Addr, sport, dport uint16, proto uint8, vlan uint16, action uint32) {
		acts = append(acts, flowAct{src, dst, sport, dport, action})
	}
	p.SetRules(res.Engine)
	w := p.Worker(0)
	const c, s = "203.0.113.7", "198.51.100.10"
	rec := func(typ byte, body string) string {
		return string([]byte{typ, 3, 3, byte(len(body) >> 8), byte(len(body))}) + body
	}
	cseq, sseq := uint32(101), uint32(501)
	ts := uint64(1e9)
	send := func(fromClient bool, payload string) {
		t.Helper()
		ts += 1e6
		seg := tcpSeg{src: c, dst: s, sport: 40000, dport: 443, flags: "PA", seq: cseq, ack: sseq, payload: payload}
		if !fromClient {
			seg = tcpSeg{src: s, dst: c, sport: 443, dport: 40000, flags: "PA", seq: sseq, ack: cseq, payload: payload}
		}
		if payload == "" {
			seg.flags = "A"
		}
		w.Process(rawRecord(seg.frame(t), ts, 0))
		if fromClient {
			cseq += uint32(len(payload))
		} else {
			sseq += uint32(len(payload))
		}
	}
	for _, seg := range []tcpSeg{
		{src: c, dst: s, sport: 40000, dport: 443, flags: "S", seq: 100},
		{src: s, dst: c, sport: 443, dport: 40000, flags: "SA", seq: 500, ack: 101},
		{src: c, dst: s, sport: 40000, dport: 443, flags: "A", seq: 101, ack: 501},
	} {
		ts += 1e6
		w.Process(rawRecord(seg.frame(t), ts, 0))
	}
	send(true, rec(22, "client hello NEEDLE")) // the handshake is inspected
	send(false, rec(22, "server hello")+rec(20, "\x01")+rec(23, "encrypted handshake"))
	send(true, rec(20, "\x01")+rec(23, "finished"))
	send(false, "") // the server's ACK delivers the client's bytes
	send(true, rec(23, "NEEDLE in application data"))
	send(false, rec(23, "NEEDLE in the response"))
	send(true, "")
	f := w.in.F
	if f.Bypass != [2]uint8{flows.BypassEncrypted, flows.BypassEncrypted} {
		t.Errorf("bypass %v, want encrypted both ways", f.Bypass)
	}
	if len(sids) != 1 {
		t.Errorf("alerts %v, want one: the NEEDLE in the client hello, none in encrypted data", sids)
	}
	n := 0
	for _, a := range acts {
		if a.action == bpf.FlowBypass {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d kernel bypasses (%+v), want one per direction", n, acts)
	}
	if st := p.Stats(); st.Bypassed[flows.BypassEncrypted] != 2 {
		t.Errorf("encrypted bypasses %d, want 2", st.Bypassed[flows.BypassEncrypted])
	}
}
