// Package respond turns alerts into bans in the kernel block list: a TTL
// per detector, escalating for repeat offenders, never against the allow
// list, the host's own addresses, its default gateways or the operator's
// SSH session, with a cap on active bans and on the ban rate, and a
// dry-run mode that reports the ban it would have made.
package respond

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/detect/alert"
)

// Banner is what the responder needs of the kernel maps (*loader.Maps).
type Banner interface {
	Block(p netip.Prefix, o loader.BlockOptions) error
	LookupBlock(p netip.Prefix) (loader.BlockEntry, error)
	Allowed(a netip.Addr) (bool, error)
}

// Config configures the responder.
type Config struct {
	Enabled       bool            `yaml:"enabled"`         // ban at all (off in monitor mode)
	DryRun        bool            `yaml:"dry_run"`         // alert with the ban it would make, make none
	Escalation    []time.Duration `yaml:"escalation"`      // TTL by offence: the detector's TTL, then these
	ForgetAfter   time.Duration   `yaml:"forget_after"`    // offences older than this are forgotten
	MaxActiveBans int             `yaml:"max_active_bans"` // bans made and not yet expired
	// MaxBansPerMin is the ban rate: a token bucket of this many bans,
	// refilled at this many a minute.
	MaxBansPerMin int `yaml:"max_bans_per_minute"`
	// ForgeableShare is the share of MaxBansPerMin that bans on forgeable
	// evidence may take: forged sources cannot spend the budget real
	// scanners need. Inside it, stronger evidence may drain more of it
	// (see budget).
	ForgeableShare float64  `yaml:"forgeable_ban_share"`
	IPv6PrefixLen  int      `yaml:"ipv6_prefix_len"` // IPv6 bans cover this prefix (attackers rotate inside a /64)
	Protect        []string `yaml:"protect"`         // never ban these prefixes
	ProtectHost    bool     `yaml:"protect_host"`    // own addresses, default gateways, SSH client
}

// DefaultConfig: escalate 10 min, 1 h, 24 h (fail2ban's bantime.increment
// idea); forget after 24 h; at most 10000 active bans and 600 new bans a
// minute, so a spoofing attacker cannot fill the block list or make us ban
// the Internet; IPv6 bans cover the /64.
func DefaultConfig() Config {
	return Config{
		Enabled: true, Escalation: []time.Duration{10 * time.Minute, time.Hour, 24 * time.Hour},
		ForgetAfter: 24 * time.Hour, MaxActiveBans: 10000, MaxBansPerMin: 600, ForgeableShare: 0.2, IPv6PrefixLen: 64, ProtectHost: true,
	}
}

type offence struct {
	level  int
	lastNs int64
}

// Stats count the responder's decisions.
type Stats struct {
	Bans, DryRun, Protected, Capped, Failed uint64
	// CappedActive and CappedRate split Capped by the cap that was hit:
	// max_active_bans and max_bans_per_minute.
	CappedActive, CappedRate uint64
	// CappedForgeable counts bans on forgeable evidence refused because
	// they had spent their share of max_bans_per_minute; CappedReserve
	// those refused because the share held only the tokens it keeps for
	// stronger evidence (the alert asks its detector for more, and it may
	// alert again with it). Capped counts both.
	CappedForgeable, CappedReserve uint64
	// SpoofAllowed counts forgeable evidence against a verified source,
	// reported and not banned; ChallengeLifted the challenge bans lifted
	// because their source proved itself through the SYN cookie path.
	SpoofAllowed, ChallengeLifted uint64
	// BansBy counts the bans made by the detector that asked for them.
	BansBy map[string]uint64
}

// Verifier is the kernel's verified-source map (*loader.Maps). A Banner
// that implements it lets the responder spare verified sources and lift
// challenge bans whose source proved itself.
type Verifier interface {
	LookupVerified(a netip.Addr) (loader.VerifiedSource, error)
}

// Unblocker removes a ban (*loader.Maps).
type Unblocker interface {
	Unblock(p netip.Prefix) error
}

