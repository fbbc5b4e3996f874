package signature

import (
	"fmt"
	"slices"
	"testing"

	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/signature/rules"
)

const (
	cli = "192.168.1.10"
	srv = "198.51.100.10"
)

func req(payload string) pkt {
	return pkt{src: cli, dst: srv, sport: 40000, dport: 80, flags: "PA", seq: 101, ack: 501, payload: payload}
}

func resp(payload string) pkt {
	return pkt{src: srv, dst: cli, sport: 80, dport: 40000, flags: "PA", seq: 501, ack: 101, payload: payload}
}

// step is one packet and the sids it must raise (in any order).
type step struct {
	p    pkt
	want []uint32
}

func runSteps(t *testing.T, name, text string, handshake bool, steps ...step) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		h := newHarness(t, text, Options{})
		if handshake {
			h.handshake(cli, srv, 40000, 80)
		}
		for i, st := range steps {
			got := h.send(frame(t, st.p))
			slices.Sort(got)
			want := slices.Clone(st.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("packet %d (%q): alerts %v, want %v", i, st.p.payload, got, want)
			}
		}
	})
}

func TestContentKeywords(t *testing.T) {
	runSteps(t, "content and nocase", `alert tcp any any -> any any (content:"Admin"; sid:1;)
alert tcp any any -> any any (content:"admin"; nocase; sid:2;)`, false,
		step{req("x Admin y"), []uint32{1, 2}}, step{req("x ADMIN y"), []uint32{2}}, step{req("nothing"), nil})
	runSteps(t, "hex and escapes", `alert tcp any any -> any any (content:"|00 01|a|3b|\"\;"; sid:1;)`, false,
		step{req("\x00\x01a;\";"), []uint32{1}}, step{req("\x00\x01a;"), nil})
	runSteps(t, "depth and offset", `alert tcp any any -> any any (content:"GET"; depth:3; sid:1;)
alert tcp any any -> any any (content:"abc"; offset:2; depth:3; sid:2;)`, false,
		step{req("GET /"), []uint32{1}}, step{req(" GET /"), nil}, step{req("xxabc"), []uint32{2}}, step{req("xabcx"), nil}, step{req("xxxabc"), nil})
	runSteps(t, "distance and within with backtracking", `alert tcp any any -> any any (content:"a="; content:"X"; distance:1; within:2; sid:1;)`, false,
		step{req("a=1 a=0X"), []uint32{1}}, step{req("a=X"), nil}, step{req("a=...X"), nil}, step{req("a=..X"), []uint32{1}})
	runSteps(t, "negated content", `alert tcp any any -> any any (content:"user"; content:!"admin"; distance:0; within:10; sid:1;)`, false,
		step{req("user=bob"), []uint32{1}}, step{req("user=admin"), nil})
	runSteps(t, "startswith endswith", `alert tcp any any -> any any (content:"HEAD"; startswith; sid:1;)
alert tcp any any -> any any (content:"|0d 0a 0d 0a|"; endswith; sid:2;)`, false,
		step{req("HEAD / HTTP/1.0\r\n\r\n"), []uint32{1, 2}}, step{req(" HEAD / \r\n\r\nx"), nil})
	runSteps(t, "fast_pattern only and chop", `alert tcp any any -> any any (content:"needle"; fast_pattern:only; sid:1;)
alert tcp any any -> any any (content:"haystack"; fast_pattern:3,4; sid:2;)`, false,
		step{req("a needle in a haystack"), []uint32{1, 2}}, step{req("a stack"), nil})
	runSteps(t, "isdataat", `alert tcp any any -> any any (content:"LEN"; isdataat:4,relative; sid:1;)
alert tcp any any -> any any (content:"LEN"; isdataat:!10; sid:2;)`, false,
		step{req("LEN1234"), []uint32{1, 2}}, step{req("LEN12"), []uint32{2}}, step{req("LEN12345678"), []uint32{1}})
	runSteps(t, "bsize and dsize", `alert tcp any any -> any any (content:"ab"; bsize:<5; sid:1;)
alert tcp any any -> any any (dsize:10<>20; sid:2;)`, false,
		step{req("abcd"), []uint32{1}}, step{req("ab_456789012"), []uint32{2}}, step{req(""), nil})
}

