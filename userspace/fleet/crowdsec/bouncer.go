// Package crowdsec is a CrowdSec bouncer for the XDP block list. It polls
// a CrowdSec Local API's decision stream (GET /v1/decisions/stream, the
// X-Api-Key of a bouncer registered with `cscli bouncers add`) and keeps
// the kernel's block list in step with its ban decisions on addresses
// (scope Ip) and ranges (scope Range): each is a block entry with origin
// crowdsec and the decision's remaining duration as its TTL, written in
// batches, and lifted when the LAPI deletes the decision.
//
// It owns only crowdsec-origin entries: a prefix that already holds a
// local ban (manual, detector, rule, fleet) keeps it, and a deleted
// decision never lifts one. The kernel's allow list is checked before the
// block list, so it wins over CrowdSec too; an Ip decision naming one of
// the host's protected addresses (Config.Protected) is skipped. CrowdSec
// decisions are the operator's (their agents' scenarios, their lists),
// so they are not held to the responder's caps or evidence rules.
//
// While the LAPI cannot be reached the entries stay, and expire with
// their TTL in the kernel; the bouncer retries with exponential backoff
// and, once it gets through, reads the whole stream again (startup=true)
// and removes the crowdsec entries no longer in it.
//
// The types are written here from the LAPI's swagger (models.Decision):
// go-cs-bouncer and crowdsec's pkg/models are not served by the module
// proxy this project builds from, and pkg/models drags in go-openapi;
// net/http and encoding/json are all a stream client needs.
package crowdsec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/internal/buildinfo"
	"github.com/xdpids/xdpids/loader"
)

// Maps is what the bouncer needs of the kernel maps (*loader.Maps).
type Maps interface {
	BlockBatch(items []loader.BlockItem) (int, error)
	UnblockBatch(prefixes []netip.Prefix) (int, error)
	LookupBlock(p netip.Prefix) (loader.BlockEntry, error)
	Blocks() ([]loader.BlockEntry, error)
}

// Defaults.
const (
	DefaultPollInterval = 10 * time.Second
	// DefaultBatchSize entries per BlockBatch call: 100k decisions are 25
	// map updates, each short, none holding the maps for long.
	DefaultBatchSize  = 4096
	DefaultMaxBackoff = time.Minute
)

// Config configures a Bouncer.
type Config struct {
	URL          string        // LAPI base URL, e.g. http://127.0.0.1:8080
	APIKey       string        // the bouncer's key (cscli bouncers add NAME)
	PollInterval time.Duration // between delta polls (0: DefaultPollInterval)
	BatchSize    int           // entries per map batch (0: DefaultBatchSize)
	MaxBackoff   time.Duration // retry interval cap while the LAPI is down (0: DefaultMaxBackoff)
	// Protected reports host addresses never to ban (the responder's
	// Protects); nil: none. Called from Run's goroutine.
	Protected func(netip.Addr) bool
	Client    *http.Client // nil: one with a 60 s timeout
}

// Stats count what the bouncer did. Safe to read from any goroutine.
type Stats struct {
	Polls        uint64 // successful polls, startup and delta
	Startups     uint64 // of which full re-reads (startup=true)
	Errors       uint64 // polls that failed: connect, HTTP status, body
	ApplyErrors  uint64 // of which polls whose block list writes failed
	Active       int    // prefixes held for CrowdSec decisions
	Applied      uint64 // block entries written
	Deleted      uint64 // block entries lifted
	Skipped      [SkipMax]uint64
	LastSuccess  time.Time // last successful poll (zero: none yet)
	Reachable    bool      // the last poll succeeded
	ApplyLatency time.Duration
}

// Bouncer polls one LAPI. Run it in one goroutine; Stats from any.
type Bouncer struct {
	cfg  Config
	maps Maps
	url  string // the stream endpoint, without query

	// Run's own state: read and written only by the goroutine in Run.
	held   map[netip.Prefix]*held
	shadow map[netip.Prefix]struct{} // held prefixes a local ban covers
	now    func() uint64

	polls, startups, errs, applyErrs atomic.Uint64
	applied, deleted                 atomic.Uint64
	active                           atomic.Int64
	skipped                          [SkipMax]atomic.Uint64
	lastOK                           atomic.Int64 // unix ns
	reachable                        atomic.Bool
	applyNs                          atomic.Int64
}

// held is a prefix and the live decisions naming it.
type held struct {
	refs    []ref
	written uint64 // expiry (kernel clock) of the entry written; 0: none written
	comment string
}

