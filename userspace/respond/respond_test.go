package respond

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/detect/alert"
)

// fakeBanner is an in-memory block list with the kernel maps' semantics:
// an entry expires at Now+TTL.
type fakeBanner struct {
	mu      sync.Mutex
	entries map[netip.Prefix]loader.BlockEntry
	calls   []blockCall
	allowed map[netip.Addr]bool
	err     error
}

type blockCall struct {
	p netip.Prefix
	o loader.BlockOptions
}

func newFake() *fakeBanner {
	return &fakeBanner{entries: map[netip.Prefix]loader.BlockEntry{}, allowed: map[netip.Addr]bool{}}
}

func (f *fakeBanner) Block(p netip.Prefix, o loader.BlockOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.calls = append(f.calls, blockCall{p, o})
	e := loader.BlockEntry{Prefix: p, CreatedNs: o.Now}
	if o.TTL > 0 {
		e.ExpiresNs = o.Now + uint64(o.TTL)
	}
	f.entries[p] = e
	return nil
}

func (f *fakeBanner) LookupBlock(p netip.Prefix) (loader.BlockEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.entries[p]
	if !ok {
		return loader.BlockEntry{}, fmt.Errorf("%s: %w", p, loader.ErrNotListed)
	}
	return e, nil
}

func (f *fakeBanner) Allowed(a netip.Addr) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.allowed[a], nil
}

func (f *fakeBanner) unblock(p netip.Prefix) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.entries, p)
}

func (f *fakeBanner) ncalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeBanner) last() blockCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[len(f.calls)-1]
}

const now0 = int64(1_000_000_000_000) // ~16 min of uptime

var attacker = netip.MustParseAddr("203.0.113.66")

// testConfig is DefaultConfig without the host's own addresses, so that
// tests do not depend on the machine.
func testConfig() Config {
	c := DefaultConfig()
	c.ProtectHost = false
	return c
}

func newResponder(t *testing.T, cfg Config, b Banner) *Responder {
	t.Helper()
	r, err := New(cfg, b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func scanAlert(subject netip.Addr) *alert.Alert {
	a := &alert.Alert{Src: subject, Dst: netip.MustParseAddr("192.0.2.10"), Proto: 6, Subject: subject,
		BanTTLNs: int64(10 * time.Minute), Detector: "port_scan"}
	alert.ScanVerticalTCP.Fill(a)
	return a
}

func TestBan(t *testing.T) {
	f := newFake()
	r := newResponder(t, testConfig(), f)
	a := scanAlert(attacker)
	r.Handle(a, now0)
	if a.Action != "blocked" || a.BanPrefix != "203.0.113.66/32" || a.BanTTL != int64(10*time.Minute) {
		t.Fatalf("alert: action %q prefix %q ttl %v", a.Action, a.BanPrefix, time.Duration(a.BanTTL))
	}
	if f.ncalls() != 1 {
		t.Fatalf("%d Block calls", f.ncalls())
	}
	c := f.last()
	want := loader.BlockOptions{TTL: 10 * time.Minute, Origin: bpf.OriginDetector, Level: 0, Comment: "port_scan", Now: uint64(now0)}
	if c.p != netip.MustParsePrefix("203.0.113.66/32") || c.o != want {
		t.Fatalf("Block(%v, %+v), want %+v", c.p, c.o, want)
	}
	if st := r.Stats(); st.Bans != 1 || st.Protected+st.Capped+st.Failed+st.DryRun != 0 {
		t.Errorf("stats %+v", st)
	}

	// Already banned (samples in flight): blocked, no second Block call,
	// the TTL left is reported.
	b := scanAlert(attacker)
	r.Handle(b, now0+int64(time.Minute))
	if b.Action != "blocked" || f.ncalls() != 1 || b.BanTTL != int64(9*time.Minute) || b.BanPrefix != "203.0.113.66/32" {
		t.Fatalf("repeat: action %q calls %d ttl %v", b.Action, f.ncalls(), time.Duration(b.BanTTL))
	}
	if st := r.Stats(); st.Bans != 1 {
		t.Errorf("stats %+v", st)
	}

	// An operator lifted the ban: the next alert bans again.
	f.unblock(netip.MustParsePrefix("203.0.113.66/32"))
	c2 := scanAlert(attacker)
	r.Handle(c2, now0+int64(2*time.Minute))
	if c2.Action != "blocked" || f.ncalls() != 2 {
		t.Fatalf("after unblock: action %q calls %d", c2.Action, f.ncalls())
	}

	// Forget (after an unblock through the CLI) makes the next alert ban.
	r.Forget(netip.MustParsePrefix("203.0.113.66/32"))
	r.Handle(scanAlert(attacker), now0+int64(3*time.Minute))
	if f.ncalls() != 3 {
		t.Fatalf("after Forget: %d calls", f.ncalls())
	}
}

func TestNoBan(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    func(*Config)
		banner bool
		alert  func(*alert.Alert)
	}{
		{"subject is the target", nil, true, func(a *alert.Alert) { a.SubjectIsTarget = true }},
		{"no ban ttl", nil, true, func(a *alert.Alert) { a.BanTTLNs = 0 }},
		{"negative ttl", nil, true, func(a *alert.Alert) { a.BanTTLNs = -1 }},
		{"no subject", nil, true, func(a *alert.Alert) { a.Subject = netip.Addr{} }},
		{"disabled (monitor mode)", func(c *Config) { c.Enabled = false }, true, nil},
		{"no banner", nil, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			f := newFake()
			var b Banner
			if tc.banner {
				b = f
			}
			r := newResponder(t, cfg, b)
			a := scanAlert(attacker)
			if tc.alert != nil {
				tc.alert(a)
			}
			r.Handle(a, now0)
			if a.Action != "allowed" || a.BanPrefix != "" || a.BanTTL != 0 || f.ncalls() != 0 {
				t.Fatalf("action %q prefix %q calls %d", a.Action, a.BanPrefix, f.ncalls())
			}
		})
	}
	// An action set before (a rule's drop) is kept.
	r := newResponder(t, testConfig(), newFake())
	a := scanAlert(attacker)
	a.SubjectIsTarget, a.Action = true, "blocked"
	r.Handle(a, now0)
	if a.Action != "blocked" {
		t.Errorf("action %q overwritten", a.Action)
	}
}

