package signature

import "github.com/dlclark/regexp2/v2"

// backtrack runs a regexp2 pcre (rules.PCRE.Backtrack) over buf[start:]
// and returns the match as offsets from start; nil when there is none or
// the match ran out of its time bound (rules.PCREMatchTimeout). regexp2
// matches runes: each byte is one rune (Latin-1), so rune offsets are
// byte offsets. The rune view is built once per buffer and reused.
func (in *inspector) backtrack(re *regexp2.Regexp, start int) []int {
	if !in.runesOK {
		in.runes = in.runes[:0]
		for _, c := range in.buf {
			in.runes = append(in.runes, rune(c))
		}
		in.runesOK = true
	}
	m, err := re.FindRunesMatch(in.runes[start:])
	if err != nil || m == nil {
		return nil
	}
	return []int{m.RuneIndex, m.RuneIndex + m.RuneLength}
}
