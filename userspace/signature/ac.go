package signature

import (
	"slices"
)

// acAuto is the prefilter's multi-pattern matcher: an Aho-Corasick
// automaton over bytes, case-folded at build time (ASCII letters of the
// haystack and of the patterns compare equal), that reports which
// patterns occur in a buffer, each at most once per scan (dedup is the
// caller's), without allocating.
//
// Why not github.com/coregx/ahocorasick (v0.3.1, used before): its only
// find-all-overlapping entry point builds and returns a []Match per call
// (1 allocation on every packet that has a match), it has no skip-ahead
// (every byte walks the DFA, ~2 ns/byte with a small pattern set, ~10
// ns/byte around 1,000 patterns as the rows fall out of cache), and it
// is case-sensitive, so every payload was lower-cased into a copy first
// (~1 ns/byte more). BenchmarkScan (ac_test.go) runs both on the TCP
// fast patterns of the engine benchmark's rule sets over its payloads:
// library (with the lower-casing) 3.3 / 9.1 / 13.3 / 11.3 ns/byte for
// default / 1,000 / ET Open (1,339 patterns) / 10,000 rules, up to 3
// allocations per scan; this automaton 1.0 / 2.0 / 3.4 / 3.2 ns/byte,
// none.
//
// Layout:
//   - A 64 Kbit bitmap (8 KB, stays in L1) of every 2-byte start of a
//     pattern, in all case variants: a pattern can only start at a
//     position whose 2 bytes are in it, so the scan skips every other
//     position without touching the automaton. A 1-byte pattern sets
//     all 256 bigrams that begin with it (and one[] for the last byte).
//   - The automaton runs from where the bitmap hits and returns to the
//     skip loop as soon as its state is of depth <= 1 again (no pattern
//     prefix of 2 or more bytes is alive).
//   - States are numbered breadth-first. The first ones (all states of
//     depth <= 1, then as many as fit denseBudget) have a full row of
//     transitions over byte classes; deeper states keep only their trie
//     edges and a failure link, which always leads to a dense state in a
//     few steps. Deep states are rare on real traffic; memory stays
//     bounded for large rule sets.
type acAuto struct {
	bi    [1 << 16 / 64]uint64 // 2-byte starts (little-endian pair: b0 | b1<<8)
	one   [256]bool            // 1-byte patterns, for the last byte of a buffer
	cls   [256]uint8           // byte -> class (case-folded)
	nCls  int                  // stride of a dense row
	dense []uint32             // dense rows: dense[sid + class] = encoded next state
	nd    int                  // dense states

	// sparse states (index nd..): trie edges and failure link
	eOff  []int32  // state-nd -> first edge; eOff[len] = end
	eCls  []uint8  // edge class
	eDst  []uint32 // edge target, encoded
	fail  []uint32 // state-nd -> failure state, encoded
	enc   []uint32 // state -> encoded (with flags)
	oOff  []int32  // state -> first output; oOff[n] = end
	outs  []int32  // pattern ids ending at a state (own and via failure links)
	empty []int32  // empty patterns: occur in any non-empty buffer
}

// encoded state: the low bits are the state's position (premultiplied
// by the row width for a dense state; len(dense)+k for the k-th sparse
// state), the high bits flags for the scan loop.
const (
	acMatch   = 1 << 31 // the state has outputs
	acShallow = 1 << 30 // depth <= 1
	acSparse  = 1 << 29 // not a dense state
	acFlags   = acMatch | acShallow | acSparse
	acIDMask  = acSparse - 1
)

// denseBudget bounds the dense rows (in uint32 entries: 1 MB); a var
// for tests.
var denseBudget = 1 << 18

