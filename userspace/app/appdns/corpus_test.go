package appdns

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/xdpids/xdpids/internal/testenv"
)

// capMsg is one DNS message read from a capture.
type capMsg struct {
	pcapCnt  int  // 1-based packet number, as EVE pcap_cnt
	toServer bool // towards port 53
	m        *Message
	err      error
}

// packetSource opens a pcap or pcapng capture.
func packetSource(t *testing.T, path string) (interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}, layers.LinkType) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if strings.HasSuffix(path, ".pcapng") {
		r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		return r, r.LinkType()
	}
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	return r, r.LinkType()
}

// dnsMessages reads every DNS message of a capture: UDP datagrams to or
// from port 53 one each, each TCP connection on port 53 framed by its own
// TCPConn (in-order payload per direction; retransmissions dropped by
// sequence number).
func dnsMessages(t *testing.T, path string) []capMsg {
	t.Helper()
	r, lt := packetSource(t, path)
	type tcpState struct {
		conn    TCPConn
		next    map[bool]uint32
		started map[bool]bool
	}
	conns := map[string]*tcpState{}
	var out []capMsg
	for n := 1; ; n++ {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pkt := gopacket.NewPacket(data, lt, gopacket.NoCopy)
		if u, ok := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP); ok && (u.DstPort == 53 || u.SrcPort == 53) {
			m := new(Message)
			err := m.Parse(u.Payload)
			out = append(out, capMsg{n, u.DstPort == 53, m, err})
			continue
		}
		tcp, ok := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if !ok || (tcp.DstPort != 53 && tcp.SrcPort != 53) {
			continue
		}
		dir := tcp.DstPort == 53
		src, dst := pkt.NetworkLayer().NetworkFlow().Endpoints()
		key := fmt.Sprintf("%v:%d", src, tcp.SrcPort)
		if !dir {
			key = fmt.Sprintf("%v:%d", dst, tcp.DstPort)
		}
		st := conns[key]
		if st == nil {
			st = &tcpState{next: map[bool]uint32{}, started: map[bool]bool{}}
			conns[key] = st
		}
		if tcp.SYN {
			st.next[dir], st.started[dir] = tcp.Seq+1, true
			continue
		}
		if !st.started[dir] {
			st.next[dir], st.started[dir] = tcp.Seq, true
		}
		p := tcp.Payload
		if d := int32(st.next[dir] - tcp.Seq); d > 0 {
			if int(d) >= len(p) {
				continue
			}
			p = p[d:]
		} else if d < 0 {
			continue
		}
		st.next[dir] += uint32(len(p))
		st.conn.Feed(dir, p, func(m *Message, toServer bool) {
			var err error
			if m.Events&MalformedData != 0 {
				err = ErrMalformed
			}
			c := cloneMessage(m) // m is reused by the next message
			out = append(out, capMsg{n, toServer, &c, err})
		})
	}
	return out
}

// cloneMessage deep-copies the parts tests look at.
func cloneMessage(m *Message) Message {
	c := *m
	c.Queries = append([]Question(nil), m.Queries...)
	for i := range c.Queries {
		c.Queries[i].Name = append([]byte(nil), c.Queries[i].Name...)
	}
	c.Answers = append([]RR(nil), m.Answers...)
	for i := range c.Answers {
		c.Answers[i].Name = append([]byte(nil), c.Answers[i].Name...)
		c.Answers[i].Data = append([]byte(nil), c.Answers[i].Data...)
	}
	c.Authorities, c.Additionals, c.arena, c.spans = nil, nil, nil, nil
	return c
}

// instances returns every instance of a multi-buffer.
func instances(m *Message, b Buf) [][]byte {
	var out [][]byte
	for i := 0; ; i++ {
		v, ok := m.Buffer(b, i)
		if !ok {
			return out
		}
		out = append(out, v)
	}
}

// anyInstance reports whether some instance of b satisfies f.
func anyInstance(m *Message, b Buf, f func([]byte) bool) bool {
	for _, v := range instances(m, b) {
		if f(v) {
			return true
		}
	}
	return false
}

