package respond

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/detect/alert"
)

// trustBanner is fakeBanner with the kernel's verified-source map and
// Unblock and Blocks, as *loader.Maps has them.
type trustBanner struct {
	*fakeBanner
	verified map[netip.Addr]loader.VerifiedSource
}

func newTrustFake() *trustBanner {
	return &trustBanner{fakeBanner: newFake(), verified: map[netip.Addr]loader.VerifiedSource{}}
}

func (f *trustBanner) LookupVerified(a netip.Addr) (loader.VerifiedSource, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.verified[a]
	if !ok {
		return loader.VerifiedSource{}, fmt.Errorf("%s: %w", a, loader.ErrNotListed)
	}
	return v, nil
}

func (f *trustBanner) Unblock(p netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.entries[p]; !ok {
		return fmt.Errorf("%s: %w", p, loader.ErrNotListed)
	}
	delete(f.entries, p)
	return nil
}

func (f *trustBanner) Blocks() ([]loader.BlockEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]loader.BlockEntry, 0, len(f.entries))
	for _, e := range f.entries {
		out = append(out, e)
	}
	return out, nil
}

func (f *trustBanner) verify(a netip.Addr, ttl uint8) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.verified[a] = loader.VerifiedSource{Addr: a, TTL: ttl}
}

func trustAlert(subject netip.Addr, trust string) *alert.Alert {
	a := scanAlert(subject)
	a.Trust = trust
	return a
}

// TestTrustTable: what each trust level of the evidence, against a
// verified or unverified source, does.
func TestTrustTable(t *testing.T) {
	const min10 = int64(10 * time.Minute)
	for _, tc := range []struct {
		name         string
		trust        string
		bit          bool   // the sample's verified bit
		inMap        bool   // the source is in the verified map
		spoof        string // the detector's hop-count reason
		wantAction   string
		wantSpoof    string
		wantTTL      int64
		wantChalenge bool
	}{
		{"verified bit, forgeable", alert.TrustForgeable, true, false, "", "allowed", "forgeable evidence against a verified source", 0, false},
		{"verified map, forgeable", alert.TrustForgeable, false, true, "", "allowed", "forgeable evidence against a verified source", 0, false},
		{"hop mismatch, forgeable", alert.TrustForgeable, true, true, "hop count 52", "allowed", "hop count 52 vs 64 of the verified source", 0, false},
		{"unverified, forgeable", alert.TrustForgeable, false, false, "", "blocked", "", min10, true},
		{"unverified, verified evidence", alert.TrustVerified, false, false, "", "blocked", "", min10, false},
		{"verified source, verified evidence", alert.TrustVerified, true, true, "", "blocked", "", min10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newTrustFake()
			r := newResponder(t, testConfig(), f)
			if tc.inMap {
				f.verify(attacker, 64)
			}
			a := trustAlert(attacker, tc.trust)
			a.SourceVerified, a.SpoofSuspected = tc.bit, tc.spoof
			r.Handle(a, now0)
			if a.Action != tc.wantAction || a.SpoofSuspected != tc.wantSpoof || a.BanTTL != tc.wantTTL {
				t.Fatalf("action %q spoof %q ttl %d, want %q %q %d", a.Action, a.SpoofSuspected, a.BanTTL, tc.wantAction, tc.wantSpoof, tc.wantTTL)
			}
			if tc.wantAction == "blocked" {
				if c := f.last(); c.o.Challenge != tc.wantChalenge {
					t.Fatalf("challenge %v, want %v", c.o.Challenge, tc.wantChalenge)
				}
			} else if f.ncalls() != 0 {
				t.Fatalf("%d bans of a verified source", f.ncalls())
			}
		})
	}
}

