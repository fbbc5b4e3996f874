package signature

import (
	"bytes"
	"slices"
	"strconv"

	"github.com/xdpids/xdpids/userspace/signature/rules"
)

// maxSteps bounds the backtracking of one rule over one buffer (as
// Suricata's inspection recursion limit does): a hostile payload cannot
// make a rule cost more than this many content searches.
const maxSteps = 3000

// inspector holds the per-call buffers and byte_extract variables. One
// lives in each scratch context; it is reset per rule.
type inspector struct {
	buf   []byte
	lower []byte // buf lower-cased, made on first need
	lowOK bool

	// Latin-1 view for pcre patterns naming bytes above 0x7f.
	latin   []byte
	fwd     []int32 // buf offset -> latin offset
	back    []int32 // latin offset -> buf offset
	latinOK bool
	// runes: buf as Latin-1 runes for backtracking pcres (regexp2)
	runes   []rune
	runesOK bool
	vars    []varVal
	steps   int
}

type varVal struct {
	name string
	v    int64
}

func (in *inspector) reset(buf []byte) {
	in.buf = buf
	in.lowOK, in.latinOK, in.runesOK = false, false, false
	in.steps = 0
}

func (in *inspector) lowered() []byte {
	if !in.lowOK {
		in.lower = lowerInto(in.lower[:0], in.buf)
		in.lowOK = true
	}
	return in.lower
}

var lowerTable = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if i >= 'A' && i <= 'Z' {
			t[i] += 'a' - 'A'
		}
	}
	return t
}()

func lowerInto(dst, src []byte) []byte {
	n := len(dst)
	dst = slices.Grow(dst, len(src))[:n+len(src)]
	d := dst[n:]
	for i, c := range src {
		d[i] = lowerTable[c]
	}
	return dst
}

func (in *inspector) latin1() {
	if in.latinOK {
		return
	}
	in.latin, in.fwd, in.back = in.latin[:0], in.fwd[:0], in.back[:0]
	for i, c := range in.buf {
		in.fwd = append(in.fwd, int32(len(in.latin)))
		if c < 0x80 {
			in.latin = append(in.latin, c)
			in.back = append(in.back, int32(i))
			continue
		}
		in.latin = append(in.latin, 0xc0|c>>6, 0x80|c&0x3f)
		in.back = append(in.back, int32(i), int32(i))
	}
	in.fwd = append(in.fwd, int32(len(in.latin)))
	in.back = append(in.back, int32(len(in.buf)))
	in.latinOK = true
}

func (in *inspector) value(v rules.Value) (int, bool) {
	if v.Var == "" {
		return v.N, true
	}
	for i := len(in.vars) - 1; i >= 0; i-- {
		if in.vars[i].name == v.Var {
			return int(in.vars[i].v), true
		}
	}
	return 0, false
}

func (in *inspector) setVar(name string, v int64) {
	for i := range in.vars {
		if in.vars[i].name == name {
			in.vars[i].v = v
			return
		}
	}
	in.vars = append(in.vars, varVal{name, v})
}

// run matches chain[i:] with the cursor (end of the previous match) at
// cur. Contents retry later occurrences when something after them fails,
// so "a; b within 5 of a" finds the a that has a b after it.
func (in *inspector) run(chain []rules.Match, i, cur int) bool {
	if i == len(chain) {
		return true
	}
	in.steps++
	if in.steps > maxSteps {
		return false
	}
	buf := in.buf
	switch m := chain[i].(type) {
	case *rules.Content:
		return in.content(m, chain, i, cur)
	case *rules.PCRE:
		start := 0
		if m.Relative {
			start = cur
		}
		if start > len(buf) {
			return m.Negated && in.run(chain, i+1, cur)
		}
		var loc []int
		if m.Backtrack != nil {
			loc = in.backtrack(m.Backtrack, start)
		} else if m.Latin1 {
			in.latin1()
			ls := int(in.fwd[start])
			loc = m.Re.FindIndex(in.latin[ls:])
			if loc != nil {
				loc[1] = int(in.back[ls+loc[1]]) - start
			}
		} else {
			loc = m.Re.FindIndex(buf[start:])
		}
		if m.Negated {
			return loc == nil && in.run(chain, i+1, cur)
		}
		if loc == nil {
			return false
		}
		return in.run(chain, i+1, start+loc[1])
	case *rules.ByteOp:
		return in.byteOp(m, chain, i, cur)
	case *rules.IsDataAt:
		n, ok := in.value(m.N)
		if !ok {
			return false
		}
		var has bool
		if m.Relative {
			has = cur+n <= len(buf)
		} else {
			has = n < len(buf)
		}
		if has == m.Negated {
			return false
		}
		return in.run(chain, i+1, cur)
	case *rules.BSize:
		if !m.Size.Match(uint64(len(buf))) {
			return false
		}
		return in.run(chain, i+1, cur)
	}
	return false
}

