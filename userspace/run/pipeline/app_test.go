package pipeline

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/userspace/capture/samples"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/output/eve"
)

// TestAppLayerHTTP: an HTTP connection on a port no rule names is
// detected by content; the request rule fires once per transaction with
// its http record; every transaction is logged; the flow says
// app_proto http.
func TestAppLayerHTTP(t *testing.T) {
	const c, s = "203.0.113.7", "198.51.100.10"
	res := loadRules(t, false, `alert http any any -> any any (msg:"evil uri"; flow:established,to_server; http.uri; content:"/evil"; startswith; sid:1;)
alert http any any -> any any (msg:"bad status"; http.stat_code; content:"404"; file_data; content:"gone"; sid:2;)
alert tcp any any -> any any (msg:"raw"; content:"NEVERSEEN"; sid:3;)
`)
	var alerts []*alert.Alert
	p := New(testConfig(), func(a *alert.Alert) { alerts = append(alerts, a) })
	var events []string
	p.OnApp = func(ev *eve.AppEvent) {
		b, _ := json.Marshal(ev.Record)
		events = append(events, ev.Proto+" "+string(b))
	}
	p.SetRules(res.Engine)
	w := p.Worker(0)
	ts := uint64(1e9)
	send := func(seg tcpSeg) {
		ts += 1e6
		if !w.Process(rawRecord(seg.frame(t), ts, 0)) {
			t.Fatal("record rejected")
		}
	}
	send(tcpSeg{src: c, dst: s, sport: 40000, dport: 8081, flags: "S", seq: 100})
	send(tcpSeg{src: s, dst: c, sport: 8081, dport: 40000, flags: "SA", seq: 500, ack: 101})
	send(tcpSeg{src: c, dst: s, sport: 40000, dport: 8081, flags: "A", seq: 101, ack: 501})
	cseq, sseq := uint32(101), uint32(501)
	for _, x := range []struct{ uri, resp string }{
		{"/evil.php", "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\ngone"},
		{"/fine", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"},
	} {
		req := "GET " + x.uri + " HTTP/1.1\r\nHost: example.net\r\n\r\n"
		send(tcpSeg{src: c, dst: s, sport: 40000, dport: 8081, flags: "PA", seq: cseq, ack: sseq, payload: req})
		cseq += uint32(len(req))
		send(tcpSeg{src: s, dst: c, sport: 8081, dport: 40000, flags: "PA", seq: sseq, ack: cseq, payload: x.resp})
		sseq += uint32(len(x.resp))
		send(tcpSeg{src: c, dst: s, sport: 40000, dport: 8081, flags: "A", seq: cseq, ack: sseq})
	}
	var sids []string
	for _, a := range alerts {
		raw, _ := a.App.(json.RawMessage)
		sids = append(sids, fmt.Sprintf("%d %s %s", a.SID, a.AppProto, raw))
	}
	got := strings.Join(sids, "\n")
	for _, want := range []string{`1 http {"hostname":"example.net","url":"/evil.php","http_method":"GET","protocol":"HTTP/1.1"`, `2 http {`} {
		if !strings.Contains(got, want) {
			t.Errorf("alerts:\n%s\nwant one starting %s", got, want)
		}
	}
	if len(alerts) != 2 {
		t.Errorf("%d alerts, want 2 (one per rule and transaction):\n%s", len(alerts), got)
	}
	if len(events) != 2 || !strings.Contains(events[0], `"url":"/evil.php"`) || !strings.Contains(events[1], `"status":200`) {
		t.Errorf("app events %q", events)
	}
	// steady state: more requests on the connection allocate nothing
	// but what EVE encodes (OnApp unset here)
	p.OnApp = nil
	req := []byte("GET /fine HTTP/1.1\r\nHost: example.net\r\n\r\n")
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	rq := rawRecord(tcpSeg{src: c, dst: s, sport: 40000, dport: 8081, flags: "PA", seq: cseq, ack: sseq, payload: string(req)}.frame(t), ts, 0)
	rs := rawRecord(tcpSeg{src: s, dst: c, sport: 8081, dport: 40000, flags: "PA", seq: sseq, ack: cseq, payload: string(resp)}.frame(t), ts, 0)
	seqAt := samples.HeaderLen + 14 + 20 + 4
	step := func() {
		ts += 1e6
		binary.NativeEndian.PutUint64(rq[0:], ts)
		binary.BigEndian.PutUint32(rq[seqAt:], cseq)
		binary.BigEndian.PutUint32(rq[seqAt+4:], sseq)
		w.Process(rq)
		cseq += uint32(len(req))
		ts += 1e6
		binary.NativeEndian.PutUint64(rs[0:], ts)
		binary.BigEndian.PutUint32(rs[seqAt:], sseq)
		binary.BigEndian.PutUint32(rs[seqAt+4:], cseq)
		w.Process(rs)
		sseq += uint32(len(resp))
	}
	for range 50 {
		step()
	}
	n0, tx0 := len(alerts), res.Engine.Stats().Transactions
	if n := testing.AllocsPerRun(100, step); n != 0 && !testenv.Race {
		t.Errorf("%.1f allocations per HTTP transaction, want 0", n)
	}
	if tx := res.Engine.Stats().Transactions - tx0; tx < 400 {
		t.Errorf("%d transaction points matched in 101 transactions, want 4 each", tx)
	}
	if len(alerts) != n0 {
		t.Errorf("%d alerts on /fine", len(alerts)-n0)
	}
	p.EndFlows()
}
