// Package hostaddrs keeps the live set of addresses this host must never
// ban: its own addresses, every route's next hop (default gateways
// included), the network and broadcast addresses of its own IPv4 subnets
// and the subnet-router anycast address of its IPv6 ones, the resolvers of
// resolv.conf and the NTP servers of chrony, ntpd and systemd-timesyncd.
//
// Addresses and routes follow netlink updates in the network namespace New
// was called in; the configuration files are read again on every update
// and every RefreshEvery. Readers never lock: Contains reads an immutable
// set swapped in atomically.
package hostaddrs

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Protector is what a responder asks before it bans.
type Protector interface {
	Contains(netip.Addr) bool
}

// Default configuration files.
const (
	DefaultResolvConf = "/etc/resolv.conf"
)

// DefaultNTPFiles are the NTP client configurations read when they exist.
var DefaultNTPFiles = []string{"/etc/chrony/chrony.conf", "/etc/chrony.conf", "/etc/ntp.conf", "/etc/ntpsec/ntp.conf", "/etc/systemd/timesyncd.conf"}

// Options configure New. The zero value reads the default files.
type Options struct {
	ResolvConf   string   // "" : DefaultResolvConf; "-": none
	NTPFiles     []string // nil: DefaultNTPFiles
	RefreshEvery time.Duration
	Logger       *slog.Logger
}

// Set is the live protected set. Close stops following updates.
type Set struct {
	cur    atomic.Pointer[snapshot]
	opts   Options
	ns     netns.NsHandle
	h      *netlink.Handle
	done   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex // serialises rebuilds
	closed sync.Once
	log    *slog.Logger
}

type snapshot struct {
	set  map[netip.Addr]struct{}
	list []netip.Prefix
}

// New reads the current addresses, routes and files of the calling
// thread's network namespace and follows their changes until Close.
func New(opts Options) (*Set, error) {
	if opts.ResolvConf == "" {
		opts.ResolvConf = DefaultResolvConf
	}
	if opts.NTPFiles == nil {
		opts.NTPFiles = DefaultNTPFiles
	}
	if opts.RefreshEvery <= 0 {
		opts.RefreshEvery = 30 * time.Second
	}
	s := &Set{opts: opts, done: make(chan struct{}), log: opts.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	ns, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("hostaddrs: current netns: %w", err)
	}
	s.ns = ns
	if s.h, err = netlink.NewHandleAt(ns); err != nil {
		ns.Close()
		return nil, fmt.Errorf("hostaddrs: netlink handle: %w", err)
	}
	// Subscribe before the first listing, so no change falls between.
	addrs := make(chan netlink.AddrUpdate, 64)
	routes := make(chan netlink.RouteUpdate, 64)
	onErr := func(err error) {
		if !s.closing() { // else: the socket closed by Close
			s.log.Warn("hostaddrs: netlink subscription", "err", err)
		}
	}
	if err := netlink.AddrSubscribeWithOptions(addrs, s.done, netlink.AddrSubscribeOptions{Namespace: &ns, ErrorCallback: onErr}); err != nil {
		s.Close()
		return nil, fmt.Errorf("hostaddrs: subscribe to address updates: %w", err)
	}
	if err := netlink.RouteSubscribeWithOptions(routes, s.done, netlink.RouteSubscribeOptions{Namespace: &ns, ErrorCallback: onErr}); err != nil {
		s.Close()
		return nil, fmt.Errorf("hostaddrs: subscribe to route updates: %w", err)
	}
	if err := s.Refresh(); err != nil {
		s.Close()
		return nil, err
	}
	s.wg.Add(1)
	go s.follow(addrs, routes)
	return s, nil
}

// follow rebuilds the set on every update until Close. A subscription
// that ends (its socket failed) leaves the periodic refresh.
func (s *Set) follow(addrs <-chan netlink.AddrUpdate, routes <-chan netlink.RouteUpdate) {
	defer s.wg.Done()
	tick := time.NewTicker(s.opts.RefreshEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.done:
			return
		case _, ok := <-addrs:
			if !ok {
				addrs = nil
				if !s.closing() {
					s.log.Warn("hostaddrs: address updates ended; refreshing every " + s.opts.RefreshEvery.String())
				}
				continue
			}
		case _, ok := <-routes:
			if !ok {
				routes = nil
				if !s.closing() {
					s.log.Warn("hostaddrs: route updates ended; refreshing every " + s.opts.RefreshEvery.String())
				}
				continue
			}
		case <-tick.C:
		}
		// Drain a burst (an interface going up brings many) into one rebuild.
	drain:
		for {
			select {
			case _, ok := <-addrs:
				if !ok {
					addrs = nil
				}
			case _, ok := <-routes:
				if !ok {
					routes = nil
				}
			default:
				break drain
			}
		}
		if err := s.Refresh(); err != nil {
			s.log.Warn("hostaddrs: refresh", "err", err)
		}
	}
}

