package rules

import (
	"fmt"
	"strconv"
	"strings"
)

// Num is a numeric comparison as written in dsize, ttl, itype, ...:
// "N", "<N", ">N", "<=N", ">=N", "!N", "A<>B" (exclusive) and "A-B"
// (inclusive).
type Num struct {
	Op   NumOp
	A, B uint64
}

// NumOp is a comparison operator.
type NumOp uint8

// Comparison operators.
const (
	NumEq NumOp = iota
	NumNe
	NumLt
	NumLe
	NumGt
	NumGe
	NumRange   // A < x < B
	NumRangeIn // A <= x <= B
)

// Match reports whether x satisfies n.
func (n *Num) Match(x uint64) bool {
	switch n.Op {
	case NumEq:
		return x == n.A
	case NumNe:
		return x != n.A
	case NumLt:
		return x < n.A
	case NumLe:
		return x <= n.A
	case NumGt:
		return x > n.A
	case NumGe:
		return x >= n.A
	case NumRange:
		return x > n.A && x < n.B
	case NumRangeIn:
		return x >= n.A && x <= n.B
	}
	return false
}

// parseUint reads a decimal or 0x hexadecimal number.
func parseUint(s string, max uint64) (uint64, error) {
	s = strings.TrimSpace(s)
	var v uint64
	var err error
	if len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X") {
		v, err = strconv.ParseUint(s[2:], 16, 64)
	} else {
		v, err = strconv.ParseUint(s, 10, 64)
	}
	if err != nil {
		return 0, fmt.Errorf("bad number %q", s)
	}
	if v > max {
		return 0, fmt.Errorf("number %d out of range (max %d)", v, max)
	}
	return v, nil
}

// parseNum parses a numeric comparison whose values are at most max.
func parseNum(s string, max uint64) (*Num, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("empty value")
	}
	if i := strings.Index(s, "<>"); i > 0 {
		a, err := parseUint(s[:i], max)
		if err != nil {
			return nil, err
		}
		b, err := parseUint(s[i+2:], max)
		if err != nil {
			return nil, err
		}
		if a >= b {
			return nil, fmt.Errorf("bad range %q", s)
		}
		return &Num{Op: NumRange, A: a, B: b}, nil
	}
	if i := strings.IndexByte(s, '-'); i > 0 {
		a, err := parseUint(s[:i], max)
		if err != nil {
			return nil, err
		}
		b, err := parseUint(s[i+1:], max)
		if err != nil {
			return nil, err
		}
		if a > b {
			return nil, fmt.Errorf("bad range %q", s)
		}
		return &Num{Op: NumRangeIn, A: a, B: b}, nil
	}
	n := &Num{}
	switch {
	case strings.HasPrefix(s, "<="):
		n.Op, s = NumLe, s[2:]
	case strings.HasPrefix(s, ">="):
		n.Op, s = NumGe, s[2:]
	case strings.HasPrefix(s, "<"):
		n.Op, s = NumLt, s[1:]
	case strings.HasPrefix(s, ">"):
		n.Op, s = NumGt, s[1:]
	case strings.HasPrefix(s, "!="):
		n.Op, s = NumNe, s[2:]
	case strings.HasPrefix(s, "!"):
		n.Op, s = NumNe, s[1:]
	case strings.HasPrefix(s, "="):
		s = s[1:]
	}
	v, err := parseUint(s, max)
	if err != nil {
		return nil, err
	}
	n.A = v
	return n, nil
}
