package detect

import "net/netip"

// State bounds: why probe entries have a partition of their own.
//
// A scan entry created by one packet (a SYN, ACK, FIN or UDP probe, or an
// ARP request, that completed no handshake) is evidence anyone can forge
// from any address: forged ACK probes from 14,000 sources, seven ports
// each, once filled one shared 100,000-entry table for the 10 minutes its
// windows lived, and real scanners arriving after were not tracked. So:
//   - such an entry is a probe entry: it lives in a partition of
//     MaxProbeKeys, evicted oldest first when a new one needs room (FIFO
//     over the ring of probeRec: O(1), no search), and expiry drops it
//     after ProbeIdle (30 s) instead of twice the scan window;
//   - its second distinct probe (port, host or protocol) moves it to the
//     evidence partition (promote). When that is full, the entry with the
//     least evidence among a sample of the same table is evicted (as
//     Redis's sampled LFU: Go's map iteration starts at a random entry),
//     so a real scan, adding ports faster than forged sources do, keeps
//     its entry and alerts;
//   - brute force windows holding one SYN are probe entries too
//     (countTable);
//   - the flood windows (per source and tuple, per destination), one per
//     forged source or destination port of a flood, have a partition of
//     their own (a quarter of MaxKeys), where an ended or the smallest
//     window of a sample makes room (state_flood.go): a spoofed flood
//     cannot fill the evidence partition either;
//   - what is evicted, expired or refused is counted in Stats.
//
// A forger can still spend the evidence partition by sending two probes
// per forged source; those entries have the least evidence and go first.
//
// These bounds hold for every detector because detectors keep their
// entries only in the tables of state.go, state_probe.go and
// state_flood.go.

// probeRec names one probe entry in the probe ring: its table, key and
// start (an entry re-created under the same key later is another entry).
type probeRec struct {
	start int64
	k     key
	table uint8 // index in state.probeTables
}

// probeTable is a table holding probe entries.
type probeTable interface {
	// dropProbe deletes k's entry if it still is the probe entry that
	// started at start, and reports whether it did.
	dropProbe(k key, start int64) bool
}

// addProbeTable registers t and returns its index for probeRec.table.
func (st *state) addProbeTable(t probeTable) uint8 {
	st.probeTables = append(st.probeTables, t)
	return uint8(len(st.probeTables) - 1)
}

// probeCap is the probe partition's size: MaxProbeKeys, at most half of
// MaxKeys, at least 1.
func probeCap(cfg Config) int {
	n := cfg.MaxProbeKeys
	if n <= 0 || n > cfg.MaxKeys/2 {
		n = cfg.MaxKeys / 2
	}
	return max(n, 1)
}

// admitProbe makes room for a new probe entry and records it.
func (st *state) admitProbe(r probeRec) {
	for st.probeLen > 0 && (st.probeLen >= st.probeCap || st.probeLive >= st.probeCap) {
		old := &st.probes[st.probeHead]
		st.probeHead = (st.probeHead + 1) % st.probeCap
		st.probeLen--
		if st.probeTables[old.table].dropProbe(old.k, old.start) {
			st.stats.StateEvictedProbe++
		}
	}
	st.probes[(st.probeHead+st.probeLen)%st.probeCap] = r
	st.probeLen++
	st.probeLive++
}

// resizeProbes gives the probe ring n slots, keeping its newest records;
// the older ones' entries, if still probe entries, are evicted.
func (st *state) resizeProbes(n int) {
	ring := make([]probeRec, n)
	drop := max(st.probeLen-n, 0)
	for i := range drop {
		old := &st.probes[(st.probeHead+i)%st.probeCap]
		if st.probeTables[old.table].dropProbe(old.k, old.start) {
			st.stats.StateEvictedProbe++
		}
	}
	kept := st.probeLen - drop
	for i := range kept {
		ring[i] = st.probes[(st.probeHead+drop+i)%st.probeCap]
	}
	st.probes, st.probeHead, st.probeLen, st.probeCap = ring, 0, kept, n
}

