package loader

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"github.com/cilium/ebpf"

	"github.com/xdpids/xdpids/bpf"
)

// daemonMaps are the maps of XdpidsMaps that belong to one daemon and are
// not pinned: the ring buffer, per-CPU scratch space and sample budget, the
// SYN rate per port and the handshakes in flight. Every other map of the
// object is pinned: what a second process (the CLI) reads or edits, and
// what must survive a daemon restart. The set of maps itself is bpf2go's
// XdpidsMaps, declared once by the object.
var daemonMaps = map[string]bool{
	bpf.XdpidsMapSamples: true, bpf.XdpidsMapSampleScratch: true, bpf.XdpidsMapSampleBudget: true,
	bpf.XdpidsMapCookieScratch: true, bpf.XdpidsMapSynPorts: true, bpf.XdpidsMapHandshakes: true,
	// the in-kernel model: each daemon loads its own (tree.go)
	bpf.XdpidsMapTreeNodes: true, bpf.XdpidsMapTreeConfigs: true, bpf.XdpidsMapTreeBank: true, bpf.XdpidsMapTreeScratch: true,
}

// eachMap calls fn with the object name and field of every map in o, in
// the order of the struct (its `ebpf` tags, which bpf2go writes).
func eachMap(o *bpf.XdpidsMaps, fn func(name string, mp **ebpf.Map) error) error {
	v := reflect.ValueOf(o).Elem()
	for i := 0; i < v.NumField(); i++ {
		name := v.Type().Field(i).Tag.Get("ebpf")
		mp, ok := v.Field(i).Addr().Interface().(**ebpf.Map)
		if !ok || name == "" {
			return fmt.Errorf("bpf.XdpidsMaps field %s is not a tagged map", v.Type().Field(i).Name)
		}
		if err := fn(name, mp); err != nil {
			return err
		}
	}
	return nil
}

// pinnedMapNames lists the pinned maps (XdpidsMaps less daemonMaps).
func pinnedMapNames() []string {
	var out []string
	_ = eachMap(&bpf.XdpidsMaps{}, func(name string, _ **ebpf.Map) error {
		if !daemonMaps[name] {
			out = append(out, name)
		}
		return nil
	})
	return out
}

// Maps gives typed access to the xdpids maps, whether loaded by this process
// (Datapath.Maps) or opened from their pins (OpenPinned: then the
// daemonMaps are nil).
type Maps struct {
	bpf.XdpidsMaps
	owned bool // Close closes the maps (opened from pins)
}

// OpenPinned opens the maps a daemon pinned under dir.
func OpenPinned(dir string) (*Maps, error) {
	if err := checkPinDir(dir); err != nil {
		return nil, err
	}
	m := &Maps{owned: true}
	err := eachMap(&m.XdpidsMaps, func(name string, mp **ebpf.Map) error {
		if daemonMaps[name] {
			return nil
		}
		p, err := ebpf.LoadPinnedMap(filepath.Join(dir, name), nil)
		if errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("open pinned map %s: permission denied: run as root, or as a member of the daemon's pin_group", filepath.Join(dir, name))
		}
		if err != nil {
			return fmt.Errorf("open pinned map %s: %w (is the daemon running, or was it started with another --pin-path?)", filepath.Join(dir, name), err)
		}
		*mp = p
		return nil
	})
	if err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// Close closes maps opened from pins; maps owned by a Datapath close with it.
func (m *Maps) Close() error {
	if !m.owned {
		return nil
	}
	return m.XdpidsMaps.Close()
}

// SetConfig validates c and writes it; the program uses it from the next packet.
func (m *Maps) SetConfig(c Config) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	raw := c.raw()
	if err := m.ConfigMap.Update(uint32(0), &raw, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("write config map: %w", err)
	}
	return nil
}

// ReadConfig reads the configuration the program runs with.
func (m *Maps) ReadConfig() (Config, error) {
	var raw bpf.XdpidsConfig
	if err := m.ConfigMap.Lookup(uint32(0), &raw); err != nil {
		return Config{}, fmt.Errorf("read config map: %w", err)
	}
	return configFromRaw(raw), nil
}

