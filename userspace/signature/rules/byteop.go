package rules

import (
	"math"
	"strconv"
	"strings"
)

// parseByteOp parses byte_test, byte_jump, byte_extract and byte_math.
func parseByteOp(k, v string, st *optState) (*ByteOp, *ruleError) {
	parts := strings.Split(v, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	b := &ByteOp{Big: true, Base: 10}
	bad := func(format string, args ...any) (*ByteOp, *ruleError) {
		return nil, malformed(k+": "+format, args...)
	}
	var rest []string
	switch k {
	case "byte_test":
		b.Kind = ByteTest
		if len(parts) < 4 {
			return bad("want bytes, operator, value, offset")
		}
		op := parts[1]
		if strings.HasPrefix(op, "!") && op != "!" && op != "!=" {
			b.Negate, op = true, strings.TrimSpace(op[1:])
		}
		switch op {
		case "<", ">", "=", "<=", ">=", "&", "^":
		case "!", "!=":
			b.Negate, op = true, "="
		default:
			return bad("bad operator %q", trunc(op))
		}
		b.Op = op
		var err error
		if b.Compare, err = parseValueU(parts[2], st); err != nil {
			return bad("value: %v", err)
		}
		if b.Offset, err = parseValue(parts[3], st, math.MinInt32, math.MaxInt32); err != nil {
			return bad("offset: %v", err)
		}
		rest = parts[4:]
	case "byte_jump":
		b.Kind, b.Multiplier = ByteJump, 1
		if len(parts) < 2 {
			return bad("want bytes, offset")
		}
		var err error
		if b.Offset, err = parseValue(parts[1], st, math.MinInt32, math.MaxInt32); err != nil {
			return bad("offset: %v", err)
		}
		rest = parts[2:]
	case "byte_extract":
		b.Kind, b.Multiplier = ByteExtract, 1
		if len(parts) < 3 {
			return bad("want bytes, offset, name")
		}
		var err error
		if b.Offset, err = parseValue(parts[1], nil, -65535, 65535); err != nil || b.Offset.Var != "" {
			return bad("bad offset %q", trunc(parts[1]))
		}
		if !isIdent(parts[2]) {
			return bad("bad name %q", trunc(parts[2]))
		}
		b.Name = parts[2]
		rest = parts[3:]
	case "byte_math":
		b.Kind = ByteMath
		return parseByteMath(b, parts, st)
	}
	// the byte count (a variable for byte_jump and byte_test in Suricata 7 is rare: numbers only)
	n, err := strconv.Atoi(parts[0])
	switch {
	case err != nil && isIdent(parts[0]) && b.Kind != ByteExtract && st.vars[parts[0]]:
		b.BytesVar = parts[0]
	case err != nil || n < 0 || n > 10:
		return bad("bad byte count %q", trunc(parts[0]))
	}
	b.Bytes = n
	for i := 0; i < len(rest); i++ {
		o := rest[i]
		name, arg, _ := strings.Cut(o, " ")
		arg = strings.TrimSpace(arg)
		switch name {
		case "relative":
			b.Relative = true
		case "big":
			b.Big = true
		case "little":
			b.Big = false
		case "dce":
			b.DCE, b.Big = true, false
		case "string":
			b.String = true
			if arg != "" {
				if !setBase(b, arg) {
					return bad("bad string base %q", trunc(arg))
				}
			}
		case "hex", "dec", "oct":
			b.String = true
			setBase(b, name)
		case "align":
			if b.Kind != ByteJump && b.Kind != ByteExtract {
				return bad("align is for byte_jump and byte_extract")
			}
			b.Align = true
		case "from_beginning":
			b.FromBeginning = true
		case "from_end":
			b.FromEnd = true
		case "multiplier":
			m, err := strconv.Atoi(arg)
			if err != nil || m < 1 || m > 65535 {
				return bad("bad multiplier %q", trunc(arg))
			}
			b.Multiplier = m
		case "post_offset":
			m, err := strconv.Atoi(arg)
			if err != nil || m < -65535 || m > 65535 {
				return bad("bad post_offset %q", trunc(arg))
			}
			b.PostOffset = m
		case "bitmask":
			m, err := parseUint(arg, 1<<32-1)
			if err != nil || m == 0 {
				return bad("bad bitmask %q", trunc(arg))
			}
			b.Bitmask = m
		case "endian":
			switch arg {
			case "big":
				b.Big = true
			case "little":
				b.Big = false
			default:
				return bad("bad endian %q", trunc(arg))
			}
		default:
			return bad("bad option %q", trunc(o))
		}
	}
	if b.Bytes == 0 && b.BytesVar == "" && b.Kind != ByteJump && !(b.Kind == ByteTest && b.String) {
		// byte_test:0,...,string reads the rest of the buffer (Suricata 7)
		return bad("bad byte count %q", trunc(parts[0]))
	}
	if !b.String && b.Bytes > 8 {
		return bad("more than 8 bytes without string")
	}
	if b.Kind == ByteExtract {
		st.vars[b.Name] = true
	}
	return b, nil
}

func setBase(b *ByteOp, s string) bool {
	switch s {
	case "hex":
		b.Base = 16
	case "dec":
		b.Base = 10
	case "oct":
		b.Base = 8
	default:
		return false
	}
	return true
}

// parseValueU reads an unsigned compare value (decimal, 0x hex) or a variable.
func parseValueU(s string, st *optState) (Value, error) {
	s = strings.TrimSpace(s)
	if u, err := parseUint(s, 1<<63-1); err == nil {
		return Value{Set: true, N: int(u)}, nil
	}
	return parseValue(s, st, 0, 0)
}

func parseByteMath(b *ByteOp, parts []string, st *optState) (*ByteOp, *ruleError) {
	bad := func(format string, args ...any) (*ByteOp, *ruleError) {
		return nil, malformed("byte_math: "+format, args...)
	}
	have := map[string]bool{}
	for _, o := range parts {
		name, arg, _ := strings.Cut(o, " ")
		arg = strings.TrimSpace(arg)
		have[name] = true
		switch name {
		case "bytes":
			n, err := strconv.Atoi(arg)
			if err != nil || n < 1 || n > 10 {
				return bad("bad bytes %q", trunc(arg))
			}
			b.Bytes = n
		case "offset":
			v, err := parseValue(arg, nil, -65535, 65535)
			if err != nil || v.Var != "" {
				return bad("bad offset %q", trunc(arg))
			}
			b.Offset = v
		case "oper":
			switch arg {
			case "+", "-", "*", "/", "<<", ">>":
				b.Oper = arg
			default:
				return bad("bad oper %q", trunc(arg))
			}
		case "rvalue":
			v, err := parseValueU(arg, st)
			if err != nil {
				return bad("rvalue: %v", err)
			}
			b.RValue = v
		case "result":
			if !isIdent(arg) {
				return bad("bad result %q", trunc(arg))
			}
			b.Name = arg
		case "relative":
			b.Relative = true
		case "endian":
			switch arg {
			case "big":
				b.Big = true
			case "little":
				b.Big = false
			default:
				return bad("bad endian %q", trunc(arg))
			}
		case "dce":
			b.DCE, b.Big = true, false
		case "string":
			b.String = true
			if !setBase(b, arg) {
				return bad("bad string base %q", trunc(arg))
			}
		case "bitmask":
			m, err := parseUint(arg, 1<<32-1)
			if err != nil || m == 0 {
				return bad("bad bitmask %q", trunc(arg))
			}
			b.Bitmask = m
		default:
			return bad("bad option %q", trunc(o))
		}
	}
	for _, k := range []string{"bytes", "offset", "oper", "rvalue", "result"} {
		if !have[k] {
			return bad("missing %s", k)
		}
	}
	if !b.String && b.Bytes > 4 {
		return bad("more than 4 bytes without string")
	}
	st.vars[b.Name] = true
	return b, nil
}
