// Package natsbans shares bans between xdpids nodes through a NATS
// JetStream key-value bucket: each node publishes the bans it makes on
// evidence that cannot be forged (and its operator's), watches the bucket,
// and applies the other nodes' bans to its own kernel block list with
// origin fleet. The fleet-wide allow list travels the same way.
//
// Keys: "ban.<prefix>" and "allow.<prefix>", the prefix in its text form
// with ':' written as '-' (a NATS key allows [-/_=.a-zA-Z0-9]), so
// ban.198.51.100.7/32 and ban.2001-db8--/64. A value is a JSON Ban or
// Allow. A ban's expiry is an absolute wall-clock time in the value, not
// a per-key TTL (nats-server 2.9, Debian's, has none): a node applies the
// time that remains. The bucket's MaxAge bounds what stays in it; each
// node republishes its live bans before they would age out.
//
// What a node publishes comes from its kernel block list, not from a hook
// in the responder: the loop reads the list every Poll (200 ms) and when
// the responder kicks it after a ban (Kick), and publishes the entries
// that are new (origin manual, detector or rule, and not a challenge
// ban) and deletes the keys of those that vanished before their expiry.
// So `xdpids block` and `xdpids unblock`, which write the pinned maps
// directly and never talk to the daemon, reach the fleet too, and a ban
// made on forgeable evidence (a challenge ban) never leaves the node.
//
// While NATS is unreachable the node keeps enforcing what its kernel
// holds (entries expire there on their own), keeps connecting with
// backoff, and on every (re)connection watches the bucket from its last
// value per key: bans and deletes made during the outage are caught up,
// and its own unpublished changes are published. A daemon restarted on
// its kept pins publishes the deletes of its bans lifted while it was
// stopped; one whose pins are gone (a reboot) takes its bans back from
// the bucket (Options.ListKept).
//
// Two nodes banning the same prefix share one key: the last value wins,
// and the other node's own ban stays in its list. A delete lifts the
// fleet's entries on every node, never a node's own ban.
package natsbans

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/detect/alert"
)

// Key prefixes in the bucket.
const (
	BanPrefix   = "ban."
	AllowPrefix = "allow."
)

// TrustOperator is the trust of a ban an operator made (xdpids block).
// Bans from the detectors and rules that leave a node are all
// alert.TrustVerified: forgeable evidence makes challenge bans, which
// are never published.
const TrustOperator = "operator"

// DefaultMaxAge is the bucket's MaxAge: longer than the longest ban the
// responder makes (the 24 h top of the escalation ladder). Longer and
// permanent bans are republished every MaxAge/2.
const DefaultMaxAge = 25 * time.Hour

// DefaultPoll is how often the block list is diffed against what was
// published (the responder's bans also kick the loop at once).
const DefaultPoll = 200 * time.Millisecond

// Ban is a ban's value in the bucket.
type Ban struct {
	Prefix string `json:"prefix"`
	// Expires is when the ban ends, wall clock (UTC); zero: never.
	Expires   time.Time `json:"expires,omitzero"`
	TTL       float64   `json:"ttl_seconds"` // the TTL it had when published (0: never expires)
	Origin    string    `json:"origin"`      // manual, detector, rule
	Reason    string    `json:"reason"`      // the block list comment: detector or rule, or the operator's --reason
	Trust     string    `json:"trust"`       // verified, or operator
	Level     uint32    `json:"level"`       // escalation level
	Node      string    `json:"node"`
	Published time.Time `json:"published"`
}

// Allow is an allow list entry's value in the bucket.
type Allow struct {
	Prefix    string    `json:"prefix"`
	Node      string    `json:"node"`
	Published time.Time `json:"published"`
}

// Key is the bucket key of a ban (BanPrefix) or allow entry (AllowPrefix).
func Key(kind string, p netip.Prefix) string {
	return kind + strings.ReplaceAll(p.String(), ":", "-")
}

// ParseKey is Key's inverse.
func ParseKey(key string) (kind string, p netip.Prefix, err error) {
	for _, k := range []string{BanPrefix, AllowPrefix} {
		if rest, ok := strings.CutPrefix(key, k); ok {
			p, err = netip.ParsePrefix(strings.ReplaceAll(rest, "-", ":"))
			if err != nil {
				return "", p, fmt.Errorf("key %q: %w", key, err)
			}
			return k, p, nil
		}
	}
	return "", netip.Prefix{}, fmt.Errorf("key %q: neither %s nor %s", key, BanPrefix, AllowPrefix)
}

