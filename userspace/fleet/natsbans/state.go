package natsbans

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/netip"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/respond"
)

// pubBan is one of this node's shareable bans and what was published of it.
type pubBan struct {
	created, expires uint64 // the kernel entry it stands for (CLOCK_MONOTONIC ns)
	origin, level    uint32
	rev              uint64    // the key's revision we wrote (0: not ours now)
	published        bool      // the bucket holds it
	withdrawn        bool      // another node deleted the key: this entry is not published again
	at               time.Time // when published (republished before MaxAge takes it)
}

func (b *pubBan) same(e loader.BlockStamp) bool {
	return b.created == e.CreatedNs && b.expires == e.ExpiresNs && b.origin == e.Origin && b.level == e.Level
}

// appliedBan is a fleet ban this node wrote to its kernel list.
type appliedBan struct {
	created, expires uint64    // as written (CLOCK_MONOTONIC ns)
	wallExpires      time.Time // the value's expiry
}

type pubAllow struct {
	published, withdrawn bool
}

// state is what the loop knows; only the loop's goroutine touches it.
type state struct {
	o            Options
	synced       bool // the watch delivered every value held when it started
	pub          map[netip.Prefix]*pubBan
	applied      map[netip.Prefix]*appliedBan
	pubAllow     map[netip.Prefix]*pubAllow
	appliedAllow map[netip.Prefix]bool
	configAllow  map[netip.Prefix]bool
	dels         map[string]uint64 // keys to delete -> revision guard (0: whatever holds it)
	batch        map[netip.Prefix]pendingBan
	scan         loader.BlockScan                   // the block list as last read
	live         map[netip.Prefix]loader.BlockStamp // scan's live entries by prefix
	liveAllow    map[netip.Prefix]bool
}

type pendingBan struct {
	item loader.BlockItem
	wall time.Time
}

func newState(o Options) *state {
	s := &state{o: o, pub: map[netip.Prefix]*pubBan{}, applied: map[netip.Prefix]*appliedBan{},
		pubAllow: map[netip.Prefix]*pubAllow{}, appliedAllow: map[netip.Prefix]bool{}, configAllow: map[netip.Prefix]bool{},
		dels: map[string]uint64{}, batch: map[netip.Prefix]pendingBan{}, live: map[netip.Prefix]loader.BlockStamp{},
		liveAllow: map[netip.Prefix]bool{}}
	for _, p := range o.ConfigAllow {
		s.configAllow[p.Masked()] = true
	}
	return s
}

// wallOf turns a kernel expiry into wall-clock time (zero: never).
func wallOf(expiresNs, nowNs uint64, now time.Time) time.Time {
	if expiresNs == 0 {
		return time.Time{}
	}
	return now.Add(time.Duration(int64(expiresNs) - int64(nowNs))).UTC()
}

// entry takes one value or delete marker from the watch.
func (s *state) entry(l *loop, e jetstream.KeyValueEntry) {
	f := l.f
	kind, p, err := ParseKey(e.Key())
	if err != nil {
		f.fail("bucket key", err)
		return
	}
	put := e.Operation() == jetstream.KeyValuePut
	if kind == AllowPrefix {
		s.allowEntry(l, p, put, e)
		return
	}
	key := e.Key()
	if !put {
		delete(s.batch, p)
		if ab := s.applied[p]; ab != nil {
			delete(s.applied, p)
			// Only the fleet entry this node wrote: a ban of its own
			// (manual, detector, rule) made since stays.
			if cur, err := f.m.LookupBlock(p); err == nil && cur.Origin == bpf.OriginFleet && cur.CreatedNs == ab.created {
				if err := f.m.Unblock(p); err != nil && !errors.Is(err, loader.ErrNotListed) {
					f.fail("unblock "+p.String(), err)
				} else {
					f.removed.Add(1)
					slog.Info("fleet: ban lifted", "prefix", p)
				}
			}
		}
		if pb := s.pub[p]; pb != nil && pb.published {
			// Another node lifted this node's ban fleet-wide: the local
			// ban stays (it is not the fleet's to lift), and is not
			// published again unless it changes.
			pb.withdrawn, pb.rev = true, 0
		}
		return
	}
	var b Ban
	if err := json.Unmarshal(e.Value(), &b); err != nil {
		f.fail("decode "+key, err)
		return
	}
	if _, pending := s.dels[key]; pending {
		return // this node deleted it while cut off: its delete goes out next
	}
	if b.Node == s.o.Node {
		if pb := s.pub[p]; pb != nil {
			pb.rev = e.Revision()
			if !s.synced && !pb.published && s.matches(pb, b) {
				pb.published, pb.at = true, b.Published
			}
			return
		}
		if s.synced {
			return // the echo of this node's own put
		}
		// This node's own ban, absent from its kernel list at catch-up.
		if s.o.ListKept {
			// Lifted while the daemon was stopped: lifted everywhere.
			if !s.o.ReceiveOnly {
				s.dels[key] = e.Revision()
			}
			return
		}
		// The maps were lost (a reboot clears bpffs): take it back, as a
		// fleet ban.
	} else if pb := s.pub[p]; pb != nil {
		// Another node banned the same prefix since: its value replaced
		// ours in the bucket; the local ban stands.
		pb.rev = 0
		f.skipped.Add(1)
		return
	}
	s.queueBan(l, p, b)
}

