package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/loader"
)

// labConfig tests the kernel data path alone: the responder is off, so
// what drops is the rate limiter or a manual block, not a detector's ban
// (TestPreventionEndToEnd covers those).
const labConfig = `
response:
  enabled: false
signatures:
  builtin: false
sampling:
  flow_packets: 1
rate_limits:
  syn:  {rate: 1000, burst: 2000}
  udp:  {rate: 20000, burst: 40000}
  icmp: {rate: 100, burst: 200}
`

// TestEndToEnd drives real ping, TCP, hping3 and nmap through xdpids
// attached in a namespace, and checks counters, blocks, rate limits,
// samples, and that nothing stays attached after the daemon exits.
func TestEndToEnd(t *testing.T) {
	testenv.Short(t)
	for _, tool := range []string{"ping", "hping3", "nmap", "nsenter", "timeout"} {
		testenv.RequireTool(t, tool)
	}
	l := newLab(t)
	d := l.start(t, labConfig, "--metrics-addr", "127.0.0.1:0")

	// A TCP echo server in S on C's link.
	srvAddr := net.JoinHostPort(l.serverEnds["c"].IP(), "8080")
	l.listen(t, srvAddr, echoConn)
	tcpRoundTrip := func(client string) error {
		conn, err := l.dial(client, srvAddr)
		if err != nil {
			return err
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
		msg := []byte("hello xdpids")
		if _, err := conn.Write(msg); err != nil {
			return err
		}
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(conn, buf); err != nil {
			return err
		}
		if string(buf) != string(msg) {
			return fmt.Errorf("echo %q", buf)
		}
		return nil
	}
	ifA, ifB, ifC := l.serverEnds["a"].Name, l.serverEnds["b"].Name, l.serverEnds["c"].Name

	t.Run("ping and tcp pass and are counted", func(t *testing.T) {
		if ok, out := l.ping("a", 3); !ok {
			t.Fatalf("ping from A failed:\n%s", out)
		}
		for i := 0; i < 3; i++ {
			if err := tcpRoundTrip("c"); err != nil {
				t.Fatalf("tcp from C: %v", err)
			}
		}
		st := l.stats(t)
		a, c := st[ifA], st[ifC]
		if a.Protocols["icmp"].Packets < 3 || a.Verdicts["pass"].Packets < 3 {
			t.Errorf("A's pings not counted: %+v", a)
		}
		if c.Protocols["tcp"].Packets < 3*4 {
			t.Errorf("C's TCP not counted: tcp=%d", c.Protocols["tcp"].Packets)
		}
		if a.Verdicts["drop"].Packets != 0 || c.Verdicts["drop"].Packets != 0 {
			t.Errorf("drops on a clean link: A %d, C %d", a.Verdicts["drop"].Packets, c.Verdicts["drop"].Packets)
		}
	})

	t.Run("prometheus metrics", func(t *testing.T) {
		var body []byte
		// The server listens in S: dial there (net/http would dial from
		// another thread, in the root namespace), then speak HTTP/1.0.
		var conn net.Conn
		err := l.s.Do(func() (err error) { conn, err = net.DialTimeout("tcp", d.ready.Metrics, 2*time.Second); return err })
		if err == nil {
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err = io.WriteString(conn, "GET /metrics HTTP/1.0\r\n\r\n"); err == nil {
				body, err = io.ReadAll(conn)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			`xdpids_packets_total{iface="` + ifA + `",reason="none",verdict="pass"}`,
			`xdpids_protocol_packets_total{iface="` + ifA + `",proto="icmp"}`,
			"xdpids_samples_read_total", "xdpids_flows_active", "xdpids_block_entries{state=\"active\"} 0",
		} {
			if !strings.Contains(string(body), want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})

	t.Run("block drops the sender and unblock restores it", func(t *testing.T) {
		a := l.clientEnds["a"].IP()
		l.mustCLI(t, "block", a, "--ttl", "10m", "--reason", "e2e")
		if ok, _ := l.ping("a", 2); ok {
			t.Fatal("ping from A still answered after block")
		}
		var rows []blockJSON
		if err := json.Unmarshal([]byte(l.mustCLI(t, "blocks", "--json")), &rows); err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].Prefix != a+"/32" || rows[0].Hits < 2 || rows[0].Reason != "e2e" || rows[0].ExpiresIn <= 0 {
			t.Fatalf("blocks: %+v", rows)
		}
		if got := l.stats(t)[ifA].Verdicts["drop"].Reasons["block_list"].Packets; got < 2 {
			t.Errorf("block_list drops on A = %d, want >= 2", got)
		}
		if ok, out := l.ping("c", 2); !ok {
			t.Errorf("C affected by A's block:\n%s", out)
		}
		l.mustCLI(t, "unblock", a)
		if ok, out := l.ping("a", 2); !ok {
			t.Fatalf("ping from A fails after unblock:\n%s", out)
		}
	})

	t.Run("hping3 SYN flood is rate limited while C still passes", func(t *testing.T) {
		before := l.stats(t)[ifB]
		flood := l.clients["b"].Cmd("timeout", "2", "hping3", "-S", "--flood", "-p", "80", l.serverEnds["b"].IP())
		if err := flood.Start(); err != nil {
			t.Fatal(err)
		}
		// C's traffic during the flood.
		pingOK, pingOut := l.ping("c", 5)
		tcpErr := tcpRoundTrip("c")
		_ = flood.Wait() // timeout exits 124
		if !pingOK {
			t.Errorf("C's ping failed during B's flood:\n%s", pingOut)
		}
		if tcpErr != nil {
			t.Errorf("C's TCP failed during B's flood: %v", tcpErr)
		}
		after := l.stats(t)[ifB]
		limited := after.Verdicts["drop"].Reasons["rate_limit_syn"].Packets - before.Verdicts["drop"].Reasons["rate_limit_syn"].Packets
		passed := after.Verdicts["pass"].Packets - before.Verdicts["pass"].Packets
		t.Logf("B flood: %d SYNs rate-limited, %d passed", limited, passed)
		if limited < 10000 {
			t.Errorf("only %d SYNs rate-limited", limited)
		}
		// 2000 burst + 1000/s for ~2 s, with slack for timing.
		if passed > 6000 {
			t.Errorf("%d packets from B passed the 1000/s SYN limit", passed)
		}
		if c := l.stats(t)[ifC]; c.Verdicts["drop"].Packets != 0 {
			t.Errorf("C had %d drops", c.Verdicts["drop"].Packets)
		}
	})

	t.Run("nmap -sS gives one sample per new flow", func(t *testing.T) {
		out, err := l.clients["a"].Cmd("nmap", "-sS", "-p", "1-1000", "-n", "-Pn", "--max-retries", "0", l.serverEnds["a"].IP()).CombinedOutput()
		if err != nil {
			t.Fatalf("nmap: %v\n%s", err, out)
		}
		d.stop(t) // flush the sample pcap
		perFlow := synSamplesPerFlow(t, d.pcap, l.clientEnds["a"].IP())
		if len(perFlow) < 1000 {
			t.Errorf("samples cover %d SYN flows from A, want >= 1000 (one per probed port)", len(perFlow))
		}
		for flow, n := range perFlow {
			if n != 1 {
				t.Errorf("flow %s sampled %d times, want 1", flow, n)
			}
		}
	})

	t.Run("no program left after exit", func(t *testing.T) {
		d.stop(t)
		for _, name := range []string{ifA, ifB, ifC} {
			out := l.s.Run(t, "ip", "link", "show", "dev", name)
			if strings.Contains(out, "xdp") {
				t.Errorf("%s still has an XDP program:\n%s", name, out)
			}
		}
		// stats, top and blocks print what the daemon left, and say plainly
		// (stderr, exit 1) that none is attached; stats --watch refuses.
		if st := l.lastRunStats(t); st[ifA].Packets == 0 {
			t.Errorf("stats without a daemon lost the last run's counters: %+v", st)
		}
		if out := l.lastRunCLI(t, "stats"); !strings.Contains(out, ifA) {
			t.Errorf("stats without a daemon printed no counters:\n%s", out)
		}
		l.lastRunCLI(t, "top", "--json")
		l.lastRunCLI(t, "blocks")
		if _, stderr, err := l.cli("stats", "--watch"); err == nil || !strings.Contains(stderr, "nothing to watch") {
			t.Errorf("stats --watch without a daemon: %v %q", err, stderr)
		}
	})

	t.Run("bans survive a restart and monitor mode never drops", func(t *testing.T) {
		a := l.clientEnds["a"].IP()
		l.mustCLI(t, "block", a, "--reason", "kept")
		d2 := l.start(t, labConfig, "--mode", "monitor")
		defer d2.stop(t)
		if out := l.mustCLI(t, "blocks"); !strings.Contains(out, a+"/32") {
			t.Fatalf("ban lost across restart:\n%s", out)
		}
		before := l.stats(t)[ifA] // counters, like bans, survive the restart
		if ok, out := l.ping("a", 3); !ok {
			t.Fatalf("monitor mode dropped A's ping:\n%s", out)
		}
		after := l.stats(t)[ifA]
		wouldDrop := after.Verdicts["would_drop"].Reasons["block_list"].Packets - before.Verdicts["would_drop"].Reasons["block_list"].Packets
		dropped := after.Verdicts["drop"].Packets - before.Verdicts["drop"].Packets
		if wouldDrop < 3 || dropped != 0 {
			t.Errorf("monitor mode: %d would_drop by block list (want >= 3), %d dropped (want 0)", wouldDrop, dropped)
		}
	})
}

// TestDetachOrphan leaves xdpids programs on interfaces the way a crash or
// another tool can (netlink attachment, a bpf_link held by another process)
// and checks that `xdpids detach -i` removes them and leaves nothing behind.
func TestDetachOrphan(t *testing.T) {
	testenv.RequireBPF(t)
	bin := xdpidsBinary(t)
	id := testenv.UniqueID()
	ns := testenv.NewNetns(t, "xids-"+id+"-d")
	peer := testenv.NewNetns(t, "xids-"+id+"-p")
	end := &testenv.VethEnd{NS: ns, Name: "xd" + id, Addr: "198.18.9.1/24"}
	testenv.Veth(t, end, &testenv.VethEnd{NS: peer, Name: "xp" + id, Addr: "198.18.9.2/24"})

	dp, err := loader.Load(loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dp.Close()
	hasXDP := func() bool { return strings.Contains(ns.Run(t, "ip", "link", "show", "dev", end.Name), "prog/xdp") }

	// 1. A netlink attachment: it outlives the process that made it.
	if err := ns.Do(func() error {
		link, err := netlink.LinkByName(end.Name)
		if err != nil {
			return err
		}
		return netlink.LinkSetXdpFdWithFlags(link, dp.Program().FD(), unix.XDP_FLAGS_SKB_MODE)
	}); err != nil {
		t.Fatal(err)
	}
	if !hasXDP() {
		t.Fatal("netlink attach did not take")
	}
	out, err := ns.Cmd(bin, "detach", "-i", end.Name).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "detached xdpids from "+end.Name) {
		t.Fatalf("detach: %v\n%s", err, out)
	}
	if hasXDP() {
		t.Fatal("netlink-attached program still there after detach")
	}

	// 2. A bpf_link held by a live process (this test).
	if err := ns.Do(func() error { _, err := dp.Attach(end.Name, loader.ModeGeneric); return err }); err != nil {
		t.Fatal(err)
	}
	if !hasXDP() {
		t.Fatal("link attach did not take")
	}
	out, err = ns.Cmd(bin, "detach", "-i", end.Name).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "detached xdpids from "+end.Name) {
		t.Fatalf("detach: %v\n%s", err, out)
	}
	if hasXDP() {
		t.Fatal("link-attached program still there after detach")
	}
	out, err = ns.Cmd(bin, "detach").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "no xdpids program attached") {
		t.Fatalf("second detach: %v\n%s", err, out)
	}
}

// synSamplesPerFlow counts the sampled pure SYNs from src per flow.
func synSamplesPerFlow(t *testing.T, path, src string) map[string]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("read sample pcap: %v", err)
	}
	out := map[string]int{}
	for {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read sample pcap: %v", err)
		}
		p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.NoCopy)
		ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if ip == nil || tcp == nil || ip.SrcIP.String() != src || !tcp.SYN || tcp.ACK {
			continue
		}
		out[fmt.Sprintf("%s:%d>%s:%d", ip.SrcIP, tcp.SrcPort, ip.DstIP, tcp.DstPort)]++
	}
	return out
}