func containsFold(b []byte, s string) bool {
	return strings.Contains(strings.ToLower(string(b)), strings.ToLower(s))
}

// TestCorpusRules evaluates, on the suricata-verify DNS captures, the
// buffer and integer conditions of their rules as the detection engine will
// (per message, multi-buffers any instance) and compares with the alert
// counts their test.yaml expects.
func TestCorpusRules(t *testing.T) {
	dir := testenv.Corpus(t, "suricata-verify-app")
	type rule struct {
		name  string
		match func(c capMsg) bool
		want  int
		where []int // pcap_cnt of the alerts, when test.yaml says
	}
	rrtype := func(v uint16, idx string) func(c capMsg) bool {
		return func(c capMsg) bool {
			if c.toServer {
				return false // flow:to_client
			}
			var ts []uint16
			for i := 0; ; i++ {
				x, ok := c.m.RRTypes(i)
				if !ok {
					break
				}
				ts = append(ts, x)
			}
			if len(ts) == 0 {
				return false
			}
			switch idx {
			case "0":
				return ts[0] == v
			case "-1":
				return ts[len(ts)-1] == v
			}
			for _, x := range ts { // all
				if x != v {
					return false
				}
			}
			return true
		}
	}
	for _, tc := range []struct {
		pcap  string
		rules []rule
	}{
		{"dns__dns-forward-pointer/input.pcap", []rule{
			{"dns.queries.rrname; content:codemonkey.net", func(c capMsg) bool {
				return c.toServer && anyInstance(c.m, QueriesRRName, func(b []byte) bool { return bytes.Contains(b, []byte("codemonkey.net")) })
			}, 1, []int{1}},
		}},
		{"dns-opcode/dns-notify.pcap", []rule{
			{"dns.opcode:4; flow:to_server", func(c capMsg) bool { return c.toServer && c.m.OpcodeValue() == 4 }, 1, nil},
			{"dns.opcode:!0; flow:to_server", func(c capMsg) bool { return c.toServer && c.m.OpcodeValue() != 0 }, 1, nil},
		}},
		{"dns__dns-query__dns-detect-query-01/input.pcap", []rule{
			{"dns_query; content:google; nocase", func(c capMsg) bool {
				return anyInstance(c.m, Query, func(b []byte) bool { return containsFold(b, "google") })
			}, 1, nil},
		}},
		{"dns__dns-query__dns-detect-query-02/input.pcap", []rule{
			{"dns_query; content:google.com; nocase", func(c capMsg) bool {
				return anyInstance(c.m, Query, func(b []byte) bool { return containsFold(b, "google.com") })
			}, 1, []int{1}},
			{"dns_query; content:google.net; nocase", func(c capMsg) bool {
				return anyInstance(c.m, Query, func(b []byte) bool { return containsFold(b, "google.net") })
			}, 1, []int{3}},
		}},
		{"dns__dns-query__dns-detect-query-04/input.pcap", []rule{
			{"dns_query; pcre:/google\\.com$/i", func(c capMsg) bool {
				return anyInstance(c.m, Query, func(b []byte) bool { return regexp.MustCompile(`(?i)google\.com$`).Match(b) })
			}, 1, nil},
			{"dns_query; content:google; pcre:/^\\.[a-z]{2,3}$/iR", func(c capMsg) bool {
				return anyInstance(c.m, Query, func(b []byte) bool {
					i := strings.Index(strings.ToLower(string(b)), "google")
					return i >= 0 && regexp.MustCompile(`(?i)^\.[a-z]{2,3}$`).Match(b[i+6:])
				})
			}, 1, nil},
		}},
		{"issues__issue-4759/tcpdns.pcap", []rule{
			{"dns.query; content:.com (over TCP)", func(c capMsg) bool {
				return anyInstance(c.m, Query, func(b []byte) bool { return bytes.Contains(b, []byte(".com")) })
			}, 2, nil}, // the google.com and aol.com requests: test.yaml's 2 alerts (its tls rule has no TLS to match)
		}},
		{"test-bsize-values-2/input.pcap", []rule{
			{"dns.query; content:google.com; bsize:10", func(c capMsg) bool {
				return anyInstance(c.m, Query, func(b []byte) bool { return bytes.Contains(b, []byte("google.com")) && len(b) == 10 })
			}, 1, nil},
			{"bsize:<25", func(c capMsg) bool {
				return anyInstance(c.m, Query, func(b []byte) bool { return bytes.Contains(b, []byte("google.com")) && len(b) < 25 })
			}, 1, nil},
		}},
		{"dns__dns-rrtype-index/input.pcap", []rule{
			{"dns.rrtype:1,0; flow:to_client", rrtype(1, "0"), 3, nil},
			{"dns.rrtype:1,all; flow:to_client", rrtype(1, "all"), 3, nil},
			{"dns.rrtype:1,-1; flow:to_client", rrtype(1, "-1"), 4, nil},
		}},
	} {
		p := filepath.Join(dir, tc.pcap)
		if _, err := os.Stat(p); err != nil {
			t.Logf("skip %s: %v", tc.pcap, err)
			continue
		}
		msgs := dnsMessages(t, p)
		for _, c := range msgs {
			if c.err != nil {
				t.Errorf("%s #%d: %v", tc.pcap, c.pcapCnt, c.err)
			}
		}
		for _, r := range tc.rules {
			var at []int
			for _, c := range msgs {
				if r.match(c) {
					at = append(at, c.pcapCnt)
				}
			}
			if len(at) != r.want || (r.where != nil && !slices.Equal(at, r.where)) {
				t.Errorf("%s: %s: alerts at %v, want %d at %v", tc.pcap, r.name, at, r.want, r.where)
			}
		}
	}
}

