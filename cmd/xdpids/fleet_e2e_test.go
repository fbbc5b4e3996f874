package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/run/daemon"
)

// fleetRules bans, through a drop rule and drop_ban_ttl, the client of an
// HTTP request with Nmap's NSE User-Agent: a rule hit on a handshake the
// server answered, verified evidence, so its ban is shared.
const fleetRules = `drop http any any -> any any (msg:"Nmap NSE user agent"; flow:established,to_server; http.user_agent; content:"Nmap Scripting Engine"; sid:9100001; rev:1;)
`

// fleetLab is three nodes A, B and C, each a server namespace running
// its own daemon with its own pin path on its own link to a client
// namespace, and a management network (a bridge in namespace N,
// 192.0.2.0/24) that carries only NATS. Every client namespace has the
// same addresses: the attacker 198.18.0.2 and a bystander 198.18.0.3,
// with the server at 198.18.0.1, so a ban on one node means the same
// host on the others.
type fleetLab struct {
	bin, id string
	root    *testing.T // the daemons stop when it ends, not with the subtest that started them
	n       *testenv.Netns
	nodes   map[string]*fleetNode
}

type fleetNode struct {
	name    string
	s, c    *testenv.Netns
	iface   string
	pin     string
	mgmt    string // the server namespace's management address
	dir     string
	config  string
	d       *daemonProc
	started time.Time
}

const (
	fleetServer   = "198.18.0.1"
	fleetAttacker = "198.18.0.2"
	fleetBystand  = "198.18.0.3"
)

func newFleetLab(t *testing.T) *fleetLab {
	t.Helper()
	testenv.RequireBPF(t)
	for _, tool := range []string{"ip", "nmap", "ping", "nsenter"} {
		testenv.RequireTool(t, tool)
	}
	id := testenv.UniqueID()
	fl := &fleetLab{bin: xdpidsBinary(t), id: id, root: t, nodes: map[string]*fleetNode{}}
	fl.n = testenv.NewNetns(t, "xflt-"+id+"-n")
	fl.n.Run(t, "ip", "link", "add", "br0", "type", "bridge")
	fl.n.Run(t, "ip", "addr", "add", "192.0.2.254/24", "dev", "br0")
	fl.n.Run(t, "ip", "link", "set", "br0", "up")
	for i, name := range []string{"a", "b", "c"} {
		nd := &fleetNode{name: name, dir: t.TempDir(), pin: "/sys/fs/bpf/xdpids-fleet-" + id + "-" + name,
			mgmt: fmt.Sprintf("192.0.2.%d", i+1)}
		t.Cleanup(func() { os.RemoveAll(nd.pin) })
		nd.s = testenv.NewNetns(t, "xflt-"+id+"-s"+name)
		nd.c = testenv.NewNetns(t, "xflt-"+id+"-c"+name)
		se := &testenv.VethEnd{NS: nd.s, Name: "xfs" + id + name, Addr: fleetServer + "/24"}
		ce := &testenv.VethEnd{NS: nd.c, Name: "xfc" + id + name, Addr: fleetAttacker + "/24"}
		testenv.Veth(t, se, ce)
		nd.c.Run(t, "ip", "addr", "add", fleetBystand+"/24", "dev", ce.Name)
		nd.s.Run(t, "ip", "neigh", "replace", fleetBystand, "lladdr", ce.MAC, "dev", se.Name, "nud", "permanent")
		nd.iface = se.Name
		// The management link: the server end in S, the other on N's bridge.
		mS, mN := "xfm"+id+name, "xfn"+id+name
		if out, err := exec.Command("ip", "link", "add", mS, "netns", nd.s.Name, "type", "veth", "peer", "name", mN, "netns", fl.n.Name).CombinedOutput(); err != nil {
			t.Fatalf("management veth: %v\n%s", err, out)
		}
		nd.s.Run(t, "ip", "addr", "add", nd.mgmt+"/24", "dev", mS)
		nd.s.Run(t, "ip", "link", "set", mS, "up")
		fl.n.Run(t, "ip", "link", "set", mN, "master", "br0")
		fl.n.Run(t, "ip", "link", "set", mN, "up")
		fl.nodes[name] = nd
	}
	// Link-local addresses (DAD) come up late on the bridge ports; IPv4
	// works at once. Wait until every node reaches N.
	for _, nd := range fl.nodes {
		deadline := time.Now().Add(5 * time.Second)
		for {
			if err := nd.s.Cmd("ping", "-c", "1", "-W", "1", "192.0.2.254").Run(); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %s does not reach the management bridge", nd.name)
			}
		}
	}
	return fl
}