// TestCLIErrors checks that bad input gets one clear line and a non-zero exit.
func TestCLIErrors(t *testing.T) {
	bin := xdpidsBinary(t)
	missing := "/sys/fs/bpf/xdpids-missing-" + testenv.UniqueID()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"block", "10.0.0.0/33"}, `bad prefix "10.0.0.0/33"`},
		{[]string{"block", "not-an-ip"}, `bad prefix "not-an-ip"`},
		{[]string{"unblock", "2001:db8::/129"}, `bad prefix`},
		{[]string{"allow", "1.2.3"}, `bad prefix`},
		{[]string{"block", "0.0.0.0/0"}, "wider than /8"},
		{[]string{"block", "--ttl", "-1s", "192.0.2.1"}, "bad --ttl"},
		{[]string{"run", "--mode", "loud", "-i", "lo"}, `bad --mode "loud"`},
		{[]string{"run", "--xdp-mode", "fast", "-i", "lo"}, `bad xdp mode "fast"`},
		{[]string{"run", "--config", "/nonexistent/xdpids.yaml", "-i", "lo"}, "read config"},
		{[]string{"top", "--by", "color"}, `bad --by "color"`},
	}
	if os.Geteuid() == 0 {
		cases = append(cases,
			struct {
				args []string
				want string
			}{[]string{"--pin-path", missing, "stats"}, "no xdpids maps at " + missing},
			struct {
				args []string
				want string
			}{[]string{"--pin-path", missing, "run", "-i", "xdpids-nosuch0"}, `interface "xdpids-nosuch0": no such interface`},
			struct {
				args []string
				want string
			}{[]string{"detach", "-i", "xdpids-nosuch0"}, `no such interface "xdpids-nosuch0"`},
		)
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			out, err := exec.Command(bin, c.args...).CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v, want status 1\n%s", err, out)
			}
			s := strings.TrimRight(string(out), "\n")
			if strings.Count(s, "\n") != 0 || !strings.HasPrefix(s, "xdpids: ") || !strings.Contains(s, c.want) {
				t.Fatalf("output %q, want one line containing %q", s, c.want)
			}
		})
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("a failed command created %s", missing)
	}
	// Without privileges: one line saying so.
	if os.Geteuid() == 0 {
		setpriv := testenv.RequireTool(t, "setpriv")
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"stats"}, "permission denied: run as root, or as a member of the daemon's pin_group"},
			{[]string{"block", "192.0.2.1"}, "permission denied"},
			{[]string{"run", "-i", "lo", "--pin-path", missing}, "xdpids needs root"},
		} {
			t.Run("unprivileged "+strings.Join(c.args, " "), func(t *testing.T) {
				args := append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", bin}, c.args...)
				out, err := exec.Command(setpriv, args...).CombinedOutput()
				s := strings.TrimRight(string(out), "\n")
				if err == nil || strings.Count(s, "\n") != 0 || !strings.Contains(s, c.want) {
					t.Fatalf("exit %v, output %q: want one line containing %q", err, s, c.want)
				}
			})
		}
	}
}