// ref is one decision: its id and expiry on the kernel clock.
type ref struct {
	id    int64
	until uint64
}

func (h *held) until() uint64 {
	var u uint64
	for _, r := range h.refs {
		u = max(u, r.until)
	}
	return u
}

// New checks cfg and returns a bouncer writing to maps.
func New(cfg Config, maps Maps) (*Bouncer, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("crowdsec lapi url %q: want http://host:port or https://host:port", cfg.URL)
	}
	if strings.TrimSpace(cfg.APIKey) == "" {
		return nil, errors.New("crowdsec: empty api key")
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: time.Minute}
	}
	cfg.APIKey = strings.TrimSpace(cfg.APIKey)
	return &Bouncer{
		cfg: cfg, maps: maps,
		url:  strings.TrimRight(cfg.URL, "/") + "/v1/decisions/stream",
		held: map[netip.Prefix]*held{}, shadow: map[netip.Prefix]struct{}{},
		now: loader.KernelNow,
	}, nil
}

// Stats returns the counters so far.
func (b *Bouncer) Stats() Stats {
	s := Stats{
		Polls: b.polls.Load(), Startups: b.startups.Load(), Errors: b.errs.Load(), ApplyErrors: b.applyErrs.Load(),
		Active: int(b.active.Load()), Applied: b.applied.Load(), Deleted: b.deleted.Load(),
		Reachable: b.reachable.Load(), ApplyLatency: time.Duration(b.applyNs.Load()),
	}
	if ns := b.lastOK.Load(); ns != 0 {
		s.LastSuccess = time.Unix(0, ns)
	}
	for i := range s.Skipped {
		s.Skipped[i] = b.skipped[i].Load()
	}
	return s
}

// Run polls until ctx ends: first the whole stream, then its deltas every
// poll interval. A failed poll is retried after 1 s, doubling up to the
// backoff cap, and the next one that succeeds reads the whole stream
// again. It returns nil when ctx ends.
func (b *Bouncer) Run(ctx context.Context) error {
	startup := true
	var backoff time.Duration
	for {
		err := b.Poll(ctx, startup)
		wait := b.cfg.PollInterval
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			backoff = nextBackoff(backoff, b.cfg.PollInterval, b.cfg.MaxBackoff)
			wait = backoff
			slog.Warn("crowdsec: poll failed; decisions held are kept", "err", err, "retry_in", backoff.Round(time.Millisecond), "held", len(b.held))
			startup = true
		default:
			if backoff > 0 {
				slog.Info("crowdsec: LAPI reachable again, decisions re-read", "held", len(b.held))
			}
			backoff, startup = 0, false
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// nextBackoff doubles the wait from min(1 s, poll interval) up to limit.
func nextBackoff(cur, poll, limit time.Duration) time.Duration {
	if cur <= 0 {
		return min(time.Second, poll, limit)
	}
	return min(2*cur, limit)
}

// Poll reads the stream once (startup: the whole of it) and applies it.
func (b *Bouncer) Poll(ctx context.Context, startup bool) error {
	s, err := b.fetch(ctx, startup)
	if err != nil {
		b.errs.Add(1)
		b.reachable.Store(false)
		return err
	}
	start := time.Now()
	if startup {
		err = b.resync(s)
	} else {
		err = b.applyDelta(s)
	}
	b.prune()
	b.active.Store(int64(len(b.held)))
	b.applyNs.Store(int64(time.Since(start)))
	if err != nil {
		b.errs.Add(1)
		b.applyErrs.Add(1)
		return err
	}
	b.polls.Add(1)
	if startup {
		b.startups.Add(1)
	}
	b.lastOK.Store(time.Now().UnixNano())
	b.reachable.Store(true)
	return nil
}

// fetch GETs the stream.
func (b *Bouncer) fetch(ctx context.Context, startup bool) (*Stream, error) {
	// scopes= asks the LAPI for Ip and Range decisions only (the bouncer
	// checks them again).
	u := b.url + "?startup=" + fmt.Sprint(startup) + "&scopes=ip,range"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("crowdsec stream: %w", err)
	}
	req.Header.Set("X-Api-Key", b.cfg.APIKey)
	req.Header.Set("User-Agent", "xdpids-bouncer/"+buildinfo.Version)
	resp, err := b.cfg.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("crowdsec stream: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		hint := ""
		if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized {
			hint = " (is the key in api_key_file one cscli bouncers add gave?)"
		}
		return nil, fmt.Errorf("crowdsec stream: %s: %s%s", resp.Status, strings.TrimSpace(string(msg)), hint)
	}
	var s Stream
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return nil, fmt.Errorf("crowdsec stream: read body: %w", err)
	}
	return &s, nil
}