func TestProtected(t *testing.T) {
	cfg := testConfig()
	cfg.Protect = []string{"10.0.0.0/8", "198.51.100.7", "2001:db8:ffff::/48", " 192.0.2.128/25 "}
	f := newFake()
	f.allowed[netip.MustParseAddr("203.0.113.200")] = true
	r := newResponder(t, cfg, f)
	for i, s := range []string{"10.1.2.3", "198.51.100.7", "2001:db8:ffff:1::66", "192.0.2.200", "203.0.113.200", "::ffff:10.9.9.9"} {
		a := scanAlert(netip.MustParseAddr(s))
		for range 3 {
			r.Handle(a, now0+int64(i))
			if a.Action != "allowed" || a.BanPrefix != "" {
				t.Errorf("%s: action %q prefix %q", s, a.Action, a.BanPrefix)
			}
		}
		if !r.IsProtected(netip.MustParseAddr(s).Unmap()) && s != "203.0.113.200" {
			t.Errorf("IsProtected(%s) false", s)
		}
	}
	if f.ncalls() != 0 {
		t.Fatalf("%d bans of protected subjects", f.ncalls())
	}
	if st := r.Stats(); st.Protected != 18 || st.Bans != 0 {
		t.Errorf("stats %+v", st)
	}
	// Next to a protected prefix: banned.
	a := scanAlert(netip.MustParseAddr("198.51.100.8"))
	r.Handle(a, now0)
	if a.Action != "blocked" {
		t.Errorf("198.51.100.8 not banned: %q", a.Action)
	}
	// A bad protect entry is an error.
	cfg.Protect = []string{"10.0.0.0/33"}
	if _, err := New(cfg, f); err == nil {
		t.Error("New accepted a bad protect prefix")
	}
	cfg.Protect = []string{"not-an-address"}
	if _, err := New(cfg, f); err == nil {
		t.Error("New accepted a bad protect entry")
	}
}

