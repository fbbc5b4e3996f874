package natsbans

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/loader"
)

func TestKeyRoundTrip(t *testing.T) {
	for _, s := range []string{"198.51.100.7/32", "203.0.113.0/24", "2001:db8::1/128", "2001:db8::/64", "::/0", "0.0.0.0/0"} {
		p := netip.MustParsePrefix(s)
		for _, kind := range []string{BanPrefix, AllowPrefix} {
			k := Key(kind, p)
			for _, c := range k {
				if !(c == '-' || c == '/' || c == '_' || c == '=' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
					t.Fatalf("key %q has %q: not a valid NATS KV key", k, c)
				}
			}
			gk, gp, err := ParseKey(k)
			if err != nil || gk != kind || gp != p {
				t.Errorf("ParseKey(%q) = %q, %v, %v; want %q, %v", k, gk, gp, err, kind, p)
			}
		}
	}
	for _, bad := range []string{"ban.", "ban.300.1.1.1/32", "other.198.51.100.7/32", "ban.198.51.100.7/33"} {
		if _, _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}

// node is one Fleet on its own private maps.
type node struct {
	name string
	m    *loader.Maps
	f    *Fleet
}

func startNode(t testing.TB, url, name string, mod func(*Options)) *node {
	t.Helper()
	dp, err := loader.Load(loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dp.Close() })
	o := Options{URL: url, Node: name, Bucket: "test-bans", Poll: 50 * time.Millisecond}
	if mod != nil {
		mod(&o)
	}
	f, err := New(o, dp.Maps())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := f.Run(ctx); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return &node{name: name, m: dp.Maps(), f: f}
}

// waitFor polls cond every 5 ms until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (n *node) entry(p netip.Prefix) (loader.BlockEntry, bool) {
	e, err := n.m.LookupBlock(p)
	return e, err == nil && !e.Expired(loader.KernelNow())
}

func (n *node) synced() bool { return !n.f.Stats().LastSync.IsZero() }

