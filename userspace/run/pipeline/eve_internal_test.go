package pipeline

import (
	"fmt"
	"testing"

	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/output/eve"
)

// Decode errors are anomaly events named as Suricata names them, with the
// packet's pcap_cnt, at most AnomalyRate a second of packet time; the rest
// are counted.
func TestAnomalyEvents(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Workers, cfg.AnomalyRate = 1, 2
	p := New(cfg, nil)
	var got []string
	var cnts []uint64
	p.OnAnomaly = func(a *eve.Anomaly) {
		got = append(got, a.Type+" "+a.Event)
		cnts = append(cnts, a.P.PcapCnt)
	}
	w := p.Worker(0)
	good := tcpSeg{src: "192.0.2.1", dst: "198.51.100.2", sport: 1000, dport: 80, flags: "S", seq: 1}.frame(t)
	cut := good[:14+20+8] // the TCP header cut
	const t0 = 1_700_000_000_000_000_000
	for i, ts := range []uint64{t0, t0 + 1, t0 + 2, t0 + 3, t0 + 1e9} {
		w.PcapCnt = uint64(i + 1)
		w.Process(rawRecord(cut, ts, 0))
	}
	w.PcapCnt = 6
	w.Process(rawRecord(good[:10], t0+1e9+1, 0)) // not even Ethernet
	// Two in the first second (of four), both in the next.
	want := "[decode decoder.tcp.pkt_too_small decode decoder.tcp.pkt_too_small decode decoder.tcp.pkt_too_small decode decoder.ethernet.pkt_too_small]"
	if fmt.Sprint(got) != want {
		t.Fatalf("anomalies %v, want %v", got, want)
	}
	if fmt.Sprint(cnts) != "[1 2 5 6]" {
		t.Errorf("pcap_cnt %v, want [1 2 5 6]", cnts)
	}
	p.Flush()
	if st := p.Stats(); st.Anomalies != 4 || st.AnomaliesSuppressed != 2 || st.Truncated != 6 || st.Decoded.Invalid != 6 {
		t.Errorf("stats: anomalies %d suppressed %d truncated %d invalid %d", st.Anomalies, st.AnomaliesSuppressed, st.Truncated, st.Decoded.Invalid)
	}
	if e := decodeEvent(&w.pkt, good[:10]); e != "decoder.ethernet.pkt_too_small" {
		t.Errorf("short frame: %s", e)
	}
}

// Every flow that leaves a worker's table is handed to OnFlowEnd with why.
func TestFlowEndEvents(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Workers = 1
	p := New(cfg, nil)
	var ended []*flows.Flow
	p.OnFlowEnd = func(f *flows.Flow) { c := *f; ended = append(ended, &c) }
	w := p.Worker(0)
	const t0 = 1_700_000_000_000_000_000
	w.Process(rawRecord(tcpSeg{src: "192.0.2.1", dst: "198.51.100.2", sport: 1000, dport: 80, flags: "S", seq: 1}.frame(t), t0, 0))
	w.Process(rawRecord(tcpSeg{src: "192.0.2.1", dst: "198.51.100.2", sport: 1001, dport: 80, flags: "S", seq: 1}.frame(t), t0+1, 0))
	// 31 s later: both unanswered SYNs time out (30 s) when this packet
	// runs the expiry; it stays open until the end.
	w.Process(rawRecord(tcpSeg{src: "192.0.2.1", dst: "198.51.100.2", sport: 1002, dport: 80, flags: "S", seq: 1}.frame(t), t0+31e9, 0))
	p.EndFlows()
	if len(ended) != 3 {
		t.Fatalf("%d flows ended, want 3", len(ended))
	}
	for i, want := range []flows.EndReason{flows.EndTimeout, flows.EndTimeout, flows.EndShutdown} {
		if ended[i].EndReason != want || ended[i].ID == 0 || ended[i].ID > flows.FlowIDMask {
			t.Errorf("flow %d: %v id %d, want %v", i, ended[i].EndReason, ended[i].ID, want)
		}
	}
	if ended[2].EndNs != t0+31e9 {
		t.Errorf("shutdown at %d, want the last packet's time", ended[2].EndNs)
	}
	p.Flush()
	st := p.Stats()
	if st.FlowsByProto.TCP != 3 || st.Decoded.Syn != 3 || st.Decoded.TCP != 3 || st.Decoded.IPv4 != 3 {
		t.Errorf("stats %+v", st.Decoded)
	}
}

// The event hooks cost the per-packet path no allocation. (A packet that
// fails to decode allocates in decode's error, as before; the anomaly it
// reports allocates only in the sink.)
func TestProcessAllocsWithEvents(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Workers, cfg.AnomalyRate = 1, 100
	p := New(cfg, nil)
	p.OnFlowEnd = func(*flows.Flow) {}
	p.OnAnomaly = func(*eve.Anomaly) {}
	w := p.Worker(0)
	const t0 = 1_700_000_000_000_000_000
	syn := rawRecord(tcpSeg{src: "192.0.2.1", dst: "198.51.100.2", sport: 1000, dport: 80, flags: "S", seq: 1}.frame(t), t0, 0)
	ack := tcpSeg{src: "192.0.2.1", dst: "198.51.100.2", sport: 1000, dport: 80, flags: "A", seq: 2, ack: 1}.frame(t)
	w.Process(syn)
	recs := make([][]byte, 100)
	for i := range recs {
		recs[i] = rawRecord(ack, t0+uint64(i+1)*1e6, 0)
	}
	i := 0
	if n := testing.AllocsPerRun(90, func() {
		w.PcapCnt = uint64(i)
		w.Process(recs[i])
		i++
	}); n != 0 {
		t.Errorf("%v allocations per packet, want 0", n)
	}
}
