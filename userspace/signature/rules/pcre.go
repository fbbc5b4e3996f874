package rules

import (
	"fmt"
	"regexp"
	"strings"
)

// parsePCRE translates a pcre option ("[!]"/re/flags"") to Go's RE2
// regexp. What RE2 cannot express (backreferences, lookaround,
// possessive quantifiers, atomic groups, repeat counts over 1000) is
// compiled with regexp2, a backtracking engine, bounded by
// PCREMatchTimeout as Suricata bounds PCRE with a match limit (see
// pcre2.go); what neither can (recursion, verbs) is reported per rule.
// The HTTP flags (/U /H /P ...) bind the pcre to an app-layer buffer.
//
// Go's regexp matches UTF-8 text: "\xff" means the rune U+00FF, not the
// byte. So the pattern is compiled as is when it only names ASCII, and
// with Latin1 set otherwise: the engine then matches it against the
// buffer with each byte decoded as one rune (Latin-1), which makes byte
// escapes, classes and '.' mean one byte each as in PCRE.
func parsePCRE(v string) (*PCRE, *ruleError) {
	v = strings.TrimSpace(v)
	p := &PCRE{}
	if strings.HasPrefix(v, "!") {
		p.Negated = true
		v = strings.TrimSpace(v[1:])
	}
	s, ok := unquote(v)
	if !ok {
		return nil, malformed("pcre must be quoted")
	}
	s = unescapePCREOption(s)
	p.Source = s
	if len(s) < 2 || s[0] != '/' {
		if strings.HasPrefix(s, "m") && len(s) > 2 {
			return nil, unsupported("pcre", "delimiter m")
		}
		return nil, malformed("pcre must be /regex/flags")
	}
	end := strings.LastIndexByte(s, '/')
	if end == 0 {
		return nil, malformed("pcre: no closing /")
	}
	re, flags := s[1:end], s[end+1:]
	var prefix strings.Builder
	extended := false
	for i := 0; i < len(flags); i++ {
		switch c := flags[i]; c {
		case 'i':
			prefix.WriteString("i")
		case 's':
			prefix.WriteString("s")
		case 'm':
			prefix.WriteString("m")
		case 'x':
			extended = true
		case 'G':
			prefix.WriteString("U")
		case 'R':
			p.Relative = true
		case 'A':
			p.Anchored = true
		case 'E', 'O', 'B':
			// E: $ only at the very end (Go's $ without m already is);
			// O: override match limits; B: rawbytes (no decoded buffer).
		default:
			if name, ok := pcreBufferFlags[c]; ok {
				b, _ := BufferByName(name)
				if p.Buffer != BufPayload && p.Buffer != b {
					return nil, malformed("pcre: two buffer flags")
				}
				p.Buffer = b
				continue
			}
			return nil, unsupported("pcre flag", string(c))
		}
	}
	if extended {
		re = stripExtended(re)
	}
	tr, e := translatePCRE(re)
	if e != nil {
		if backtrackOnly[e.reason] {
			return compileBacktracking(p, re, flags)
		}
		return nil, e
	}
	if p.Anchored {
		tr = `\A(?:` + tr + `)`
	}
	if prefix.Len() > 0 {
		tr = "(?" + prefix.String() + ")" + tr
	}
	tr, latin1 := toLatin1Pattern(tr)
	compiled, err := regexp.Compile(tr)
	if err != nil {
		if strings.Contains(err.Error(), "invalid repeat count") {
			return compileBacktracking(p, re, flags)
		}
		return nil, &ruleError{reason: "unsupported pcre", detail: err.Error()}
	}
	p.Re = compiled
	p.Latin1 = latin1
	return p, nil
}

