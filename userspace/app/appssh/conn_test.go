package appssh

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"github.com/xdpids/xdpids/internal/testenv"
	"testing"
)

// Name-lists of the KEXINIT vectors in Suricata's rust/src/ssh/parser.rs
// tests (an OpenSSH client and server), with the HASSH values it asserts.
const (
	vecKex    = "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256,diffie-hellman-group14-sha1"
	vecEnc    = "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com"
	vecMac    = "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1"
	vecCliCmp = "none,zlib@openssh.com,zlib"
	vecSrvCmp = "none,zlib@openssh.com"

	wantClientHASSH = "ec7378c1a92f5a8dde7e8b7a1ddf33d1"
	wantServerHASSH = "b12d2871a1189eff20364cf5333619ee"
)

// packet frames an SSH binary packet (RFC 4253 section 6) with 4 bytes of
// padding.
func packet(code byte, payload []byte) []byte {
	const pad = 4
	var b []byte
	b = binary.BigEndian.AppendUint32(b, uint32(1+1+len(payload)+pad))
	b = append(b, pad, code)
	b = append(b, payload...)
	return append(b, make([]byte, pad)...)
}

// kexInit builds a KEXINIT payload; the c2s lists differ from the s2c ones
// so a test sees which side's lists make the hash.
func kexInit(kex, encC, encS, macC, macS, cmpC, cmpS string) []byte {
	b := bytes.Repeat([]byte{0xab}, 16) // cookie
	for _, l := range []string{kex, "ssh-ed25519,rsa-sha2-512", encC, encS, macC, macS, cmpC, cmpS, "", ""} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(l)))
		b = append(b, l...)
	}
	return append(b, 0, 0, 0, 0, 0)
}

func clientStream() []byte {
	s := []byte("SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.1\r\n")
	s = append(s, packet(msgKexInit, kexInit(vecKex+",ext-info-c", vecEnc, "aes256-ctr", vecMac, "hmac-sha1", vecCliCmp, "none"))...)
	s = append(s, packet(30, bytes.Repeat([]byte{1}, 40))...) // KEXDH_INIT
	s = append(s, packet(msgNewKeys, nil)...)
	return append(s, "\x8f\x12 encrypted garbage that must not be parsed"...)
}

func serverStream() []byte {
	s := []byte("SSH-1.99-Cisco_server-1.24\n")
	s = append(s, packet(msgKexInit, kexInit(vecKex, "aes128-cbc", vecEnc, "hmac-md5", vecMac, "zlib", vecSrvCmp))...)
	s = append(s, packet(31, bytes.Repeat([]byte{2}, 300))...) // KEXDH_REPLY
	s = append(s, packet(msgNewKeys, nil)...)
	return append(s, "\x00\x00\x00\x00 encrypted"...)
}

func check(t *testing.T, c *Conn) {
	t.Helper()
	for _, tc := range []struct {
		b        Buf
		toServer bool
		want     string
	}{
		{Proto, true, "2.0"},
		{Software, true, "OpenSSH_8.9p1"},
		{Proto, false, "1.99"},
		{Software, false, "Cisco_server-1.24"},
		{HASSHString, false, vecKex + ",ext-info-c;" + vecEnc + ";" + vecMac + ";" + vecCliCmp},
		{HASSHServer, true, wantServerHASSH},
		{HASSHServerString, false, vecKex + ";" + vecEnc + ";" + vecMac + ";" + vecSrvCmp},
	} {
		if got := string(c.Buffer(tc.b, tc.toServer)); got != tc.want {
			t.Errorf("Buffer(%d, %v) = %q, want %q", tc.b, tc.toServer, got, tc.want)
		}
	}
	if !c.Encrypted() || !c.Done() {
		t.Error("not encrypted after both NEWKEYS")
	}
	if c.Flags(true) != 0 || c.Flags(false) != 0 {
		t.Errorf("flags %b %b", c.Flags(true), c.Flags(false))
	}
}

func TestConnWhole(t *testing.T) {
	var c Conn
	c.Feed(true, clientStream())
	if c.Encrypted() {
		t.Fatal("encrypted after one side's NEWKEYS")
	}
	c.Feed(false, serverStream())
	check(t, &c)
}

// TestConnSplits feeds both streams in every chunk size from 1 byte:
// framing across any split gives the same result.
func TestConnSplits(t *testing.T) {
	cs, ss := clientStream(), serverStream()
	var c Conn
	for step := 1; step < 64; step++ {
		c.Reset()
		for i := 0; i < len(cs) || i < len(ss); i += step {
			if i < len(cs) {
				c.Feed(true, cs[i:min(i+step, len(cs))])
			}
			if i < len(ss) {
				c.Feed(false, ss[i:min(i+step, len(ss))])
			}
		}
		check(t, &c)
	}
}