// TestFleetSharesBans runs two nodes on a real nats-server: verified and
// manual bans cross with their TTL and origin fleet, challenge bans do
// not, an unblock lifts the ban everywhere, an unblock of a fleet ban on
// the other node lifts it too but never a node's own ban, the allow list
// travels, a receive-only node publishes nothing, and a ban made while
// the server is down arrives once it is back.
func TestFleetSharesBans(t *testing.T) {
	testenv.RequireBPF(t)
	srv := testenv.StartNATS(t, nil, "127.0.0.1")
	a := startNode(t, srv.URL(), "a", nil)
	b := startNode(t, srv.URL(), "b", nil)
	r := startNode(t, srv.URL(), "r", func(o *Options) { o.ReceiveOnly = true })
	waitFor(t, 5*time.Second, "catch-up", func() bool { return a.synced() && b.synced() && r.synced() })

	verified := netip.MustParsePrefix("198.51.100.7/32")
	challenge := netip.MustParsePrefix("198.51.100.8/32")
	manual := netip.MustParsePrefix("2001:db8:1::/48")
	must(t, a.m.Block(verified, loader.BlockOptions{TTL: 10 * time.Minute, Origin: bpf.OriginDetector, Level: 1, Comment: "port_scan"}))
	must(t, a.m.Block(challenge, loader.BlockOptions{TTL: 10 * time.Minute, Origin: bpf.OriginDetector, Challenge: true, Comment: "port_scan"}))
	must(t, a.m.Block(manual, loader.BlockOptions{Origin: bpf.OriginManual, Comment: "ops"}))
	a.f.Kick()
	for _, n := range []*node{b, r} {
		waitFor(t, 3*time.Second, n.name+" has the verified ban", func() bool { _, ok := n.entry(verified); return ok })
		e, _ := n.entry(verified)
		if e.Origin != bpf.OriginFleet || e.Level != 1 || e.Comment != "a:port_scan" || e.Challenge {
			t.Errorf("%s: fleet entry %+v", n.name, e)
		}
		if left := e.ExpiresIn(loader.KernelNow()); left < 9*time.Minute+50*time.Second || left > 10*time.Minute {
			t.Errorf("%s: %s left of a 10m ban", n.name, left)
		}
		waitFor(t, 3*time.Second, n.name+" has the manual ban", func() bool { _, ok := n.entry(manual); return ok })
		if e, _ := n.entry(manual); e.ExpiresNs != 0 || e.Origin != bpf.OriginFleet {
			t.Errorf("%s: permanent manual ban arrived as %+v", n.name, e)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if _, ok := b.entry(challenge); ok {
		t.Error("a challenge ban (forgeable evidence) was shared")
	}

	// A receive-only node's own ban stays its own.
	rOnly := netip.MustParsePrefix("192.0.2.99/32")
	must(t, r.m.Block(rOnly, loader.BlockOptions{TTL: time.Minute, Origin: bpf.OriginManual}))
	r.f.Kick()

	// Unblock on the node that made it: lifted everywhere.
	must(t, a.m.Unblock(verified))
	for _, n := range []*node{b, r} {
		waitFor(t, 3*time.Second, n.name+" lifts the unblocked ban", func() bool { _, ok := n.entry(verified); return !ok })
	}
	// Unblock of the fleet entry on b: lifted on r; a keeps its own ban.
	must(t, b.m.Unblock(manual))
	waitFor(t, 3*time.Second, "r lifts the ban b unblocked", func() bool { _, ok := r.entry(manual); return !ok })
	if _, ok := a.entry(manual); !ok {
		t.Error("a node's own ban was lifted by another node's unblock")
	}

	// The allow list travels; removing it travels too.
	allow := netip.MustParsePrefix("203.0.113.0/24")
	must(t, b.m.Block(netip.MustParsePrefix("203.0.113.5/32"), loader.BlockOptions{TTL: time.Minute, Origin: bpf.OriginDetector}))
	must(t, a.m.Allow(allow))
	waitFor(t, 3*time.Second, "b has a's allow entry", func() bool { ok, _ := b.m.Allowed(netip.MustParseAddr("203.0.113.1")); return ok })
	waitFor(t, 3*time.Second, "the allow entry clears b's ban under it", func() bool {
		_, ok := b.entry(netip.MustParsePrefix("203.0.113.5/32"))
		return !ok
	})
	must(t, a.m.Disallow(allow))
	waitFor(t, 3*time.Second, "b drops the removed allow entry", func() bool { ok, _ := b.m.Allowed(netip.MustParseAddr("203.0.113.1")); return !ok })

	if _, ok := a.entry(rOnly); ok {
		t.Error("a receive-only node published its ban")
	}
	if st := r.f.Stats(); st.Published != 0 || st.Deleted != 0 {
		t.Errorf("receive-only node wrote to the bucket: %+v", st)
	}

	// Outage: a ban made while NATS is down reaches b once it is back;
	// meanwhile both keep what they hold.
	srv.Stop(t)
	waitFor(t, 5*time.Second, "disconnect seen", func() bool { return !a.f.Stats().Connected && !b.f.Stats().Connected })
	during := netip.MustParsePrefix("198.51.100.20/32")
	must(t, a.m.Block(during, loader.BlockOptions{TTL: 5 * time.Minute, Origin: bpf.OriginRule, Comment: "sid:9000001"}))
	a.f.Kick()
	if _, ok := a.entry(manual); !ok {
		t.Error("a lost its ban during the outage")
	}
	srv.Start(t)
	waitFor(t, 10*time.Second, "b catches up after the outage", func() bool { _, ok := b.entry(during); return ok })
	if st := b.f.Stats(); st.Reconnects == 0 {
		t.Errorf("b never reconnected: %+v", st)
	}
	t.Logf("a: %+v", a.f.Stats())
	t.Logf("b: %+v", b.f.Stats())
}

// TestFleetCatchUpAfterRestart: a node that starts after bans were made
// has them (its catch-up); a node whose maps were lost (reboot) takes its
// own bans back; a node whose list was kept but lost those bans (xdpids
// unblock while it was stopped) lifts them everywhere.
func TestFleetCatchUpAfterRestart(t *testing.T) {
	testenv.RequireBPF(t)
	srv := testenv.StartNATS(t, nil, "127.0.0.1")
	a := startNode(t, srv.URL(), "a", nil)
	waitFor(t, 5*time.Second, "catch-up", a.synced)
	var items []loader.BlockItem
	for i := range 300 {
		items = append(items, loader.BlockItem{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(i / 256), byte(i)}), 32),
			BlockOptions: loader.BlockOptions{TTL: time.Hour, Origin: bpf.OriginDetector, Comment: "scan"}})
	}
	if _, err := a.m.BlockBatch(items); err != nil {
		t.Fatal(err)
	}
	a.f.Kick()
	waitFor(t, 5*time.Second, "a publishes 300 bans", func() bool { return a.f.Stats().Published >= 300 })
	start := time.Now()
	c := startNode(t, srv.URL(), "c", nil)
	waitFor(t, 3*time.Second, "c has the 300 bans", func() bool { return c.f.Stats().Applied >= 300 })
	t.Logf("c caught up with 300 bans %s after it started", time.Since(start).Round(time.Millisecond))
	// a again, on fresh maps (a reboot): its own bans come back as fleet bans.
	a2 := startNode(t, srv.URL(), "a", nil)
	waitFor(t, 3*time.Second, "a takes its bans back", func() bool { return a2.f.Stats().Applied >= 300 })
	// a once more, its block list kept but empty (unblocked while it was
	// stopped): its bans are lifted everywhere.
	a3 := startNode(t, srv.URL(), "a", func(o *Options) { o.ListKept = true })
	waitFor(t, 3*time.Second, "a's bans, lifted while it was stopped, are lifted on c", func() bool { return c.f.Stats().Removed >= 300 })
	if st := a3.f.Stats(); st.Applied != 0 || st.Deleted < 300 {
		t.Errorf("restarted a with its list kept: %+v", st)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
