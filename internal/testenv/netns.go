package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netns"
)

// Netns is a network namespace the test created; it is deleted (with its
// links) when the test ends, even when it fails.
type Netns struct {
	Name string
}

// Path is the namespace's bind mount, for nsenter --net=.
func (n *Netns) Path() string { return "/run/netns/" + n.Name }

// Cmd runs a command inside only this network namespace (nsenter --net),
// keeping the root mount namespace so bpffs pins stay visible.
func (n *Netns) Cmd(name string, args ...string) *exec.Cmd {
	return exec.Command("nsenter", append([]string{"--net=" + n.Path(), "--", name}, args...)...)
}

// Run runs a command in the namespace and fails the test on error.
func (n *Netns) Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := n.Cmd(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("in %s: %s %s: %v\n%s", n.Name, name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// UniqueID returns a short random suffix for namespace and link names.
func UniqueID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func ip(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// NewNetns creates a network namespace with loopback up and no routes
// beyond its own links, so nothing sent inside can leave the machine.
func NewNetns(t testing.TB, name string) *Netns {
	t.Helper()
	RequireRoot(t)
	RequireTool(t, "ip")
	RequireTool(t, "nsenter")
	ip(t, "netns", "add", name)
	n := &Netns{Name: name}
	t.Cleanup(func() {
		// Deleting the namespace destroys its veth ends and their peers.
		_ = exec.Command("ip", "netns", "del", name).Run()
	})
	n.Run(t, "ip", "link", "set", "lo", "up")
	return n
}

// VethEnd is one end of a veth pair.
type VethEnd struct {
	NS   *Netns
	Name string
	Addr string // CIDR, e.g. 198.18.1.1/24
	MAC  string
}

// IP is the address without its prefix length.
func (e VethEnd) IP() string { return strings.SplitN(e.Addr, "/", 2)[0] }

// Veth links a (in namespace na) and b (in nb) with a veth pair, sets the
// addresses, brings both up and writes static neighbour entries, so a
// program that drops ARP cannot silence the link.
func Veth(t testing.TB, a, b *VethEnd) {
	t.Helper()
	ip(t, "link", "add", a.Name, "netns", a.NS.Name, "type", "veth", "peer", "name", b.Name, "netns", b.NS.Name)
	for _, e := range []*VethEnd{a, b} {
		e.NS.Run(t, "ip", "addr", "add", e.Addr, "dev", e.Name)
		e.NS.Run(t, "ip", "link", "set", e.Name, "up")
		// Not /sys/class/net: nsenter --net keeps the root namespace's sysfs.
		out := e.NS.Run(t, "ip", "-o", "link", "show", "dev", e.Name)
		if f := strings.Fields(out[strings.Index(out, "link/ether")+1:]); strings.Contains(out, "link/ether") && len(f) > 1 {
			e.MAC = f[1]
		}
		if _, err := net.ParseMAC(e.MAC); err != nil {
			t.Fatalf("read MAC of %s: %q", e.Name, out)
		}
	}
	a.NS.Run(t, "ip", "neigh", "replace", b.IP(), "lladdr", b.MAC, "dev", a.Name, "nud", "permanent")
	b.NS.Run(t, "ip", "neigh", "replace", a.IP(), "lladdr", a.MAC, "dev", b.Name, "nud", "permanent")
}

// String names the end for messages.
func (e VethEnd) String() string { return fmt.Sprintf("%s:%s(%s)", e.NS.Name, e.Name, e.Addr) }

// Do runs fn on an OS thread switched into the namespace. Sockets fn opens
// stay in that namespace after it returns. If the thread cannot be switched
// back it stays locked, so Go retires it instead of reusing it.
func (n *Netns) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("get current netns: %w", err)
			return
		}
		defer orig.Close()
		target, err := netns.GetFromName(n.Name)
		if err != nil {
			errc <- fmt.Errorf("open netns %s: %w", n.Name, err)
			runtime.UnlockOSThread()
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			errc <- fmt.Errorf("enter netns %s: %w", n.Name, err)
			runtime.UnlockOSThread()
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("restore netns: %w", err))
			return // thread stays locked and dies with this goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