// TestForgeableNoEscalation: repeated forgeable evidence keeps the first
// step of the ladder (and never more than it, whatever the detector asks);
// verified evidence escalates.
func TestForgeableNoEscalation(t *testing.T) {
	f := newTrustFake()
	r := newResponder(t, testConfig(), f)
	now := now0
	for i := range 4 {
		a := trustAlert(attacker, alert.TrustForgeable)
		a.BanTTLNs = int64(time.Hour) // brute force asks for 1 h
		r.Handle(a, now)
		if a.Action != "blocked" || a.BanTTL != int64(10*time.Minute) || !f.last().o.Challenge {
			t.Fatalf("forgeable offence %d: %q ttl %v challenge %v", i+1, a.Action, time.Duration(a.BanTTL), f.last().o.Challenge)
		}
		now += a.BanTTL + 1e9 // after the ban ended
	}
	want := []time.Duration{10 * time.Minute, time.Hour, 24 * time.Hour, 24 * time.Hour}
	for i, w := range want {
		a := trustAlert(attacker, alert.TrustVerified)
		r.Handle(a, now)
		if a.Action != "blocked" || time.Duration(a.BanTTL) != w || f.last().o.Challenge {
			t.Fatalf("verified offence %d: %q ttl %v (want %v) challenge %v", i+1, a.Action, time.Duration(a.BanTTL), w, f.last().o.Challenge)
		}
		if f.last().o.Level != uint32(i) {
			t.Fatalf("verified offence %d: level %d", i+1, f.last().o.Level)
		}
		now += a.BanTTL + 1e9
	}
	// Forgeable evidence after that: still the short ban, the level kept
	// (a restart reads it back).
	a := trustAlert(attacker, alert.TrustForgeable)
	r.Handle(a, now)
	if a.BanTTL != int64(10*time.Minute) || f.last().o.Level != 3 {
		t.Fatalf("forgeable after verified: ttl %v level %d", time.Duration(a.BanTTL), f.last().o.Level)
	}
}

// TestVerifiedEvidenceUpgradesChallenge: a source under a challenge ban
// caught with verified evidence gets a plain ban.
func TestVerifiedEvidenceUpgradesChallenge(t *testing.T) {
	f := newTrustFake()
	r := newResponder(t, testConfig(), f)
	r.Handle(trustAlert(attacker, alert.TrustForgeable), now0)
	// a forgeable alert again: banned already, no new ban
	a := trustAlert(attacker, alert.TrustForgeable)
	r.Handle(a, now0+1e9)
	if a.Action != "blocked" || f.ncalls() != 1 {
		t.Fatalf("forgeable again: %q, %d bans", a.Action, f.ncalls())
	}
	b := trustAlert(attacker, alert.TrustVerified)
	r.Handle(b, now0+2e9)
	if b.Action != "blocked" || f.ncalls() != 2 || f.last().o.Challenge {
		t.Fatalf("verified evidence on a challenge ban: %q, %d bans, challenge %v", b.Action, f.ncalls(), f.last().o.Challenge)
	}
}

// TestSweepVerified: a challenge ban is lifted once its source is in the
// verified map; a plain ban is not.
func TestSweepVerified(t *testing.T) {
	f := newTrustFake()
	r := newResponder(t, testConfig(), f)
	other := netip.MustParseAddr("203.0.113.77")
	r.Handle(trustAlert(attacker, alert.TrustForgeable), now0)
	r.Handle(trustAlert(other, alert.TrustVerified), now0)
	if n := r.SweepVerified(); n != 0 {
		t.Fatalf("nothing verified yet: lifted %d", n)
	}
	f.verify(attacker, 64)
	f.verify(other, 64)
	if n := r.SweepVerified(); n != 1 {
		t.Fatalf("lifted %d, want 1", n)
	}
	if _, err := f.LookupBlock(netip.PrefixFrom(attacker, 32)); err == nil {
		t.Fatal("challenge ban still in the block list")
	}
	if _, err := f.LookupBlock(netip.PrefixFrom(other, 32)); err != nil {
		t.Fatal("plain ban lifted")
	}
	if st := r.Stats(); st.ChallengeLifted != 1 {
		t.Fatalf("stats %+v", st)
	}
	// Verified now: forgeable evidence no longer bans it.
	a := trustAlert(attacker, alert.TrustForgeable)
	r.Handle(a, now0+2e9)
	if a.Action != "allowed" || a.SpoofSuspected == "" {
		t.Fatalf("after verifying: %q %q", a.Action, a.SpoofSuspected)
	}
}