func foldByte(b byte) byte {
	if b >= 'A' && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// newACAuto builds the automaton for pats (pattern id = index).
func newACAuto(pats [][]byte) *acAuto {
	a := &acAuto{}
	// byte classes: each byte used by a pattern (folded) its own class,
	// all other bytes class 0.
	var used [256]bool
	for _, p := range pats {
		for _, b := range p {
			used[foldByte(b)] = true
		}
	}
	n := 1
	for b := range 256 {
		if used[b] {
			a.cls[b] = uint8(n)
			n++
		}
	}
	for b := 'A'; b <= 'Z'; b++ {
		a.cls[b] = a.cls[b+'a'-'A']
	}
	// n <= 256 - 26 + 1: always fits uint8
	a.nCls = n

	// trie
	type tnode struct {
		depth int32
		out   []int32
	}
	nodes := []tnode{{}}
	edges := map[uint64]int32{} // parent<<8 | class -> child
	children := [][]int32{nil}  // node -> children, in insertion order
	for id, p := range pats {
		if len(p) == 0 {
			a.empty = append(a.empty, int32(id))
			continue
		}
		s := int32(0)
		for _, b := range p {
			k := uint64(s)<<8 | uint64(a.cls[b])
			c, ok := edges[k]
			if !ok {
				c = int32(len(nodes))
				nodes = append(nodes, tnode{depth: nodes[s].depth + 1})
				children = append(children, nil)
				children[s] = append(children[s], c)
				edges[k] = c
			}
			s = c
		}
		nodes[s].out = append(nodes[s].out, int32(id))
		a.markStart(p)
	}
	// breadth-first order and failure links
	cls := make([]uint8, len(nodes)) // class of the edge into a node
	for k, c := range edges {
		cls[c] = uint8(k)
	}
	order := []int32{0}
	fail := make([]int32, len(nodes))
	for q := 0; q < len(order); q++ {
		s := order[q]
		for _, c := range children[s] {
			order = append(order, c)
			if s == 0 {
				continue
			}
			f := fail[s]
			for {
				if t, ok := edges[uint64(f)<<8|uint64(cls[c])]; ok {
					fail[c] = t
					break
				}
				if f == 0 {
					break
				}
				f = fail[f]
			}
		}
	}
	// outputs through failure links (parents of a state in the failure
	// tree come earlier in breadth-first order)
	for _, s := range order[1:] {
		if f := fail[s]; len(nodes[f].out) > 0 {
			nodes[s].out = append(nodes[s].out, nodes[f].out...)
		}
	}
	pos := make([]int32, len(nodes)) // node -> breadth-first index
	for i, s := range order {
		pos[s] = int32(i)
	}
	// dense states: all of depth <= 1, then while the budget lasts
	nd := 0
	for _, s := range order {
		if nodes[s].depth > 1 && (nd+1)*n > denseBudget {
			break
		}
		nd++
	}
	a.nd = len(order)
	if nd < len(order) {
		a.nd = nd
	}
	if uint64(a.nd)*uint64(n)+uint64(len(order)) >= acIDMask {
		panic("prefilter automaton too large") // > 500M states: not reachable with real rule sets
	}
	a.enc = make([]uint32, len(order))
	a.oOff = make([]int32, len(order)+1)
	for i, s := range order {
		var v uint32
		if i < a.nd {
			v = uint32(i * n)
		} else {
			v = uint32(a.nd*n+i-a.nd) | acSparse
		}
		if nodes[s].depth <= 1 {
			v |= acShallow
		}
		if len(nodes[s].out) > 0 {
			v |= acMatch
			a.outs = append(a.outs, nodes[s].out...)
		}
		a.enc[i] = v
		a.oOff[i+1] = int32(len(a.outs))
	}
	// dense rows, in breadth-first order: a missing edge takes the row
	// of the failure state, which is dense and already filled
	a.dense = make([]uint32, a.nd*n)
	for i := 0; i < a.nd; i++ {
		s := order[i]
		row := a.dense[i*n : (i+1)*n]
		if i == 0 {
			for c := range row {
				row[c] = a.enc[0]
			}
		} else {
			f := pos[fail[s]]
			copy(row, a.dense[int(f)*n:(int(f)+1)*n])
		}
		for _, c := range children[s] {
			row[cls[c]] = a.enc[pos[c]]
		}
	}
	// sparse states
	for i := a.nd; i < len(order); i++ {
		s := order[i]
		a.eOff = append(a.eOff, int32(len(a.eCls)))
		ch := slices.Clone(children[s])
		slices.SortFunc(ch, func(x, y int32) int { return int(cls[x]) - int(cls[y]) })
		for _, c := range ch {
			a.eCls = append(a.eCls, cls[c])
			a.eDst = append(a.eDst, a.enc[pos[c]])
		}
		a.fail = append(a.fail, a.enc[pos[fail[s]]])
	}
	a.eOff = append(a.eOff, int32(len(a.eCls)))
	return a
}

// markStart records the 2-byte start of p (all case variants).
func (a *acAuto) markStart(p []byte) {
	variants := func(b byte) []byte {
		f := foldByte(b)
		if f >= 'a' && f <= 'z' {
			return []byte{f, f - 'a' + 'A'}
		}
		return []byte{b}
	}
	for _, b0 := range variants(p[0]) {
		if len(p) == 1 {
			a.one[b0] = true
			for b1 := range 256 {
				a.setBi(b0, byte(b1))
			}
			continue
		}
		for _, b1 := range variants(p[1]) {
			a.setBi(b0, b1)
		}
	}
}

func (a *acAuto) setBi(b0, b1 byte) {
	w := uint16(b0) | uint16(b1)<<8
	a.bi[w>>6] |= 1 << (w & 63)
}

// skip returns the first position >= i where a pattern may start, or
// len(d).
func (a *acAuto) skip(d []byte, i int) int {
	if i < 0 || i >= len(d) {
		return len(d)
	}
	bi := &a.bi
	p := uint32(d[i])
	for i++; i < len(d); i++ {
		c := uint32(d[i])
		w := p | c<<8
		if bi[w>>6]&(1<<(w&63)) != 0 {
			return i - 1
		}
		p = c
	}
	if a.one[p] {
		return len(d) - 1
	}
	return len(d)
}

// next is the transition of a sparse state (sid without flags).
func (a *acAuto) next(sid uint32, c uint8) uint32 {
	for {
		k := int(sid) - len(a.dense)
		lo, hi := a.eOff[k], a.eOff[k+1]
		for e := lo; e < hi; e++ {
			if a.eCls[e] == c {
				return a.eDst[e]
			}
		}
		f := a.fail[k]
		if f&acSparse == 0 {
			return a.dense[int(f&acIDMask)+int(c)]
		}
		sid = f & acIDMask
	}
}

// state returns the breadth-first index of an encoded state.
func (a *acAuto) state(v uint32) int {
	id := int(v & acIDMask)
	if v&acSparse == 0 {
		return id / a.nCls
	}
	return a.nd + id - len(a.dense)
}

// scan calls fn with the id of each pattern occurrence in d (the same
// id as often as the pattern occurs, or more).
func (a *acAuto) scan(d []byte, fn func(id int32)) {
	if len(d) == 0 {
		return
	}
	for _, id := range a.empty {
		fn(id)
	}
	dense, cls := a.dense, &a.cls
	for i := a.skip(d, 0); i < len(d); i = a.skip(d, i) {
		j := i
		sid := uint32(0) // root, dense
		for i < len(d) {
			c := cls[d[i]]
			i++
			var v uint32
			if sid&acSparse == 0 {
				v = dense[int(sid)+int(c)]
			} else {
				v = a.next(sid&acIDMask, c)
			}
			if v&acFlags != 0 {
				if v&acMatch != 0 {
					s := a.state(v)
					for _, id := range a.outs[a.oOff[s]:a.oOff[s+1]] {
						fn(id)
					}
				}
				if v&acShallow != 0 && i-j >= 2 {
					// no live prefix but (maybe) d[i-1]: back to skipping
					i--
					break
				}
			}
			sid = v &^ (acMatch | acShallow)
		}
	}
}

// stats for tests: states, dense states, classes
func (a *acAuto) size() (states, dense, classes int) {
	return len(a.enc), a.nd, a.nCls
}
