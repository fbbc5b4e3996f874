package detect

import (
	"net/netip"
)

// state is what the detectors share: the tables of every detector's
// entries, their bounds (see "State bounds" in state_probe.go), the
// suppression of repeated alerts and the counters of what was evicted,
// expired or refused. A detector asks it for tables (newSetTable,
// newCountTable, newWindowTable, newSourceTable, newTable) and changes
// entries only through them, so the partitions' sizes stay exact.
type state struct {
	cfg   *Config
	stats Stats
	keys  int // entries in every table
	flood int // entries in the flood partition (flood tables)

	// The probe partition (see admitProbe): a ring of the probe entries in
	// creation order, some of them gone (promoted, expired) by now.
	probes      []probeRec // probeCap long
	probeHead   int
	probeLen    int
	probeCap    int
	probeLive   int          // entries with probe set
	probeTables []probeTable // by probeRec.table

	// windows are the flood window tables, in creation order: when a
	// flood table that must admit a window has none to give up, these do.
	windows []windowEvicter

	suppress table[suppressKey, int64]
}

func newState(cfg *Config) *state {
	st := &state{cfg: cfg}
	st.suppress = newTable[suppressKey, int64](st, false)
	// Allocated up front (64 bytes an entry, 1.6 MB by default) so that no
	// packet pays for it.
	st.probeCap = probeCap(*cfg)
	st.probes = make([]probeRec, st.probeCap)
	return st
}

// key is the record of a probe entry's subject in the probe ring: any
// probe table's key converts to it and back (probeKey). Brute force
// windows are keyed by it directly (source, destination, port).
type key struct {
	a, b netip.Addr
	port uint16
	udp  bool
}

// table is a map whose entries count in the state's partitions: every
// insertion and deletion goes through put and del.
type table[K comparable, V any] struct {
	m     map[K]V
	st    *state
	flood bool // in the flood partition
}

func newTable[K comparable, V any](st *state, flood bool) table[K, V] {
	return table[K, V]{m: map[K]V{}, st: st, flood: flood}
}

func (t *table[K, V]) get(k K) (V, bool) {
	v, ok := t.m[k]
	return v, ok
}

func (t *table[K, V]) put(k K, v V) {
	n := len(t.m)
	t.m[k] = v
	if len(t.m) != n {
		t.st.keys++
		if t.flood {
			t.st.flood++
		}
	}
}

func (t *table[K, V]) del(k K) {
	n := len(t.m)
	delete(t.m, k)
	if len(t.m) != n {
		t.st.keys--
		if t.flood {
			t.st.flood--
		}
	}
}

func (t *table[K, V]) len() int { return len(t.m) }

// expire deletes the entries old reports.
func (t *table[K, V]) expire(old func(V) bool) {
	for k, v := range t.m {
		if old(v) {
			t.del(k)
		}
	}
}

// full reports (and counts) that the evidence partition, everything but
// the probe entries and the flood windows, has no room for a new entry.
func (st *state) full() bool {
	if st.evidenceFull() {
		st.stats.StateRefused++
		return true
	}
	return false
}

func (st *state) evidenceFull() bool {
	return st.keys-st.probeLive-st.flood >= st.cfg.MaxKeys-st.probeCap-st.floodCap()
}

// floodCap is the flood partition's size: a quarter of MaxKeys.
func (st *state) floodCap() int { return st.cfg.MaxKeys / 4 }

// probeIdle is how long a probe entry lives without a second probe.
func (st *state) probeIdle() int64 {
	if st.cfg.ProbeIdle <= 0 {
		return int64(st.cfg.ScanWindow)
	}
	return int64(st.cfg.ProbeIdle)
}

// expired reports a window of length that started at start and ended
// long ago (twice its length), or one from the future (the clock went
// back).
func expired(now, start, length int64) bool { return now-start > 2*length || now < start }

// expire drops the suppression entries past their window.
func (st *state) expire(now int64) {
	sup := int64(st.cfg.Suppress)
	st.suppress.expire(func(t int64) bool { return expired(now, t, sup) })
}
