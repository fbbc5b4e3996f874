package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/loader"
)

// spoofConfig: XDP answers every SYN with a cookie (syn_cookies.always),
// so the client's handshake goes through the cookie path and the kernel
// verifies it; outside a flood that is the only way a source becomes
// verified (XDP sees ingress only: userspace never sees the server's
// SYN-ACK, so it cannot check a handshake's final ACK itself). SYNs the
// program answers make no kernel flow and are sampled 1 in sampling.one_in:
// 1 here, so the scan detectors see every probe.
const spoofConfig = `
sweep_interval: 500ms
syn_cookies:
  always: true
sampling:
  one_in: 1
signatures:
  builtin: false
`

// trustEVE is an EVE alert with the xdpids flow variables.
type trustEVE struct {
	EventType string `json:"event_type"`
	SrcIP     string `json:"src_ip"`
	Alert     struct {
		Action      string `json:"action"`
		SignatureID uint32 `json:"signature_id"`
		Source      struct {
			IP string `json:"ip"`
		} `json:"source"`
	} `json:"alert"`
	Metadata struct {
		Flowvars []map[string]string `json:"flowvars"`
	} `json:"metadata"`
}

func (e trustEVE) flowvar(k string) string {
	for _, m := range e.Metadata.Flowvars {
		if v, ok := m[k]; ok {
			return v
		}
	}
	return ""
}

func readTrustEVE(t *testing.T, path string) []trustEVE {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open eve: %v", err)
	}
	defer f.Close()
	var out []trustEVE
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e trustEVE
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("bad EVE line %q: %v", sc.Text(), err)
		}
		if e.EventType == "alert" {
			out = append(out, e)
		}
	}
	return out
}