// TestBudgetShares: forged sources spend only their share of the ban
// rate; verified evidence still gets bans after they did.
func TestBudgetShares(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBansPerMin, cfg.ForgeableShare = 100, 0.2
	f := newTrustFake()
	r := newResponder(t, cfg, f)
	now := now0
	forged := 0
	for i := range 650 { // 650 forged scanners, far past the threshold
		a := trustAlert(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), alert.TrustForgeable)
		a.Evidence = 1 << EvidenceTiers
		r.Handle(a, now)
		if a.Action == "blocked" {
			forged++
		}
	}
	if forged != 20 {
		t.Fatalf("forged bans %d, want 20 (20%% of 100)", forged)
	}
	real := 0
	for i := range 80 {
		a := trustAlert(netip.AddrFrom4([4]byte{203, 0, 113, byte(i + 1)}), alert.TrustVerified)
		r.Handle(a, now)
		if a.Action == "blocked" {
			real++
		}
	}
	if real != 80 {
		t.Fatalf("verified bans after the forged load: %d, want 80", real)
	}
	st := r.Stats()
	if st.CappedForgeable != 630 || st.CappedRate != 0 || st.CappedReserve != 0 || st.Capped != 630 {
		t.Fatalf("stats %+v", st)
	}
	// The whole budget spent: verified evidence is capped by the rate.
	a := trustAlert(netip.MustParseAddr("203.0.113.200"), alert.TrustVerified)
	r.Handle(a, now)
	if a.Action != "allowed" || r.Stats().CappedRate != 1 || a.MoreEvidence {
		t.Fatalf("past the rate: %q %+v more evidence %v", a.Action, r.Stats(), a.MoreEvidence)
	}
	// Tokens come back at the rate: 100 a minute, 20 of them forgeable.
	now += int64(3 * time.Second)
	b := trustAlert(netip.MustParseAddr("203.0.113.201"), alert.TrustVerified)
	r.Handle(b, now)
	c := trustAlert(netip.MustParseAddr("198.18.9.9"), alert.TrustForgeable)
	c.Evidence = 1 << EvidenceTiers
	r.Handle(c, now)
	if b.Action != "blocked" || c.Action != "blocked" {
		t.Fatalf("3 s later: verified %q, forgeable %q", b.Action, c.Action)
	}
	// Share 0: forgeable evidence never bans, and more of it would not.
	cfg.ForgeableShare = 0
	r0 := newResponder(t, cfg, newTrustFake())
	d := trustAlert(attacker, alert.TrustForgeable)
	r0.Handle(d, now)
	if d.Action != "allowed" || d.MoreEvidence {
		t.Fatalf("share 0: %q more evidence %v", d.Action, d.MoreEvidence)
	}
}

// TestForgeableShareByEvidence: inside the forgeable share, a forged load
// at some strength of evidence leaves what the share keeps for stronger
// evidence; a real scanner whose evidence doubles at each refused alert
// (as the scan detectors alert again) is banned once it beats the load.
// A load as strong as the top tier spends everything: that is the limit
// of forgeable evidence, which a real scanner then only gets as tokens
// come back.
func TestForgeableShareByEvidence(t *testing.T) {
	for _, tc := range []struct {
		name          string
		forgedN       int
		forgedEv      float64 // the forged load's evidence (0: at the threshold)
		wantForged    int     // forged bans made (the default share: 120 of 600)
		wantReserve   uint64  // forged refused by the reserve
		wantExhausted uint64  // forged refused by an empty share
		wantRealAt    float64 // the real scanner's evidence when banned (0: never)
	}{
		{"forged at the threshold", 650, 0, 60, 590, 0, 2},
		{"forged at 1.9x (same tier)", 650, 1.9, 60, 590, 0, 2},
		{"forged at twice the threshold", 650, 2, 90, 560, 0, 4},
		{"forged at 8x", 650, 8, 113, 537, 0, 16},
		{"forged at 32x", 650, 32, 119, 531, 0, 1 << EvidenceTiers},
		{"forged at the top tier", 650, 1 << EvidenceTiers, 120, 0, 530, 0},
		{"few forged: the real scanner is banned at once", 5, 0, 5, 0, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newTrustFake()
			r := newResponder(t, testConfig(), f)
			forged := 0
			for i := range tc.forgedN {
				a := trustAlert(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), alert.TrustForgeable)
				a.Evidence = tc.forgedEv
				r.Handle(a, now0)
				if a.Action == "blocked" {
					forged++
					if !f.last().o.Challenge {
						t.Fatal("a ban on forgeable evidence that is not a challenge ban")
					}
				} else if !a.MoreEvidence && tc.forgedEv < 1<<EvidenceTiers {
					t.Fatalf("refused forged alert at %v without MoreEvidence", tc.forgedEv)
				}
			}
			st := r.Stats()
			if forged != tc.wantForged || st.CappedReserve != tc.wantReserve || st.CappedForgeable != tc.wantExhausted {
				t.Fatalf("forged bans %d reserve %d exhausted %d, want %d %d %d", forged, st.CappedReserve, st.CappedForgeable,
					tc.wantForged, tc.wantReserve, tc.wantExhausted)
			}
			// The real scanner: alerts at the threshold, and again at each
			// doubling while the responder asks for more, 1 ms apart.
			var bannedAt float64
			now := now0
			for ev := 1.0; ; ev *= 2 {
				a := trustAlert(attacker, alert.TrustForgeable)
				a.Evidence = ev
				r.Handle(a, now)
				if a.Action == "blocked" {
					bannedAt = ev
					break
				}
				if !a.MoreEvidence {
					break
				}
				now += 1e6
			}
			if bannedAt != tc.wantRealAt {
				t.Fatalf("real scanner banned at evidence %v, want %v", bannedAt, tc.wantRealAt)
			}
			// Verified evidence is never starved by the forged load.
			v := trustAlert(netip.MustParseAddr("203.0.113.9"), alert.TrustVerified)
			r.Handle(v, now)
			if v.Action != "blocked" {
				t.Fatalf("verified evidence after the forged load: %q", v.Action)
			}
		})
	}
}