// Counter is a packet and byte count.
type Counter struct {
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// Add adds o to c.
func (c *Counter) Add(o Counter) { c.Packets += o.Packets; c.Bytes += o.Bytes }

// IfaceStats are one interface's counters, summed over CPUs.
type IfaceStats struct {
	Slot              int
	Ifindex           uint32
	Name              string // "" when the interface no longer exists
	Verdicts          [bpf.VerdictMax][bpf.ReasonMax]Counter
	Protos            [bpf.ProtoMax]Counter
	FlowsNew          uint64
	SamplesSent       uint64
	SamplesLost       uint64
	SamplesOverBudget uint64
	VerifiedNew       uint64 // handshake ACKs with a valid SYN cookie
	HopMismatch       uint64 // packets claiming a verified source with another hop count
	SynAcksRecorded   uint64 // SYN-ACKs the host sent, recorded by the egress program
	VerifiedHandshake uint64 // final ACKs acknowledging a recorded SYN-ACK: source verified
	HandshakeBadAck   uint64 // ACKs of a recorded handshake with another ack number
	// TreeVerdicts counts the flows the in-kernel model judged, by class
	// (0 benign; the model file names the others).
	TreeVerdicts [bpf.TreeMaxClasses]uint64
}

// Total is the sum over every verdict and reason: the packets seen.
func (s *IfaceStats) Total() Counter {
	var t Counter
	for v := range s.Verdicts {
		for r := range s.Verdicts[v] {
			t.Add(s.Verdicts[v][r])
		}
	}
	return t
}

// Verdict sums one verdict over its reasons.
func (s *IfaceStats) Verdict(v int) Counter {
	var t Counter
	for r := range s.Verdicts[v] {
		t.Add(s.Verdicts[v][r])
	}
	return t
}

// Add adds o's counters to s.
func (s *IfaceStats) Add(o *IfaceStats) {
	for v := range s.Verdicts {
		for r := range s.Verdicts[v] {
			s.Verdicts[v][r].Add(o.Verdicts[v][r])
		}
	}
	for p := range s.Protos {
		s.Protos[p].Add(o.Protos[p])
	}
	s.FlowsNew += o.FlowsNew
	s.SamplesSent += o.SamplesSent
	s.SamplesLost += o.SamplesLost
	s.SamplesOverBudget += o.SamplesOverBudget
	s.VerifiedNew += o.VerifiedNew
	s.HopMismatch += o.HopMismatch
	s.SynAcksRecorded += o.SynAcksRecorded
	s.VerifiedHandshake += o.VerifiedHandshake
	s.HandshakeBadAck += o.HandshakeBadAck
	for c := range s.TreeVerdicts {
		s.TreeVerdicts[c] += o.TreeVerdicts[c]
	}
}

// SlotStats reads one stats slot summed over CPUs.
func (m *Maps) SlotStats(slot int) (IfaceStats, error) {
	var percpu []bpf.XdpidsIfStats
	if err := m.Stats.Lookup(uint32(slot), &percpu); err != nil {
		return IfaceStats{}, fmt.Errorf("read stats slot %d: %w", slot, err)
	}
	s := IfaceStats{Slot: slot}
	for i := range percpu {
		c := &percpu[i]
		for v := range s.Verdicts {
			for r := range s.Verdicts[v] {
				s.Verdicts[v][r].Add(Counter(counterOf(c.Verdicts[v][r])))
			}
		}
		for p := range s.Protos {
			s.Protos[p].Add(counterOf(c.Protos[p]))
		}
		s.FlowsNew += c.FlowsNew
		s.SamplesSent += c.SamplesSent
		s.SamplesLost += c.SamplesLost
		s.SamplesOverBudget += c.SamplesOverBudget
		s.VerifiedNew += c.VerifiedNew
		s.HopMismatch += c.HopMismatch
		s.SynAcksRecorded += c.SynacksRecorded
		s.VerifiedHandshake += c.VerifiedHandshake
		s.HandshakeBadAck += c.HandshakeBadAck
		for k := range s.TreeVerdicts {
			s.TreeVerdicts[k] += c.TreeVerdicts[k]
		}
	}
	return s, nil
}

func counterOf(c bpf.XdpidsCounter) Counter { return Counter{Packets: c.Packets, Bytes: c.Bytes} }

// ReadStats reads the counters of every interface that has a slot, and of slot
// 0 (packets on interfaces without one) when it counted anything.
func (m *Maps) ReadStats() ([]IfaceStats, error) {
	var out []IfaceStats
	for slot := 0; slot < bpf.MaxIfaces; slot++ {
		var owner bpf.XdpidsIfaceSlot
		if err := m.SlotIfaces.Lookup(uint32(slot), &owner); err != nil {
			return nil, fmt.Errorf("read slot table: %w", err)
		}
		if slot != 0 && owner.Ifindex == 0 {
			continue
		}
		s, err := m.SlotStats(slot)
		if err != nil {
			return nil, err
		}
		if slot == 0 && s.Total().Packets == 0 {
			continue
		}
		s.Ifindex = owner.Ifindex
		s.Name = cString(owner.Name[:])
		out = append(out, s)
	}
	return out, nil
}

func cString(b []int8) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		out = append(out, byte(c))
	}
	return string(bytes.ToValidUTF8(out, []byte("?")))
}

