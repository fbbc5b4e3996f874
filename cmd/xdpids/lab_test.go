package main

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/userspace/run/daemon"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// xdpidsBinary builds the command once per test process.
func xdpidsBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "xdpids-bin")
		if err != nil {
			buildErr = err
			return
		}
		_ = os.Chmod(dir, 0o755) // TestCLIErrors runs it as nobody too
		binPath = filepath.Join(dir, "xdpids")
		args := []string{"build", "-o", binPath}
		if testenv.Race {
			// go test -race: the daemon the e2e tests run is checked too
			// (a race makes it exit 66, which stop reports).
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			buildErr = err
			t.Logf("go build: %s", out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build xdpids: %v", buildErr)
	}
	return binPath
}

// lab is a server namespace S linked by one veth pair each to client
// namespaces A, B and C; xdpids runs in S on all three links. Addresses
// are in 198.18.0.0/15 and no namespace has a default route.
type lab struct {
	bin        string
	pin        string
	id         string
	s          *testenv.Netns
	clients    map[string]*testenv.Netns // "a", "b", "c"
	serverEnds map[string]*testenv.VethEnd
	clientEnds map[string]*testenv.VethEnd
}

func newLab(t *testing.T) *lab {
	t.Helper()
	testenv.RequireBPF(t)
	testenv.RequireTool(t, "ip")
	id := testenv.UniqueID()
	l := &lab{
		bin: xdpidsBinary(t), id: id,
		pin:     "/sys/fs/bpf/xdpids-test-" + id,
		clients: map[string]*testenv.Netns{}, serverEnds: map[string]*testenv.VethEnd{}, clientEnds: map[string]*testenv.VethEnd{},
	}
	t.Cleanup(func() { os.RemoveAll(l.pin) })
	l.s = testenv.NewNetns(t, "xids-"+id+"-s")
	for i, name := range []string{"a", "b", "c"} {
		ns := testenv.NewNetns(t, "xids-"+id+"-"+name)
		n := string(rune('1' + i))
		se := &testenv.VethEnd{NS: l.s, Name: "xs" + id + name, Addr: "198.18." + n + ".1/24"}
		ce := &testenv.VethEnd{NS: ns, Name: "xc" + id + name, Addr: "198.18." + n + ".2/24"}
		testenv.Veth(t, se, ce)
		l.clients[name], l.serverEnds[name], l.clientEnds[name] = ns, se, ce
	}
	return l
}

// daemonProc is a running `xdpids run`.
type daemonProc struct {
	cmd       *exec.Cmd
	log       *logBuf
	config    string // the config file it was started with (rewrite it, then SIGHUP)
	done      chan error
	pcap      string
	eve       string
	ready     daemon.Ready // the ready file's contents
	readyPath string
	exited    bool
}

