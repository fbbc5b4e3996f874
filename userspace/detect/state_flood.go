package detect

import "net/netip"

// window is a tumbling counter: n events since start.
type window struct {
	start int64
	n     int
	m     int  // a second count (completions, bytes in KB, ...)
	probe bool // countTable: in the probe partition (one event)
}

// roll restarts w when now is past its length.
func (w *window) roll(now, length int64) {
	if w.start == 0 || now-w.start >= length || now < w.start {
		*w = window{start: now}
	}
}

// sourceCount is a window with its distinct sources, capped at a limit.
type sourceCount struct {
	window
	sources map[netip.Addr]struct{}
}

// dstPort and triple key flood tables: per destination and port, per
// source, destination and port.
type dstPort struct {
	dst  netip.Addr
	port uint16
}

type triple struct {
	src, dst netip.Addr
	port     uint16
}

// windowEvicter is a flood window table that can give up a window.
type windowEvicter interface{ evict(now int64) bool }

// windowTable holds flood windows of FloodWindow (1 s) keyed by source or
// tuple, in the flood partition (values: no allocation per update).
type windowTable[K comparable] struct {
	table[K, window]
}

func newWindowTable[K comparable](st *state) *windowTable[K] {
	t := &windowTable[K]{table: newTable[K, window](st, true)}
	st.windows = append(st.windows, t)
	return t
}

// count adds weight packets to k's window and returns it; false when the
// flood partition had no room for a new window.
func (t *windowTable[K]) count(k K, now int64, weight int) (window, bool) {
	w, ok := t.m[k]
	if !ok && !t.admit(now) {
		return w, false
	}
	w.roll(now, int64(t.st.cfg.FloodWindow))
	w.n += weight
	if ok {
		t.m[k] = w // an entry already counted in the partition
	} else {
		t.put(k, w)
	}
	return w, true
}

// admit makes room in the flood partition for a new window of t: of up
// to 8 sampled windows of t, the one that ended longest ago, else the one
// with the fewest packets, is evicted. A forged flood from ever new
// sources then recycles its own windows; windows in flood keep theirs.
// When t is empty another flood table gives up a window; false (refused,
// counted) only when none can.
func (t *windowTable[K]) admit(now int64) bool {
	st := t.st
	if st.flood < st.floodCap() || t.evict(now) || st.evictAnyWindow(now) {
		return true
	}
	st.stats.StateRefused++
	return false
}

// evictAnyWindow has one of the flood window tables give up a window.
func (st *state) evictAnyWindow(now int64) bool {
	for _, w := range st.windows {
		if w.evict(now) {
			return true
		}
	}
	return false
}

func (t *windowTable[K]) evict(now int64) bool {
	length := int64(t.st.cfg.FloodWindow)
	var victim K
	found, bestN, seen := false, 0, 0
	for k, w := range t.m {
		if seen++; seen > 8 {
			break
		}
		n := w.n
		if now-w.start >= length || now < w.start {
			n = -1 - int(min(now-w.start, 1<<40)/length) // ended: older first
		}
		if !found || n < bestN {
			victim, bestN, found = k, n, true
		}
	}
	if !found {
		return false
	}
	t.del(victim)
	t.st.stats.StateEvictedFlood++
	return true
}

// expire drops windows twice length old.
func (t *windowTable[K]) expire(now, length int64) {
	t.table.expire(func(w window) bool { return expired(now, w.start, length) })
}

// sourceTable holds per-destination counters with their distinct
// sources, in the flood partition.
type sourceTable[K comparable] struct {
	table[K, *sourceCount]
}

func newSourceTable[K comparable](st *state) *sourceTable[K] {
	return &sourceTable[K]{table: newTable[K, *sourceCount](st, true)}
}

// lookup returns k's counter, nil if none.
func (t *sourceTable[K]) lookup(k K) *sourceCount { return t.m[k] }

// count adds weight packets from src to k's counter in its window of
// length, remembering up to minSources sources; nil when the flood
// partition had no room for a new counter.
func (t *sourceTable[K]) count(k K, src netip.Addr, now, length int64, weight, minSources int) *sourceCount {
	c := t.m[k]
	if c == nil {
		if !t.admit(now, length) {
			return nil
		}
		c = &sourceCount{sources: make(map[netip.Addr]struct{}, 16)}
		t.put(k, c)
	}
	if c.roll(now, length); c.n == 0 {
		clear(c.sources)
	}
	c.n += weight
	if len(c.sources) < minSources {
		c.sources[src] = struct{}{}
	}
	return c
}

// admit is windowTable.admit for counters (windows of length): an ended
// or the smallest counter of a sample of t makes room, else a flood
// window.
func (t *sourceTable[K]) admit(now, length int64) bool {
	st := t.st
	if st.flood < st.floodCap() {
		return true
	}
	var victim K
	found, bestN, seen := false, 0, 0
	for k, c := range t.m {
		if seen++; seen > 8 {
			break
		}
		n := c.n
		if now-c.start >= length || now < c.start {
			n = -1 - int(min(now-c.start, 1<<40)/length)
		}
		if !found || n < bestN {
			victim, bestN, found = k, n, true
		}
	}
	if found {
		t.del(victim)
		st.stats.StateEvictedFlood++
		return true
	}
	if st.evictAnyWindow(now) {
		return true
	}
	st.stats.StateRefused++
	return false
}

// expire drops counters twice length old.
func (t *sourceTable[K]) expire(now, length int64) {
	t.table.expire(func(c *sourceCount) bool { return expired(now, c.start, length) })
}