// collect turns the stream's new decisions into prefixes with their
// decisions, counting those skipped.
func (b *Bouncer) collect(ds []Decision, into map[netip.Prefix]*held, now uint64) {
	for i := range ds {
		d := &ds[i]
		p, why, err := d.prefix()
		if err == nil {
			var ttl time.Duration
			if ttl, why, err = d.ttl(); err == nil {
				if b.cfg.Protected != nil && p.IsSingleIP() && b.cfg.Protected(p.Addr()) {
					why, err = SkipProtected, fmt.Errorf("decision %d: %s is a protected host address", d.ID, p.Addr())
				} else {
					h := into[p]
					if h == nil {
						h = &held{}
						into[p] = h
					}
					h.add(ref{id: d.ID, until: now + uint64(ttl)})
					if h.comment == "" {
						h.comment = d.comment()
					}
					continue
				}
			}
		}
		b.skipped[why].Add(1)
		if why != SkipExpired {
			slog.Debug("crowdsec: decision skipped", "reason", SkipNames[why], "err", err)
		}
	}
}

func (h *held) add(r ref) {
	for i := range h.refs {
		if h.refs[i].id == r.id {
			h.refs[i] = r
			return
		}
	}
	h.refs = append(h.refs, r)
}

func (h *held) remove(id int64) bool {
	for i := range h.refs {
		if h.refs[i].id == id {
			h.refs = append(h.refs[:i], h.refs[i+1:]...)
			return true
		}
	}
	return false
}

// local reports whether e is a live ban another origin made: the
// bouncer leaves those alone.
func local(e loader.BlockEntry, now uint64) bool {
	return e.Origin != bpf.OriginCrowdSec && !e.Expired(now)
}

// resync makes the block list's crowdsec entries the stream's whole set:
// every prefix in it written (but those a local ban holds), every
// crowdsec entry not in it removed.
func (b *Bouncer) resync(s *Stream) error {
	now := b.now()
	next := make(map[netip.Prefix]*held, len(s.New))
	b.collect(s.New, next, now)
	entries, err := b.maps.Blocks()
	if err != nil {
		return fmt.Errorf("crowdsec resync: %w", err)
	}
	var stale []netip.Prefix
	locals := map[netip.Prefix]bool{}
	for _, e := range entries {
		h, in := next[e.Prefix]
		switch {
		case e.Origin == bpf.OriginCrowdSec && !in:
			stale = append(stale, e.Prefix)
		case e.Origin == bpf.OriginCrowdSec && sameExpiry(e.ExpiresNs, h.until()):
			// Written before (by this bouncer before an outage, or by the
			// daemon's last run): kept as it is, with its hit counter.
			h.written = e.ExpiresNs
		case in && local(e, now):
			locals[e.Prefix] = true
		}
	}
	shadow := map[netip.Prefix]struct{}{}
	items := make([]loader.BlockItem, 0, min(len(next), b.cfg.BatchSize))
	var werr error
	for p, h := range next {
		if locals[p] {
			shadow[p] = struct{}{}
			b.skipped[SkipLocal].Add(1)
			continue
		}
		if h.written != 0 {
			continue
		}
		items = append(items, b.item(p, h, now))
		if len(items) == b.cfg.BatchSize {
			werr = errors.Join(werr, b.write(items, next))
			items = items[:0]
		}
	}
	werr = errors.Join(werr, b.write(items, next))
	werr = errors.Join(werr, b.lift(stale))
	b.held, b.shadow = next, shadow
	if werr != nil {
		return fmt.Errorf("crowdsec resync: %w", werr)
	}
	slog.Info("crowdsec: decisions read", "prefixes", len(next), "kept_local", len(shadow), "removed_stale", len(stale))
	return nil
}

