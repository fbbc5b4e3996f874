package rules

import (
	"fmt"
	"slices"
	"strings"
)

// PortSet is a set of ports: sorted, merged, inclusive ranges.
type PortSet struct {
	Any    bool
	ranges [][2]uint16
}

// Contains reports whether p is in s.
func (s *PortSet) Contains(p uint16) bool {
	if s.Any {
		return true
	}
	r := s.ranges
	lo, hi := 0, len(r)
	for lo < hi {
		m := (lo + hi) / 2
		switch {
		case p < r[m][0]:
			hi = m
		case p > r[m][1]:
			lo = m + 1
		default:
			return true
		}
	}
	return false
}

// Ports lists the ports of s when there are at most max of them.
func (s *PortSet) Ports(max int) ([]uint16, bool) {
	if s.Any {
		return nil, false
	}
	n := 0
	for _, r := range s.ranges {
		n += int(r[1]) - int(r[0]) + 1
		if n > max {
			return nil, false
		}
	}
	out := make([]uint16, 0, n)
	for _, r := range s.ranges {
		for p := int(r[0]); p <= int(r[1]); p++ {
			out = append(out, uint16(p))
		}
	}
	return out, true
}

func normPorts(r [][2]uint16) [][2]uint16 {
	if len(r) < 2 {
		return r
	}
	slices.SortFunc(r, func(a, b [2]uint16) int { return int(a[0]) - int(b[0]) })
	out := r[:1]
	for _, x := range r[1:] {
		last := &out[len(out)-1]
		if int(x[0]) <= int(last[1])+1 {
			if x[1] > last[1] {
				last[1] = x[1]
			}
			continue
		}
		out = append(out, x)
	}
	return out
}

func portsComplement(r [][2]uint16) [][2]uint16 {
	var out [][2]uint16
	next := 0
	for _, x := range r {
		if int(x[0]) > next {
			out = append(out, [2]uint16{uint16(next), x[0] - 1})
		}
		next = int(x[1]) + 1
	}
	if next <= 65535 {
		out = append(out, [2]uint16{uint16(next), 65535})
	}
	return out
}

func (s PortSet) rangesOrAll() [][2]uint16 {
	if s.Any {
		return [][2]uint16{{0, 65535}}
	}
	return s.ranges
}

// ParsePorts parses a port expression with vars resolved.
func ParsePorts(expr string, vars *Vars) (PortSet, error) {
	return parsePorts(strings.TrimSpace(expr), vars, 0)
}

func parsePorts(s string, vars *Vars, depth int) (PortSet, error) {
	if depth > maxVarDepth {
		return PortSet{}, fmt.Errorf("port variables nested too deep")
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return PortSet{}, fmt.Errorf("empty port")
	}
	if s == "any" {
		return PortSet{Any: true}, nil
	}
	if s[0] == '!' {
		p, err := parsePorts(s[1:], vars, depth+1)
		if err != nil {
			return PortSet{}, err
		}
		r := portsComplement(p.rangesOrAll())
		if len(r) == 0 {
			return PortSet{}, fmt.Errorf("port %q matches nothing", s)
		}
		return PortSet{ranges: r}, nil
	}
	if s[0] == '$' {
		v, ok := vars.port(s[1:])
		if !ok {
			return PortSet{}, fmt.Errorf("undefined port variable %s", s)
		}
		return parsePorts(v, vars, depth+1)
	}
	if s[0] == '[' {
		if s[len(s)-1] != ']' {
			return PortSet{}, fmt.Errorf("unbalanced brackets in %q", s)
		}
		items, err := splitList(s[1 : len(s)-1])
		if err != nil {
			return PortSet{}, err
		}
		var pos, neg [][2]uint16
		anyPos, npos := false, 0
		for _, it := range items {
			it = strings.TrimSpace(it)
			if it == "" {
				return PortSet{}, fmt.Errorf("empty item in port list %q", s)
			}
			target := &pos
			if it[0] == '!' {
				target, it = &neg, it[1:]
			} else {
				npos++
			}
			p, err := parsePorts(it, vars, depth+1)
			if err != nil {
				return PortSet{}, err
			}
			if p.Any && target == &pos {
				anyPos = true
			}
			*target = append(*target, p.rangesOrAll()...)
		}
		if npos == 0 {
			anyPos = true
		}
		if anyPos {
			pos = [][2]uint16{{0, 65535}}
		}
		pos = normPorts(pos)
		if len(neg) == 0 {
			if anyPos {
				return PortSet{Any: true}, nil
			}
			return PortSet{ranges: pos}, nil
		}
		keep := portsComplement(normPorts(neg))
		var out [][2]uint16
		i, j := 0, 0
		for i < len(pos) && j < len(keep) {
			lo, hi := max(pos[i][0], keep[j][0]), min(pos[i][1], keep[j][1])
			if lo <= hi {
				out = append(out, [2]uint16{lo, hi})
			}
			if pos[i][1] < keep[j][1] {
				i++
			} else {
				j++
			}
		}
		if len(out) == 0 {
			return PortSet{}, fmt.Errorf("port list %q matches nothing", s)
		}
		return PortSet{ranges: out}, nil
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		lo, hi := uint64(0), uint64(65535)
		var err error
		if a := strings.TrimSpace(s[:i]); a != "" {
			if lo, err = parseUint(a, 65535); err != nil {
				return PortSet{}, fmt.Errorf("bad port range %q", s)
			}
		}
		if b := strings.TrimSpace(s[i+1:]); b != "" {
			if hi, err = parseUint(b, 65535); err != nil {
				return PortSet{}, fmt.Errorf("bad port range %q", s)
			}
		}
		if lo > hi {
			return PortSet{}, fmt.Errorf("bad port range %q", s)
		}
		if lo == 0 && hi == 65535 {
			return PortSet{Any: true}, nil
		}
		return PortSet{ranges: [][2]uint16{{uint16(lo), uint16(hi)}}}, nil
	}
	p, err := parseUint(s, 65535)
	if err != nil {
		return PortSet{}, fmt.Errorf("bad port %q", s)
	}
	return PortSet{ranges: [][2]uint16{{uint16(p), uint16(p)}}}, nil
}