func TestPCREKeyword(t *testing.T) {
	runSteps(t, "flags and relative", `alert tcp any any -> any any (pcre:"/^get \/[a-z]+/i"; sid:1;)
alert tcp any any -> any any (content:"id="; pcre:"/^[0-9]+&/R"; sid:2;)
alert tcp any any -> any any (content:"x"; pcre:!"/evil/"; sid:3;)
alert tcp any any -> any any (pcre:"/a b  c/x"; sid:4;)`, false,
		step{req("GET /index?id=12&x"), []uint32{1, 2, 3}}, step{req("id=a1& x evil"), nil}, step{req("abc"), []uint32{4}})
	runSteps(t, "bytes above 0x7f", `alert tcp any any -> any any (pcre:"/\xff\x00.\xe0/s"; sid:1;)`, false,
		step{req("\xff\x00\x80\xe0"), []uint32{1}}, step{req("\xc3\xbf\x00a\xe0"), nil})
	runSteps(t, "backtracking fallback", `alert tcp any any -> any any (pcre:"/(ab)x\1/"; sid:1;)
alert tcp any any -> any any (content:"k="; pcre:"/^(?!admin)[a-z]++;/R"; sid:2;)
alert tcp any any -> any any (pcre:"/(?P<q>[\x22\x27])v(?P=q)\xff/"; sid:3;)`, false,
		step{req("abxab k=bob;"), []uint32{1, 2}}, step{req("abxaa k=admin;"), nil}, step{req("'v'\xff"), []uint32{3}}, step{req("'v\"\xff"), nil})
	for _, bad := range []string{`/(?R)/`, `/(*UTF)a/`} {
		_, sk := rules.Parse(`alert tcp any any -> any any (pcre:"`+bad+`"; sid:9;)`, "t.rules", rules.Vars{})
		if len(sk) != 1 || sk[0].SID != 9 {
			t.Errorf("pcre %s: skipped %v, want reported", bad, sk)
		}
	}
}

func TestByteKeywords(t *testing.T) {
	runSteps(t, "byte_test", `alert tcp any any -> any any (content:"L"; byte_test:2,>,0x100,0,relative; sid:1;)
alert tcp any any -> any any (content:"N="; byte_test:3,=,123,0,relative,string,dec; sid:2;)
alert tcp any any -> any any (content:"B"; byte_test:1,&,0x80,0,relative; sid:3;)
alert tcp any any -> any any (content:"M"; byte_test:2,=,0x12,0,relative,little,bitmask 0x00ff; sid:4;)`, false,
		step{req("L\x01\x01"), []uint32{1}}, step{req("N=123"), []uint32{2}}, step{req("B\x81"), []uint32{3}}, step{req("M\x12\x34"), []uint32{4}})
	runSteps(t, "byte_jump", `alert tcp any any -> any any (content:"J"; byte_jump:1,0,relative; content:"X"; within:1; sid:1;)
alert tcp any any -> any any (content:"K"; byte_jump:1,0,relative,multiplier 2,post_offset -1; content:"Y"; within:1; sid:2;)`, false,
		step{req("J\x02..X"), []uint32{1}}, step{req("J\x02.X"), nil}, step{req("K\x02...Y"), []uint32{2}})
	runSteps(t, "byte_extract and byte_math", `alert tcp any any -> any any (content:"E"; byte_extract:1,0,n,relative; content:"Z"; distance:n; within:1; sid:1;)
alert tcp any any -> any any (content:"F"; byte_math:bytes 1, offset 0, oper +, rvalue 1, result s, relative; byte_test:1,=,s,1,relative; sid:2;)`, false,
		step{req("E\x03abcZ"), []uint32{1}}, step{req("E\x03abZ"), nil}, step{req("F\x04\x05"), []uint32{2}}, step{req("F\x04\x04"), nil})
}

