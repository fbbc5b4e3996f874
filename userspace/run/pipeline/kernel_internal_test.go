package pipeline

import (
	"net/netip"
	"testing"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/internal/testrec"
	"github.com/xdpids/xdpids/userspace/detect/alert"
)

// TestKernelVerdictAlert: a model sample (the packet the in-kernel model
// judged malicious) is an alert, sid 8600003, detector model, with the
// class name, mean score and threshold of the model set with
// SetKernelModel and the packet's 5-tuple; "blocked" when the kernel
// dropped the packet. One per source per 60 s of packet time; verified
// only on a TCP connection whose handshake the server answered.
func TestKernelVerdictAlert(t *testing.T) {
	var got []*alert.Alert
	p := New(testConfig(), func(a *alert.Alert) { got = append(got, a) })
	p.SetKernelModel(&KernelModel{Kind: "xdp-forest", Classes: []string{"benign", "bruteforce", "scan"}, Threshold: 0.5, Trees: 4, Packets: 3})
	w := p.Worker(0)
	const c, c2, s = "203.0.113.7", "203.0.113.8", "198.51.100.10"
	ts := uint64(1e9)
	send := func(seg tcpSeg, h testrec.Header) {
		t.Helper()
		ts += 1e6
		h.TsNs = ts
		if !w.Process(testrec.Record(seg.frame(t), h)) {
			t.Fatal("record rejected")
		}
	}
	// a connection whose handshake the server answered, judged at packet 3
	send(tcpSeg{src: c, dst: s, sport: 40001, dport: 22, flags: "S", seq: 100}, testrec.Header{Flags: bpf.SampleNewFlow, FlowPackets: 1})
	send(tcpSeg{src: s, dst: c, sport: 22, dport: 40001, flags: "SA", seq: 500, ack: 101}, testrec.Header{Flags: bpf.SampleNewFlow, FlowPackets: 1})
	send(tcpSeg{src: c, dst: s, sport: 40001, dport: 22, flags: "A", seq: 101, ack: 501}, testrec.Header{FlowPackets: 2})
	send(tcpSeg{src: c, dst: s, sport: 40001, dport: 22, flags: "PA", seq: 101, ack: 501, payload: "SSH-2.0-x\r\n"},
		testrec.Header{FlowPackets: 3, Verdict: bpf.VerdictDrop, Reason: bpf.ReasonModel, Action: bpf.FlowDrop, ModelClass: 1, ModelScore: 3000})
	if len(got) != 1 {
		t.Fatalf("%d alerts, want the verdict's", len(got))
	}
	a := got[0]
	md := a.Metadata
	if a.SID != alert.ModelKernel.SID || a.Detector != "model" || a.Action != "blocked" || a.Trust != alert.TrustVerified ||
		a.Src.String() != c || a.Dst.String() != s || a.SrcPort != 40001 || a.DstPort != 22 || a.Subject.String() != c ||
		md["class"] != "bruteforce" || md["score"] != "0.7500" || md["score_sum"] != "3000" || md["threshold"] != "0.5000" ||
		md["engine"] != "xdp" || md["model"] != "xdp-forest" || md["packets"] != "3" {
		t.Errorf("alert %+v %v", a, md)
	}
	// the same source again within 60 s: gated; another source: alerted
	// (a SYN-only flow: forgeable), passed by the kernel: allowed
	got = nil
	model := testrec.Header{FlowPackets: 1, Flags: bpf.SampleNewFlow, ModelClass: 2, ModelScore: 2400}
	send(tcpSeg{src: c, dst: s, sport: 40002, dport: 23, flags: "S", seq: 100}, model)
	send(tcpSeg{src: c2, dst: s, sport: 40003, dport: 23, flags: "S", seq: 100}, model)
	if len(got) != 1 || got[0].Src.String() != c2 || got[0].Action != "allowed" || got[0].Trust != alert.TrustForgeable ||
		got[0].Metadata["class"] != "scan" {
		t.Fatalf("alerts %+v, want one on %s, allowed, forgeable, class scan", got, c2)
	}
	// past the gap the first source alerts again
	got = nil
	ts += 61e9
	send(tcpSeg{src: c, dst: s, sport: 40004, dport: 23, flags: "S", seq: 100}, model)
	if len(got) != 1 {
		t.Fatalf("%d alerts after the gap, want 1", len(got))
	}
	// a sample with no model verdict is none; with no model named the
	// class is its number
	got = nil
	send(tcpSeg{src: "203.0.113.9", dst: s, sport: 40005, dport: 23, flags: "S", seq: 100}, testrec.Header{Flags: bpf.SampleNewFlow, FlowPackets: 1})
	p.SetKernelModel(nil)
	send(tcpSeg{src: "203.0.113.10", dst: s, sport: 40006, dport: 23, flags: "S", seq: 100}, model)
	if len(got) != 1 || got[0].Metadata["class"] != "class 2" || got[0].Metadata["threshold"] != "" {
		t.Fatalf("alerts %+v, want one with class 2 and no threshold", got)
	}
}

// TestSourceGateBounded: the gate forgets sources whose gap is over when
// full, and starts again when every remembered one is within it.
func TestSourceGateBounded(t *testing.T) {
	var g sourceGate
	addr := func(i int) [4]byte { return [4]byte{198, 18, byte(i >> 8), byte(i)} }
	for i := range sourceGateCap + 10 {
		a := netip.AddrFrom4(addr(i))
		if !g.allow(a, int64(i), 60e9) {
			t.Fatalf("source %d gated on its first alert", i)
		}
	}
	if len(g.last) > sourceGateCap {
		t.Fatalf("gate holds %d sources, cap %d", len(g.last), sourceGateCap)
	}
	a := netip.AddrFrom4(addr(sourceGateCap + 9))
	if g.allow(a, sourceGateCap+20, 60e9) {
		t.Error("a source alerted twice within the gap")
	}
}