// writeConfig writes node nd's configuration with the fleet section fleetYAML.
func (nd *fleetNode) writeConfig(t *testing.T, fleetYAML string) {
	t.Helper()
	rules := filepath.Join(nd.dir, "fleet.rules")
	if err := os.WriteFile(rules, []byte(fleetRules), 0o644); err != nil {
		t.Fatal(err)
	}
	nd.config = fmt.Sprintf(`sweep_interval: 500ms
signatures:
  builtin: false
  files: [%s]
  drop_ban_ttl: 1h
fleet:
  nats:
    node: %s
    bucket: xdpids-bans
%s`, rules, nd.name, fleetYAML)
}

// start runs the node's daemon in its server namespace and waits for
// its ready file.
func (fl *fleetLab) start(t *testing.T, nd *fleetNode) {
	t.Helper()
	cfg := filepath.Join(nd.dir, "xdpids.yaml")
	if err := os.WriteFile(cfg, []byte(nd.config), 0o644); err != nil {
		t.Fatal(err)
	}
	ready := filepath.Join(nd.dir, "ready.json")
	d := &daemonProc{readyPath: ready, log: &logBuf{}, config: cfg, done: make(chan error, 1), eve: filepath.Join(nd.dir, "eve.json")}
	d.cmd = nd.s.Cmd(fl.bin, "run", "--config", cfg, "--pin-path", nd.pin, "--ready-file", ready, "--eve", d.eve, "-i", nd.iface)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start daemon %s: %v", nd.name, err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	fl.root.Cleanup(func() { d.stop(fl.root) })
	deadline := time.Now().Add(15 * time.Second)
	for {
		if r, err := daemon.ReadReady(ready); err == nil {
			d.ready = r
			break
		} else if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, daemon.ErrStale) {
			t.Fatalf("ready file: %v", err)
		}
		select {
		case err := <-d.done:
			d.exited = true
			t.Fatalf("daemon %s exited before ready: %v\n%s", nd.name, err, d.log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon %s not ready after 15s:\n%s", nd.name, d.log)
		}
	}
	nd.d, nd.started = d, time.Now()
}

// cli runs an xdpids command on node nd's pins.
func (fl *fleetLab) cli(t *testing.T, nd *fleetNode, args ...string) string {
	t.Helper()
	var o, e strings.Builder
	cmd := exec.Command(fl.bin, append([]string{"--pin-path", nd.pin}, args...)...)
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		log := ""
		if nd.d != nil {
			log = nd.d.log.String()
		}
		t.Fatalf("node %s: xdpids %s: %v\n%s%s\ndaemon log:\n%s", nd.name, strings.Join(args, " "), err, o.String(), e.String(), log)
	}
	return o.String()
}

