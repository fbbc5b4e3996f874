package rules

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// u128 is an address as a 128-bit number (IPv4 in lo).
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }
func (a u128) inc() u128 {
	lo, c := bits.Add64(a.lo, 1, 0)
	return u128{a.hi + c, lo}
}
func (a u128) dec() u128 {
	lo, b := bits.Sub64(a.lo, 1, 0)
	return u128{a.hi - b, lo}
}

func keyOf(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u128{0, uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func addrOf(k u128, v4 bool) netip.Addr {
	if v4 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(k.lo))
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], k.hi)
	binary.BigEndian.PutUint64(b[8:], k.lo)
	return netip.AddrFrom16(b)
}

type span struct{ lo, hi u128 } // inclusive

var (
	full4 = []span{{u128{0, 0}, u128{0, 0xffffffff}}}
	full6 = []span{{u128{0, 0}, u128{^uint64(0), ^uint64(0)}}}
)

// IPSet is a set of IPv4 and IPv6 addresses: sorted, merged, inclusive
// ranges per family, so matching is a binary search however the set was
// written (lists, negations, variables, CIDRs, ranges).
type IPSet struct {
	Any    bool // every address (the set is not consulted)
	v4, v6 []span
}

// Contains reports whether a is in s.
func (s *IPSet) Contains(a netip.Addr) bool {
	if s.Any {
		return true
	}
	a = a.Unmap()
	sp := s.v6
	if a.Is4() {
		sp = s.v4
	}
	k := keyOf(a)
	i, _ := slices.BinarySearchFunc(sp, k, func(x span, k u128) int {
		if x.hi.less(k) {
			return -1
		}
		if k.less(x.lo) {
			return 1
		}
		return 0
	})
	return i < len(sp) && !k.less(sp[i].lo) && !sp[i].hi.less(k)
}

// Prefixes returns s as CIDR prefixes (for indexing), and false when it
// would take more than max of them.
func (s *IPSet) Prefixes(max int) ([]netip.Prefix, bool) {
	if s.Any {
		return nil, false
	}
	var out []netip.Prefix
	for _, f := range []struct {
		sp   []span
		v4   bool
		bits int
	}{{s.v4, true, 32}, {s.v6, false, 128}} {
		for _, r := range f.sp {
			lo := r.lo
			for {
				// the largest block starting at lo within r
				n := f.bits
				for n > 0 {
					size := blockMask(f.bits - n + 1) // host bits mask for prefix n-1
					if lo.hi&size.hi != 0 || lo.lo&size.lo != 0 {
						break
					}
					end := u128{lo.hi | size.hi, lo.lo | size.lo}
					if r.hi.less(end) {
						break
					}
					n--
				}
				out = append(out, netip.PrefixFrom(addrOf(lo, f.v4), n))
				if len(out) > max {
					return nil, false
				}
				hm := blockMask(f.bits - n)
				end := u128{lo.hi | hm.hi, lo.lo | hm.lo}
				if !end.less(r.hi) {
					break
				}
				lo = end.inc()
			}
		}
	}
	return out, true
}

// blockMask returns a mask of the low n bits.
func blockMask(n int) u128 {
	switch {
	case n <= 0:
		return u128{}
	case n < 64:
		return u128{0, 1<<uint(n) - 1}
	case n == 64:
		return u128{0, ^uint64(0)}
	case n < 128:
		return u128{1<<uint(n-64) - 1, ^uint64(0)}
	}
	return u128{^uint64(0), ^uint64(0)}
}

// Size reports how many ranges s holds (Any: -1).
func (s *IPSet) Size() int {
	if s.Any {
		return -1
	}
	return len(s.v4) + len(s.v6)
}