// set is the distinct items (ports, hosts, protocols) a subject touched
// in a window.
type set[T comparable] struct {
	start   int64
	items   map[T]struct{}
	alerted bool
	probe   bool // in the probe partition: created by one probe, no second yet
	again   moreEvidence
}

// evidence is how much an entry has seen, for eviction: an entry that
// alerted counts above any that did not.
func (s *set[T]) evidence() int {
	if s.alerted {
		return 1 << 30
	}
	return len(s.items)
}

// maxFree bounds each table's free list.
const maxFree = 256

// probeKey is the key type of a table holding probe entries: a subject
// as small as the table needs (map slots are what a forged probe flood
// fills), and its record in the probe ring and back.
type probeKey[K any] interface {
	comparable
	rec() key
	fromRec(key) K // the receiver is ignored
}

// Probe table keys: a pair of addresses, an address and a port, an
// address.
type (
	pairKey struct{ a, b netip.Addr }
	portKey struct {
		a    netip.Addr
		port uint16
		udp  bool
	}
	addrKey struct{ a netip.Addr }
)

func (k pairKey) rec() key            { return key{a: k.a, b: k.b} }
func (pairKey) fromRec(r key) pairKey { return pairKey{r.a, r.b} }
func (k portKey) rec() key            { return key{a: k.a, port: k.port, udp: k.udp} }
func (portKey) fromRec(r key) portKey { return portKey{r.a, r.port, r.udp} }
func (k addrKey) rec() key            { return key{a: k.a} }
func (addrKey) fromRec(r key) addrKey { return addrKey{r.a} }

// setTable holds the sets of one scan detector, keyed by subject.
type setTable[K probeKey[K], T comparable] struct {
	table[K, *set[T]]
	id uint8
	// Sets of evicted probe entries, reused for new ones: under a forged
	// probe flood every packet evicts one entry and admits another, with
	// no allocation.
	free []*set[T]
}

func newSetTable[K probeKey[K], T comparable](st *state) *setTable[K, T] {
	t := &setTable[K, T]{table: newTable[K, *set[T]](st, false), free: make([]*set[T], 0, maxFree)}
	t.id = st.addProbeTable(t)
	return t
}

// lookup returns k's set, nil if none.
func (t *setTable[K, T]) lookup(k K) *set[T] { return t.m[k] }

// entry returns k's set in its current window of length win: a new entry
// is a probe entry, and so is one whose window rolled while it still was
// one.
func (t *setTable[K, T]) entry(k K, now, win int64) *set[T] {
	s := t.m[k]
	if s != nil && now-s.start < win && now >= s.start {
		return s
	}
	st := t.st
	if s == nil {
		if n := len(t.free); n > 0 {
			s = t.free[n-1]
			t.free = t.free[:n-1]
			s.probe = true
		} else {
			s = &set[T]{items: make(map[T]struct{}, 4), probe: true}
		}
		t.put(k, s)
	} else if s.probe {
		st.probeLive-- // re-admitted below under its new start
	}
	s.start, s.alerted, s.again = now, false, moreEvidence{}
	clear(s.items)
	if s.probe {
		st.admitProbe(probeRec{start: now, k: k.rec(), table: t.id})
	}
	return s
}

// add adds item to s, which first leaves the probe partition if item is
// its second: false when there was no room for that (item not added).
func (t *setTable[K, T]) add(s *set[T], item T) bool {
	if _, ok := s.items[item]; ok {
		return true
	}
	if s.probe && len(s.items) > 0 && !t.promote(s) {
		return false
	}
	s.items[item] = struct{}{}
	return true
}