func (s *Set) closing() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Close stops following updates and waits for the goroutine to end.
func (s *Set) Close() error {
	s.closed.Do(func() {
		close(s.done)
		s.wg.Wait()
		if s.h != nil {
			s.h.Close()
		}
		s.ns.Close()
	})
	return nil
}

// Contains reports whether a is protected. Safe for concurrent use; it
// takes no lock.
func (s *Set) Contains(a netip.Addr) bool {
	_, ok := s.cur.Load().set[a.Unmap().WithZone("")]
	return ok
}

// Addrs returns the protected addresses as host prefixes, sorted.
func (s *Set) Addrs() []netip.Prefix {
	return slices.Clone(s.cur.Load().list)
}

// Refresh rebuilds the set now. A file that cannot be read is skipped
// (most hosts have one NTP client, not three); a netlink error keeps the
// previous set.
func (s *Set) Refresh() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := builder{set: map[netip.Addr]struct{}{}}
	addrs, err := s.h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("hostaddrs: list addresses: %w", err)
	}
	for _, a := range addrs {
		b.ownAddr(a)
	}
	// Every table: policy routing puts gateways outside main.
	routes, err := s.h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("hostaddrs: list routes: %w", err)
	}
	for _, rt := range routes {
		b.route(rt)
	}
	var errs []error
	if s.opts.ResolvConf != "-" {
		if err := b.file(s.opts.ResolvConf, parseResolvConf); err != nil && !errors.Is(err, errNotExist) {
			errs = append(errs, err)
		}
	}
	for _, f := range s.opts.NTPFiles {
		if err := b.file(f, parseNTPConf); err != nil && !errors.Is(err, errNotExist) {
			errs = append(errs, err)
		}
	}
	s.cur.Store(b.snapshot())
	for _, err := range errs {
		s.log.Warn("hostaddrs: read", "err", err)
	}
	return nil
}

type builder struct {
	set map[netip.Addr]struct{}
}

func (b *builder) add(a netip.Addr) {
	if a = a.Unmap().WithZone(""); a.IsValid() && !a.IsUnspecified() {
		b.set[a] = struct{}{}
	}
}

func (b *builder) ip(ip net.IP) {
	if a, ok := netip.AddrFromSlice(ip); ok {
		b.add(a)
	}
}

// ownAddr adds an address of the host and the special addresses of its
// subnet: for IPv4 the network and broadcast addresses (none on /31 and
// /32, RFC 3021), for IPv6 the subnet-router anycast address (RFC 4291
// 2.6.1; none on /127 and /128, RFC 6164).
func (b *builder) ownAddr(a netlink.Addr) {
	if a.IPNet == nil {
		return
	}
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok {
		return
	}
	ip = ip.Unmap()
	b.add(ip)
	ones, bits := a.Mask.Size()
	if bits == 0 {
		return
	}
	if ip.Is4() {
		ones -= bits - 32
	}
	pfx, err := ip.Prefix(ones)
	if err != nil {
		return
	}
	if ip.Is4() && ones <= 30 {
		b.add(pfx.Addr())
		b.add(lastAddr(pfx))
		b.ip(a.Broadcast)
	}
	if ip.Is6() && ones <= 126 {
		b.add(pfx.Addr())
	}
	if a.Peer != nil {
		b.ip(a.Peer.IP) // point-to-point peer
	}
}

// lastAddr is the highest address of p (IPv4 directed broadcast).
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= ^uint32(0) >> p.Bits()
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// route adds a route's next hops.
func (b *builder) route(rt netlink.Route) {
	b.ip(rt.Gw)
	if v, ok := rt.Via.(*netlink.Via); ok && v != nil {
		b.ip(v.Addr)
	}
	for _, nh := range rt.MultiPath {
		if nh == nil {
			continue
		}
		b.ip(nh.Gw)
		if v, ok := nh.Via.(*netlink.Via); ok && v != nil {
			b.ip(v.Addr)
		}
	}
}

func (b *builder) snapshot() *snapshot {
	s := &snapshot{set: b.set, list: make([]netip.Prefix, 0, len(b.set))}
	for a := range b.set {
		s.list = append(s.list, netip.PrefixFrom(a, a.BitLen()))
	}
	slices.SortFunc(s.list, func(x, y netip.Prefix) int { return x.Addr().Compare(y.Addr()) })
	return s
}