func TestHeaderKeywords(t *testing.T) {
	runSteps(t, "flags", `alert tcp any any -> any any (flags:S; sid:1;)
alert tcp any any -> any any (flags:S+; sid:2;)
alert tcp any any -> any any (flags:*FR; sid:3;)
alert tcp any any -> any any (flags:!A; sid:4;)
alert tcp any any -> any any (flags:0; sid:5;)`, false,
		step{pkt{src: cli, dst: srv, sport: 1, dport: 2, flags: "S"}, []uint32{1, 2, 4}},
		step{pkt{src: cli, dst: srv, sport: 1, dport: 3, flags: "SA"}, []uint32{2}},
		step{pkt{src: cli, dst: srv, sport: 1, dport: 4, flags: "F"}, []uint32{3, 4}},
		step{pkt{src: cli, dst: srv, sport: 1, dport: 5, flags: ""}, []uint32{4, 5}})
	runSteps(t, "tcp numbers", `alert tcp any any -> any any (seq:1000; sid:1;)
alert tcp any any -> any any (ack:77; sid:2;)
alert tcp any any -> any any (window:1024; sid:3;)`, false,
		step{pkt{src: cli, dst: srv, sport: 1, dport: 2, flags: "S", seq: 1000, win: 1024}, []uint32{1, 3}},
		step{pkt{src: cli, dst: srv, sport: 1, dport: 3, flags: "A", ack: 77}, []uint32{2}})
	runSteps(t, "ip", `alert ip any any -> any any (ttl:<5; sid:1;)
alert ip any any -> any any (ip_proto:17; sid:2;)
alert ip any any -> any any (id:1; sid:3;)
alert ip any any -> any any (sameip; sid:4;)
alert ip any any -> any any (tos:0; sid:5;)
alert ip any any -> any any (fragbits:!M; sid:6;)
alert ip any any -> any any (ipopts:any; sid:7;)`, false,
		step{pkt{src: cli, dst: srv, proto: 17, sport: 1, dport: 2, ttl: 3}, []uint32{1, 2, 3, 5, 6}},
		step{pkt{src: cli, dst: cli, proto: 17, sport: 1, dport: 2, ttl: 64}, []uint32{2, 3, 4, 5, 6}})
	runSteps(t, "icmp", `alert icmp any any -> any any (itype:8; icode:0; sid:1;)
alert icmp any any -> any any (icmp_id:77; icmp_seq:3; sid:2;)
alert icmp any any -> any any (itype:>10; sid:3;)`, false,
		step{pkt{src: cli, dst: srv, proto: 1, icmpType: 8, icmpID: 77, icmpSeq: 3}, []uint32{1, 2}},
		step{pkt{src: cli, dst: srv, proto: 1, icmpType: 13}, []uint32{3}},
		step{pkt{src: "2001:db8::1", dst: "2001:db8::2", proto: 58, icmpType: 128}, []uint32{3}})
	runSteps(t, "header buffers and vlan", `alert tcp any any -> any any (tcp.hdr; content:"|00 50|"; offset:2; depth:2; sid:1;)
alert ip any any -> any any (ipv4.hdr; content:"|40 11|"; offset:8; depth:2; sid:2;)
alert ip any any -> any any (vlan.id:100; sid:3;)`, false,
		step{pkt{src: cli, dst: srv, sport: 1, dport: 80, flags: "S"}, []uint32{1}},
		step{pkt{src: cli, dst: srv, proto: 17, sport: 1, dport: 80, vlan: 100}, []uint32{2, 3}})
}