// assignSlot gives ifindex a stats slot: the one it had, else a free one
// (slots of interfaces that no longer exist are freed and zeroed first).
func (m *Maps) assignSlot(ifindex int, name string) (int, error) {
	if ifindex <= 0 || ifindex >= bpf.MaxIfindex {
		return 0, nil // counted in slot 0
	}
	free := -1
	for slot := 1; slot < bpf.MaxIfaces; slot++ {
		var owner bpf.XdpidsIfaceSlot
		if err := m.SlotIfaces.Lookup(uint32(slot), &owner); err != nil {
			return 0, fmt.Errorf("read slot table: %w", err)
		}
		if owner.Ifindex == uint32(ifindex) && cString(owner.Name[:]) == name {
			return slot, m.IfSlots.Update(uint32(ifindex), uint32(slot), ebpf.UpdateAny)
		}
		if owner.Ifindex != 0 {
			if _, err := net.InterfaceByIndex(int(owner.Ifindex)); err == nil {
				continue
			}
		}
		if free < 0 {
			free = slot
		}
	}
	if free < 0 {
		return 0, fmt.Errorf("all %d interface slots in use", bpf.MaxIfaces-1)
	}
	var old bpf.XdpidsIfaceSlot
	if err := m.SlotIfaces.Lookup(uint32(free), &old); err == nil && old.Ifindex != 0 && old.Ifindex < bpf.MaxIfindex {
		_ = m.IfSlots.Update(old.Ifindex, uint32(0), ebpf.UpdateAny)
	}
	zero := make([]bpf.XdpidsIfStats, ebpf.MustPossibleCPU())
	if err := m.Stats.Update(uint32(free), zero, ebpf.UpdateAny); err != nil {
		return 0, fmt.Errorf("reset stats slot %d: %w", free, err)
	}
	owner := bpf.XdpidsIfaceSlot{Ifindex: uint32(ifindex)}
	for i := 0; i < len(owner.Name)-1 && i < len(name); i++ {
		owner.Name[i] = int8(name[i])
	}
	if err := m.SlotIfaces.Update(uint32(free), owner, ebpf.UpdateAny); err != nil {
		return 0, fmt.Errorf("write slot table: %w", err)
	}
	if err := m.IfSlots.Update(uint32(ifindex), uint32(free), ebpf.UpdateAny); err != nil {
		return 0, fmt.Errorf("write interface slot: %w", err)
	}
	return free, nil
}

// BlockOptions describe a block list entry.
type BlockOptions struct {
	TTL     time.Duration // 0 = never expires
	Origin  uint32        // bpf.Origin*
	Level   uint32        // escalation level
	Comment string        // up to 31 bytes kept
	Now     uint64        // the program's clock now; 0 = CLOCK_MONOTONIC (offline replay passes packet time)
	// Challenge makes it a ban the source can prove itself out of: its
	// TCP SYNs get SYN cookies, and once its ACK carries a valid one (it
	// is verified, see Maps.LookupVerified) its packets with the hop
	// count recorded then pass the ban. For bans on forgeable evidence.
	Challenge bool
}

// BlockEntry is one block list entry as read back.
type BlockEntry struct {
	Prefix    netip.Prefix
	ExpiresNs uint64 // CLOCK_MONOTONIC; 0 = never
	CreatedNs uint64
	Hits      uint64
	Origin    uint32
	Level     uint32
	Comment   string
	Challenge bool // see BlockOptions.Challenge
}

// Expired reports whether the entry no longer drops at boot time now.
func (e BlockEntry) Expired(now uint64) bool { return e.ExpiresNs != 0 && e.ExpiresNs <= now }

