package appssh

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xdpids/xdpids/internal/testenv"
)

// tcpStreams returns the in-order payload of each direction of the first
// TCP connection on port of a capture (client to server first).
func tcpStreams(t *testing.T, path string, port uint16) (toServer, toClient []byte) {
	t.Helper()
	conns := testenv.CaptureConns(t, path, port)
	if len(conns) == 0 {
		return nil, nil
	}
	return conns[0].ToServer, conns[0].ToClient
}

// TestCorpusBanners runs the suricata-verify SSH captures and checks what
// their test.yaml expects of the ssh records and the ssh.proto and
// ssh.software buffers.
func TestCorpusBanners(t *testing.T) {
	dir := testenv.Corpus(t, "suricata-verify-app")
	for _, tc := range []struct {
		test, pcap         string
		port               uint16
		cliProto, cliSoft  string
		srvProto, srvSoft  string
		cliHASSH, srvHASSH bool
	}{
		{"ssh-banner-only", "input.pcap", 22, "2.0", "OpenSSH_for_Windows_7.7", "2.0", "OpenSSH_7.4", false, false},
		{"bug-4903__bug-4903-02", "input.pcap", 22, "", "", "1.99", "Cisco_server-1.24", false, false},
		{"bug-4903__bug-4903-03", "input.pcap", 22, "2.0", "Cisco_client-1.25", "", "", false, false},
	} {
		t.Run(tc.test, func(t *testing.T) {
			p := filepath.Join(dir, tc.test, tc.pcap)
			if _, err := os.Stat(p); err != nil {
				t.Skip(err)
			}
			cs, ss := tcpStreams(t, p, tc.port)
			var c Conn
			c.Feed(true, cs)
			c.Feed(false, ss)
			var r Record
			c.Record(&r)
			if tc.cliProto != "" && (r.Client == nil || r.Client.ProtoVersion != tc.cliProto || r.Client.SoftwareVersion != tc.cliSoft) {
				t.Errorf("client %+v, want %s %s", r.Client, tc.cliProto, tc.cliSoft)
			}
			if tc.srvProto != "" && (r.Server == nil || r.Server.ProtoVersion != tc.srvProto || r.Server.SoftwareVersion != tc.srvSoft) {
				t.Errorf("server %+v, want %s %s", r.Server, tc.srvProto, tc.srvSoft)
			}
			t.Logf("client %q %q flags %b, server %q %q flags %b, hassh %q / %q, encrypted %v",
				c.Buffer(Proto, true), c.Buffer(Software, true), c.Flags(true),
				c.Buffer(Proto, false), c.Buffer(Software, false), c.Flags(false),
				c.Buffer(HASSH, true), c.Buffer(HASSHServer, false), c.Encrypted())
		})
	}
}

// TestCorpusNewKeys: the ssh-newkeys capture runs a full key exchange: both
// sides reach NEWKEYS, the flow is then encrypted, and both HASSHes are
// there.
func TestCorpusNewKeys(t *testing.T) {
	p := filepath.Join(testenv.Corpus(t, "suricata-verify-app"), "ssh-newkeys", "input.pcap")
	if _, err := os.Stat(p); err != nil {
		t.Skip(err)
	}
	cs, ss := tcpStreams(t, p, 22)
	var c Conn
	// Interleave as on the wire would not change a per-direction parser:
	// feed in pieces to exercise the framing.
	for i := 0; i < len(cs) || i < len(ss); i += 97 {
		if i < len(cs) {
			c.Feed(true, cs[i:min(i+97, len(cs))])
		}
		if i < len(ss) {
			c.Feed(false, ss[i:min(i+97, len(ss))])
		}
	}
	t.Logf("client %q server %q hassh %s server %s", c.Buffer(Software, true), c.Buffer(Software, false), c.Buffer(HASSH, true), c.Buffer(HASSHServer, false))
	if !c.Encrypted() {
		t.Errorf("not encrypted (states %d %d, flags %b %b)", c.cli.state, c.srv.state, c.cli.flags, c.srv.flags)
	}
	if len(c.Buffer(HASSH, true)) != 32 || len(c.Buffer(HASSHServer, false)) != 32 {
		t.Error("missing HASSH")
	}
	if !strings.Contains(string(c.Buffer(HASSHString, true)), ";") {
		t.Error("hassh string without its separators")
	}
}

// TestCorpusBruteforce: the SSH password-guessing capture of the attack
// set: every connection's banners parse and, where both sides got through
// the key exchange, both HASSHes exist and the connection is encrypted.
func TestCorpusBruteforce(t *testing.T) {
	p := filepath.Join(testenv.Corpus(t, "attack-pcaps"), "bruteforce", "zeek_ssh_sshguess.pcap")
	if _, err := os.Stat(p); err != nil {
		t.Skip(err)
	}
	conns := testenv.CaptureConns(t, p, 22)
	if len(conns) == 0 {
		t.Fatal("no connections")
	}
	var encrypted int
	hassh := map[string]int{}
	for _, cn := range conns {
		key, s := cn.Client, [2][]byte{cn.ToServer, cn.ToClient}
		var c Conn
		c.Feed(true, s[0])
		c.Feed(false, s[1])
		if c.Flags(true)|c.Flags(false) != 0 {
			t.Errorf("%s: flags %b %b", key, c.Flags(true), c.Flags(false))
		}
		if len(s[0]) > 0 && c.Buffer(Proto, true) == nil || len(s[1]) > 0 && c.Buffer(Proto, false) == nil {
			t.Errorf("%s: banner missing", key)
		}
		if c.Encrypted() {
			encrypted++
			if c.Buffer(HASSH, true) == nil || c.Buffer(HASSHServer, false) == nil {
				t.Errorf("%s: encrypted without both HASSHes", key)
			}
		}
		hassh[string(c.Buffer(Software, true))+" "+string(c.Buffer(HASSH, true))]++
	}
	t.Logf("%d connections, %d encrypted; client software and hassh: %v", len(conns), encrypted, hassh)
	if encrypted == 0 {
		t.Error("no connection reached NEWKEYS")
	}
}