func TestHeaderAddressesAndPorts(t *testing.T) {
	runSteps(t, "vars lists negation ranges bidir", `alert tcp $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS (sid:1;)
alert tcp any [1024:,!40001] -> any any (sid:2;)
alert tcp 198.51.100.0/24 80 <> any any (sid:3;)
alert udp [10.0.0.0/8,!10.1.0.0/16] any -> any 53 (sid:4;)
alert ip 192.168.1.5-192.168.1.20 any -> any any (sid:5;)`, false,
		step{pkt{src: cli, dst: srv, sport: 40000, dport: 80, flags: "S"}, []uint32{1, 2, 3, 5}},
		step{pkt{src: srv, dst: cli, sport: 80, dport: 40001, flags: "SA"}, []uint32{3}},
		step{pkt{src: cli, dst: srv, sport: 40001, dport: 80, flags: "A"}, []uint32{1, 3, 5}},
		step{pkt{src: "10.2.0.1", dst: srv, proto: 17, sport: 5353, dport: 53}, []uint32{4}},
		step{pkt{src: "10.1.0.1", dst: srv, proto: 17, sport: 5353, dport: 53}, nil})
}

func TestFlowKeyword(t *testing.T) {
	text := `alert tcp any any -> any any (flow:to_server,established; content:"Q"; sid:1;)
alert tcp any any -> any any (flow:to_client; content:"R"; sid:2;)
alert tcp any any -> any any (flow:not_established; content:"Q"; sid:3;)
alert tcp any any -> any any (flow:stateless; content:"Q"; sid:4;)`
	runSteps(t, "established", text, true, step{req("Q"), []uint32{1, 4}}, step{resp("R"), []uint32{2}})
	runSteps(t, "midstream is not established", text, false, step{req("Q"), []uint32{3, 4}})
	h := newHarness(t, text, Options{Midstream: true})
	if got := h.send(frame(t, req("Q"))); !slices.Equal(got, []uint32{1, 4}) {
		t.Errorf("midstream option: %v, want [1 4]", got)
	}
}

func TestFlowbits(t *testing.T) {
	runSteps(t, "set isset unset toggle noalert or", `alert tcp any any -> any any (content:"login"; flowbits:set,auth; flowbits:noalert; sid:1;)
alert tcp any any -> any any (content:"cmd"; flowbits:isset,auth; sid:2;)
alert tcp any any -> any any (content:"cmd"; flowbits:isnotset,auth; sid:3;)
alert tcp any any -> any any (content:"logout"; flowbits:unset,auth; sid:4;)
alert tcp any any -> any any (content:"flip"; flowbits:toggle,f; sid:5;)
alert tcp any any -> any any (content:"chk"; flowbits:isset,auth|f; sid:6;)`, true,
		step{req("cmd"), []uint32{3}}, step{req("login"), nil}, step{req("cmd"), []uint32{2}},
		step{req("logout"), []uint32{4}}, step{req("cmd"), []uint32{3}}, step{req("chk"), nil},
		step{req("flip"), []uint32{5}}, step{req("chk"), []uint32{6}}, step{req("flip"), []uint32{5}}, step{req("chk"), nil})
	// FlowEnd forgets the flow's bits.
	h := newHarness(t, `alert tcp any any -> any any (content:"a"; flowbits:set,x; flowbits:noalert; sid:1;)
alert tcp any any -> any any (content:"b"; flowbits:isset,x; sid:2;)`, Options{})
	h.handshake(cli, srv, 40000, 80)
	h.send(frame(t, req("a")))
	h.eng.FlowEnd(h.lastFlow(t))
	if got := h.send(frame(t, req("b"))); len(got) != 0 {
		t.Errorf("after FlowEnd: %v", got)
	}
}