// ban is prefix's live entry on nd, if any.
func (fl *fleetLab) ban(t *testing.T, nd *fleetNode, prefix string) (blockJSON, bool) {
	t.Helper()
	var rows []blockJSON
	if err := json.Unmarshal([]byte(fl.cli(t, nd, "blocks", "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Prefix == prefix && !r.Expired {
			return r, true
		}
	}
	return blockJSON{}, false
}

// waitBans waits until prefix's ban is there (want) or gone on every
// node of nds, and returns when that happened on each. It watches the
// nodes' pinned block lists itself (the CLI takes up to a second a call
// in a -race build).
func (fl *fleetLab) waitBans(t *testing.T, nds []*fleetNode, prefix string, want bool, since time.Time, within time.Duration) map[string]time.Time {
	t.Helper()
	ms := map[string]*loader.Maps{}
	for _, nd := range nds {
		m, err := loader.OpenPinned(nd.pin)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		ms[nd.name] = m
	}
	p := netip.MustParsePrefix(prefix)
	at := map[string]time.Time{}
	for len(at) < len(nds) {
		for _, nd := range nds {
			if _, done := at[nd.name]; done {
				continue
			}
			e, err := ms[nd.name].LookupBlock(p)
			if ok := err == nil && !e.Expired(loader.KernelNow()); ok == want {
				at[nd.name] = time.Now()
			}
		}
		if len(at) == len(nds) {
			break
		}
		if time.Since(since) > within {
			verb := "banned"
			if !want {
				verb = "lifted"
			}
			for _, nd := range nds {
				if _, done := at[nd.name]; !done {
					t.Fatalf("node %s: %s not %s within %s; blocks:\n%s\nlog:\n%s", nd.name, prefix, verb, within, fl.cli(t, nd, "blocks"), nd.d.log)
				}
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return at
}

// waitBan is waitBans on one node, with the entry as `xdpids blocks
// --json` shows it and the time it took from since.
func (fl *fleetLab) waitBan(t *testing.T, nd *fleetNode, prefix string, want bool, since time.Time, within time.Duration) (blockJSON, time.Duration) {
	t.Helper()
	at := fl.waitBans(t, []*fleetNode{nd}, prefix, want, since, within)[nd.name]
	r, _ := fl.ban(t, nd, prefix)
	return r, at.Sub(since)
}

// pingFrom pings the node's server from src in its client namespace.
func (nd *fleetNode) pingFrom(src string) bool {
	return nd.c.Cmd("ping", "-n", "-q", "-c", "2", "-i", "0.2", "-W", "1", "-I", src, fleetServer).Run() == nil
}

// TestFleetEndToEnd: bans cross three daemons through a real NATS
// server (Debian's nats-server, then the daemon's embedded one).
func TestFleetEndToEnd(t *testing.T) {
	testenv.Short(t)
	t.Run("nats-server", func(t *testing.T) {
		fl := newFleetLab(t)
		srv := testenv.StartNATS(t, fl.n, "192.0.2.254")
		for _, nd := range fl.nodes {
			nd.writeConfig(t, "    url: "+srv.URL()+"\n")
		}
		fl.scenario(t, fl.nodes["a"], fl.nodes["b"], func() { srv.Stop(t) }, func() { srv.Start(t) })
	})
	t.Run("embedded", func(t *testing.T) {
		fl := newFleetLab(t)
		a := fl.nodes["a"]
		port := freePort(t, a.s, a.mgmt)
		url := fmt.Sprintf("nats://%s:%d", a.mgmt, port)
		a.writeConfig(t, fmt.Sprintf("    url: embedded\n    listen: %s:%d\n    store_dir: %s\n", a.mgmt, port, filepath.Join(a.dir, "nats")))
		for _, name := range []string{"b", "c"} {
			fl.nodes[name].writeConfig(t, "    url: "+url+"\n")
		}
		// A serves NATS: the outage is A's daemon stopped; the ban made
		// meanwhile is B's, and reaches C.
		fl.scenario(t, fl.nodes["b"], fl.nodes["c"], func() { a.d.stop(t) }, func() { fl.start(t, a) })
	})
}

// freePort finds a free TCP port on host in ns.
func freePort(t *testing.T, ns *testenv.Netns, host string) int {
	t.Helper()
	var port int
	if err := ns.Do(func() error {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return err
		}
		port = ln.Addr().(*net.TCPAddr).Port
		return ln.Close()
	}); err != nil {
		t.Fatal(err)
	}
	return port
}

// scenario: the checks of the issue, on a lab whose NATS goes down with
// stopNATS and comes back with startNATS; outageMaker bans during the
// outage and outageTaker receives it after.
func (fl *fleetLab) scenario(t *testing.T, outageMaker, outageTaker *fleetNode, stopNATS, startNATS func()) {
	a, b, c := fl.nodes["a"], fl.nodes["b"], fl.nodes["c"]
	for _, nd := range []*fleetNode{a, b, c} {
		fl.start(t, nd)
	}
	// An HTTP server on A's side.
	var ln net.Listener
	if err := a.s.Do(func() (err error) { ln, err = net.Listen("tcp", net.JoinHostPort(fleetServer, "8080")); return err }); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "<html><head><title>fleet</title></head><body>ok</body></html>")
	}), ReadHeaderTimeout: 2 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	attacker := fleetAttacker + "/32"

	// Wait until every node has caught up with the bucket.
	for _, nd := range []*fleetNode{a, b, c} {
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(fl.cli(t, nd, "stats"), "connected=true") {
			if time.Now().After(deadline) {
				t.Fatalf("node %s never connected to NATS:\n%s", nd.name, nd.d.log)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	t.Run("an nmap SYN scan's challenge ban stays on its node", func(t *testing.T) {
		out, err := a.c.Cmd("nmap", "-sS", "-p", "1-200", "-n", "-Pn", "--max-retries", "0", fleetServer).CombinedOutput()
		if err != nil {
			t.Fatalf("nmap: %v\n%s", err, out)
		}
		fl.waitBan(t, a, attacker, true, time.Now(), 3*time.Second)
		time.Sleep(time.Second)
		for _, nd := range []*fleetNode{b, c} {
			if r, ok := fl.ban(t, nd, attacker); ok {
				t.Errorf("node %s has the challenge ban A made on forgeable evidence: %+v", nd.name, r)
			}
		}
		fl.cli(t, a, "unblock", fleetAttacker)
	})

	t.Run("a verified ban on A reaches B and C within 1s with A's TTL", func(t *testing.T) {
		nmap := a.c.Cmd("nmap", "-sT", "-p", "8080", "-n", "-Pn", "--script", "http-title", fleetServer)
		var nmapOut strings.Builder
		nmap.Stdout, nmap.Stderr = &nmapOut, &nmapOut
		if err := nmap.Start(); err != nil {
			t.Fatal(err)
		}
		// Watched while nmap runs: the ban lands as its NSE request does.
		seen := fl.waitBans(t, []*fleetNode{a}, attacker, true, time.Now(), 10*time.Second)["a"]
		at := fl.waitBans(t, []*fleetNode{b, c}, attacker, true, seen, time.Second)
		if err := nmap.Wait(); err != nil {
			t.Fatalf("nmap: %v\n%s", err, nmapOut.String())
		}
		onA, _ := fl.ban(t, a, attacker)
		for _, nd := range []*fleetNode{b, c} {
			r, _ := fl.ban(t, nd, attacker)
			t.Logf("node %s: %+v, %s after A's ban was seen", nd.name, r, at[nd.name].Sub(seen).Round(time.Millisecond))
			if r.Origin != "fleet" || !strings.HasPrefix(r.Reason, "a:") {
				t.Errorf("node %s: entry %+v, want origin fleet from a", nd.name, r)
			}
			if d := onA.ExpiresIn - r.ExpiresIn; d < -1 || d > 3 || onA.ExpiresIn < 3500 {
				t.Errorf("node %s: expires in %.0fs, A's in %.0fs (drop_ban_ttl 1h)", nd.name, r.ExpiresIn, onA.ExpiresIn)
			}
		}
		if b.pingFrom(fleetAttacker) {
			t.Error("the attacker still reaches B")
		}
		if !b.pingFrom(fleetBystand) {
			t.Error("B's bystander is cut off")
		}
	})

	t.Run("xdpids unblock on A clears it everywhere", func(t *testing.T) {
		start := time.Now()
		fl.cli(t, a, "unblock", fleetAttacker)
		at := fl.waitBans(t, []*fleetNode{b, c}, attacker, false, start, 3*time.Second)
		for _, nd := range []*fleetNode{b, c} {
			t.Logf("node %s lifted it %s after the unblock", nd.name, at[nd.name].Sub(start).Round(time.Millisecond))
		}
		if !b.pingFrom(fleetAttacker) {
			t.Error("the attacker is still dropped on B")
		}
	})

	t.Run("C stopped while bans were made has them within 1s of starting", func(t *testing.T) {
		c.d.stop(t)
		fl.cli(t, a, "block", "198.51.100.77", "--ttl", "30m", "--reason", "ops")
		fl.waitBans(t, []*fleetNode{b}, "198.51.100.77/32", true, time.Now(), time.Second)
		fl.start(t, c)
		r, took := fl.waitBan(t, c, "198.51.100.77/32", true, c.started, time.Second)
		t.Logf("C had it %s after its ready file: %+v", took.Round(time.Millisecond), r)
		if r.Origin != "fleet" || r.ExpiresIn < 1700 {
			t.Errorf("C's entry %+v", r)
		}
	})

	t.Run("without NATS every node keeps its bans and serves traffic, and catches up after", func(t *testing.T) {
		stopNATS()
		for _, nd := range []*fleetNode{a, b, c} {
			if nd.d.exited {
				continue // the embedded server's node
			}
			if _, ok := fl.ban(t, nd, "198.51.100.77/32"); !ok {
				t.Errorf("node %s lost its ban with NATS down", nd.name)
			}
			if !nd.pingFrom(fleetBystand) {
				t.Errorf("node %s does not serve traffic with NATS down", nd.name)
			}
		}
		fl.cli(t, outageMaker, "block", "198.51.100.78", "--ttl", "30m", "--reason", "outage")
		time.Sleep(300 * time.Millisecond)
		if _, ok := fl.ban(t, outageTaker, "198.51.100.78/32"); ok {
			t.Fatal("a ban crossed with NATS down")
		}
		start := time.Now()
		startNATS()
		_, took := fl.waitBan(t, outageTaker, "198.51.100.78/32", true, start, 10*time.Second)
		t.Logf("node %s had %s's outage ban %s after NATS was started again", outageTaker.name, outageMaker.name, took.Round(time.Millisecond))
		// The status file is rewritten every second.
		for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			st := fl.cli(t, outageTaker, "stats")
			if strings.Contains(st, "fleet: node="+outageTaker.name+" connected=true") && strings.Contains(st, "reconnects=") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("stats lack the fleet line, connected:\n%s", st)
			}
		}
	})
}