// TestSpoofedEvidenceEndToEnd: client A holds an established TCP session
// and pings while host B forges A's address in a SYN scan of 1000 ports,
// an illegal-flags probe run, a UDP flood and a SYN flood. A is never
// banned, its session carries on, and it opens new connections and
// answers pings during and after; B scanning under its own address, and
// host C's real nmap -sS, are still banned within 2 s.
func TestSpoofedEvidenceEndToEnd(t *testing.T) {
	testenv.Short(t)
	for _, tool := range []string{"ping", "hping3", "nmap", "timeout", "sysctl", "ethtool"} {
		testenv.RequireTool(t, tool)
	}
	l := newLab(t)
	// The listener accepts the connections XDP's cookies open.
	l.s.Run(t, "sysctl", "-qw", "net.ipv4.tcp_syncookies=2")
	cookieReplies(t, l, "a")
	a, b, c := l.clientEnds["a"].IP(), l.clientEnds["b"].IP(), l.clientEnds["c"].IP()
	srv := net.JoinHostPort(l.serverEnds["a"].IP(), "8080")
	l.listen(t, srv, echoConn)
	d := l.start(t, spoofConfig)

	m, err := loader.OpenPinned(l.pin)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	echo := func(conn net.Conn, msg string) error {
		_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := io.WriteString(conn, msg); err != nil {
			return err
		}
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(conn, buf); err != nil {
			return err
		}
		if string(buf) != msg {
			return fmt.Errorf("echo %q", buf)
		}
		return nil
	}
	// A new connection from A, one echo, closed; how long it took (a SYN
	// the forged SYN flood's per-source bucket dropped is retransmitted).
	connect := func() (time.Duration, error) {
		start := time.Now()
		var conn net.Conn
		err := l.clients["a"].Do(func() (err error) { conn, err = net.DialTimeout("tcp", srv, 5*time.Second); return err })
		if err != nil {
			return time.Since(start), err
		}
		defer conn.Close()
		return time.Since(start), echo(conn, "new")
	}

	// A proves its return path: its handshakes go through the cookie path
	// (the first SYN per port and refresh interval goes to the stack).
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := connect(); err != nil {
			t.Fatalf("client A connect: %v", err)
		}
		if _, err := m.LookupVerified(netip.MustParseAddr(a)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("client A not verified after 5s of connections:\n%s", d.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	session, err := l.dial("a", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close()
	if err := echo(session, "hello"); err != nil {
		t.Fatalf("session: %v", err)
	}

	// A's activity through everything that follows.
	var (
		mu        sync.Mutex
		failures  []string
		rounds    int
		maxDial   time.Duration
		bannedA   []string
		stopA     = make(chan struct{})
		doneA     = make(chan struct{})
		blocksFor = func() []blockJSON {
			out, _, err := l.cli("blocks", "--json")
			var rows []blockJSON
			if err == nil {
				_ = json.Unmarshal([]byte(out), &rows)
			}
			return rows
		}
	)
	go func() {
		defer close(doneA)
		for i := 0; ; i++ {
			select {
			case <-stopA:
				return
			case <-time.After(200 * time.Millisecond):
			}
			var fail []string
			if ok, out := l.ping("a", 1); !ok {
				fail = append(fail, "ping: "+out)
			}
			if err := echo(session, fmt.Sprintf("s%d", i)); err != nil {
				fail = append(fail, "session: "+err.Error())
			}
			took, err := connect()
			if err != nil {
				fail = append(fail, "connect: "+err.Error())
			}
			var banned []string
			for _, r := range blocksFor() {
				if r.Prefix == a+"/32" {
					banned = append(banned, fmt.Sprintf("%+v", r))
				}
			}
			mu.Lock()
			rounds++
			maxDial = max(maxDial, took)
			failures = append(failures, fail...)
			bannedA = append(bannedA, banned...)
			mu.Unlock()
		}
	}()

	sb := l.serverEnds["b"].IP()
	hping := func(timeout string, args ...string) {
		t.Helper()
		cmd := l.clients["b"].Cmd("timeout", append([]string{timeout, "hping3", "-q"}, args...)...)
		out, err := cmd.CombinedOutput()
		// timeout ends a flood with status 124; a forged probe run gets
		// no replies (status 1)
		if err != nil && !strings.Contains(err.Error(), "status 124") && !strings.Contains(err.Error(), "status 1") {
			t.Logf("hping3 %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// Forged in A's name, from B's link.
	hping("10", "-a", a, "-S", "--scan", "1-1000", sb)
	hping("5", "-a", a, "-F", "-P", "-U", "-p", "++1", "-c", "100", "-i", "u2000", sb)
	hping("1", "-a", a, "--udp", "--flood", "-p", "9999", sb)
	hping("1", "-a", a, "-S", "--flood", "-p", "80", sb)
	// After the attacks: A carries on for 3 s more.
	time.Sleep(3 * time.Second)

	// B scanning under its own address is banned.
	start := time.Now()
	scanB := l.clients["b"].Cmd("timeout", "10", "hping3", "-q", "-S", "--scan", "1-1000", sb)
	if err := scanB.Start(); err != nil {
		t.Fatal(err)
	}
	tookB := l.waitBanned(t, b, start, 2*time.Second)
	_ = scanB.Process.Kill()
	_ = scanB.Wait()
	// C's real nmap -sS is banned.
	start = time.Now()
	nmap := l.clients["c"].Cmd("nmap", "-sS", "-p", "1-1000", "-n", "-Pn", "--max-retries", "0", l.serverEnds["c"].IP())
	if err := nmap.Start(); err != nil {
		t.Fatal(err)
	}
	tookC := l.waitBanned(t, c, start, 2*time.Second)
	_ = nmap.Process.Kill()
	_ = nmap.Wait()
	t.Logf("banned: B's own hping3 scan after %s, C's nmap -sS after %s", tookB, tookC)

	time.Sleep(time.Second) // a sweep: B's and C's challenge bans stay (they never verified)
	close(stopA)
	<-doneA
	mu.Lock()
	t.Logf("client A: %d rounds of ping, session echo and a new connection; slowest connect %s; %d failures", rounds, maxDial, len(failures))
	if len(failures) > 0 {
		t.Errorf("client A disturbed %d times: %v", len(failures), failures)
	}
	if len(bannedA) > 0 {
		t.Errorf("client A banned: %v", bannedA)
	}
	mu.Unlock()
	if err := echo(session, "after"); err != nil {
		t.Errorf("session after the attacks: %v", err)
	}
	for _, r := range blocksFor() {
		if r.Prefix == a+"/32" {
			t.Errorf("client A in the block list: %+v", r)
		}
	}
	for _, who := range []string{b, c} {
		found := false
		for _, r := range blocksFor() {
			found = found || r.Prefix == who+"/32" && !r.Expired
		}
		if !found {
			t.Errorf("%s's ban was lifted (it never verified)", who)
		}
	}
	// The allow list clears the bans it covers.
	if out := l.mustCLI(t, "allow", c); !strings.Contains(out, "removed ban "+c+"/32") {
		t.Errorf("xdpids allow %s: %q, want it to remove the ban", c, out)
	}
	for _, r := range blocksFor() {
		if r.Prefix == c+"/32" {
			t.Errorf("%s still banned after xdpids allow: %+v", c, r)
		}
	}

	d.stop(t)
	// The forged evidence was seen and reported: alerts naming A, all
	// allowed, forgeable, with spoof_suspected; B's ban says forgeable
	// and challenge.
	var spoofed, bannedB int
	sids := map[uint32]bool{}
	for _, e := range readTrustEVE(t, d.eve) {
		switch e.Alert.Source.IP {
		case a:
			if e.Alert.Action != "allowed" {
				t.Errorf("alert against A %s: %+v", e.Alert.Action, e)
			}
			if e.flowvar("xdpids.trust") == "forgeable" && e.flowvar("xdpids.spoof_suspected") != "" && e.flowvar("xdpids.source_verified") == "true" {
				spoofed++
				sids[e.Alert.SignatureID] = true
			}
		case b:
			if e.Alert.Action == "blocked" && e.flowvar("xdpids.trust") == "forgeable" && e.flowvar("xdpids.ban_kind") == "challenge" {
				bannedB++
			}
		}
	}
	t.Logf("alerts against A reported spoof_suspected and allowed: %d (sids %v)", spoofed, sids)
	if spoofed == 0 {
		t.Errorf("no allowed spoof_suspected alert against A: the forged evidence was not seen")
	}
	if bannedB == 0 {
		t.Errorf("no blocked forgeable challenge-ban alert against B")
	}
}

// cookieReplies lets a client take part in the XDP cookie handshake over
// its veth: XDP_TX on a veth reaches the peer only when the peer runs XDP
// too (a bare XDP_PASS), and the client's SYNs need whole checksums (veth
// offloads leave them partial, which the program takes for bad ones).
func cookieReplies(t *testing.T, l *lab, client string) {
	t.Helper()
	end := l.clientEnds[client]
	l.clients[client].Run(t, "ethtool", "-K", end.Name, "tx", "off")
	l.clients[client].AttachBarePass(t, end.Name)
}