// unescapePCREOption undoes the rule-level escapes inside the quoted
// option (\; \" ) and leaves regex escapes alone.
func unescapePCREOption(s string) string {
	if !strings.Contains(s, `\;`) && !strings.Contains(s, `\"`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == ';' || s[i+1] == '"') {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// stripExtended removes the whitespace and # comments of the x flag
// outside character classes.
func stripExtended(re string) string {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(re); i++ {
		c := re[i]
		switch {
		case c == '\\' && i+1 < len(re):
			b.WriteByte(c)
			b.WriteByte(re[i+1])
			i++
			continue
		case inClass:
			if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			continue
		case c == '#':
			for i < len(re) && re[i] != '\n' {
				i++
			}
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// translatePCRE rewrites PCRE-only syntax RE2 has an equivalent for and
// rejects what it has not.
func translatePCRE(re string) (string, *ruleError) {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(re); i++ {
		c := re[i]
		if c == '\\' {
			if i+1 >= len(re) {
				return "", malformed("pcre: trailing backslash")
			}
			n := re[i+1]
			switch {
			case n >= '1' && n <= '9' && !inClass:
				return "", unsupported("pcre", "backreference")
			case n == 'x' && i+2 < len(re) && isHex(re[i+2]) && !(i+3 < len(re) && isHex(re[i+3])):
				b.WriteString(`\x0`) // PCRE's \xH: one hex digit
				b.WriteByte(re[i+2])
				i += 2
				continue
			case n == 'k' || n == 'g':
				return "", unsupported("pcre", "backreference")
			case n == 'G' || n == 'K' || n == 'R' || n == 'X' || n == 'C':
				return "", unsupported("pcre", `\`+string(n))
			case n == 'Z':
				b.WriteString(`(?:\n?\z)`)
				i++
				continue
			case n == 'h':
				if inClass {
					b.WriteString(`\t `)
				} else {
					b.WriteString(`[\t ]`)
				}
				i++
				continue
			case n == 'e':
				b.WriteString(`\x1b`)
				i++
				continue
			case n == '/':
				b.WriteByte('/')
				i++
				continue
			case n == '0' && !(i+2 < len(re) && re[i+2] >= '0' && re[i+2] <= '7'):
				b.WriteString(`\x00`)
				i++
				continue
			}
			b.WriteByte(c)
			b.WriteByte(n)
			i++
			continue
		}
		if inClass {
			if c == ']' {
				inClass = false
			}
			if c == '[' && i+1 < len(re) && re[i+1] == ':' {
				// a POSIX class [:alpha:] inside a class: copy up to ":]"
				j := strings.Index(re[i:], ":]")
				if j > 0 {
					b.WriteString(re[i : i+j+2])
					i += j + 1
					continue
				}
			}
			b.WriteByte(c)
			continue
		}
		switch c {
		case '[':
			inClass = true
			b.WriteByte(c)
			// a ']' right after '[' or '[^' is literal
			if i+1 < len(re) && re[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(re) && re[i+1] == ']' {
				b.WriteString(`\]`)
				i++
			}
			continue
		case '(':
			if strings.HasPrefix(re[i:], "(?=") || strings.HasPrefix(re[i:], "(?!") ||
				strings.HasPrefix(re[i:], "(?<=") || strings.HasPrefix(re[i:], "(?<!") {
				return "", unsupported("pcre", "lookaround")
			}
			if strings.HasPrefix(re[i:], "(?P=") {
				return "", unsupported("pcre", "backreference")
			}
			if strings.HasPrefix(re[i:], "(?>") {
				return "", unsupported("pcre", "atomic group")
			}
			if strings.HasPrefix(re[i:], "(?(") || strings.HasPrefix(re[i:], "(?R") || strings.HasPrefix(re[i:], "(?|") ||
				(strings.HasPrefix(re[i:], "(?") && i+2 < len(re) && re[i+2] >= '0' && re[i+2] <= '9') {
				return "", unsupported("pcre", "recursion or conditional")
			}
			if strings.HasPrefix(re[i:], "(*") {
				return "", unsupported("pcre", "verb")
			}
		case '+':
			if i > 0 && isQuantifierEnd(re, i) {
				return "", unsupported("pcre", "possessive quantifier")
			}
		}
		b.WriteByte(c)
	}
	if inClass {
		return "", malformed("pcre: unterminated character class")
	}
	return b.String(), nil
}

// isQuantifierEnd reports whether the '+' at i follows a quantifier
// (making it possessive): *+ ++ ?+ }+.
func isQuantifierEnd(re string, i int) bool {
	p := re[i-1]
	if p != '*' && p != '+' && p != '?' && p != '}' {
		return false
	}
	// an escaped quantifier char is a literal: count backslashes
	n := 0
	for j := i - 2; j >= 0 && re[j] == '\\'; j-- {
		n++
	}
	return n%2 == 0
}

// toLatin1Pattern reports whether pattern names bytes above 0x7f (\xHH
// escapes, octal escapes or raw bytes); such patterns are matched
// against the Latin-1 decoding of the buffer, where \xHH is the rune
// U+00HH, exactly as written.
func toLatin1Pattern(p string) (string, bool) {
	latin := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c >= 0x80 {
			latin = true
			break
		}
		if c == '\\' && i+1 < len(p) {
			if p[i+1] == 'x' && i+3 < len(p) && p[i+2] != '{' {
				if h := p[i+2]; h >= '8' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F' {
					latin = true
					break
				}
			}
			if p[i+1] == 'x' && i+2 < len(p) && p[i+2] == '{' {
				latin = true
				break
			}
			i++
		}
	}
	if !latin {
		return p, false
	}
	// raw bytes >= 0x80 in the pattern become \x{HH}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] >= 0x80 {
			fmt.Fprintf(&b, `\x{%02x}`, p[i])
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String(), true
}