// Options configure a Fleet.
type Options struct {
	// URL is the server (nats://host:4222, or a comma-separated list of
	// them). Ignored when NATSOptions carries nats.InProcessServer.
	URL         string
	NATSOptions []nats.Option // credentials, TLS, an in-process server
	Bucket      string
	Node        string // this node's name in the values; its own keys are not applied back
	ReceiveOnly bool   // apply the fleet's bans, publish nothing
	Replicas    int    // of the bucket, when this node creates it (0: 1)
	MaxAge      time.Duration
	Poll        time.Duration
	// ConfigAllow are the allow entries of the node's configuration: its
	// own, never published, never removed by the fleet.
	ConfigAllow []netip.Prefix
	// Protected reports addresses this node never bans (its own, its
	// gateways): a fleet ban covering one is not applied.
	Protected func(netip.Addr) bool
	// ListKept says the kernel block list outlived the last run (its
	// pins were there at start). Then a ban of this node's own in the
	// bucket with no entry left in the list was lifted while the daemon
	// was stopped (xdpids unblock) or expired, and its key is deleted.
	// Otherwise (a reboot cleared bpffs, a first start) the node takes
	// its own bans back from the bucket, as fleet bans.
	ListKept bool
}

// Stats are a Fleet's counters.
type Stats struct {
	Published, Deleted uint64 // keys put and deleted
	Applied, Removed   uint64 // fleet bans written to and removed from the kernel list
	AllowsApplied      uint64
	Skipped            uint64 // fleet bans not applied: expired, protected, allowed, a local ban stands
	Errors             uint64 // NATS, decode and map errors
	Connected          bool
	Reconnects         uint64
	LastSync           time.Time // end of the last catch-up
}

// Fleet publishes and applies bans. Run owns all its state; Kick and
// Stats are safe from any goroutine.
type Fleet struct {
	o    Options
	m    *loader.Maps
	kick chan struct{}

	published, deleted, applied, removed, allowsApplied, skipped, errs, reconnects atomic.Uint64
	connected                                                                      atomic.Bool
	lastSync                                                                       atomic.Int64

	st *state
}