func (in *inspector) content(c *rules.Content, chain []rules.Match, i, cur int) bool {
	buf := in.buf
	pat := c.Pattern
	lo, hi := 0, len(buf)
	if c.Relative() {
		d := 0
		if c.Distance.Set {
			v, ok := in.value(c.Distance)
			if !ok {
				return false
			}
			d = v
		}
		base := cur + d
		if c.Within.Set {
			w, ok := in.value(c.Within)
			if !ok {
				return false
			}
			if base+w < hi {
				hi = base + w
			}
		}
		lo = max(base, 0)
	} else {
		if c.Offset.Set {
			v, ok := in.value(c.Offset)
			if !ok {
				return false
			}
			lo = v
		}
		if c.Depth.Set {
			v, ok := in.value(c.Depth)
			if !ok {
				return false
			}
			if lo+v < hi {
				hi = lo + v
			}
		}
		if c.StartsWith {
			lo, hi = 0, min(len(pat), hi)
		}
	}
	if c.EndsWith {
		// the only occurrence that counts ends at the end of the buffer
		if lo < len(buf)-len(pat) {
			lo = len(buf) - len(pat)
		}
	}
	hay := buf
	if c.Nocase {
		hay = in.lowered() // the compiled copy of a nocase content is lower-cased already
	}
	next := relativeFollows(chain, i)
	for from := lo; ; {
		pos := -1
		if from >= 0 && from+len(pat) <= hi {
			if j := bytes.Index(hay[from:hi], pat); j >= 0 {
				pos = from + j
			}
		}
		if c.EndsWith && pos >= 0 && pos+len(pat) != len(buf) {
			pos = -1
		}
		if c.Negated {
			return pos < 0 && in.run(chain, i+1, cur)
		}
		if pos < 0 {
			return false
		}
		if in.run(chain, i+1, pos+len(pat)) {
			return true
		}
		if !next || in.steps > maxSteps {
			return false
		}
		from = pos + 1
	}
}

// relativeFollows reports whether anything after chain[i] depends on
// where chain[i] matched (so another occurrence may help).
func relativeFollows(chain []rules.Match, i int) bool {
	for _, m := range chain[i+1:] {
		switch x := m.(type) {
		case *rules.Content:
			if x.Relative() {
				return true
			}
		case *rules.PCRE:
			if x.Relative {
				return true
			}
		case *rules.ByteOp:
			if x.Relative {
				return true
			}
		case *rules.IsDataAt:
			if x.Relative {
				return true
			}
		}
	}
	return false
}