func TestEscalation(t *testing.T) {
	cfg := testConfig() // 10 min, 1 h, 24 h; forget after 24 h
	for _, tc := range []struct {
		name string
		base time.Duration
		want []time.Duration // TTL of offence 1, 2, ...
	}{
		{"scan (10 min)", 10 * time.Minute, []time.Duration{10 * time.Minute, time.Hour, 24 * time.Hour, 24 * time.Hour}},
		{"brute force (1 h)", time.Hour, []time.Duration{time.Hour, time.Hour, 24 * time.Hour, 24 * time.Hour}},
		{"longer than the ladder", 48 * time.Hour, []time.Duration{48 * time.Hour, 48 * time.Hour, 48 * time.Hour}},
		{"short", time.Minute, []time.Duration{time.Minute, time.Hour, 24 * time.Hour}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			r := newResponder(t, cfg, f)
			now := now0
			for i, want := range tc.want {
				a := scanAlert(attacker)
				a.BanTTLNs = int64(tc.base)
				r.Handle(a, now)
				if a.Action != "blocked" || a.BanTTL != int64(want) {
					t.Fatalf("offence %d: action %q ttl %v, want %v", i+1, a.Action, time.Duration(a.BanTTL), want)
				}
				c := f.last()
				if c.o.TTL != want || c.o.Level != uint32(i) {
					t.Fatalf("offence %d: Block ttl %v level %d", i+1, c.o.TTL, c.o.Level)
				}
				now += a.BanTTL + int64(time.Second) // the ban expires, the source comes back
			}
		})
	}
	// ForgetAfter counts from the end of the last ban: an offence
	// ForgetAfter after it is still remembered, one later starts over.
	for _, tc := range []struct {
		name  string
		after time.Duration // since the end of the second ban
		want  time.Duration
		level uint32
	}{
		{"just within ForgetAfter", cfg.ForgetAfter, 24 * time.Hour, 2},
		{"past ForgetAfter", cfg.ForgetAfter + time.Nanosecond, 10 * time.Minute, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			r := newResponder(t, cfg, f)
			r.Handle(scanAlert(attacker), now0)
			b := scanAlert(attacker)
			r.Handle(b, now0+int64(time.Hour))
			if b.BanTTL != int64(time.Hour) {
				t.Fatalf("second offence ttl %v", time.Duration(b.BanTTL))
			}
			c := scanAlert(attacker)
			r.Handle(c, now0+int64(2*time.Hour+tc.after))
			if c.BanTTL != int64(tc.want) || f.last().o.Level != tc.level {
				t.Fatalf("ttl %v level %d, want %v %d", time.Duration(c.BanTTL), f.last().o.Level, tc.want, tc.level)
			}
			// Offences are per subject.
			d := scanAlert(netip.MustParseAddr("203.0.113.67"))
			r.Handle(d, now0+int64(2*time.Hour+tc.after))
			if d.BanTTL != int64(10*time.Minute) {
				t.Fatalf("other subject ttl %v", time.Duration(d.BanTTL))
			}
		})
	}
}

func TestMaxActiveBans(t *testing.T) {
	cfg := testConfig()
	cfg.MaxActiveBans = 3
	f := newFake()
	r := newResponder(t, cfg, f)
	for i := range 5 {
		a := scanAlert(netip.AddrFrom4([4]byte{203, 0, 113, byte(i + 1)}))
		r.Handle(a, now0+int64(i))
		want := "blocked"
		if i >= 3 {
			want = "allowed"
		}
		if a.Action != want {
			t.Fatalf("subject %d: action %q, want %q", i, a.Action, want)
		}
		if i >= 3 && (a.BanPrefix != "" || a.BanTTL != 0) {
			t.Errorf("capped alert reports a ban %q", a.BanPrefix)
		}
	}
	if st := r.Stats(); st.Bans != 3 || st.Capped != 2 || f.ncalls() != 3 {
		t.Fatalf("stats %+v calls %d", st, f.ncalls())
	}
	// The bans expire: room again.
	a := scanAlert(netip.MustParseAddr("203.0.113.99"))
	r.Handle(a, now0+int64(11*time.Minute))
	if a.Action != "blocked" {
		t.Fatalf("after expiry: %q", a.Action)
	}
}

