package appdns

import (
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/net/dns/dnsmessage"

	"github.com/xdpids/xdpids/internal/testenv"
)

// TestSchema validates dns events and alerts carrying records of every
// kind this package writes: the table messages and the corpus captures.
func TestSchema(t *testing.T) {
	sch := testenv.EVESchema(t)
	var msgs [][]byte
	msgs = append(msgs, query(t), response(t))
	msgs = append(msgs, build(t, dnsmessage.Header{ID: 7, Response: true, Truncated: true, RCode: dnsmessage.RCodeNameError},
		[]dnsmessage.Question{{Name: mustName("_sip._tcp.example.org."), Type: dnsmessage.TypeSRV, Class: dnsmessage.ClassINET}},
		[]dnsmessage.Resource{
			rr("_sip._tcp.example.org.", 60, &dnsmessage.SRVResource{Priority: 10, Weight: 20, Port: 5060, Target: mustName("sip.example.org.")}),
			rr("example.org.", 60, &dnsmessage.TXTResource{TXT: []string{"\xff\x00bin"}}),
			rr("example.org.", 60, &dnsmessage.SOAResource{NS: mustName("ns.example.org."), MBox: mustName("h.example.org.")}),
		}, nil, nil))
	if dir := testenv.CorpusDir("suricata-verify-app"); dir != "" {
		for _, p := range []string{"dns__dns-forward-pointer/input.pcap", "dns-opcode/dns-notify.pcap", "issues__issue-4759/tcpdns.pcap", "dns__dns-rrtype-index/input.pcap"} {
			for _, c := range dnsMessages(t, filepath.Join(dir, p)) {
				var r Record
				c.m.Record(&r)
				validate(t, sch, p, &r)
			}
		}
	}
	for i, b := range msgs {
		var m Message
		if err := m.Parse(b); err != nil {
			t.Fatal(err)
		}
		var r Record
		m.Record(&r)
		validate(t, sch, "table "+string(rune('0'+i)), &r)
	}
}

func validate(t *testing.T, sch *jsonschema.Schema, name string, r *Record) {
	t.Helper()
	for _, ev := range []string{"dns", "alert"} {
		e := map[string]any{
			"timestamp": "2026-12-01T21:00:00.000000+0000", "event_type": ev, "src_ip": "192.0.2.1", "src_port": 53,
			"dest_ip": "198.51.100.2", "dest_port": 40000, "proto": "UDP", "app_proto": "dns", "dns": r,
		}
		if ev == "alert" {
			e["alert"] = map[string]any{"action": "allowed", "gid": 1, "signature_id": 1, "rev": 1, "signature": "t", "category": "", "severity": 3}
		}
		if b, err := testenv.ValidateEVE(t, sch, e); err != nil {
			t.Errorf("%s %s: %v\n%s", name, ev, err, b)
		}
	}
}