// Responder decides and makes bans. Safe for concurrent use.
type Responder struct {
	mu        sync.Mutex
	cfg       Config
	banner    Banner
	protected []netip.Prefix
	offences  map[netip.Prefix]*offence // by ban prefix: an IPv6 attacker rotating inside its /64 is one offender
	active    map[netip.Prefix]int64    // ban -> expiry (packet time ns)
	budget    budget
	challenge map[netip.Prefix]netip.Addr // challenge bans -> the subject to look up in the verified map
	want      wantMore                    // subjects refused for want of evidence (WantsMoreEvidence)
	capLogNs  map[string]int64            // when each cap was last logged (rate-limited)
	stats     Stats
	// OnBan, when set, is called after a ban's map update returned (with
	// the lock held: keep it cheap). The daemon measures latency there.
	OnBan func(a *alert.Alert)
	// Host, when set, is the host's own addresses, gateways and next hops,
	// resolvers and NTP servers, followed live (hostaddrs.Set): never
	// banned. Set it before the first alert.
	Host interface{ Contains(netip.Addr) bool }
}

// New returns a responder writing bans through b (nil: never bans).
func New(cfg Config, b Banner) (*Responder, error) {
	r := &Responder{cfg: cfg, banner: b, offences: map[netip.Prefix]*offence{}, active: map[netip.Prefix]int64{},
		challenge: map[netip.Prefix]netip.Addr{}, capLogNs: map[string]int64{}, budget: newBudget(cfg.MaxBansPerMin, cfg.ForgeableShare)}
	for _, s := range cfg.Protect {
		p, err := loader.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("respond: protect: %w", err)
		}
		r.protected = append(r.protected, p)
	}
	if cfg.ProtectHost {
		r.protected = append(r.protected, HostPrefixes()...)
	}
	if r.cfg.IPv6PrefixLen <= 0 || r.cfg.IPv6PrefixLen > 128 {
		r.cfg.IPv6PrefixLen = 128
	}
	return r, nil
}

// HostPrefixes are the addresses this host must never ban: its own, its
// default gateways, and the client of the SSH session it was started from.
func HostPrefixes() []netip.Prefix {
	var out []netip.Prefix
	host := func(a netip.Addr) {
		a = a.Unmap()
		if a.IsValid() {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if x, ok := netip.AddrFromSlice(ipn.IP); ok {
					host(x)
				}
			}
		}
	}
	if routes, err := netlink.RouteList(nil, netlink.FAMILY_ALL); err == nil {
		for _, rt := range routes {
			if rt.Gw != nil && (rt.Dst == nil || isDefault(rt.Dst)) {
				if x, ok := netip.AddrFromSlice(rt.Gw); ok {
					host(x)
				}
			}
		}
	}
	if f := strings.Fields(os.Getenv("SSH_CONNECTION")); len(f) > 0 {
		if x, err := netip.ParseAddr(f[0]); err == nil {
			host(x)
		}
	}
	return out
}

func isDefault(n *net.IPNet) bool {
	ones, _ := n.Mask.Size()
	return ones == 0
}

// Stats returns the responder's counters.
func (r *Responder) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.BansBy = maps.Clone(r.stats.BansBy)
	return s
}

// Restore rebuilds the escalation state from the block list the last
// daemon left pinned: each ban a detector made (origin detector, or rule)
// is an offence at its level, remembered from the ban's end as escalate
// does, so a repeat offender after a restart gets the next level. It
// returns how many entries it took.
func (r *Responder) Restore(entries []loader.BlockEntry, nowNs int64) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range entries {
		if e.Origin != bpf.OriginDetector && e.Origin != bpf.OriginRule || e.ExpiresNs == 0 {
			continue // manual and permanent bans are the operator's
		}
		end := int64(e.ExpiresNs)
		if nowNs-end > int64(r.cfg.ForgetAfter) {
			continue
		}
		p := e.Prefix.Masked()
		if o := r.offences[p]; o == nil || o.level < int(e.Level) {
			r.offences[p] = &offence{level: int(e.Level), lastNs: end}
		}
		if end > nowNs {
			r.active[p] = end
			if e.Challenge && p.Bits() == p.Addr().BitLen() {
				r.challenge[p] = p.Addr()
			}
		}
		n++
	}
	return n
}