// extract reads n bytes at pos as the op says; ok false when out of the
// buffer or not a number.
func (in *inspector) extract(b *rules.ByteOp, pos, n int) (uint64, bool) {
	buf := in.buf
	if pos < 0 || n < 1 || pos+n > len(buf) {
		return 0, false
	}
	d := buf[pos : pos+n]
	var v uint64
	if b.String {
		if n > 20 {
			return 0, false
		}
		x, err := strconv.ParseUint(string(d), b.Base, 64)
		if err != nil {
			// like strtoull: the leading digits count, none is no match
			j := 0
			for j < len(d) && digitOK(d[j], b.Base) {
				j++
			}
			if j == 0 {
				return 0, false
			}
			x, err = strconv.ParseUint(string(d[:j]), b.Base, 64)
			if err != nil {
				return 0, false
			}
		}
		v = x
	} else {
		if n > 8 {
			return 0, false
		}
		if b.Big {
			for _, c := range d {
				v = v<<8 | uint64(c)
			}
		} else {
			for k := n - 1; k >= 0; k-- {
				v = v<<8 | uint64(d[k])
			}
		}
	}
	if b.Bitmask != 0 {
		v &= b.Bitmask
		m := b.Bitmask
		for m&1 == 0 && v != 0 {
			m >>= 1
			v >>= 1
		}
	}
	return v, true
}

func digitOK(c byte, base int) bool {
	switch base {
	case 16:
		return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
	case 8:
		return c >= '0' && c <= '7'
	}
	return c >= '0' && c <= '9'
}

func (in *inspector) byteOp(b *rules.ByteOp, chain []rules.Match, i, cur int) bool {
	off, ok := in.value(b.Offset)
	if !ok {
		return false
	}
	pos := off
	if b.Relative {
		pos = cur + off
	}
	n := b.Bytes
	if b.BytesVar != "" {
		v, ok := in.value(rules.Value{Var: b.BytesVar})
		if !ok || v < 0 || v > 10 {
			return false
		}
		n = v
	}
	switch b.Kind {
	case rules.ByteTest:
		if n == 0 && b.String && pos >= 0 && pos <= len(in.buf) {
			n = len(in.buf) - pos // the rest of the buffer (Suricata 7)
		}
		v, ok := in.extract(b, pos, n)
		if !ok {
			return false
		}
		c, ok := in.value(b.Compare)
		if !ok {
			return false
		}
		cv := uint64(c)
		var r bool
		switch b.Op {
		case "<":
			r = v < cv
		case ">":
			r = v > cv
		case "=":
			r = v == cv
		case "<=":
			r = v <= cv
		case ">=":
			r = v >= cv
		case "&":
			r = v&cv != 0
		case "^":
			r = v^cv != 0
		}
		if r == b.Negate {
			return false
		}
		return in.run(chain, i+1, cur)
	case rules.ByteJump:
		v, ok := uint64(0), pos >= 0 && pos <= len(in.buf)
		if n > 0 {
			v, ok = in.extract(b, pos, n)
		}
		if !ok {
			return false
		}
		j := int64(v) * int64(b.Multiplier)
		if b.Align && j%4 != 0 {
			j += 4 - j%4
		}
		var to int64
		switch {
		case b.FromBeginning:
			to = j
		case b.FromEnd:
			to = int64(len(in.buf)) + j
		default:
			to = int64(pos+n) + j
		}
		to += int64(b.PostOffset)
		if to < 0 {
			to = 0
		}
		if to > int64(len(in.buf)) {
			return false
		}
		return in.run(chain, i+1, int(to))
	case rules.ByteExtract:
		v, ok := in.extract(b, pos, n)
		if !ok {
			return false
		}
		v *= uint64(b.Multiplier)
		if b.Align && v%4 != 0 {
			v += 4 - v%4
		}
		in.setVar(b.Name, int64(v))
		return in.run(chain, i+1, pos+n)
	case rules.ByteMath:
		v, ok := in.extract(b, pos, n)
		if !ok {
			return false
		}
		rv, ok := in.value(b.RValue)
		if !ok {
			return false
		}
		r := int64(v)
		switch b.Oper {
		case "+":
			r += int64(rv)
		case "-":
			r -= int64(rv)
		case "*":
			r *= int64(rv)
		case "/":
			if rv == 0 {
				return false
			}
			r /= int64(rv)
		case "<<":
			r <<= uint(rv & 63)
		case ">>":
			r >>= uint(rv & 63)
		}
		in.setVar(b.Name, r)
		return in.run(chain, i+1, cur)
	}
	return false
}