// TestHASSHVectors checks the hash against Suricata's own test vectors.
func TestHASSHVectors(t *testing.T) {
	var c Conn
	c.Feed(true, []byte("SSH-2.0-x\r\n"))
	c.Feed(true, packet(msgKexInit, kexInit(vecKex+",ext-info-c", vecEnc, "x", vecMac, "y", vecCliCmp, "z")))
	c.Feed(false, []byte("SSH-2.0-y\r\n"))
	c.Feed(false, packet(msgKexInit, kexInit(vecKex, "x", vecEnc, "y", vecMac, "z", vecSrvCmp)))
	if got := string(c.Buffer(HASSH, false)); got != wantClientHASSH {
		t.Errorf("client hassh %q, want %q (string %q)", got, wantClientHASSH, c.Buffer(HASSHString, true))
	}
	if got := string(c.Buffer(HASSHServer, true)); got != wantServerHASSH {
		t.Errorf("server hassh %q, want %q", got, wantServerHASSH)
	}
}

func TestBanners(t *testing.T) {
	long := "SSH-2.0-" + string(bytes.Repeat([]byte{'A'}, 300)) + "\r\n"
	for _, tc := range []struct {
		name       string
		in         string
		proto, sw  string
		flags      Flags
		bannerDone bool
	}{
		{"plain", "SSH-2.0-OpenSSH_7.4\r\n", "2.0", "OpenSSH_7.4", 0, true},
		{"lf only", "SSH-2.0-OpenSSH_for_Windows_7.7\n", "2.0", "OpenSSH_for_Windows_7.7", 0, true},
		{"comments", "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.1\r\n", "2.0", "OpenSSH_8.9p1", 0, true},
		{"dash in software", "SSH-1.99-Cisco-1.25\r\n", "1.99", "Cisco-1.25", 0, true},
		{"empty software", "SSH-2.0-\r\n", "2.0", "", 0, true},
		{"lone cr", "SSH-2.0-PuTTY\rmore", "2.0", "PuTTY", 0, true},
		{"no eol yet", "SSH-2.0-PuTTY", "", "", 0, false},
		{"no second dash", "SSH-2.0\r\n", "", "", InvalidBanner, false},
		{"empty proto", "SSH--x\r\n", "", "", InvalidBanner, false},
		{"not ssh", "HTTP/1.1 200 OK\r\n", "", "", InvalidBanner, false},
		{"long", long, "2.0", string(bytes.Repeat([]byte{'A'}, MaxBanner-8)), LongBanner, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Conn
			c.Feed(true, []byte(tc.in))
			if got := string(c.Buffer(Proto, true)); got != tc.proto {
				t.Errorf("proto %q, want %q", got, tc.proto)
			}
			if got := string(c.Buffer(Software, true)); got != tc.sw {
				t.Errorf("software %q, want %q", got, tc.sw)
			}
			if c.Flags(true) != tc.flags {
				t.Errorf("flags %b, want %b", c.Flags(true), tc.flags)
			}
			if c.BannerDone(true) != tc.bannerDone {
				t.Errorf("BannerDone %v", c.BannerDone(true))
			}
		})
	}
}

func TestRecordsBad(t *testing.T) {
	var c Conn
	c.Feed(true, []byte("SSH-2.0-x\r\n\x00\x00\x00\x01\x00\x14"))
	if c.Flags(true) != InvalidRecord || c.cli.state != stError {
		t.Errorf("flags %b state %d", c.Flags(true), c.cli.state)
	}
	c.Reset()
	var big []byte
	big = binary.BigEndian.AppendUint32(big, MaxKexInit+10)
	big = append(big, 4, msgKexInit)
	c.Feed(false, append([]byte("SSH-2.0-x\r\n"), big...))
	c.Feed(false, make([]byte, MaxKexInit+8)) // the body, skipped
	c.Feed(false, packet(msgNewKeys, nil))
	if c.Flags(false) != LongKexRecord || c.Buffer(HASSHServer, false) != nil || c.srv.state != stFinished {
		t.Errorf("flags %b, state %d", c.Flags(false), c.srv.state)
	}
	if cap(c.srv.kex) > 0 {
		t.Errorf("an oversized KEXINIT was buffered (%d)", cap(c.srv.kex))
	}
	// A gap stops the side.
	c.Reset()
	c.Feed(true, []byte("SSH-2.0-x\r\n"))
	c.Gap(true, 10)
	c.Feed(true, packet(msgNewKeys, nil))
	if c.cli.state != stError {
		t.Error("gap did not stop the side")
	}
}