func TestMaxBansPerMinute(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBansPerMin = 3
	f := newFake()
	r := newResponder(t, cfg, f)
	minute := int64(60e9)
	start := (now0/minute + 1) * minute // the start of a minute
	for i := range 5 {
		a := scanAlert(netip.AddrFrom4([4]byte{203, 0, 113, byte(i + 1)}))
		r.Handle(a, start+int64(i)*1e9)
		if want := i < 3; (a.Action == "blocked") != want {
			t.Fatalf("ban %d in one minute: action %q", i+1, a.Action)
		}
	}
	if st := r.Stats(); st.Capped != 2 {
		t.Errorf("stats %+v", st)
	}
	// The next minute: banning again.
	a := scanAlert(netip.MustParseAddr("203.0.113.50"))
	r.Handle(a, start+minute)
	if a.Action != "blocked" {
		t.Fatalf("next minute: %q", a.Action)
	}
	// A capped subject is banned on a later alert.
	b := scanAlert(netip.AddrFrom4([4]byte{203, 0, 113, 4}))
	r.Handle(b, start+minute+1)
	if b.Action != "blocked" {
		t.Fatalf("capped subject, next minute: %q", b.Action)
	}
}

func TestDryRun(t *testing.T) {
	cfg := testConfig()
	cfg.DryRun = true
	f := newFake()
	r := newResponder(t, cfg, f)
	a := scanAlert(attacker)
	a.Metadata = map[string]string{"distinct_ports": "15"}
	r.Handle(a, now0)
	if a.Action != "allowed" || f.ncalls() != 0 {
		t.Fatalf("dry run: action %q, %d Block calls", a.Action, f.ncalls())
	}
	if got := a.Metadata["dry_run_ban"]; got != "203.0.113.66/32 for 10m0s" {
		t.Errorf("dry_run_ban %q", got)
	}
	if a.Metadata["distinct_ports"] != "15" {
		t.Error("detector metadata lost")
	}
	if a.BanPrefix != "203.0.113.66/32" || a.BanTTL != int64(10*time.Minute) {
		t.Errorf("would-be ban %q %v", a.BanPrefix, time.Duration(a.BanTTL))
	}
	// A second alert while the would-be ban runs reports it unchanged: no
	// escalation on every alert.
	again := scanAlert(attacker)
	r.Handle(again, now0+int64(time.Minute))
	if again.BanTTL != int64(9*time.Minute) || again.Action != "allowed" || f.ncalls() != 0 {
		t.Errorf("repeat alert in dry run: ttl %v action %q", time.Duration(again.BanTTL), again.Action)
	}
	// Without metadata: the map is made.
	b := scanAlert(netip.MustParseAddr("2001:db8:1:2:3:4:5:6"))
	r.Handle(b, now0)
	if b.Metadata["dry_run_ban"] != "2001:db8:1:2::/64 for 10m0s" || b.Action != "allowed" {
		t.Errorf("ipv6 dry run: %q %q", b.Metadata["dry_run_ban"], b.Action)
	}
	// Protected subjects get no would-be ban either.
	cfg.Protect = []string{"203.0.113.0/24"}
	r = newResponder(t, cfg, f)
	c := scanAlert(attacker)
	r.Handle(c, now0)
	if _, ok := c.Metadata["dry_run_ban"]; ok {
		t.Error("dry-run ban of a protected subject")
	}
	if st := r.Stats(); st.DryRun != 0 || st.Protected != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestIPv6Prefix(t *testing.T) {
	f := newFake()
	r := newResponder(t, testConfig(), f)
	a := scanAlert(netip.MustParseAddr("2001:db8:1:2:3:4:5:6"))
	r.Handle(a, now0)
	if a.Action != "blocked" || a.BanPrefix != "2001:db8:1:2::/64" || f.last().p != netip.MustParsePrefix("2001:db8:1:2::/64") {
		t.Fatalf("action %q prefix %q", a.Action, a.BanPrefix)
	}
	// Another address of the /64: already banned.
	b := scanAlert(netip.MustParseAddr("2001:db8:1:2:ffff::1"))
	r.Handle(b, now0+1)
	if b.Action != "blocked" || f.ncalls() != 1 {
		t.Fatalf("same /64: action %q calls %d", b.Action, f.ncalls())
	}
	// The next /64 is another ban.
	c := scanAlert(netip.MustParseAddr("2001:db8:1:3::1"))
	r.Handle(c, now0+2)
	if c.BanPrefix != "2001:db8:1:3::/64" || f.ncalls() != 2 {
		t.Fatalf("next /64: prefix %q calls %d", c.BanPrefix, f.ncalls())
	}
	// IPv4-mapped subjects are IPv4 bans.
	d := scanAlert(netip.MustParseAddr("::ffff:198.51.100.9"))
	r.Handle(d, now0+3)
	if d.BanPrefix != "198.51.100.9/32" {
		t.Fatalf("mapped: %q", d.BanPrefix)
	}
	// Other prefix lengths; out of range means the address alone.
	for _, tc := range []struct {
		bits int
		want string
	}{{48, "2001:db8:1::/48"}, {128, "2001:db8:1:2:3:4:5:6/128"}, {0, "2001:db8:1:2:3:4:5:6/128"}, {200, "2001:db8:1:2:3:4:5:6/128"}} {
		cfg := testConfig()
		cfg.IPv6PrefixLen = tc.bits
		r := newResponder(t, cfg, newFake())
		a := scanAlert(netip.MustParseAddr("2001:db8:1:2:3:4:5:6"))
		r.Handle(a, now0)
		if a.BanPrefix != tc.want {
			t.Errorf("IPv6PrefixLen %d: %q, want %q", tc.bits, a.BanPrefix, tc.want)
		}
	}
}

func TestBlockFailure(t *testing.T) {
	f := newFake()
	f.err = errors.New("map full")
	r := newResponder(t, testConfig(), f)
	a := scanAlert(attacker)
	r.Handle(a, now0)
	if a.Action != "allowed" || a.BanPrefix != "" || a.BanTTL != 0 {
		t.Fatalf("failed ban: action %q prefix %q", a.Action, a.BanPrefix)
	}
	if st := r.Stats(); st.Failed != 1 || st.Bans != 0 {
		t.Fatalf("stats %+v", st)
	}
	// The map recovers: the next alert bans.
	f.err = nil
	b := scanAlert(attacker)
	r.Handle(b, now0+1)
	if b.Action != "blocked" {
		t.Fatalf("after recovery: %q", b.Action)
	}
}

func TestHostPrefixes(t *testing.T) {
	t.Setenv("SSH_CONNECTION", "198.51.100.77 52000 192.0.2.1 22")
	ps := HostPrefixes()
	has := map[netip.Prefix]bool{}
	for _, p := range ps {
		if p.Bits() != p.Addr().BitLen() {
			t.Errorf("%v is not a host prefix", p)
		}
		if p.Addr().Is4In6() {
			t.Errorf("%v is IPv4-mapped", p)
		}
		has[p] = true
	}
	for _, want := range []string{"127.0.0.1/32", "198.51.100.77/32"} {
		if !has[netip.MustParsePrefix(want)] {
			t.Errorf("HostPrefixes lacks %s: %v", want, ps)
		}
	}
	// With ProtectHost the responder never bans them.
	cfg := DefaultConfig()
	f := newFake()
	r := newResponder(t, cfg, f)
	for _, s := range []string{"127.0.0.1", "198.51.100.77"} {
		a := scanAlert(netip.MustParseAddr(s))
		r.Handle(a, now0)
		if a.Action != "allowed" {
			t.Errorf("%s: %q", s, a.Action)
		}
	}
	if f.ncalls() != 0 {
		t.Errorf("%d bans of the host's addresses", f.ncalls())
	}
	if !strings.Contains(fmt.Sprint(ps), "127.0.0.1") {
		t.Errorf("no loopback in %v", ps)
	}
}

func TestConcurrentHandle(t *testing.T) {
	f := newFake()
	r := newResponder(t, testConfig(), f)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				r.Handle(scanAlert(netip.AddrFrom4([4]byte{203, 0, byte(g), byte(i)})), now0+int64(i))
				r.Handle(scanAlert(attacker), now0+int64(i))
			}
		}()
	}
	wg.Wait()
	if st := r.Stats(); st.Bans != 401 || f.ncalls() != 401 {
		t.Fatalf("stats %+v calls %d", st, f.ncalls())
	}
}

