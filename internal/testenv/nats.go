package testenv

import (
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// NATSServer is a real nats-server (Debian's package) with JetStream and
// a file store in a temporary directory, started by the test on a free
// port, in a namespace or the test's own. Stop and Start keep its port
// and store: what JetStream held survives, as across a broker restart.
type NATSServer struct {
	NS   *Netns // nil: the test's namespace
	Host string
	Port int
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// StartNATS starts nats-server on host (an address of ns, or 127.0.0.1),
// stopped when the test ends. It skips (fails under CI) without it.
func StartNATS(t testing.TB, ns *Netns, host string) *NATSServer {
	t.Helper()
	RequireTool(t, "nats-server")
	s := &NATSServer{NS: ns, Host: host, dir: t.TempDir()}
	if err := s.do(func() error {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return err
		}
		s.Port = ln.Addr().(*net.TCPAddr).Port
		return ln.Close()
	}); err != nil {
		t.Fatalf("free port for nats-server: %v", err)
	}
	t.Cleanup(func() { s.Stop(t) })
	s.Start(t)
	return s
}

// URL is the client URL.
func (s *NATSServer) URL() string {
	return "nats://" + net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
}

func (s *NATSServer) do(fn func() error) error {
	if s.NS == nil {
		return fn()
	}
	return s.NS.Do(fn)
}

// Start (re)starts the server and waits until it accepts connections.
func (s *NATSServer) Start(t testing.TB) {
	t.Helper()
	args := []string{"-a", s.Host, "-p", strconv.Itoa(s.Port), "-js", "-sd", s.dir, "-n", "xdpids-test"}
	if s.NS != nil {
		s.cmd = s.NS.Cmd("nats-server", args...)
	} else {
		s.cmd = exec.Command("nats-server", args...)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start nats-server: %v", err)
	}
	s.done = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(s.cmd, s.done)
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.do(func() error {
			c, err := net.DialTimeout("tcp", net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), 200*time.Millisecond)
			if err == nil {
				c.Close()
			}
			return err
		})
		if err == nil {
			return
		}
		select {
		case <-s.done:
			t.Fatalf("nats-server exited at start: %v", s.cmd.ProcessState)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal(fmt.Errorf("nats-server not listening on %s after 10s: %w", s.URL(), err))
		}
	}
}

// Stop stops the server (SIGTERM, then SIGKILL after 5 s).
func (s *NATSServer) Stop(t testing.TB) {
	t.Helper()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}