func TestThresholds(t *testing.T) {
	type tc struct {
		opt  string
		want int // alerts out of 10 matches within the window
	}
	for _, c := range []tc{
		{"threshold:type limit, track by_src, count 3, seconds 60;", 3},
		{"threshold:type threshold, track by_dst, count 3, seconds 60;", 3},
		{"threshold:type both, track by_both, count 3, seconds 60;", 1},
		{"threshold:type limit, track by_rule, count 1, seconds 60;", 1},
		{"detection_filter:track by_src, count 4, seconds 60;", 6},
	} {
		t.Run(c.opt, func(t *testing.T) {
			h := newHarness(t, `alert udp any any -> any any (content:"x"; `+c.opt+` sid:1;)`, Options{})
			n := 0
			for i := 0; i < 10; i++ {
				n += len(h.send(frame(t, pkt{src: cli, dst: srv, proto: 17, sport: 1, dport: 2, payload: "x"})))
			}
			if n != c.want {
				t.Errorf("%d alerts, want %d", n, c.want)
			}
			// a new window, by packet time
			h.ts += 61e9
			if got := h.send(frame(t, pkt{src: cli, dst: srv, proto: 17, sport: 1, dport: 2, payload: "x"})); c.want != 6 && len(got) != 1 && c.opt[10:15] == "limit" {
				t.Errorf("new window: %v", got)
			}
		})
	}
}

func TestActionsAndAlertFields(t *testing.T) {
	h := newHarness(t, `pass tcp any any -> any 22 (sid:1;)
drop tcp any any -> any any (content:"evil"; msg:"drop me"; classtype:attempted-admin; sid:2; rev:3;)
alert tcp any any -> any any (content:"evil"; target:dest_ip; priority:4; sid:3;)
alert tcp any any -> any any (content:"evil"; noalert; sid:4;)`, Options{})
	h.handshake(cli, srv, 40000, 80)
	got := h.send(frame(t, req("evil")))
	slices.Sort(got)
	if !slices.Equal(got, []uint32{2, 3}) {
		t.Fatalf("alerts %v, want [2 3]", got)
	}
	for _, a := range h.got {
		switch a.SID {
		case 2:
			if a.RuleAction != "drop" || a.Action != "" || a.Severity != 1 || a.Category != "Attempted Administrator Privilege Gain" || a.Rev != 3 || a.Signature != "drop me" {
				t.Errorf("drop alert %+v", a)
			}
		case 3:
			if a.Action != "allowed" || a.Severity != 4 || a.Subject.String() != cli || a.Community == "" || a.FlowID == 0 {
				t.Errorf("alert %+v", a)
			}
		}
	}
	// pass: nothing else on the flow alerts
	h.handshake(cli, srv, 40022, 22)
	p := req("evil")
	p.sport, p.dport = 40022, 22
	if got := h.send(frame(t, p)); len(got) != 0 {
		t.Errorf("passed flow alerted: %v", got)
	}
}

func TestIPOnlyOncePerDirection(t *testing.T) {
	runSteps(t, "ip-only", `alert tcp 192.168.0.0/16 any -> any any (sid:1;)`, false,
		step{pkt{src: cli, dst: srv, sport: 1, dport: 2, flags: "S"}, []uint32{1}},
		step{pkt{src: cli, dst: srv, sport: 1, dport: 2, flags: "A"}, nil},
		step{pkt{src: cli, dst: srv, sport: 3, dport: 2, flags: "S"}, []uint32{1}})
}

func TestEngineScalesByPrefilter(t *testing.T) {
	var text string
	for i := 1; i <= 2000; i++ {
		text += fmt.Sprintf("alert tcp any any -> any any (content:\"pattern-%04d\"; sid:%d;)\n", i, i)
	}
	h := newHarness(t, text, Options{})
	if got := h.send(frame(t, req("xx pattern-1234 yy"))); !slices.Equal(got, []uint32{1234}) {
		t.Fatalf("alerts %v", got)
	}
	if st := h.eng.Stats(); st.Candidates > 2 {
		t.Errorf("%d rules inspected for one packet, want the prefilter to leave 1", st.Candidates)
	}
}