// matches reports whether a value in the bucket describes local ban pb.
func (s *state) matches(pb *pubBan, b Ban) bool {
	if originName(pb.origin) != b.Origin || pb.level != b.Level {
		return false
	}
	want := wallOf(pb.expires, loader.KernelNow(), time.Now())
	if want.IsZero() || b.Expires.IsZero() {
		return want.IsZero() == b.Expires.IsZero()
	}
	d := want.Sub(b.Expires)
	return d < 2*time.Second && d > -2*time.Second
}

// queueBan adds another node's ban to the next batch, unless it has
// expired, covers a protected or allowed address, or a local ban of
// this node's own stands there.
func (s *state) queueBan(l *loop, p netip.Prefix, b Ban) {
	f := l.f
	now := time.Now()
	var ttl time.Duration
	if !b.Expires.IsZero() {
		if ttl = b.Expires.Sub(now); ttl <= 0 {
			f.skipped.Add(1)
			return
		}
	}
	if ab := s.applied[p]; ab != nil && ab.wallExpires.Equal(b.Expires) {
		return // applied already (a catch-up after a reconnect)
	}
	if s.o.Protected != nil && s.o.Protected(p.Addr()) {
		f.skipped.Add(1)
		slog.Warn("fleet: ban not applied: it covers a protected address of this host", "prefix", p, "node", b.Node)
		return
	}
	if ok, err := f.m.Allowed(p.Addr()); err == nil && ok {
		f.skipped.Add(1)
		return
	}
	if cur, err := f.m.LookupBlock(p); err == nil && cur.Origin != bpf.OriginFleet && !cur.Challenge && !cur.Expired(loader.KernelNow()) {
		f.skipped.Add(1)
		return // a ban of this node's own stands
	}
	comment := b.Node + ":" + b.Reason
	s.batch[p] = pendingBan{wall: b.Expires, item: loader.BlockItem{Prefix: p,
		BlockOptions: loader.BlockOptions{TTL: ttl, Origin: bpf.OriginFleet, Level: b.Level, Comment: comment}}}
}

// flush writes the queued fleet bans to the kernel list in one batch.
func (s *state) flush(l *loop) {
	if len(s.batch) == 0 {
		return
	}
	f := l.f
	now := loader.KernelNow()
	items := make([]loader.BlockItem, 0, len(s.batch))
	for _, pb := range s.batch {
		pb.item.Now = now
		items = append(items, pb.item)
	}
	n, err := f.m.BlockBatch(items)
	if err != nil {
		f.fail("apply fleet bans", err)
	}
	for i, it := range items {
		if i >= n {
			break
		}
		ab := &appliedBan{created: now, wallExpires: s.batch[it.Prefix].wall}
		if it.TTL > 0 {
			ab.expires = now + uint64(it.TTL)
		}
		s.applied[it.Prefix] = ab
	}
	f.applied.Add(uint64(n))
	if n == 1 {
		slog.Info("fleet: ban applied", "prefix", items[0].Prefix, "ttl", items[0].TTL.Round(time.Second), "from", items[0].Comment)
	} else if n > 1 {
		slog.Info("fleet: bans applied", "count", n)
	}
	clear(s.batch)
}

func (s *state) allowEntry(l *loop, p netip.Prefix, put bool, e jetstream.KeyValueEntry) {
	f := l.f
	if !put {
		if s.appliedAllow[p] {
			delete(s.appliedAllow, p)
			if !s.configAllow[p] {
				if err := f.m.Disallow(p); err != nil && !errors.Is(err, loader.ErrNotListed) {
					f.fail("remove allow "+p.String(), err)
				} else {
					slog.Info("fleet: allow entry removed", "prefix", p)
				}
			}
		}
		if pa := s.pubAllow[p]; pa != nil && pa.published {
			pa.withdrawn = true
		}
		return
	}
	var a Allow
	if err := json.Unmarshal(e.Value(), &a); err != nil {
		f.fail("decode "+e.Key(), err)
		return
	}
	if _, pending := s.dels[e.Key()]; pending {
		return
	}
	if pa := s.pubAllow[p]; pa != nil {
		if a.Node == s.o.Node && !s.synced {
			pa.published = true
		}
		return // this node's own entry stands
	}
	if (a.Node == s.o.Node && s.synced) || s.appliedAllow[p] || s.configAllow[p] {
		return
	}
	if err := f.m.Allow(p); err != nil {
		f.fail("allow "+p.String(), err)
		return
	}
	s.appliedAllow[p] = true
	f.allowsApplied.Add(1)
	slog.Info("fleet: allow entry applied", "prefix", p, "node", a.Node)
	// The allow list clears the bans it covers.
	if _, err := respond.ClearAllowed(f.m, []netip.Prefix{p}); err != nil {
		f.fail("clear bans under "+p.String(), err)
	}
}

