package hostaddrs

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/xdpids/xdpids/internal/testenv"
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func collect(parse func([]byte, func(netip.Addr)), data string) []netip.Addr {
	var out []netip.Addr
	parse([]byte(data), func(a netip.Addr) { out = append(out, a) })
	return out
}

func TestParseResolvConf(t *testing.T) {
	got := collect(parseResolvConf, `# generated
nameserver 198.51.100.53
nameserver   2001:db8::53 ; trailing comment
nameserver fe80::1%eth0
search example.org
nameserver resolver.example.org
options edns0
`)
	want := []netip.Addr{addr("198.51.100.53"), addr("2001:db8::53"), addr("fe80::1")}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestParseNTPConf(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       []netip.Addr
	}{
		{"chrony", `pool 2.debian.pool.ntp.org iburst
server 203.0.113.123 iburst minpoll 4
server [2001:db8::123] iburst
! server 203.0.113.124
peer 198.51.100.7
sourcedir /run/chrony-dhcp
`, []netip.Addr{addr("203.0.113.123"), addr("2001:db8::123"), addr("198.51.100.7")}},
		{"ntpd", `driftfile /var/lib/ntp/ntp.drift
pool 0.ubuntu.pool.ntp.org iburst
server 192.0.2.123 prefer
restrict 192.0.2.0 mask 255.255.255.0
# server 192.0.2.200
`, []netip.Addr{addr("192.0.2.123")}},
		{"timesyncd", `[Time]
NTP=192.0.2.1 time.example.org 2001:db8::1
FallbackNTP = 198.51.100.1 ntp.ubuntu.com
#NTP=203.0.113.9
`, []netip.Addr{addr("192.0.2.1"), addr("2001:db8::1"), addr("198.51.100.1")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := collect(parseNTPConf, tc.data); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func FuzzParseConf(f *testing.F) {
	f.Add([]byte("nameserver 198.51.100.53\nserver [2001:db8::1] iburst\nNTP=192.0.2.1 x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, parse := range []func([]byte, func(netip.Addr)){parseResolvConf, parseNTPConf} {
			parse(data, func(a netip.Addr) {
				if !a.IsValid() || a.Zone() != "" {
					t.Fatalf("invalid address %v from %q", a, data)
				}
			})
		}
	})
}

func TestLastAddr(t *testing.T) {
	for pfx, want := range map[string]string{"198.18.5.0/24": "198.18.5.255", "198.18.0.0/15": "198.19.255.255", "192.0.2.8/30": "192.0.2.11", "0.0.0.0/0": "255.255.255.255"} {
		if got := lastAddr(netip.MustParsePrefix(pfx)); got != addr(want) {
			t.Errorf("lastAddr(%s) = %v, want %s", pfx, got, want)
		}
	}
}

// waitFor polls Contains (the set is updated by another goroutine) for up
// to a second.
func waitFor(t *testing.T, s *Set, a string, want bool) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for s.Contains(addr(a)) != want {
		if time.Now().After(deadline) {
			t.Fatalf("Contains(%s) still %v after 1 s; set %v", a, !want, s.Addrs())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLive follows addresses and routes added and removed after New, in a
// namespace of the test's own, and reads the files of a temp dir.
func TestLive(t *testing.T) {
	n := testenv.NewNetns(t, "hostaddrs-"+testenv.UniqueID())
	dir := t.TempDir()
	resolv := filepath.Join(dir, "resolv.conf")
	chrony := filepath.Join(dir, "chrony.conf")
	if err := os.WriteFile(resolv, []byte("nameserver 198.51.100.53\nnameserver 2001:db8::53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(chrony, []byte("pool pool.ntp.org iburst\nserver 203.0.113.123 iburst\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A veth pair inside the namespace (no dummy module on every kernel).
	n.Run(t, "ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1")
	n.Run(t, "ip", "link", "set", "d1", "up")
	n.Run(t, "ip", "link", "set", "d0", "up")
	n.Run(t, "ip", "addr", "add", "198.18.1.1/24", "dev", "d0")

	var s *Set
	if err := n.Do(func() (err error) {
		s, err = New(Options{ResolvConf: resolv, NTPFiles: []string{chrony, filepath.Join(dir, "absent.conf")}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var p Protector = s
	for _, a := range []string{"127.0.0.1", "::1", "198.18.1.1", "198.18.1.0", "198.18.1.255", "198.51.100.53", "2001:db8::53", "203.0.113.123", "::ffff:198.18.1.1"} {
		if !p.Contains(addr(a)) {
			t.Errorf("%s not protected at start; set %v", a, s.Addrs())
		}
	}
	for _, a := range []string{"198.18.1.2", "198.18.2.1", "198.51.100.54"} {
		if p.Contains(addr(a)) {
			t.Errorf("%s protected", a)
		}
	}

	// Added after start: an address (with its subnet's network and
	// broadcast addresses), a default gateway, a route's next hop, IPv6.
	n.Run(t, "ip", "addr", "add", "198.18.5.1/24", "dev", "d0")
	waitFor(t, s, "198.18.5.1", true)
	waitFor(t, s, "198.18.5.0", true)
	waitFor(t, s, "198.18.5.255", true)
	n.Run(t, "ip", "route", "add", "default", "via", "198.18.5.254")
	waitFor(t, s, "198.18.5.254", true)
	n.Run(t, "ip", "route", "add", "203.0.113.0/24", "via", "198.18.1.254")
	waitFor(t, s, "198.18.1.254", true)
	n.Run(t, "ip", "-6", "addr", "add", "2001:db8:5::1/64", "dev", "d0", "nodad")
	waitFor(t, s, "2001:db8:5::1", true)
	waitFor(t, s, "2001:db8:5::", true)
	n.Run(t, "ip", "-6", "route", "add", "2001:db8:77::/48", "via", "2001:db8:5::fe")
	waitFor(t, s, "2001:db8:5::fe", true)
	if p.Contains(addr("2001:db8:5::2")) {
		t.Errorf("2001:db8:5::2 protected")
	}

	// Removed: the protection goes with them.
	n.Run(t, "ip", "route", "del", "203.0.113.0/24")
	waitFor(t, s, "198.18.1.254", false)
	n.Run(t, "ip", "route", "del", "default")
	waitFor(t, s, "198.18.5.254", false)
	n.Run(t, "ip", "-6", "route", "del", "2001:db8:77::/48")
	waitFor(t, s, "2001:db8:5::fe", false)
	n.Run(t, "ip", "addr", "del", "198.18.5.1/24", "dev", "d0")
	waitFor(t, s, "198.18.5.1", false)
	waitFor(t, s, "198.18.5.255", false)
	waitFor(t, s, "198.18.5.0", false)

	// Files are read again on the next update.
	if err := os.WriteFile(resolv, []byte("nameserver 198.51.100.99\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n.Run(t, "ip", "addr", "add", "198.18.6.1/32", "dev", "d0")
	waitFor(t, s, "198.51.100.99", true)
	waitFor(t, s, "198.51.100.53", false)
	if p.Contains(addr("198.18.6.0")) || p.Contains(addr("198.18.6.255")) {
		t.Errorf("a /32 has no network or broadcast address")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.Close() // twice is fine
}

// The host's own set is never empty (loopback at least) and lists sorted.
func TestAddrsSorted(t *testing.T) {
	testenv.RequireRoot(t)
	s, err := New(Options{ResolvConf: "-", NTPFiles: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := s.Addrs()
	if len(a) == 0 || !slices.IsSortedFunc(a, func(x, y netip.Prefix) int { return x.Addr().Compare(y.Addr()) }) {
		t.Fatalf("Addrs %v", a)
	}
}