func normalize(sp []span) []span {
	if len(sp) < 2 {
		return sp
	}
	slices.SortFunc(sp, func(a, b span) int {
		if a.lo.less(b.lo) {
			return -1
		}
		if b.lo.less(a.lo) {
			return 1
		}
		return 0
	})
	out := sp[:1]
	for _, r := range sp[1:] {
		last := &out[len(out)-1]
		if !last.hi.inc().less(r.lo) || last.hi == (u128{^uint64(0), ^uint64(0)}) {
			if last.hi.less(r.hi) {
				last.hi = r.hi
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

func complement(sp []span, full span) []span {
	var out []span
	cur := full.lo
	done := false
	for _, r := range sp {
		if cur.less(r.lo) {
			out = append(out, span{cur, r.lo.dec()})
		}
		if r.hi == full.hi {
			done = true
			break
		}
		if !r.hi.less(cur) {
			cur = r.hi.inc()
		}
	}
	if !done && !full.hi.less(cur) {
		out = append(out, span{cur, full.hi})
	}
	return out
}

func subtract(a, b []span, full span) []span {
	if len(b) == 0 {
		return a
	}
	return intersect(a, complement(b, full))
}

func intersect(a, b []span) []span {
	var out []span
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		lo, hi := a[i].lo, a[i].hi
		if lo.less(b[j].lo) {
			lo = b[j].lo
		}
		if b[j].hi.less(hi) {
			hi = b[j].hi
		}
		if !hi.less(lo) {
			out = append(out, span{lo, hi})
		}
		if a[i].hi.less(b[j].hi) {
			i++
		} else {
			j++
		}
	}
	return out
}

func (s IPSet) spans() (v4, v6 []span) {
	if s.Any {
		return full4, full6
	}
	return s.v4, s.v6
}

func union(a, b IPSet) IPSet {
	if a.Any || b.Any {
		return IPSet{Any: true}
	}
	return IPSet{
		v4: normalize(append(slices.Clone(a.v4), b.v4...)),
		v6: normalize(append(slices.Clone(a.v6), b.v6...)),
	}
}

func negate(a IPSet) IPSet {
	v4, v6 := a.spans()
	return IPSet{v4: complement(v4, full4[0]), v6: complement(v6, full6[0])}
}

func minus(a, b IPSet) IPSet {
	a4, a6 := a.spans()
	b4, b6 := b.spans()
	r := IPSet{v4: subtract(a4, b4, full4[0]), v6: subtract(a6, b6, full6[0])}
	return r
}

// maxVarDepth bounds variable nesting (and stops $A: "$A" loops).
const maxVarDepth = 16

// ParseAddr parses an address expression with vars resolved.
func ParseAddr(expr string, vars *Vars) (IPSet, error) {
	return parseAddr(strings.TrimSpace(expr), vars, 0)
}

func parseAddr(s string, vars *Vars, depth int) (IPSet, error) {
	if depth > maxVarDepth {
		return IPSet{}, fmt.Errorf("address variables nested too deep")
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return IPSet{}, fmt.Errorf("empty address")
	}
	if s == "any" {
		return IPSet{Any: true}, nil
	}
	if s[0] == '!' {
		a, err := parseAddr(s[1:], vars, depth+1)
		if err != nil {
			return IPSet{}, err
		}
		r := negate(a)
		if len(r.v4) == 0 && len(r.v6) == 0 {
			return IPSet{}, fmt.Errorf("address %q matches nothing", s)
		}
		return r, nil
	}
	if s[0] == '$' {
		name := s[1:]
		v, ok := vars.addr(name)
		if !ok {
			return IPSet{}, fmt.Errorf("undefined address variable $%s", name)
		}
		return parseAddr(v, vars, depth+1)
	}
	if s[0] == '[' {
		if s[len(s)-1] != ']' {
			return IPSet{}, fmt.Errorf("unbalanced brackets in %q", s)
		}
		items, err := splitList(s[1 : len(s)-1])
		if err != nil {
			return IPSet{}, err
		}
		var pos, neg IPSet
		npos := 0
		for _, it := range items {
			it = strings.TrimSpace(it)
			if it == "" {
				return IPSet{}, fmt.Errorf("empty item in address list %q", s)
			}
			if it[0] == '!' {
				a, err := parseAddr(it[1:], vars, depth+1)
				if err != nil {
					return IPSet{}, err
				}
				neg = union(neg, a)
				continue
			}
			a, err := parseAddr(it, vars, depth+1)
			if err != nil {
				return IPSet{}, err
			}
			pos = union(pos, a)
			npos++
		}
		if npos == 0 {
			pos = IPSet{Any: true}
		}
		if len(neg.v4) == 0 && len(neg.v6) == 0 && !neg.Any {
			return pos, nil
		}
		r := minus(pos, neg)
		if len(r.v4) == 0 && len(r.v6) == 0 {
			return IPSet{}, fmt.Errorf("address list %q matches nothing", s)
		}
		return r, nil
	}
	return parseAddrItem(s)
}

func parseAddrItem(s string) (IPSet, error) {
	add := func(lo, hi netip.Addr) IPSet {
		sp := []span{{keyOf(lo), keyOf(hi)}}
		if lo.Is4() {
			return IPSet{v4: sp}
		}
		return IPSet{v6: sp}
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		a, err := netip.ParseAddr(s[:i])
		if err != nil {
			return IPSet{}, fmt.Errorf("bad address %q", s)
		}
		a = a.Unmap()
		m := s[i+1:]
		bitsN, err := strconv.Atoi(m)
		if err != nil {
			// an IPv4 netmask: 255.255.255.0
			mask, err2 := netip.ParseAddr(m)
			if err2 != nil || !mask.Is4() || !a.Is4() {
				return IPSet{}, fmt.Errorf("bad netmask in %q", s)
			}
			mb := mask.As4()
			v := binary.BigEndian.Uint32(mb[:])
			bitsN = bits.OnesCount32(v)
			if v != ^uint32(0)<<(32-uint(bitsN)) && bitsN != 0 {
				return IPSet{}, fmt.Errorf("non-contiguous netmask in %q", s)
			}
		}
		p, err := a.Prefix(bitsN)
		if err != nil {
			return IPSet{}, fmt.Errorf("bad prefix %q", s)
		}
		lo := keyOf(p.Addr())
		hm := blockMask(a.BitLen() - bitsN)
		hi := u128{lo.hi | hm.hi, lo.lo | hm.lo}
		return add(p.Addr(), addrOf(hi, a.Is4())), nil
	}
	if i := strings.IndexByte(s, '-'); i > 0 {
		lo, err1 := netip.ParseAddr(strings.TrimSpace(s[:i]))
		hi, err2 := netip.ParseAddr(strings.TrimSpace(s[i+1:]))
		if err1 != nil || err2 != nil {
			return IPSet{}, fmt.Errorf("bad address range %q", s)
		}
		lo, hi = lo.Unmap(), hi.Unmap()
		if lo.Is4() != hi.Is4() || hi.Less(lo) {
			return IPSet{}, fmt.Errorf("bad address range %q", s)
		}
		return add(lo, hi), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return IPSet{}, fmt.Errorf("bad address %q", s)
	}
	a = a.Unmap().WithZone("")
	return add(a, a), nil
}

// splitList splits a bracketed list's inside on top-level commas.
func splitList(s string) ([]string, error) {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("unbalanced brackets in %q", s)
			}
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("unbalanced brackets in %q", s)
	}
	return append(out, s[start:]), nil
}