// New returns a Fleet over the kernel maps m.
func New(o Options, m *loader.Maps) (*Fleet, error) {
	if o.Bucket == "" {
		o.Bucket = "xdpids-bans"
	}
	if o.Node == "" {
		return nil, errors.New("fleet: node name is empty")
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	return &Fleet{o: o, m: m, kick: make(chan struct{}, 1), st: newState(o)}, nil
}

// Kick asks the loop to diff the block list now (the responder made a
// ban). It never blocks.
func (f *Fleet) Kick() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// Stats returns the counters.
func (f *Fleet) Stats() Stats {
	s := Stats{Published: f.published.Load(), Deleted: f.deleted.Load(), Applied: f.applied.Load(),
		Removed: f.removed.Load(), AllowsApplied: f.allowsApplied.Load(), Skipped: f.skipped.Load(),
		Errors: f.errs.Load(), Connected: f.connected.Load(), Reconnects: f.reconnects.Load()}
	if ns := f.lastSync.Load(); ns != 0 {
		s.LastSync = time.Unix(0, ns)
	}
	return s
}

func (f *Fleet) fail(msg string, err error) {
	f.errs.Add(1)
	slog.Warn("fleet: "+msg, "err", err)
}

// conn events the NATS callbacks hand to the loop.
type connEvent int

const (
	evConnected connEvent = iota
	evDisconnected
)

// Run connects and serves until ctx ends. It returns an error only for
// options it cannot use; an unreachable server is retried forever.
func (f *Fleet) Run(ctx context.Context) error {
	events := make(chan connEvent, 16)
	send := func(e connEvent) {
		select {
		case events <- e:
		default:
		}
	}
	opts := append([]nats.Option{
		nats.Name("xdpids " + f.o.Node),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(func(attempts int) time.Duration {
			// 100 ms doubling to 2 s, plus up to 100 ms of jitter (the
			// client tries each server of the URL list in turn).
			d := 100 * time.Millisecond << min(attempts, 5)
			return min(d, 2*time.Second) + time.Duration(time.Now().UnixNano()%int64(100*time.Millisecond))
		}),
		nats.ConnectHandler(func(*nats.Conn) { send(evConnected) }),
		nats.ReconnectHandler(func(*nats.Conn) { f.reconnects.Add(1); send(evConnected) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { send(evDisconnected) }),
	}, f.o.NATSOptions...)
	url := f.o.URL
	if url == "" {
		url = nats.DefaultURL
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return fmt.Errorf("fleet: connect %s: %w", url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("fleet: jetstream: %w", err)
	}
	l := &loop{f: f, nc: nc, js: js}
	return l.run(ctx, events)
}

// loop is Run's state: one goroutine, no locks.
type loop struct {
	f       *Fleet
	nc      *nats.Conn
	js      jetstream.JetStream
	kv      jetstream.KeyValue
	w       jetstream.KeyWatcher
	backoff time.Duration
}

func (l *loop) run(ctx context.Context, events <-chan connEvent) error {
	f := l.f
	poll := time.NewTicker(f.o.Poll)
	defer poll.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	defer l.stopWatch()
	f.st.diff(l) // the state before any connection: what vanishes later is known
	for {
		var updates <-chan jetstream.KeyValueEntry
		if l.w != nil {
			updates = l.w.Updates()
		}
		select {
		case <-ctx.Done():
			return nil
		case ev := <-events:
			switch ev {
			case evConnected:
				f.connected.Store(true)
				url := l.nc.ConnectedUrlRedacted()
				if f.o.URL == "embedded" {
					url = "embedded (in-process)"
				}
				slog.Info("fleet: connected to NATS", "url", url, "bucket", f.o.Bucket)
				// A fresh watch catches up from the last value per key;
				// the old one may have missed the outage.
				l.stopWatch()
				l.backoff = 0
				l.setup(ctx, retry)
			case evDisconnected:
				if f.connected.Swap(false) {
					slog.Warn("fleet: NATS connection lost: enforcing the bans held, reconnecting")
				}
			}
		case <-retry.C:
			l.setup(ctx, retry)
		case e, ok := <-updates:
			if !ok {
				l.w = nil
				l.arm(retry)
				continue
			}
			l.handle(e)
			// Take what else is queued in one go: a catch-up lands in
			// the kernel as one batch.
			for more := true; more; {
				select {
				case e, ok := <-updates:
					if !ok {
						l.w = nil
						l.arm(retry)
						more = false
						continue
					}
					l.handle(e)
				default:
					more = false
				}
			}
			f.st.flush(l)
		case <-f.kick:
			f.st.diff(l)
		case <-poll.C:
			f.st.diff(l)
		}
	}
}

// handle takes one watch entry; nil marks the end of the catch-up.
func (l *loop) handle(e jetstream.KeyValueEntry) {
	if e == nil {
		l.f.st.flush(l)
		l.f.st.synced = true
		l.f.lastSync.Store(time.Now().UnixNano())
		slog.Info("fleet: caught up with the bucket", "bucket", l.f.o.Bucket)
		l.f.st.diff(l)
		return
	}
	l.f.st.entry(l, e)
}

// setup binds the bucket (creating it when missing) and starts the watch.
func (l *loop) setup(ctx context.Context, retry *time.Timer) {
	if l.w != nil || !l.nc.IsConnected() {
		return
	}
	f := l.f
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	kv, err := l.js.KeyValue(cctx, f.o.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = l.js.CreateKeyValue(cctx, jetstream.KeyValueConfig{
			Bucket: f.o.Bucket, Description: "xdpids fleet bans and allow list",
			History: 1, TTL: f.o.MaxAge, Storage: jetstream.FileStorage, Replicas: f.o.Replicas,
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = l.js.KeyValue(cctx, f.o.Bucket)
		}
	}
	if err == nil {
		l.kv = kv
		// The watch lives until stopWatch, not for this call's timeout.
		l.w, err = kv.WatchAll(context.WithoutCancel(ctx))
	}
	if err != nil {
		f.fail("bind bucket "+f.o.Bucket, err)
		l.arm(retry)
		return
	}
	f.st.synced = false
}

// arm schedules another setup with backoff (250 ms doubling to 5 s).
func (l *loop) arm(retry *time.Timer) {
	l.backoff = min(max(l.backoff*2, 250*time.Millisecond), 5*time.Second)
	retry.Reset(l.backoff)
}

func (l *loop) stopWatch() {
	if l.w != nil {
		_ = l.w.Stop()
		l.w = nil
	}
	l.f.st.synced = false
}

// ready reports whether the loop may write to the bucket.
func (l *loop) ready() bool { return l.kv != nil && l.f.st.synced && l.nc.IsConnected() }

func (l *loop) put(key string, v []byte) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rev, err := l.kv.Put(ctx, key, v)
	if err != nil {
		l.f.fail("publish "+key, err)
		return 0, err
	}
	l.f.published.Add(1)
	return rev, nil
}

func (l *loop) del(key string, rev uint64) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var opts []jetstream.KVDeleteOpt
	if rev != 0 {
		opts = append(opts, jetstream.LastRevision(rev))
	}
	err := l.kv.Delete(ctx, key, opts...)
	if rev != 0 && errors.Is(err, jetstream.ErrKeyExists) {
		return nil // another node's value replaced ours since: leave it
	}
	if err != nil {
		l.f.fail("delete "+key, err)
		return err
	}
	l.f.deleted.Add(1)
	return nil
}

// originName is how an origin is written in a value.
func originName(o uint32) string {
	switch o {
	case bpf.OriginManual:
		return "manual"
	case bpf.OriginDetector:
		return "detector"
	case bpf.OriginRule:
		return "rule"
	}
	return "unknown"
}

// shareable reports whether a block list entry of this node is
// published: the operator's bans and bans on verified evidence.
func shareable(e loader.BlockStamp) bool {
	if e.Challenge {
		return false // forgeable evidence: the node's own business
	}
	switch e.Origin {
	case bpf.OriginManual, bpf.OriginDetector, bpf.OriginRule:
		return true
	}
	return false // fleet (someone else's), crowdsec (every node has its own feed)
}

func trustOf(e loader.BlockStamp) string {
	if e.Origin == bpf.OriginManual {
		return TrustOperator
	}
	return alert.TrustVerified
}