// start runs the daemon in S on the three server ends with configYAML and
// waits for its ready file.
func (l *lab) start(t *testing.T, configYAML string, extra ...string) *daemonProc {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "xdpids.yaml")
	if err := os.WriteFile(cfg, []byte(configYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	ready := filepath.Join(dir, "ready.json")
	d := &daemonProc{readyPath: ready, log: &logBuf{}, config: cfg, done: make(chan error, 1), pcap: filepath.Join(dir, "samples.pcap"), eve: filepath.Join(dir, "eve.json")}
	args := []string{"run", "--config", cfg, "--pin-path", l.pin, "--ready-file", ready, "--sample-pcap", d.pcap, "--eve", d.eve}
	for _, name := range []string{"a", "b", "c"} {
		args = append(args, "-i", l.serverEnds[name].Name)
	}
	d.cmd = l.s.Cmd(l.bin, append(args, extra...)...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start daemon: %v", err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() { d.stop(t) })
	deadline := time.Now().Add(15 * time.Second)
	for {
		// A ready file whose daemon is gone (ErrStale) is not this one's.
		if r, err := daemon.ReadReady(ready); err == nil {
			d.ready = r
			return d
		} else if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, daemon.ErrStale) {
			t.Fatalf("ready file: %v", err)
		}
		select {
		case err := <-d.done:
			d.exited = true
			t.Fatalf("daemon exited before ready: %v\n%s", err, d.log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon not ready after 15s:\n%s", d.log)
		}
	}
}

// logBuf is the daemon's output, safe to read while it runs.
type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// stop sends SIGTERM and waits for a clean exit.
func (d *daemonProc) stop(t *testing.T) {
	t.Helper()
	if d.exited {
		return
	}
	d.exited = true
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		if err != nil {
			t.Errorf("daemon exit: %v\n%s", err, d.log)
		}
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		t.Errorf("daemon did not exit within 10s of SIGTERM:\n%s", d.log)
	}
}

// cli runs an xdpids command against the lab's pins: its stdout, and its
// stderr apart.
func (l *lab) cli(args ...string) (stdout, stderr string, err error) {
	var o, e strings.Builder
	c := exec.Command(l.bin, append([]string{"--pin-path", l.pin}, args...)...)
	c.Stdout, c.Stderr = &o, &e
	err = c.Run()
	return o.String(), e.String(), err
}

// mustCLI runs a command that must succeed (for stats, top and blocks:
// with a daemon attached).
func (l *lab) mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, stderr, err := l.cli(args...)
	if err != nil {
		t.Fatalf("xdpids %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
	}
	return out
}

// lastRunCLI runs stats, top or blocks with no daemon attached: the output
// is printed, stderr says no daemon is attached, and the exit status is 1.
func (l *lab) lastRunCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, stderr, err := l.cli(args...)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr, "no xdpids daemon is attached with the maps at "+l.pin) {
		t.Fatalf("xdpids %s without a daemon: %v, stderr %q, want exit 1 saying no daemon is attached", strings.Join(args, " "), err, stderr)
	}
	return out
}

// stats reads `xdpids stats --json` keyed by interface name, with the
// daemon attached.
func (l *lab) stats(t *testing.T) map[string]ifaceJSON {
	t.Helper()
	return parseStats(t, l.mustCLI(t, "stats", "--json"))
}

// lastRunStats reads the counters a stopped daemon left.
func (l *lab) lastRunStats(t *testing.T) map[string]ifaceJSON {
	t.Helper()
	return parseStats(t, l.lastRunCLI(t, "stats", "--json"))
}

func parseStats(t *testing.T, text string) map[string]ifaceJSON {
	t.Helper()
	var r statsJSON
	if err := json.Unmarshal([]byte(text), &r); err != nil {
		t.Fatalf("parse stats: %v", err)
	}
	out := map[string]ifaceJSON{}
	for _, i := range r.Interfaces {
		out[i.Iface] = i
	}
	return out
}

// ping runs ping from a client namespace to the server end and reports
// whether every echo was answered.
func (l *lab) ping(client string, count int) (bool, string) {
	out, err := l.clients[client].Cmd("ping", "-n", "-q", "-c", itoa(count), "-i", "0.2", "-W", "1", l.serverEnds[client].IP()).CombinedOutput()
	return err == nil && strings.Contains(string(out), " 0% packet loss"), string(out)
}

func itoa(n int) string { return strconv.Itoa(n) }

// listen serves TCP on addr inside S, each connection with serve, until
// the test ends.
func (l *lab) listen(t *testing.T, addr string, serve func(net.Conn)) {
	t.Helper()
	var ln net.Listener
	if err := l.s.Do(func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
}

// echoConn echoes what a connection sends.
func echoConn(c net.Conn) { defer c.Close(); _, _ = io.Copy(c, c) }

// dial connects from a client namespace.
func (l *lab) dial(client, addr string) (net.Conn, error) {
	var c net.Conn
	err := l.clients[client].Do(func() (err error) { c, err = net.DialTimeout("tcp", addr, 2*time.Second); return err })
	return c, err
}