func TestLegacyKeywords(t *testing.T) {
	var c Conn
	c.Feed(true, []byte("SSH-2.0-PUTTY_Release_0.70\r\n"))
	c.Feed(false, []byte("SSH-1.99-OpenSSH_3.5p1 FreeBSD-200\r\n"))
	for _, tc := range []struct {
		proto    bool
		v        string
		toServer bool
		want     bool
	}{
		{true, "2_compat", true, true},
		{true, "2_compat", false, true},
		{true, "2.0", true, true},
		{true, "2.0", false, false},
		{true, "1.", false, true},
		{false, "PUTTY", true, true},
		{false, "OpenSSH_3.5", false, true},
		{false, "OpenSSH", true, false},
	} {
		var got bool
		if tc.proto {
			got = c.MatchProtoVersion(tc.v, tc.toServer)
		} else {
			got = c.MatchSoftwareVersion(tc.v, tc.toServer)
		}
		if got != tc.want {
			t.Errorf("%+v: got %v", tc, got)
		}
	}
	for name, want := range map[string]Buf{"ssh.proto": Proto, "ssh_proto": Proto, "ssh.software": Software, "ssh_software": Software, "ssh.hassh.server.string": HASSHServerString} {
		if b, ok := ParseBuf(name); !ok || b != want {
			t.Errorf("ParseBuf(%q) = %v, %v", name, b, ok)
		}
	}
	if _, ok := ParseBuf("ssh.nope"); ok {
		t.Error("ParseBuf accepted ssh.nope")
	}
}

func TestRecord(t *testing.T) {
	var c Conn
	var r Record
	if c.Record(&r) {
		t.Fatal("record before any banner")
	}
	c.Feed(true, clientStream())
	c.Feed(false, serverStream())
	if !c.Record(&r) {
		t.Fatal("no record")
	}
	b, err := json.Marshal(&r)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	srv := got["server"].(map[string]any)
	if srv["proto_version"] != "1.99" || srv["software_version"] != "Cisco_server-1.24" {
		t.Errorf("server %v", srv)
	}
	if h := srv["hassh"].(map[string]any); h["hash"] != wantServerHASSH {
		t.Errorf("server hassh %v", h)
	}
	// Banner only (ssh-banner-only): no hassh objects.
	c.Reset()
	c.Feed(true, []byte("SSH-2.0-OpenSSH_for_Windows_7.7\r\n"))
	r = Record{}
	c.Record(&r)
	b, _ = json.Marshal(&r)
	if string(b) != `{"client":{"proto_version":"2.0","software_version":"OpenSSH_for_Windows_7.7"}}` {
		t.Errorf("record %s", b)
	}
}

func TestFeedAllocs(t *testing.T) {
	cs, ss := clientStream(), serverStream()
	var c Conn
	c.Feed(true, cs)
	c.Feed(false, ss)
	n := testing.AllocsPerRun(100, func() {
		c.Reset()
		for i := 0; i < len(cs); i += 100 {
			c.Feed(true, cs[i:min(i+100, len(cs))])
		}
		for i := 0; i < len(ss); i += 100 {
			c.Feed(false, ss[i:min(i+100, len(ss))])
		}
	})
	if n != 0 {
		t.Errorf("%v allocs per connection in steady state", n)
	}
}

func FuzzFeed(f *testing.F) {
	f.Add(true, clientStream(), uint16(7))
	f.Add(false, serverStream(), uint16(100))
	for _, p := range testenv.CorpusPayloads(f, "suricata-verify-app", testenv.Golden("app_ssh.pcap"), testenv.Ports(22), testenv.TCPOnly()) {
		f.Add(p.ToServer, p.Data, uint16(len(p.Data)))
	}
	f.Fuzz(func(t *testing.T, toServer bool, data []byte, split uint16) {
		var whole, parts Conn
		whole.Feed(toServer, data)
		step := int(split)%64 + 1
		for i := 0; i < len(data); i += step {
			parts.Feed(toServer, data[i:min(i+step, len(data))])
		}
		for b := Proto; b < numBufs; b++ {
			if !bytes.Equal(whole.Buffer(b, toServer), parts.Buffer(b, toServer)) {
				t.Fatalf("buffer %d differs by split %d: %q vs %q", b, step, whole.Buffer(b, toServer), parts.Buffer(b, toServer))
			}
		}
		if whole.Flags(toServer) != parts.Flags(toServer) {
			t.Fatalf("flags differ by split: %b vs %b", whole.Flags(toServer), parts.Flags(toServer))
		}
		if len(whole.Buffer(Proto, toServer))+len(whole.Buffer(Software, toServer)) > MaxBanner {
			t.Fatal("banner over its bound")
		}
		var r Record
		whole.Record(&r)
		if _, err := json.Marshal(&r); err != nil {
			t.Fatal(err)
		}
	})
}

func BenchmarkFeed(b *testing.B) {
	cs, ss := clientStream(), serverStream()
	var c Conn
	b.ReportAllocs()
	b.SetBytes(int64(len(cs) + len(ss)))
	for b.Loop() {
		c.Reset()
		c.Feed(true, cs)
		c.Feed(false, ss)
	}
}