// ExpiresIn is the time left at boot time now; 0 for never or expired.
func (e BlockEntry) ExpiresIn(now uint64) time.Duration {
	if e.ExpiresNs == 0 || e.ExpiresNs <= now {
		return 0
	}
	return time.Duration(e.ExpiresNs - now)
}

// AllowEntry is one allow list entry.
type AllowEntry struct {
	Prefix    netip.Prefix
	CreatedNs uint64
	Hits      uint64
}

func lpmKey(p netip.Prefix) any {
	a := p.Addr()
	if a.Is4() {
		return bpf.XdpidsLpmV4Key{Prefixlen: uint32(p.Bits()), Addr: a.As4()}
	}
	return bpf.XdpidsLpmV6Key{Prefixlen: uint32(p.Bits()), Addr: a.As16()}
}

// isHost reports a single-address prefix: those live in the hash maps.
func isHost(p netip.Prefix) bool { return p.Bits() == p.Addr().BitLen() }

// blockMap returns the map and key holding p's block entry, and the hint
// to raise for it (-1 for the host maps, which need none).
func (m *Maps) blockMap(p netip.Prefix) (*ebpf.Map, any, int) {
	a := p.Addr()
	switch {
	case isHost(p) && a.Is4():
		return m.BlockHostV4, bpf.XdpidsHostV4Key{Addr: a.As4()}, -1
	case isHost(p):
		return m.BlockHostV6, bpf.XdpidsHostV6Key{Addr: a.As16()}, -1
	case a.Is4():
		return m.BlockV4, lpmKey(p), bpf.HintBlockPrefixV4
	}
	return m.BlockV6, lpmKey(p), bpf.HintBlockPrefixV6
}

func (m *Maps) allowMap(p netip.Prefix) (*ebpf.Map, int) {
	if p.Addr().Is4() {
		return m.AllowV4, bpf.HintAllowV4
	}
	return m.AllowV6, bpf.HintAllowV6
}

// setHint raises a list's hint after an insert: the program then looks
// the list up.
func (m *Maps) setHint(h int) error {
	if h < 0 {
		return nil
	}
	if err := m.ListHints.Update(uint32(h), uint32(1), ebpf.UpdateAny); err != nil {
		return fmt.Errorf("write list hint: %w", err)
	}
	return nil
}

// hintMaps are the lists behind each hint.
func (m *Maps) hintMap(h int) *ebpf.Map {
	switch h {
	case bpf.HintAllowV4:
		return m.AllowV4
	case bpf.HintAllowV6:
		return m.AllowV6
	case bpf.HintBlockPrefixV4:
		return m.BlockV4
	case bpf.HintVerified:
		return m.Verified
	}
	return m.BlockV6
}

// recheckHint lowers a list's hint after a delete left it empty. The order
// (write 0, then look again and restore 1 if an entry appeared) keeps a
// concurrent insert by another process from being hidden: its own write of
// 1 comes after its insert.
func (m *Maps) recheckHint(h int) error {
	if h < 0 {
		return nil
	}
	mp := m.hintMap(h)
	if !mapEmpty(mp) {
		return nil
	}
	if err := m.ListHints.Update(uint32(h), uint32(0), ebpf.UpdateAny); err != nil {
		return fmt.Errorf("write list hint: %w", err)
	}
	if !mapEmpty(mp) {
		return m.setHint(h)
	}
	return nil
}

// RefreshHints recomputes every list hint from the lists (at load, so
// entries pinned by an older daemon are honoured).
func (m *Maps) RefreshHints() error {
	for h := 0; h < bpf.HintMax; h++ {
		v := uint32(0)
		if !mapEmpty(m.hintMap(h)) {
			v = 1
		}
		if err := m.ListHints.Update(uint32(h), v, ebpf.UpdateAny); err != nil {
			return fmt.Errorf("write list hint: %w", err)
		}
	}
	return nil
}

// mapEmpty reports whether mp has no entries (an error counts as not
// empty: a hint left up only costs a lookup).
func mapEmpty(mp *ebpf.Map) bool {
	k, err := mp.NextKeyBytes(nil)
	return err == nil && k == nil
}