// TestRestoreEscalation: a responder restored from the block list the last
// daemon left (a level-1 ban, now ended) gives the next ban level 2, as
// the responder that made it would have.
func TestRestoreEscalation(t *testing.T) {
	now3 := now0 + int64(72*time.Hour)
	f := newFake()
	r := newResponder(t, testConfig(), f)
	ended := now3 - int64(time.Minute)
	n := r.Restore([]loader.BlockEntry{
		{Prefix: netip.PrefixFrom(attacker, 32), CreatedNs: uint64(ended - int64(time.Hour)), ExpiresNs: uint64(ended),
			Origin: bpf.OriginDetector, Level: 1, Comment: "port_scan"},
		// The operator's bans are not offences.
		{Prefix: netip.MustParsePrefix("198.51.100.7/32"), ExpiresNs: uint64(ended), Origin: bpf.OriginManual, Level: 3},
		// Forgotten long ago.
		{Prefix: netip.MustParsePrefix("198.51.100.8/32"), ExpiresNs: uint64(now3 - int64(48*time.Hour)), Origin: bpf.OriginDetector, Level: 2},
	}, now3)
	if n != 1 {
		t.Fatalf("restored %d entries, want 1", n)
	}
	a := scanAlert(attacker)
	r.Handle(a, now3)
	if a.Action != "blocked" || f.ncalls() != 1 {
		t.Fatalf("action %q, %d Block calls", a.Action, f.ncalls())
	}
	if c := f.last(); c.o.Level != 2 || c.o.TTL != 24*time.Hour {
		t.Fatalf("ban after restore: level %d ttl %v, want level 2 for 24h", c.o.Level, c.o.TTL)
	}
	for _, s := range []string{"198.51.100.7", "198.51.100.8"} {
		b := scanAlert(netip.MustParseAddr(s))
		r.Handle(b, now3)
		if c := f.last(); c.o.Level != 0 {
			t.Errorf("%s: level %d, want 0 (not an offence to remember)", s, c.o.Level)
		}
	}
	if st := r.Stats(); st.BansBy["port_scan"] != 3 {
		t.Errorf("bans by detector %v", st.BansBy)
	}
}