// applyDelta applies a delta: deletions first, then new decisions (a
// value deleted and added again in one delta stays banned).
func (b *Bouncer) applyDelta(s *Stream) error {
	now := b.now()
	var lift []netip.Prefix
	var items []loader.BlockItem
	var werr error
	flush := func() {
		werr = errors.Join(werr, b.write(items, b.held))
		items = items[:0]
	}
	for i := range s.Deleted {
		d := &s.Deleted[i]
		p, _, err := d.prefix()
		if err != nil {
			continue
		}
		h := b.held[p]
		if h == nil || !h.remove(d.ID) {
			continue // never held, or already gone (the 1.4 LAPI repeats deletions)
		}
		if len(h.refs) > 0 {
			// Another decision still names p: keep it for the longest left.
			if _, sh := b.shadow[p]; !sh && h.until() < h.written {
				items = append(items, b.item(p, h, now))
			}
			continue
		}
		delete(b.held, p)
		if _, sh := b.shadow[p]; sh {
			delete(b.shadow, p)
			continue
		}
		lift = append(lift, p)
	}
	fresh := map[netip.Prefix]*held{}
	b.collect(s.New, fresh, now)
	for p, nh := range fresh {
		h := b.held[p]
		if h == nil {
			if e, err := b.maps.LookupBlock(p); err == nil && local(e, now) {
				b.held[p] = nh
				b.shadow[p] = struct{}{}
				b.skipped[SkipLocal].Add(1)
				continue
			}
			h = &held{comment: nh.comment}
			b.held[p] = h
		}
		for _, r := range nh.refs {
			h.add(r)
		}
		if _, sh := b.shadow[p]; !sh && h.until() != h.written {
			items = append(items, b.item(p, h, now))
			if len(items) == b.cfg.BatchSize {
				flush()
			}
		}
	}
	items = append(items, b.unshadow(now)...)
	flush()
	werr = errors.Join(werr, b.lift(lift))
	if werr != nil {
		return fmt.Errorf("crowdsec delta: %w", werr)
	}
	if len(s.New)+len(s.Deleted) > 0 {
		slog.Debug("crowdsec: delta applied", "new", len(s.New), "deleted", len(s.Deleted), "held", len(b.held))
	}
	return nil
}

// unshadow returns the entries to write for held prefixes whose local
// ban has gone (expired, lifted) while the CrowdSec decision lasts.
func (b *Bouncer) unshadow(now uint64) []loader.BlockItem {
	var items []loader.BlockItem
	for p := range b.shadow {
		h := b.held[p]
		if h == nil {
			delete(b.shadow, p)
			continue
		}
		e, err := b.maps.LookupBlock(p)
		if err == nil && local(e, now) {
			continue
		}
		if err != nil && !errors.Is(err, loader.ErrNotListed) {
			continue
		}
		delete(b.shadow, p)
		items = append(items, b.item(p, h, now))
	}
	return items
}

// sameExpiry: two expiries that differ by less than the LAPI's answer
// takes to arrive are the same decision's.
func sameExpiry(a, b uint64) bool {
	d := int64(a - b)
	return a != 0 && d > -int64(2*time.Second) && d < int64(2*time.Second)
}

func (b *Bouncer) item(p netip.Prefix, h *held, now uint64) loader.BlockItem {
	until := h.until()
	return loader.BlockItem{Prefix: p, BlockOptions: loader.BlockOptions{
		TTL: time.Duration(until - min(until, now)), Origin: bpf.OriginCrowdSec, Comment: h.comment, Now: now}}
}

// write writes items with one BlockBatch and records their expiry in
// set. An entry that made its TTL zero (expired meanwhile) is not written.
func (b *Bouncer) write(items []loader.BlockItem, set map[netip.Prefix]*held) error {
	live := items[:0]
	for _, it := range items {
		if it.TTL > 0 {
			live = append(live, it)
		}
	}
	if len(live) == 0 {
		return nil
	}
	n, err := b.maps.BlockBatch(live)
	b.applied.Add(uint64(n))
	for i, it := range live {
		if i >= n {
			break
		}
		if h := set[it.Prefix]; h != nil {
			h.written = it.Now + uint64(it.TTL)
		}
	}
	return err
}

// lift removes the entries for ps that are still crowdsec's (an entry
// rewritten by xdpids block meanwhile stays).
func (b *Bouncer) lift(ps []netip.Prefix) error {
	if len(ps) == 0 {
		return nil
	}
	own := ps[:0]
	for _, p := range ps {
		if e, err := b.maps.LookupBlock(p); err == nil && e.Origin == bpf.OriginCrowdSec {
			own = append(own, p)
		}
	}
	n, err := b.maps.UnblockBatch(own)
	b.deleted.Add(uint64(n))
	return err
}

// prune forgets decisions past their expiry: the kernel stopped dropping
// for them at that instant, and the daemon's sweep removes the entries.
func (b *Bouncer) prune() {
	now := b.now()
	for p, h := range b.held {
		live := h.refs[:0]
		for _, r := range h.refs {
			if r.until > now {
				live = append(live, r)
			}
		}
		h.refs = live
		if len(live) == 0 {
			delete(b.held, p)
			delete(b.shadow, p)
		}
	}
}