// TestForgeableTopTierWaitsForTokens: against a forged load at the top
// tier the real scanner gets the next token that comes back (20 a minute:
// one each 3 s) if it asks before the load does.
func TestForgeableTopTierWaitsForTokens(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBansPerMin, cfg.ForgeableShare = 100, 0.2
	r := newResponder(t, cfg, newTrustFake())
	for i := range 40 {
		a := trustAlert(netip.AddrFrom4([4]byte{198, 18, 0, byte(i)}), alert.TrustForgeable)
		a.Evidence = 1 << EvidenceTiers
		r.Handle(a, now0)
	}
	a := trustAlert(attacker, alert.TrustForgeable)
	a.Evidence = 1 << EvidenceTiers
	r.Handle(a, now0+int64(2*time.Second))
	if a.Action != "allowed" || a.MoreEvidence {
		t.Fatalf("2 s later: %q more evidence %v", a.Action, a.MoreEvidence)
	}
	r.Handle(a, now0+int64(3*time.Second))
	if a.Action != "blocked" {
		t.Fatalf("3 s later: %q", a.Action)
	}
}

// TestClearAllowed: an allow entry removes the bans it covers, not the
// ones it overlaps from outside.
func TestClearAllowed(t *testing.T) {
	f := newTrustFake()
	for _, s := range []string{"203.0.113.66/32", "203.0.113.67/32", "198.51.100.0/24", "192.0.2.0/24"} {
		if err := f.Block(netip.MustParsePrefix(s), loader.BlockOptions{TTL: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := ClearAllowed(f, []netip.Prefix{netip.MustParsePrefix("203.0.113.64/30"), netip.MustParsePrefix("198.51.100.0/16"), netip.MustParsePrefix("192.0.2.1/32")})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, p := range removed {
		got[p.String()] = true
	}
	if len(got) != 3 || !got["203.0.113.66/32"] || !got["203.0.113.67/32"] || !got["198.51.100.0/24"] {
		t.Fatalf("removed %v", removed)
	}
	if _, err := f.LookupBlock(netip.MustParsePrefix("192.0.2.0/24")); err != nil {
		t.Fatal("a ban wider than the allow entry was removed")
	}
}

// TestBudgetCapLogged: a forged load refused by the forgeable share is
// logged once a minute per cap, and counted.
func TestBudgetCapLogged(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	r := newResponder(t, testConfig(), newTrustFake())
	now := now0
	for i := range 3000 { // 3000 forged scanners in 150 s
		a := trustAlert(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), alert.TrustForgeable)
		r.Handle(a, now)
		now += int64(50 * time.Millisecond)
	}
	lines := strings.Count(buf.String(), "cap=forgeable_reserve")
	if lines != 3 {
		t.Fatalf("%d log lines for the reserve in 150 s, want 3:\n%s", lines, buf.String())
	}
	// 60 at once, then the share's refill (2 a second) above the reserve.
	st := r.Stats()
	if st.Bans < 340 || st.Bans > 362 || st.CappedReserve != 3000-st.Bans {
		t.Fatalf("stats %+v", st)
	}
}
