// Package respond turns alerts into bans in the kernel block list: a TTL
// per detector, escalating for repeat offenders, never against the allow
// list, the host's own addresses, its default gateways or the operator's
// SSH session, with a cap on active bans and on the ban rate, and a
// dry-run mode that reports the ban it would have made.
package respond

import (
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
	"github.com/xdpids/xdpids/userspace/alert"
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
	MaxBansPerMin int             `yaml:"max_bans_per_minute"`
	IPv6PrefixLen int             `yaml:"ipv6_prefix_len"` // IPv6 bans cover this prefix (attackers rotate inside a /64)
	Protect       []string        `yaml:"protect"`         // never ban these prefixes
	ProtectHost   bool            `yaml:"protect_host"`    // own addresses, default gateways, SSH client
}

// DefaultConfig: escalate 10 min, 1 h, 24 h (fail2ban's bantime.increment
// idea); forget after 24 h; at most 10000 active bans and 600 new bans a
// minute, so a spoofing attacker cannot fill the block list or make us ban
// the Internet; IPv6 bans cover the /64.
func DefaultConfig() Config {
	return Config{
		Enabled: true, Escalation: []time.Duration{10 * time.Minute, time.Hour, 24 * time.Hour},
		ForgetAfter: 24 * time.Hour, MaxActiveBans: 10000, MaxBansPerMin: 600, IPv6PrefixLen: 64, ProtectHost: true,
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
	// BansBy counts the bans made by the detector that asked for them.
	BansBy map[string]uint64
}

// Responder decides and makes bans. Safe for concurrent use.
type Responder struct {
	mu        sync.Mutex
	cfg       Config
	banner    Banner
	protected []netip.Prefix
	offences  map[netip.Prefix]*offence // by ban prefix: an IPv6 attacker rotating inside its /64 is one offender
	active    map[netip.Prefix]int64    // ban -> expiry (packet time ns)
	minute    int64
	inMinute  int
	stats     Stats
	// OnBan, when set, is called after a ban's map update returned (with
	// the lock held: keep it cheap). The daemon measures latency there.
	OnBan func(a *alert.Alert)
}

// New returns a responder writing bans through b (nil: never bans).
func New(cfg Config, b Banner) (*Responder, error) {
	r := &Responder{cfg: cfg, banner: b, offences: map[netip.Prefix]*offence{}, active: map[netip.Prefix]int64{}}
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
		}
		n++
	}
	return n
}

// IsProtected reports whether a must never be banned.
func (r *Responder) IsProtected(a netip.Addr) bool {
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
	bits := subj.BitLen()
	if subj.Is6() {
		bits = r.cfg.IPv6PrefixLen
	}
	prefix := netip.PrefixFrom(subj, bits).Masked()
	if exp, ok := r.active[prefix]; ok && exp > nowNs {
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
	}
	r.prune(nowNs)
	if len(r.active) >= r.cfg.MaxActiveBans {
		r.stats.Capped++
		r.stats.CappedActive++
		slog.Warn("ban cap reached: not banning", "subject", subj, "active", len(r.active))
		return
	}
	if nowNs/60e9 != r.minute {
		r.minute, r.inMinute = nowNs/60e9, 0
	}
	if r.inMinute >= r.cfg.MaxBansPerMin {
		r.stats.Capped++
		r.stats.CappedRate++
		return
	}
	ttl := r.escalate(prefix, a.BanTTLNs, nowNs)
	a.BanPrefix, a.BanTTL = prefix.String(), ttl
	if r.cfg.DryRun {
		r.stats.DryRun++
		if a.Metadata == nil {
			a.Metadata = map[string]string{}
		}
		a.Metadata["dry_run_ban"] = fmt.Sprintf("%s for %s", prefix, time.Duration(ttl))
		r.active[prefix] = nowNs + ttl
		r.inMinute++
		return
	}
	comment := a.Detector
	err := r.banner.Block(prefix, loader.BlockOptions{TTL: time.Duration(ttl), Origin: bpf.OriginDetector,
		Level: uint32(r.offences[prefix].level), Comment: comment, Now: uint64(nowNs)})
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
	r.inMinute++
	r.active[prefix] = nowNs + ttl
	a.Action = "blocked"
	if r.OnBan != nil {
		r.OnBan(a)
	}
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
}