// diff compares the kernel lists with what was published and applied,
// and, connected, publishes the difference.
func (s *state) diff(l *loop) {
	f := l.f
	now := loader.KernelNow()
	// One batched read of the block list (loader.ScanBlocks: a few
	// syscalls per thousand entries, its buffers reused): at 10 000 bans
	// a few ms every Poll.
	if err := f.m.ScanBlocks(&s.scan); err != nil {
		f.fail("read block list", err)
		return
	}
	clear(s.live)
	for _, e := range s.scan.Entries {
		if !e.Expired(now) {
			s.live[e.Prefix] = e
		}
	}
	for p, pb := range s.pub {
		e, ok := s.live[p]
		if ok && shareable(e) {
			if !pb.same(e) { // banned again: a new value replaces the key
				s.pub[p] = &pubBan{created: e.CreatedNs, expires: e.ExpiresNs, origin: e.Origin, level: e.Level, rev: pb.rev}
			}
			continue
		}
		delete(s.pub, p)
		if !pb.published || pb.withdrawn {
			continue
		}
		key := Key(BanPrefix, p)
		if !ok && pb.expires != 0 && pb.expires <= now {
			// Expired everywhere at once: tidy the key if it is still ours.
			if pb.rev != 0 {
				s.dels[key] = pb.rev
			}
			continue
		}
		s.dels[key] = 0 // unblocked here: lifted everywhere
	}
	for p, e := range s.live {
		if shareable(e) && s.pub[p] == nil {
			s.pub[p] = &pubBan{created: e.CreatedNs, expires: e.ExpiresNs, origin: e.Origin, level: e.Level}
			delete(s.dels, Key(BanPrefix, p))
		}
	}
	for p, ab := range s.applied {
		e, ok := s.live[p]
		if ok && e.Origin == bpf.OriginFleet && e.CreatedNs == ab.created {
			continue
		}
		delete(s.applied, p)
		if !ok && (ab.expires == 0 || ab.expires > now) && !s.o.ReceiveOnly {
			// An operator lifted a fleet ban on this node (xdpids unblock,
			// or an allow entry over it): lifted everywhere.
			s.dels[Key(BanPrefix, p)] = 0
		}
	}
	s.diffAllows(l)
	if s.o.ReceiveOnly || !l.ready() {
		return
	}
	for key, guard := range s.dels {
		if l.del(key, guard) != nil {
			return // retried on the next diff
		}
		delete(s.dels, key)
	}
	wall := time.Now()
	for p, pb := range s.pub {
		if pb.withdrawn || pb.published && wall.Sub(pb.at) < s.o.MaxAge/2 {
			continue
		}
		e := s.live[p]
		var reason string
		if full, err := f.m.LookupBlock(p); err == nil {
			reason = full.Comment
		}
		b := Ban{Prefix: p.String(), Expires: wallOf(e.ExpiresNs, now, wall), Origin: originName(e.Origin),
			Reason: reason, Trust: trustOf(e), Level: e.Level, Node: s.o.Node, Published: wall.UTC()}
		if e.ExpiresNs != 0 {
			b.TTL = time.Duration(e.ExpiresNs - e.CreatedNs).Seconds()
		}
		v, _ := json.Marshal(b)
		rev, err := l.put(Key(BanPrefix, p), v)
		if err != nil {
			return
		}
		pb.published, pb.rev, pb.at = true, rev, wall
	}
	for p, pa := range s.pubAllow {
		if pa.published || pa.withdrawn {
			continue
		}
		v, _ := json.Marshal(Allow{Prefix: p.String(), Node: s.o.Node, Published: wall.UTC()})
		if _, err := l.put(Key(AllowPrefix, p), v); err != nil {
			return
		}
		pa.published = true
	}
}

// diffAllows does for the allow list what diff does for bans: entries
// added here by hand are published, removed ones deleted. The
// configuration's entries are the node's own and stay local.
func (s *state) diffAllows(l *loop) {
	f := l.f
	allows, err := f.m.Allows()
	if err != nil {
		f.fail("read allow list", err)
		return
	}
	clear(s.liveAllow)
	for _, a := range allows {
		s.liveAllow[a.Prefix] = true
	}
	for p, pa := range s.pubAllow {
		if s.liveAllow[p] {
			continue
		}
		delete(s.pubAllow, p)
		if pa.published && !pa.withdrawn {
			s.dels[Key(AllowPrefix, p)] = 0
		}
	}
	for p := range s.appliedAllow {
		if !s.liveAllow[p] {
			delete(s.appliedAllow, p)
			if !s.o.ReceiveOnly {
				s.dels[Key(AllowPrefix, p)] = 0
			}
		}
	}
	for p := range s.liveAllow {
		if !s.configAllow[p] && !s.appliedAllow[p] && s.pubAllow[p] == nil {
			s.pubAllow[p] = &pubAllow{}
			delete(s.dels, Key(AllowPrefix, p))
		}
	}
}