func TestThresholdBackoff(t *testing.T) {
	for _, c := range []struct {
		count, mult int
		want        []int // the matches (1-based) that alert, out of 250
	}{
		{2, 10, []int{2, 20, 200}},
		{1, 10, []int{1, 10, 100}},
		{10, 2, []int{10, 20, 40, 80, 160}},
		{3, 1, []int{3}},
	} {
		t.Run(fmt.Sprintf("count %d multiplier %d", c.count, c.mult), func(t *testing.T) {
			h := newHarness(t, fmt.Sprintf(`alert udp any any -> any any (content:"x"; threshold: type backoff, track by_flow, count %d, multiplier %d; sid:1;)`, c.count, c.mult), Options{})
			var got []int
			for i := 1; i <= 250; i++ {
				if len(h.send(frame(t, pkt{src: cli, dst: srv, proto: 17, sport: 1, dport: 2, payload: "x"}))) > 0 {
					got = append(got, i)
				}
				if i == 150 {
					h.ts += 3600e9 // no time window: packet time does not reset it
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("alerts on matches %v, want %v", got, c.want)
			}
			// another flow counts on its own
			if n := len(h.send(frame(t, pkt{src: cli, dst: srv, proto: 17, sport: 3, dport: 2, payload: "x"}))); (n == 1) != (c.count == 1) {
				t.Errorf("new flow 1st match: %d alerts", n)
			}
			// FlowEnd drops the flow's counter
			k := threshKey{gid: 1, sid: 1}
			for key := range h.eng.st.thresh {
				if key.flow != 0 {
					k = key
				}
			}
			before := len(h.eng.st.thresh)
			h.eng.FlowEnd(&flows.Flow{ID: k.flow})
			if len(h.eng.st.thresh) != before-1 || len(h.eng.st.flowThresh) != 1 {
				t.Errorf("after FlowEnd: %d counters (was %d), %d flows", len(h.eng.st.thresh), before, len(h.eng.st.flowThresh))
			}
		})
	}
}

func TestStreamSize(t *testing.T) {
	// client isn 100, server isn 500: after the handshake each stream
	// has used 1 (the SYN)
	h := newHarness(t, `alert tcp any any -> any any (flow:established,to_server; stream_size:server,<,5; stream_size:client,>=,11; content:"abc"; sid:1;)
alert tcp any any -> any any (stream_size:both,>,10; content:"abc"; sid:2;)
alert tcp any any -> any any (stream_size:either,=,1; content:"abc"; sid:3;)
alert tcp any any -> any any (stream_size:client,!=,14; content:"abc"; sid:4;)`, Options{})
	h.handshake(cli, srv, 40000, 80)
	if got := h.send(frame(t, req("abcdefghij"))); !slices.Equal(got, []uint32{1, 3, 4}) { // client 11, server 1
		t.Errorf("1st request: %v", got)
	}
	h.send(frame(t, resp("0123456789"))) // server 11
	p := req("abc")
	p.seq = 111 // client 14
	if got := h.send(frame(t, p)); !slices.Equal(got, []uint32{2}) {
		t.Errorf("2nd request: %v", got)
	}
	// a retransmission does not grow the stream
	if got := h.send(frame(t, req("abcdefghij"))); !slices.Equal(got, []uint32{2}) {
		t.Errorf("retransmission: %v", got)
	}

	// midstream: isn is the first seq seen - 1, as Suricata's pickup
	h = newHarness(t, `alert tcp any any -> any any (stream_size:client,=,4; content:"abc"; sid:1;)`, Options{})
	if got := h.send(frame(t, req("abc"))); !slices.Equal(got, []uint32{1}) {
		t.Errorf("midstream: %v", got)
	}
	// not on UDP
	h = newHarness(t, `alert ip any any -> any any (stream_size:either,>=,0; sid:1;)`, Options{})
	if got := h.send(frame(t, pkt{src: cli, dst: srv, proto: 17, sport: 1, dport: 2, payload: "x"})); len(got) != 0 {
		t.Errorf("udp: %v", got)
	}
}