// Block adds or replaces a block list entry. The hit counter of an existing
// entry for the same prefix is kept.
func (m *Maps) Block(p netip.Prefix, o BlockOptions) error {
	if !p.IsValid() {
		return fmt.Errorf("block: invalid prefix")
	}
	now := o.Now
	if now == 0 {
		now = KernelNow()
	}
	mp, key, hint := m.blockMap(p)
	var e bpf.XdpidsBlockEntry
	var old bpf.XdpidsBlockEntry
	if err := mp.Lookup(key, &old); err == nil {
		e.Hits = old.Hits
	}
	e.CreatedNs = now
	if o.TTL > 0 {
		e.ExpiresNs = now + uint64(o.TTL)
	}
	e.Origin = o.Origin &^ bpf.BlockChallenge
	if o.Challenge {
		e.Origin |= bpf.BlockChallenge
	}
	e.Level = o.Level
	for i := 0; i < len(e.Comment)-1 && i < len(o.Comment); i++ {
		e.Comment[i] = int8(o.Comment[i])
	}
	if err := mp.Update(key, &e, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("block %s: %w", p, err)
	}
	return m.setHint(hint)
}

// Unblock removes the entry for exactly p; ErrNotListed when there is none.
func (m *Maps) Unblock(p netip.Prefix) error {
	mp, key, hint := m.blockMap(p)
	if err := mp.Delete(key); err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("unblock %s: %w", p, ErrNotListed)
		}
		return fmt.Errorf("unblock %s: %w", p, err)
	}
	return m.recheckHint(hint)
}

// ErrNotListed says a prefix has no entry in the list.
var ErrNotListed = errors.New("not on the list")

// LookupBlock returns the entry for exactly p.
func (m *Maps) LookupBlock(p netip.Prefix) (BlockEntry, error) {
	var e bpf.XdpidsBlockEntry
	mp, key, _ := m.blockMap(p)
	if err := mp.Lookup(key, &e); err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return BlockEntry{}, fmt.Errorf("%s: %w", p, ErrNotListed)
		}
		return BlockEntry{}, fmt.Errorf("look up %s: %w", p, err)
	}
	return blockEntryOf(p, e), nil
}

func blockEntryOf(p netip.Prefix, e bpf.XdpidsBlockEntry) BlockEntry {
	return BlockEntry{Prefix: p, ExpiresNs: e.ExpiresNs, CreatedNs: e.CreatedNs, Hits: e.Hits,
		Origin: e.Origin &^ bpf.BlockChallenge, Level: e.Level, Comment: cString(e.Comment[:]),
		Challenge: e.Origin&bpf.BlockChallenge != 0}
}

// Blocks lists every block list entry: IPv4 hosts and prefixes, then IPv6.
func (m *Maps) Blocks() ([]BlockEntry, error) {
	var out []BlockEntry
	add := func(p netip.Prefix, v bpf.XdpidsBlockEntry) { out = append(out, blockEntryOf(p, v)) }
	for _, err := range []error{
		eachEntry(m.BlockHostV4, hostV4Prefix, add),
		eachEntry(m.BlockV4, lpmV4Prefix, add),
		eachEntry(m.BlockHostV6, hostV6Prefix, add),
		eachEntry(m.BlockV6, lpmV6Prefix, add),
	} {
		if err != nil {
			return nil, fmt.Errorf("list blocks: %w", err)
		}
	}
	return out, nil
}

// eachEntry calls fn with every entry of a list map, its key turned into
// a prefix by prefixOf.
func eachEntry[K, V any](mp *ebpf.Map, prefixOf func(*K) netip.Prefix, fn func(netip.Prefix, V)) error {
	var k K
	var v V
	it := mp.Iterate()
	for it.Next(&k, &v) {
		fn(prefixOf(&k), v)
	}
	return it.Err()
}

func hostV4Prefix(k *bpf.XdpidsHostV4Key) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4(k.Addr), 32)
}

func hostV6Prefix(k *bpf.XdpidsHostV6Key) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom16(k.Addr), 128)
}

func lpmV4Prefix(k *bpf.XdpidsLpmV4Key) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4(k.Addr), int(k.Prefixlen))
}

func lpmV6Prefix(k *bpf.XdpidsLpmV6Key) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom16(k.Addr), int(k.Prefixlen))
}