// TestCorpusRecords checks the EVE dns records test.yaml expects of the
// dns-forward-pointer capture, and that issue-4759's TCP capture gives its
// 4 dns records.
func TestCorpusRecords(t *testing.T) {
	dir := testenv.Corpus(t, "suricata-verify-app")
	msgs := dnsMessages(t, filepath.Join(dir, "dns__dns-forward-pointer", "input.pcap"))
	if len(msgs) != 2 {
		t.Fatalf("%d messages", len(msgs))
	}
	var r Record
	msgs[0].m.Record(&r)
	if r.ID != 36356 || r.Type != "request" || len(r.Queries) != 2 || r.Queries[1] != (RecordQuery{"codemonkey.net", "A"}) {
		t.Errorf("request %+v", r)
	}
	msgs[1].m.Record(&r)
	if r.Type != "response" || len(r.Answers) != 1 || r.Answers[0].RData != "152.53.82.239" || r.Answers[0].TTL != 300 ||
		r.Answers[0].RRName != "codemonkey.net" || r.Answers[0].RRType != "A" || r.Queries[0].RRName != "codemonkey.net" {
		t.Errorf("response %+v", r)
	}
	if n := len(dnsMessages(t, filepath.Join(dir, "issues__issue-4759", "tcpdns.pcap"))); n != 4 {
		t.Errorf("issue-4759: %d dns messages over TCP, want 4", n)
	}
}

// TestCorpusAXFR: a zone transfer over TCP from the attack captures (the
// length prefix in a segment of its own, a multi-record answer): every
// message frames and parses.
func TestCorpusAXFR(t *testing.T) {
	p := filepath.Join(testenv.Corpus(t, "attack-pcaps"), "exploits", "dns_axfr.pcapng")
	if _, err := os.Stat(p); err != nil {
		t.Skip(err)
	}
	msgs := dnsMessages(t, p)
	var axfr, answers int
	for _, c := range msgs {
		if c.err != nil {
			t.Errorf("#%d: %v (events %b)", c.pcapCnt, c.err, c.m.Events)
		}
		for _, q := range c.m.Queries {
			if q.Type == 252 && !c.m.Response {
				axfr++
			}
		}
		if c.m.Response {
			answers += len(c.m.Answers)
		}
	}
	t.Logf("%d messages, %d AXFR requests, %d answer records", len(msgs), axfr, answers)
	if axfr == 0 || answers == 0 {
		t.Errorf("no AXFR request or answers: %d, %d", axfr, answers)
	}
}
