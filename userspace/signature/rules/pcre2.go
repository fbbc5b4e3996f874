package rules

import (
	"fmt"
	"strings"
	"time"

	"github.com/dlclark/regexp2/v2"
)

// PCREMatchTimeout bounds one match of a backtracking pcre (regexp2):
// a hostile buffer cannot hold a worker longer than this; a match that
// times out counts as no match. Suricata bounds PCRE the same way with a
// match limit.
var PCREMatchTimeout = 20 * time.Millisecond

// backtrackOnly are the translatePCRE reasons regexp2 can express.
var backtrackOnly = map[string]bool{
	"unsupported pcre backreference":         true,
	"unsupported pcre lookaround":            true,
	"unsupported pcre atomic group":          true,
	"unsupported pcre possessive quantifier": true,
}

// compileBacktracking compiles re (x already stripped) with regexp2.
// The buffer is matched as Latin-1 runes (one rune per byte, see
// PCRE.Backtrack), so the pattern's bytes above 0x7f become \xHH and mean
// one byte each, as in PCRE without UTF mode.
func compileBacktracking(p *PCRE, re, flags string) (*PCRE, *ruleError) {
	var opt regexp2.RegexOptions
	for i := 0; i < len(flags); i++ {
		switch flags[i] {
		case 'i':
			opt |= regexp2.IgnoreCase
		case 's':
			opt |= regexp2.Singleline
		case 'm':
			opt |= regexp2.Multiline
		case 'G':
			return nil, unsupported("pcre", "ungreedy flag with backtracking syntax")
		}
	}
	tr, e := toDotNet(re)
	if e != nil {
		return nil, e
	}
	if p.Anchored {
		tr = `\A(?:` + tr + `)`
	}
	c, err := regexp2.Compile(tr, opt)
	if err != nil {
		return nil, &ruleError{reason: "unsupported pcre", detail: err.Error()}
	}
	c.MatchTimeout = PCREMatchTimeout
	p.Backtrack = c
	return p, nil
}

// posixClasses are the POSIX classes PCRE allows inside brackets, which
// regexp2 does not know.
var posixClasses = map[string]string{
	"alpha": `a-zA-Z`, "digit": `0-9`, "alnum": `a-zA-Z0-9`, "upper": `A-Z`, "lower": `a-z`, "space": `\s`,
	"xdigit": `0-9a-fA-F`, "punct": `!-/:-@\[-` + "`" + `{-~`, "print": `\x20-\x7e`, "graph": `\x21-\x7e`,
	"cntrl": `\x00-\x1f\x7f`, "blank": ` \t`, "word": `\w`,
}

// toDotNet rewrites the PCRE syntax regexp2 reads differently: raw bytes
// above 0x7f, \h, \Z and POSIX classes.
func toDotNet(re string) (string, *ruleError) {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(re); i++ {
		c := re[i]
		switch {
		case c >= 0x80:
			fmt.Fprintf(&b, `\x%02x`, c)
		case c == '\\' && i+1 < len(re):
			switch n := re[i+1]; n {
			case 'h':
				if inClass {
					b.WriteString(`\t `)
				} else {
					b.WriteString(`[\t ]`)
				}
			case 'R', 'X', 'C':
				return "", unsupported("pcre", `\`+string(n))
			case 'g':
				// \g{N} / \gN: backreference N (relative -N is not offered)
				j := i + 2
				brace := j < len(re) && re[j] == '{'
				if brace {
					j++
				}
				k := j
				for k < len(re) && re[k] >= '0' && re[k] <= '9' {
					k++
				}
				if k == j || brace && (k >= len(re) || re[k] != '}') {
					return "", unsupported("pcre", `\g form`)
				}
				b.WriteString(`\` + re[j:k])
				if brace {
					k++
				}
				i = k - 1
				continue
			case 'x':
				if i+2 < len(re) && isHex(re[i+2]) && !(i+3 < len(re) && isHex(re[i+3])) {
					b.WriteString(`\x0`)
					b.WriteByte(re[i+2])
					i += 2
					continue
				}
				b.WriteString(`\x`)
			default:
				b.WriteByte(c)
				b.WriteByte(n)
			}
			i++
		case !inClass && strings.HasPrefix(re[i:], "(?P<"):
			b.WriteString("(?<") // named group, .NET spelling
			i += 3
		case !inClass && strings.HasPrefix(re[i:], "(?P="):
			j := strings.IndexByte(re[i:], ')')
			if j < 0 {
				return "", malformed("pcre: unterminated (?P=")
			}
			b.WriteString(`\k<` + re[i+4:i+j] + ">")
			i += j
		case inClass && c == '[' && i+1 < len(re) && re[i+1] == ':':
			j := strings.Index(re[i:], ":]")
			if j < 0 {
				b.WriteByte(c)
				continue
			}
			name := re[i+2 : i+j]
			neg := strings.HasPrefix(name, "^")
			cls, ok := posixClasses[strings.TrimPrefix(name, "^")]
			if !ok || neg {
				return "", unsupported("pcre", "posix class "+name)
			}
			b.WriteString(cls)
			i += j + 1
		case inClass:
			if c == ']' {
				inClass = false
			}
			b.WriteByte(c)
		case c == '[':
			inClass = true
			b.WriteByte(c)
			if i+1 < len(re) && re[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(re) && re[i+1] == ']' {
				b.WriteString(`\]`)
				i++
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}
