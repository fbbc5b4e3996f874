package crowdsec

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/loader"
)

func TestDecisionPrefix(t *testing.T) {
	for _, c := range []struct {
		scope, typ, value, dur string
		want                   string
		skip                   int
	}{
		{"Ip", "ban", "198.51.100.7", "3h59m58.123s", "198.51.100.7/32", -1},
		{"ip", "BAN", "::ffff:198.51.100.8", "1h", "198.51.100.8/32", -1},
		{"Ip", "ban", "2001:db8::7", "10m", "2001:db8::7/128", -1},
		{"Range", "ban", "203.0.113.9/24", "1h", "203.0.113.0/24", -1},
		{"RANGE", "ban", "2001:db8:1::/48", "1h", "2001:db8:1::/48", -1},
		{"Range", "ban", "198.51.100.7/32", "1h", "198.51.100.7/32", -1},
		{"Country", "ban", "FR", "1h", "", SkipScope},
		{"Ip", "captcha", "198.51.100.7", "1h", "", SkipType},
		{"Ip", "ban", "198.51.100", "1h", "", SkipInvalid},
		{"Ip", "ban", "fe80::1%eth0", "1h", "", SkipInvalid},
		{"Range", "ban", "203.0.113.0", "1h", "", SkipInvalid},
		{"Ip", "ban", "198.51.100.7", "-7.39ms", "", SkipExpired},
		{"Ip", "ban", "198.51.100.7", "4 hours", "", SkipInvalid},
	} {
		d := Decision{ID: 1, Scope: c.scope, Type: c.typ, Value: c.value, Duration: c.dur}
		p, why, err := d.prefix()
		if err == nil {
			_, why, err = d.ttl()
		}
		switch {
		case c.skip >= 0 && (err == nil || why != c.skip):
			t.Errorf("%+v: skip %d (%v), want %s", c, why, err, SkipNames[c.skip])
		case c.skip < 0 && (err != nil || p.String() != c.want):
			t.Errorf("%+v: %v, %v; want %s", c, p, err, c.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	var got []time.Duration
	var d time.Duration
	for range 9 {
		d = nextBackoff(d, 10*time.Second, time.Minute)
		got = append(got, d)
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("backoff %v, want %v s", got, want)
		}
	}
	if d := nextBackoff(0, 200*time.Millisecond, time.Minute); d != 200*time.Millisecond {
		t.Errorf("first retry %v with a 200ms poll interval", d)
	}
}

// TestBouncerLAPI runs the bouncer against a real CrowdSec LAPI (the
// Debian package's, started here with the Central API off) and the real
// kernel maps: startup read, deltas, a local ban kept, stale entries
// removed, an outage survived.
func TestBouncerLAPI(t *testing.T) {
	testenv.RequireBPF(t)
	lapi := testenv.StartCrowdSec(t, nil)
	key := lapi.AddBouncer(t, "xdpids-unit", "")
	dp, err := loader.Load(loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dp.Close()
	m := dp.Maps()
	pf := netip.MustParsePrefix
	// Before: a manual ban the LAPI will also name, and a crowdsec entry a
	// previous run left that the LAPI no longer has.
	if err := m.Block(pf("198.51.100.9/32"), loader.BlockOptions{Origin: bpf.OriginManual, Comment: "by hand"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Block(pf("192.0.2.99/32"), loader.BlockOptions{TTL: time.Hour, Origin: bpf.OriginCrowdSec}); err != nil {
		t.Fatal(err)
	}
	if err := m.Block(pf("198.51.100.12/32"), loader.BlockOptions{TTL: time.Hour, Origin: bpf.OriginDetector}); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--ip", "198.51.100.7", "--duration", "1h"},
		{"--range", "203.0.113.0/24", "--duration", "30m"},
		{"--ip", "2001:db8::7", "--duration", "2h"},
		{"--ip", "198.51.100.9", "--duration", "1h"},
		{"--ip", "198.51.100.10", "--duration", "1h", "--type", "captcha"},
		{"--ip", "198.51.100.12", "--duration", "3h"},
		{"--ip", "198.51.100.13", "--duration", "1h"}, // a protected host address
	} {
		lapi.MustCscli(t, append([]string{"decisions", "add"}, args...)...)
	}
	protected := netip.MustParseAddr("198.51.100.13")
	b, err := New(Config{URL: lapi.URL, APIKey: key + "\n", PollInterval: time.Second,
		Protected: func(a netip.Addr) bool { return a == protected }}, m)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := b.Poll(ctx, true); err != nil {
		t.Fatal(err)
	}
	now := loader.KernelNow()
	entry := func(s string) (loader.BlockEntry, bool) {
		e, err := m.LookupBlock(pf(s))
		return e, err == nil
	}
	for s, ttl := range map[string]time.Duration{"198.51.100.7/32": time.Hour, "203.0.113.0/24": 30 * time.Minute, "2001:db8::7/128": 2 * time.Hour} {
		e, ok := entry(s)
		if left := e.ExpiresIn(now); !ok || e.Origin != bpf.OriginCrowdSec || left > ttl || left < ttl-time.Minute {
			t.Errorf("%s: %+v (listed %v, %s left), want crowdsec for %s", s, e, ok, left, ttl)
		}
	}
	if e, ok := entry("198.51.100.9/32"); !ok || e.Origin != bpf.OriginManual || e.ExpiresNs != 0 {
		t.Errorf("the manual ban was replaced: %+v", e)
	}
	if _, ok := entry("192.0.2.99/32"); ok {
		t.Error("a crowdsec entry the LAPI no longer has was kept")
	}
	if _, ok := entry("198.51.100.10/32"); ok {
		t.Error("a captcha decision made a ban")
	}
	if _, ok := entry("198.51.100.13/32"); ok {
		t.Error("a decision on a protected address made a ban")
	}
	if e, ok := entry("198.51.100.12/32"); !ok || e.Origin != bpf.OriginDetector {
		t.Errorf("the detector ban was replaced: %+v", e)
	}
	st := b.Stats()
	if st.Active != 5 || st.Skipped[SkipLocal] != 2 || st.Skipped[SkipType] != 1 || st.Skipped[SkipProtected] != 1 || st.Applied != 3 {
		t.Errorf("stats after startup: %+v", st)
	}

	lapi.MustCscli(t, "decisions", "delete", "--ip", "198.51.100.7")
	lapi.MustCscli(t, "decisions", "delete", "--ip", "198.51.100.9")
	lapi.MustCscli(t, "decisions", "add", "--ip", "198.51.100.11", "--duration", "5m")
	// The detector's ban ends first: the CrowdSec decision takes over.
	if err := m.Unblock(pf("198.51.100.12/32")); err != nil {
		t.Fatal(err)
	}
	if err := b.Poll(ctx, false); err != nil {
		t.Fatal(err)
	}
	if e, ok := entry("198.51.100.12/32"); !ok || e.Origin != bpf.OriginCrowdSec || e.ExpiresIn(loader.KernelNow()) < 2*time.Hour {
		t.Errorf("after the local ban: %+v (listed %v), want the 3h CrowdSec decision", e, ok)
	}
	if _, ok := entry("198.51.100.7/32"); ok {
		t.Error("a deleted decision is still banned")
	}
	if e, ok := entry("198.51.100.9/32"); !ok || e.Origin != bpf.OriginManual {
		t.Errorf("deleting the CrowdSec decision lifted the manual ban: %+v, %v", e, ok)
	}
	if e, ok := entry("198.51.100.11/32"); !ok || e.Origin != bpf.OriginCrowdSec {
		t.Errorf("new decision: %+v, %v", e, ok)
	}
	// The 1.4 LAPI repeats deletions in the next deltas: harmless.
	if err := b.Poll(ctx, false); err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st.Deleted != 2 || st.Active != 4 { // the stale entry and 198.51.100.7
		t.Errorf("stats after deletes: %+v", st)
	}

	// Outage: the poll fails, the entries stay.
	lapi.Kill()
	if err := b.Poll(ctx, false); err == nil {
		t.Fatal("poll with the LAPI down succeeded")
	}
	if _, ok := entry("198.51.100.11/32"); !ok {
		t.Error("an outage lifted a ban")
	}
	if st := b.Stats(); st.Errors != 1 || st.Reachable {
		t.Errorf("stats in the outage: %+v", st)
	}
	if err := lapi.Start(); err != nil {
		t.Fatal(err)
	}
	if err := b.Poll(ctx, true); err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st.Active != 4 || !st.Reachable || st.Startups != 2 {
		t.Errorf("stats after the outage: %+v", st)
	}

	// A wrong key says so.
	bad, _ := New(Config{URL: lapi.URL, APIKey: "not-a-key"}, m)
	if err := bad.Poll(ctx, true); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("wrong key: %v", err)
	}
}