// Protects is IsProtected for other goroutines (the CrowdSec bouncer):
// it takes the responder's lock, which Reconfigure swaps the protected
// prefixes under.
func (r *Responder) Protects(a netip.Addr) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.IsProtected(a)
}

// IsProtected reports whether a must never be banned. The caller holds
// r.mu, or nothing reconfigures the responder meanwhile.
func (r *Responder) IsProtected(a netip.Addr) bool {
	if r.Host != nil && r.Host.Contains(a) {
		return true
	}
	for _, p := range r.protected {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Handle sets a.Action and, where the alert asks for a ban and policy
// allows it, bans a.Subject. nowNs is the clock the kernel's expiry uses
// (CLOCK_MONOTONIC live, packet time offline).
func (r *Responder) Handle(a *alert.Alert, nowNs int64) {
	if a.Action == "" {
		a.Action = "allowed"
	}
	if !r.cfg.Enabled || a.BanTTLNs <= 0 || a.SubjectIsTarget || !a.Subject.IsValid() || r.banner == nil {
		return
	}
	subj := a.Subject.Unmap()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.IsProtected(subj) {
		r.stats.Protected++
		return
	}
	if ok, err := r.banner.Allowed(subj); err == nil && ok {
		r.stats.Protected++
		return
	}
	forged := a.Forgeable()
	if forged && r.sourceVerified(a, subj) {
		// Forgeable evidence never bans a source that proved its return
		// path: anyone can forge its address. The kernel's rate limits
		// contain a flood in its name.
		r.stats.SpoofAllowed++
		return
	}
	bits := subj.BitLen()
	if subj.Is6() {
		bits = r.cfg.IPv6PrefixLen
	}
	prefix := netip.PrefixFrom(subj, bits).Masked()
	_, isChallenge := r.challenge[prefix]
	if exp, ok := r.active[prefix]; ok && exp > nowNs && (forged || !isChallenge) {
		if r.cfg.DryRun {
			// The would-be ban still runs: report it, do not escalate it
			// on every alert (live mode would not see these alerts).
			a.BanPrefix, a.BanTTL = prefix.String(), exp-nowNs
			return
		}
		// Banned already (samples were in flight when the ban was made),
		// unless an operator lifted it since: then ban again.
		if e, err := r.banner.LookupBlock(prefix); err == nil && !e.Expired(uint64(nowNs)) {
			a.Action = "blocked"
			a.BanPrefix, a.BanTTL = prefix.String(), exp-nowNs
			return
		}
		delete(r.active, prefix)
		delete(r.challenge, prefix)
	}
	r.prune(nowNs)
	if len(r.active) >= r.cfg.MaxActiveBans {
		r.stats.Capped++
		r.stats.CappedActive++
		r.logCap("active", nowNs, "subject", subj, "active", len(r.active))
		return
	}
	if !r.takeBudget(a, subj, forged, nowNs) {
		return
	}
	var ttl int64
	if forged {
		// Forgeable evidence: the first step of the ladder at most, and
		// no escalation (a forger could otherwise walk a victim up to
		// 24 h). The level stays what verified evidence made it.
		ttl = a.BanTTLNs
		if len(r.cfg.Escalation) > 0 {
			ttl = min(ttl, int64(r.cfg.Escalation[0]))
		}
	} else {
		ttl = r.escalate(prefix, a.BanTTLNs, nowNs)
	}
	level := 0
	if o := r.offences[prefix]; o != nil {
		level = o.level
	}
	a.BanPrefix, a.BanTTL = prefix.String(), ttl
	if r.cfg.DryRun {
		r.stats.DryRun++
		if a.Metadata == nil {
			a.Metadata = map[string]string{}
		}
		a.Metadata["dry_run_ban"] = fmt.Sprintf("%s for %s", prefix, time.Duration(ttl))
		r.active[prefix] = nowNs + ttl
		r.book(prefix, subj, forged)
		return
	}
	comment := a.Detector
	// A ban on forgeable evidence is a challenge ban: the source gets SYN
	// cookies on every port and passes once it answers one, and the
	// sweep (SweepVerified) lifts the ban then.
	err := r.banner.Block(prefix, loader.BlockOptions{TTL: time.Duration(ttl), Origin: bpf.OriginDetector,
		Level: uint32(level), Comment: comment, Now: uint64(nowNs), Challenge: forged})
	if err != nil {
		r.stats.Failed++
		slog.Error("ban failed", "prefix", prefix, "err", err)
		a.BanPrefix, a.BanTTL = "", 0
		return
	}
	r.stats.Bans++
	if r.stats.BansBy == nil {
		r.stats.BansBy = map[string]uint64{}
	}
	r.stats.BansBy[a.Detector]++
	r.book(prefix, subj, forged)
	r.active[prefix] = nowNs + ttl
	a.Action = "blocked"
	if r.OnBan != nil {
		r.OnBan(a)
	}
}

// book records a ban (made or, dry run, reported) as a challenge ban or
// a plain one.
func (r *Responder) book(prefix netip.Prefix, subj netip.Addr, forged bool) {
	if forged {
		r.challenge[prefix] = subj
	} else {
		delete(r.challenge, prefix)
	}
}

// takeBudget books a ban against the ban rate (see budget), or counts and
// logs the cap that refused it. A ban the forgeable share refused, on
// evidence that could yet grow past what the share keeps back, asks the
// detector for more (a.MoreEvidence).
func (r *Responder) takeBudget(a *alert.Alert, subj netip.Addr, forged bool, nowNs int64) bool {
	strength := max(a.Evidence, 1)
	switch r.budget.take(nowNs, forged, strength) {
	case budgetOK:
		r.want.remove(subj)
		return true
	case budgetRate:
		r.stats.CappedRate++
		r.logCap("rate", nowNs, "subject", subj, "max_bans_per_minute", r.cfg.MaxBansPerMin)
	case budgetForgeable:
		r.stats.CappedForgeable++
		r.askMore(a, strength)
		r.logCap("rate_forgeable", nowNs, "subject", subj, "detector", a.Detector, "evidence", strength,
			"share_per_minute", forgedPerMin(r.cfg.MaxBansPerMin, r.cfg.ForgeableShare))
	case budgetReserve:
		r.stats.CappedReserve++
		r.askMore(a, strength)
		r.logCap("forgeable_reserve", nowNs, "subject", subj, "detector", a.Detector, "evidence", strength,
			"tokens_left", int(r.budget.forgedLeft(nowNs)), "kept_for_evidence_above", strength)
	}
	r.stats.Capped++
	return false
}

// askMore marks a ban the forgeable share refused as one that stronger
// evidence could get (now from the reserve, later as tokens come back),
// unless the evidence is in the top tier already.
func (r *Responder) askMore(a *alert.Alert, strength float64) {
	if r.budget.forged != nil && strength < 1<<EvidenceTiers {
		a.MoreEvidence = true
		r.want.add(a.Subject)
	}
}

// logCap logs a cap that refused a ban, at most once a minute per cap.
func (r *Responder) logCap(cap string, nowNs int64, args ...any) {
	if last, ok := r.capLogNs[cap]; ok && nowNs-last < 60e9 && nowNs >= last {
		return
	}
	r.capLogNs[cap] = nowNs
	slog.Warn("ban cap reached: not banning (logged once a minute per cap)", append([]any{"cap", cap}, args...)...)
}

// sourceVerified reports whether the kernel has verified subj: the
// sample's trust bit, or an entry in the verified map. It fills
// a.SpoofSuspected with the reason the evidence is thought forged.
func (r *Responder) sourceVerified(a *alert.Alert, subj netip.Addr) bool {
	var v loader.VerifiedSource
	found := false
	if vr, ok := r.banner.(Verifier); ok {
		if e, err := vr.LookupVerified(subj); err == nil {
			v, found = e, true
		}
	}
	if !a.SourceVerified && !found {
		return false
	}
	a.SourceVerified = true
	switch {
	case strings.HasPrefix(a.SpoofSuspected, "hop count ") && found:
		a.SpoofSuspected = fmt.Sprintf("%s vs %d of the verified source", a.SpoofSuspected, v.TTL)
	case a.SpoofSuspected == "":
		a.SpoofSuspected = "forgeable evidence against a verified source"
	}
	return true
}

// SweepVerified lifts the challenge bans whose source has since proved
// itself through the SYN cookie path (it is in the verified map), and
// returns how many it lifted. The daemon calls it on every sweep.
func (r *Responder) SweepVerified() int {
	vr, ok := r.banner.(Verifier)
	ub, ok2 := r.banner.(Unblocker)
	if !ok || !ok2 {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for p, subj := range r.challenge {
		if _, err := vr.LookupVerified(subj); err != nil {
			continue
		}
		if err := ub.Unblock(p); err != nil && !errors.Is(err, loader.ErrNotListed) {
			slog.Warn("lift challenge ban", "prefix", p, "err", err)
			continue
		}
		delete(r.challenge, p)
		delete(r.active, p)
		r.stats.ChallengeLifted++
		n++
		slog.Info("challenge ban lifted: the source completed a SYN cookie handshake", "prefix", p)
	}
	return n
}

// AllowLister is what ClearAllowed needs of the kernel maps (*loader.Maps).
type AllowLister interface {
	Blocks() ([]loader.BlockEntry, error)
	Unblock(p netip.Prefix) error
}

// ClearAllowed removes the bans an allow prefix covers (the allow list
// wins over the block list in the kernel already; a ban left under it
// would come back the moment the allow entry is removed), and returns the
// prefixes it removed.
func ClearAllowed(m AllowLister, allow []netip.Prefix) ([]netip.Prefix, error) {
	if len(allow) == 0 {
		return nil, nil
	}
	entries, err := m.Blocks()
	if err != nil {
		return nil, fmt.Errorf("clear allowed bans: %w", err)
	}
	var out []netip.Prefix
	for _, e := range entries {
		for _, a := range allow {
			if a.Bits() <= e.Prefix.Bits() && a.Contains(e.Prefix.Addr()) {
				if err := m.Unblock(e.Prefix); err != nil && !errors.Is(err, loader.ErrNotListed) {
					return out, fmt.Errorf("clear allowed ban %s: %w", e.Prefix, err)
				}
				out = append(out, e.Prefix)
				break
			}
		}
	}
	return out, nil
}

// escalate records an offence and returns the TTL for it.
func (r *Responder) escalate(subj netip.Prefix, base, now int64) int64 {
	o := r.offences[subj]
	if o == nil || now-o.lastNs > int64(r.cfg.ForgetAfter) {
		o = &offence{}
		r.offences[subj] = o
	} else {
		o.level++
	}
	ttl := base
	if o.level > 0 && len(r.cfg.Escalation) > 0 {
		i := min(o.level, len(r.cfg.Escalation)-1)
		ttl = max(base, int64(r.cfg.Escalation[i]))
	}
	// ForgetAfter counts from the end of the ban: measured from its start,
	// a ban as long as ForgetAfter (24 h by default) would be forgotten
	// the moment it ends and the next offence would start over at the
	// bottom of the ladder.
	o.lastNs = now + ttl
	return ttl
}

func (r *Responder) prune(now int64) {
	if len(r.active) < r.cfg.MaxActiveBans/2 {
		return
	}
	for p, exp := range r.active {
		if exp <= now {
			delete(r.active, p)
			delete(r.challenge, p)
		}
	}
	for a, o := range r.offences {
		if now-o.lastNs > int64(r.cfg.ForgetAfter) {
			delete(r.offences, a)
		}
	}
}

// Forget drops the responder's record of a ban (after an unblock).
func (r *Responder) Forget(p netip.Prefix) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.active, p)
	delete(r.challenge, p)
}