// promote moves s from the probe partition to the evidence partition,
// making room there by evicting the entry of t with the least evidence
// (the oldest of equals) among up to 8 sampled. It reports false (counted
// as refused) when there is no room: s stays a probe entry and the caller
// does not add the second probe.
func (t *setTable[K, T]) promote(s *set[T]) bool {
	st := t.st
	if st.evidenceFull() {
		var victim K
		found, bestN, bestStart, seen := false, 0, int64(0), 0
		for k, v := range t.m {
			if seen++; seen > 8 {
				break
			}
			if v.probe || v == s {
				continue
			}
			if n := v.evidence(); !found || n < bestN || n == bestN && v.start < bestStart {
				victim, bestN, bestStart, found = k, n, v.start, true
			}
		}
		if !found || bestN > s.evidence()+1 { // +1: s with its second probe
			st.stats.StateRefused++
			return false
		}
		t.del(victim)
		st.stats.StateEvictedEvidence++
	}
	s.probe = false
	st.probeLive--
	return true
}

func (t *setTable[K, T]) dropProbe(r key, start int64) bool {
	var zero K
	k := zero.fromRec(r)
	s := t.m[k]
	if s == nil || !s.probe || s.start != start {
		return false
	}
	t.del(k)
	t.st.probeLive--
	if len(t.free) < maxFree && len(s.items) <= 8 {
		t.free = append(t.free, s)
	}
	return true
}

// expire drops entries twice the window win old, and probe entries
// ProbeIdle old (their records in the probe ring go stale).
func (t *setTable[K, T]) expire(now, win int64) {
	st := t.st
	idle := min(st.probeIdle(), win)
	for k, s := range t.m {
		switch {
		case expired(now, s.start, win):
		case s.probe && now-s.start > idle:
			st.stats.StateExpiredProbe++
		default:
			continue
		}
		if s.probe {
			st.probeLive--
		}
		t.del(k)
	}
}

// countTable holds counting windows of forgeable events (SYNs to a
// service), keyed by subject: a window holding one event is a probe entry.
type countTable struct {
	table[key, window]
	id uint8
}

func newCountTable(st *state) *countTable {
	t := &countTable{table: newTable[key, window](st, false)}
	t.id = st.addProbeTable(t)
	return t
}

// count adds one event to k's window of length win and returns the
// window; false when the event was not counted (a second event with no
// room in the evidence partition).
func (t *countTable) count(k key, now, win int64) (window, bool) {
	st := t.st
	w, ok := t.m[k]
	if !ok || now-w.start >= win || now < w.start {
		// One event, forgeable: a probe entry until the second.
		if ok && w.probe {
			st.probeLive--
		}
		w = window{start: now, probe: true}
		t.put(k, w)
		st.admitProbe(probeRec{start: now, k: k, table: t.id})
	} else if w.probe {
		if !t.promote(k, w.n) {
			return w, false
		}
		w.probe = false
	}
	w.n++
	t.put(k, w)
	return w, true
}

// promote is setTable.promote for windows (values: the caller clears
// probe).
func (t *countTable) promote(k key, n int) bool {
	st := t.st
	if st.evidenceFull() {
		var victim key
		found, bestN, bestStart, seen := false, 0, int64(0), 0
		for vk, v := range t.m {
			if seen++; seen > 8 {
				break
			}
			if v.probe || vk == k {
				continue
			}
			if !found || v.n < bestN || v.n == bestN && v.start < bestStart {
				victim, bestN, bestStart, found = vk, v.n, v.start, true
			}
		}
		if !found || bestN > n+1 {
			st.stats.StateRefused++
			return false
		}
		t.del(victim)
		st.stats.StateEvictedEvidence++
	}
	st.probeLive--
	return true
}

func (t *countTable) dropProbe(k key, start int64) bool {
	if w, ok := t.m[k]; ok && w.probe && w.start == start {
		t.del(k)
		t.st.probeLive--
		return true
	}
	return false
}

// expire drops windows twice win old and probe entries ProbeIdle old.
func (t *countTable) expire(now, win int64) {
	st := t.st
	for k, w := range t.m {
		switch {
		case expired(now, w.start, win):
		case w.probe && now-w.start > st.probeIdle():
			st.stats.StateExpiredProbe++
		default:
			continue
		}
		if w.probe {
			st.probeLive--
		}
		t.del(k)
	}
}