// SweepExpired deletes block entries whose expiry has passed and returns
// how many went. The kernel already ignores them; this frees the space.
func (m *Maps) SweepExpired() (int, error) {
	entries, err := m.Blocks()
	if err != nil {
		return 0, err
	}
	now := KernelNow()
	n := 0
	for _, e := range entries {
		if !e.Expired(now) {
			continue
		}
		// Re-read: a new ban for the same prefix may have replaced it.
		cur, err := m.LookupBlock(e.Prefix)
		if err != nil || !cur.Expired(now) {
			continue
		}
		if err := m.Unblock(e.Prefix); err == nil {
			n++
		}
	}
	return n, nil
}

// Allow adds p to the allow list (keeping the hit counter of an existing entry).
func (m *Maps) Allow(p netip.Prefix) error {
	if !p.IsValid() {
		return fmt.Errorf("allow: invalid prefix")
	}
	e := bpf.XdpidsAllowEntry{CreatedNs: KernelNow()}
	var old bpf.XdpidsAllowEntry
	mp, hint := m.allowMap(p)
	if err := mp.Lookup(lpmKey(p), &old); err == nil {
		e = old
	}
	if err := mp.Update(lpmKey(p), &e, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("allow %s: %w", p, err)
	}
	return m.setHint(hint)
}

// Disallow removes p from the allow list.
func (m *Maps) Disallow(p netip.Prefix) error {
	mp, hint := m.allowMap(p)
	if err := mp.Delete(lpmKey(p)); err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("remove %s from the allow list: %w", p, ErrNotListed)
		}
		return fmt.Errorf("remove %s from the allow list: %w", p, err)
	}
	return m.recheckHint(hint)
}

// Allows lists the allow list, IPv4 first.
func (m *Maps) Allows() ([]AllowEntry, error) {
	var out []AllowEntry
	add := func(p netip.Prefix, v bpf.XdpidsAllowEntry) { out = append(out, AllowEntry{p, v.CreatedNs, v.Hits}) }
	if err := eachEntry(m.AllowV4, lpmV4Prefix, add); err != nil {
		return nil, fmt.Errorf("list IPv4 allow list: %w", err)
	}
	if err := eachEntry(m.AllowV6, lpmV6Prefix, add); err != nil {
		return nil, fmt.Errorf("list IPv6 allow list: %w", err)
	}
	return out, nil
}