// TestRestoreActiveBan: a ban still running after the restart is known
// as active: a new alert reports it, no second map write.
func TestRestoreActiveBan(t *testing.T) {
	f := newFake()
	p := netip.PrefixFrom(attacker, 32)
	_ = f.Block(p, loader.BlockOptions{TTL: 10 * time.Minute, Origin: bpf.OriginDetector, Now: uint64(now0)})
	entries := []loader.BlockEntry{f.entries[p]}
	entries[0].Origin = bpf.OriginDetector
	f.calls = nil
	r := newResponder(t, testConfig(), f)
	r.Restore(entries, now0+int64(time.Minute))
	a := scanAlert(attacker)
	r.Handle(a, now0+int64(time.Minute))
	if a.Action != "blocked" || f.ncalls() != 0 || a.BanTTL != int64(9*time.Minute) {
		t.Fatalf("action %q calls %d ttl %v", a.Action, f.ncalls(), time.Duration(a.BanTTL))
	}
}

// TestOnBanAndCapCounters: OnBan runs once per ban made; cap hits are
// counted by cap.
func TestOnBanAndCapCounters(t *testing.T) {
	f := newFake()
	cfg := testConfig()
	cfg.MaxBansPerMin = 1
	r := newResponder(t, cfg, f)
	var seen int
	r.OnBan = func(a *alert.Alert) { seen++ }
	r.Handle(scanAlert(attacker), now0)
	r.Handle(scanAlert(netip.MustParseAddr("203.0.113.67")), now0)
	if st := r.Stats(); seen != 1 || st.CappedRate != 1 || st.CappedActive != 0 || st.Capped != 1 {
		t.Fatalf("OnBan %d, stats %+v", seen, st)
	}
}