// Allowed reports whether addr falls in an allow list prefix.
func (m *Maps) Allowed(addr netip.Addr) (bool, error) {
	addr = addr.Unmap()
	p := netip.PrefixFrom(addr, addr.BitLen())
	var v bpf.XdpidsAllowEntry
	mp, _ := m.allowMap(p)
	err := mp.Lookup(lpmKey(p), &v)
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Flow is one flow table entry (one direction of a 5-tuple).
type Flow struct {
	Src, Dst     netip.Addr
	Sport, Dport uint16
	Proto        uint8
	VLAN         uint16
	FirstNs      uint64 // CLOCK_MONOTONIC
	LastNs       uint64
	Packets      uint64
	Bytes        uint64
	TCPFlags     uint8
	Ifindex      uint32
	Action       uint32 // bpf.FlowInspect, FlowDrop, FlowBypass
	// Tree is the in-kernel model's verdict: bpf.TreeNone (not judged:
	// the flow began with no model), TreePending, or TreeClass + class.
	Tree uint8
}

// FlowOf converts a raw flow table entry.
func FlowOf(k bpf.XdpidsFlowKey, v bpf.XdpidsFlowStats) Flow {
	f := Flow{Sport: ntohs(k.Sport), Dport: ntohs(k.Dport), Proto: k.Proto, VLAN: k.Vlan,
		FirstNs: v.FirstNs, LastNs: v.LastNs, Packets: v.Packets, Bytes: v.Bytes,
		TCPFlags: uint8(v.TcpFlags), Ifindex: v.Ifindex, Action: v.Action, Tree: v.Tree}
	if k.Family == 4 {
		f.Src = netip.AddrFrom4([4]byte(k.Src[:4]))
		f.Dst = netip.AddrFrom4([4]byte(k.Dst[:4]))
	} else {
		f.Src = netip.AddrFrom16(k.Src)
		f.Dst = netip.AddrFrom16(k.Dst)
	}
	return f
}

// ntohs swaps a network-order port read as a native uint16 (the program
// is built for little-endian targets only: -target bpfel).
func ntohs(v uint16) uint16 { return v>>8 | v<<8 }

// EachFlow calls fn for each flow table entry until fn returns false.
func (m *Maps) EachFlow(fn func(Flow) bool) error {
	var k bpf.XdpidsFlowKey
	var v bpf.XdpidsFlowStats
	it := m.Flows.Iterate()
	for it.Next(&k, &v) {
		if !fn(FlowOf(k, v)) {
			return nil
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("iterate flows: %w", err)
	}
	return nil
}

// FlowKey builds the kernel flow table key of one direction.
func FlowKey(src, dst netip.Addr, sport, dport uint16, proto uint8, vlan uint16) bpf.XdpidsFlowKey {
	k := bpf.XdpidsFlowKey{Sport: ntohs(sport), Dport: ntohs(dport), Proto: proto, Vlan: vlan}
	src, dst = src.Unmap(), dst.Unmap()
	if src.Is4() {
		k.Family = 4
		a, b := src.As4(), dst.As4()
		copy(k.Src[:], a[:])
		copy(k.Dst[:], b[:])
	} else {
		k.Family = 6
		k.Src, k.Dst = src.As16(), dst.As16()
	}
	return k
}

// SetFlowAction sets the action (bpf.FlowDrop, bpf.FlowBypass,
// bpf.FlowInspect) of one direction of a flow in the kernel flow table,
// creating the entry when the kernel has none yet. nowNs stamps a new
// entry (0: the kernel clock). A packet counted by the kernel between the
// read and the write may be lost from the counters: actions are rare.
func (m *Maps) SetFlowAction(k bpf.XdpidsFlowKey, action uint32, nowNs uint64) error {
	var v bpf.XdpidsFlowStats
	if err := m.Flows.Lookup(&k, &v); err != nil {
		if nowNs == 0 {
			nowNs = KernelNow()
		}
		v = bpf.XdpidsFlowStats{FirstNs: nowNs, LastNs: nowNs}
	}
	v.Action = action
	if err := m.Flows.Update(&k, &v, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("set flow action: %w", err)
	}
	return nil
}

// VerifiedSource is one entry of the verified map: a source address that
// answered a SYN cookie, so it receives what the server sends.
type VerifiedSource struct {
	Addr       netip.Addr
	VerifiedNs uint64 // program clock of its last handshake ACK with a valid cookie
	LastNs     uint64 // last packet from it with the expected hop count
	Spoofed    uint64 // packets with its address and another hop count
	TTL        uint8  // TTL or hop limit its handshake ACK arrived with
}

func verifiedKey(a netip.Addr) bpf.XdpidsVerifiedKey {
	a = a.Unmap()
	k := bpf.XdpidsVerifiedKey{Family: 6}
	if a.Is4() {
		k.Family = 4
		b := a.As4()
		copy(k.Addr[:], b[:])
	} else {
		k.Addr = a.As16()
	}
	return k
}

func verifiedOf(k bpf.XdpidsVerifiedKey, v bpf.XdpidsVerifiedSrc) VerifiedSource {
	a := netip.AddrFrom16(k.Addr)
	if k.Family == 4 {
		a = netip.AddrFrom4([4]byte(k.Addr[:4]))
	}
	return VerifiedSource{Addr: a, VerifiedNs: v.VerifiedNs, LastNs: v.LastNs, Spoofed: v.Spoofed, TTL: v.Ttl}
}

// LookupVerified returns addr's verified map entry; ErrNotListed when the
// source is not verified.
func (m *Maps) LookupVerified(addr netip.Addr) (VerifiedSource, error) {
	k := verifiedKey(addr)
	var v bpf.XdpidsVerifiedSrc
	if err := m.Verified.Lookup(&k, &v); err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return VerifiedSource{}, fmt.Errorf("%s: %w", addr, ErrNotListed)
		}
		return VerifiedSource{}, fmt.Errorf("look up verified source %s: %w", addr, err)
	}
	return verifiedOf(k, v), nil
}

// EachVerified calls fn for each verified source until fn returns false.
func (m *Maps) EachVerified(fn func(VerifiedSource) bool) error {
	var k bpf.XdpidsVerifiedKey
	var v bpf.XdpidsVerifiedSrc
	it := m.Verified.Iterate()
	for it.Next(&k, &v) {
		if !fn(verifiedOf(k, v)) {
			return nil
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("iterate verified sources: %w", err)
	}
	return nil
}

// Unverify removes addr from the verified map; ErrNotListed when it is not there.
func (m *Maps) Unverify(addr netip.Addr) error {
	k := verifiedKey(addr)
	if err := m.Verified.Delete(&k); err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("unverify %s: %w", addr, ErrNotListed)
		}
		return fmt.Errorf("unverify %s: %w", addr, err)
	}
	return m.recheckHint(bpf.HintVerified)
}

// BlockItem is one entry of a BlockBatch.
type BlockItem struct {
	Prefix netip.Prefix
	BlockOptions
}

// BlockBatch adds or replaces many block list entries with one batched
// map update per list (falling back to one update per entry where the
// kernel has no batch operation for the map type, as for LPM tries). It
// is for bulk sources (CrowdSec's decision stream, a fleet catch-up):
// unlike Block it does not keep the hit counters of entries it replaces.
// It returns how many entries were written.
func (m *Maps) BlockBatch(items []BlockItem) (int, error) {
	type batch struct {
		mp   *ebpf.Map
		hint int
		keys []any
		vals []bpf.XdpidsBlockEntry
	}
	byMap := map[*ebpf.Map]*batch{}
	var order []*batch
	defaultNow := KernelNow()
	for _, it := range items {
		if !it.Prefix.IsValid() {
			return 0, fmt.Errorf("block: invalid prefix")
		}
		mp, key, hint := m.blockMap(it.Prefix)
		b := byMap[mp]
		if b == nil {
			b = &batch{mp: mp, hint: hint}
			byMap[mp] = b
			order = append(order, b)
		}
		now := it.Now
		if now == 0 {
			now = defaultNow
		}
		e := bpf.XdpidsBlockEntry{CreatedNs: now, Level: it.Level, Origin: it.Origin &^ bpf.BlockChallenge}
		if it.TTL > 0 {
			e.ExpiresNs = now + uint64(it.TTL)
		}
		if it.Challenge {
			e.Origin |= bpf.BlockChallenge
		}
		for i := 0; i < len(e.Comment)-1 && i < len(it.Comment); i++ {
			e.Comment[i] = int8(it.Comment[i])
		}
		b.keys = append(b.keys, key)
		b.vals = append(b.vals, e)
	}
	n := 0
	for _, b := range order {
		written, err := batchUpdate(b.mp, b.keys, b.vals)
		n += written
		if err != nil {
			return n, fmt.Errorf("block %d entries: %w", len(b.keys), err)
		}
		if err := m.setHint(b.hint); err != nil {
			return n, err
		}
	}
	return n, nil
}

// batchUpdate writes keys[i] = vals[i] in one BPF_MAP_UPDATE_BATCH call,
// or one update per entry where the map type has none.
func batchUpdate[V any](mp *ebpf.Map, keys []any, vals []V) (int, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	if mp.Type() != ebpf.LPMTrie {
		// The batch API wants a slice of the concrete key type.
		switch keys[0].(type) {
		case bpf.XdpidsHostV4Key:
			return batchUpdateTyped[bpf.XdpidsHostV4Key](mp, keys, vals)
		case bpf.XdpidsHostV6Key:
			return batchUpdateTyped[bpf.XdpidsHostV6Key](mp, keys, vals)
		}
	}
	for i := range keys {
		if err := mp.Update(keys[i], &vals[i], ebpf.UpdateAny); err != nil {
			return i, err
		}
	}
	return len(keys), nil
}

func batchUpdateTyped[K, V any](mp *ebpf.Map, keys []any, vals []V) (int, error) {
	ks := make([]K, len(keys))
	for i, k := range keys {
		ks[i] = k.(K)
	}
	n, err := mp.BatchUpdate(ks, vals, &ebpf.BatchOptions{ElemFlags: uint64(ebpf.UpdateAny)})
	if errors.Is(err, ebpf.ErrNotSupported) {
		for i := range ks {
			if err := mp.Update(&ks[i], &vals[i], ebpf.UpdateAny); err != nil {
				return i, err
			}
		}
		return len(ks), nil
	}
	return n, err
}

// UnblockBatch removes the entries for exactly these prefixes; prefixes
// not listed are skipped. It returns how many entries went.
func (m *Maps) UnblockBatch(prefixes []netip.Prefix) (int, error) {
	n := 0
	for _, p := range prefixes {
		if !p.IsValid() {
			continue
		}
		err := m.Unblock(p)
		switch {
		case err == nil:
			n++
		case errors.Is(err, ErrNotListed):
		default:
			return n, err
		}
	}
	return n, nil
}
