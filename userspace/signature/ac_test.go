package signature

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/coregx/ahocorasick"

	"github.com/xdpids/xdpids/userspace/packet/decode"
	"github.com/xdpids/xdpids/userspace/signature/rules"
)

// naiveFind is the reference: the ids of the patterns that occur in
// hay, case-insensitively (ASCII), sorted.
func naiveFind(pats [][]byte, hay []byte) []int32 {
	low := lower(hay)
	var ids []int32
	for id, p := range pats {
		if len(hay) > 0 && bytes.Contains(low, lower(p)) {
			ids = append(ids, int32(id))
		}
	}
	return ids
}

func acFind(a *acAuto, hay []byte) []int32 {
	var ids []int32
	a.scan(hay, func(id int32) {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	})
	slices.Sort(ids)
	return ids
}

func TestACAuto(t *testing.T) {
	tests := []struct {
		pats []string
		hay  string
		want []int32
	}{
		{[]string{"abc"}, "", nil},
		{[]string{"abc"}, "xxabcxx", []int32{0}},
		{[]string{"abc"}, "xxABcxx", []int32{0}},
		{[]string{"ABC"}, "xxabcxx", []int32{0}},
		{[]string{"abc"}, "ab", nil},
		{[]string{"abc"}, "abc", []int32{0}},
		{[]string{"he", "she", "his", "hers"}, "ushers", []int32{0, 1, 3}},
		{[]string{"a", "ab", "bab", "bc", "bca", "c", "caa"}, "abccab", []int32{0, 1, 3, 5}},
		{[]string{"x"}, "aaax", []int32{0}},          // 1-byte pattern at the last byte
		{[]string{"x"}, "xaaa", []int32{0}},          // ... and at the first
		{[]string{"x", "yz"}, "yyyz", []int32{1}},    // restart after a failed prefix
		{[]string{"aab"}, "aaab", []int32{0}},        // overlapping prefix
		{[]string{"abcd", "bc"}, "abcx", []int32{1}}, // shorter pattern inside a failed longer one
		{[]string{"\x00\x01", "\xff"}, "\x00\x00\x01\xff", []int32{0, 1}},
		{[]string{"[", "{"}, "a{b", []int32{1}}, // '[' and '{' are not letters: no folding
		{[]string{"@"}, "`", nil},
		{[]string{""}, "a", []int32{0}},
		{[]string{"GET /", "HTTP/1.1"}, "get /index.html http/1.1\r\n", []int32{0, 1}},
		{[]string{"abab", "bab"}, "abababab", []int32{0, 1}},
	}
	for _, tt := range tests {
		var pats [][]byte
		for _, p := range tt.pats {
			pats = append(pats, []byte(p))
		}
		a := newACAuto(pats)
		if got := acFind(a, []byte(tt.hay)); !slices.Equal(got, tt.want) {
			t.Errorf("%q in %q: got %v, want %v", tt.pats, tt.hay, got, tt.want)
		}
		if got := naiveFind(pats, []byte(tt.hay)); !slices.Equal(got, tt.want) {
			t.Errorf("naive %q in %q: got %v, want %v (bad test)", tt.pats, tt.hay, got, tt.want)
		}
	}
}

// TestACAutoSparse forces sparse (non-dense) states: many long patterns
// over a budget, compared with the reference on random text.
func TestACAutoSparse(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alpha := "abcAB\x00\x01"
	word := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = alpha[rng.IntN(len(alpha))]
		}
		return b
	}
	var pats [][]byte
	for range 3000 {
		pats = append(pats, word(2+rng.IntN(30)))
	}
	defer func(b int) { denseBudget = b }(denseBudget)
	denseBudget = 1000
	a := newACAuto(pats)
	if states, dense, _ := a.size(); dense >= states {
		t.Fatalf("no sparse states (%d states, %d dense)", states, dense)
	}
	for range 300 {
		hay := word(rng.IntN(400))
		if got, want := acFind(a, hay), naiveFind(pats, hay); !slices.Equal(got, want) {
			t.Fatalf("in %q: got %v, want %v", hay, got, want)
		}
	}
}

func FuzzACAuto(f *testing.F) {
	f.Add([]byte("he\x00she\x00his\x00hers"), []byte("ushers"))
	f.Add([]byte("a\x00ab\x00bab\x00bc\x00bca\x00c\x00caa"), []byte("abccab"))
	f.Add([]byte("GET\x00Host: \x00x"), []byte("get / HTTP/1.1\r\nhost: X"))
	f.Fuzz(func(t *testing.T, pp, hay []byte) {
		pats := bytes.Split(pp, []byte{0})
		if len(pats) > 64 {
			pats = pats[:64]
		}
		a := newACAuto(pats)
		if got, want := acFind(a, hay), naiveFind(pats, hay); !slices.Equal(got, want) {
			t.Fatalf("%q in %q: got %v, want %v", pats, hay, got, want)
		}
	})
}

// benchPatterns returns the fast patterns of the TCP rules of set (as
// one pattern set) and the payloads of the benchmark traffic.
func benchPatterns(tb testing.TB, set *rules.Set) (pats [][]byte, payloads [][]byte) {
	e := &Engine{st: NewState()}
	var ps patSet
	for i, r := range set.Rules {
		if cr := e.compileRule(r); cr.fp != nil && ruleInGroup(r, gTCP) {
			ps.add(cr.fp, int32(i))
		}
	}
	dec := decode.NewDecoder()
	for _, fr := range makeTraffic(tb).data {
		var pk decode.Packet
		if dec.Decode(fr, &pk) == nil && len(pk.Payload) > 0 {
			payloads = append(payloads, slices.Clone(pk.Payload))
		}
	}
	return ps.pats, payloads
}

// BenchmarkScan compares the prefilter automaton with the library it
// replaced (github.com/coregx/ahocorasick, on lower-cased copies, as the
// engine used it) on all TCP fast patterns of a rule set (one automaton,
// the worst case: every rule on any port) over the benchmark payloads.
func BenchmarkScan(b *testing.B) {
	def, _ := rules.Parse(rules.DefaultRules, "default.rules", rules.Vars{})
	cases := []struct {
		name string
		set  func(b *testing.B) *rules.Set
	}{
		{"rules=default", func(*testing.B) *rules.Set { return def }},
		{"rules=et-100", func(b *testing.B) *rules.Set { return scaled(etLoadable(b), 100) }},
		{"rules=et-1000", func(b *testing.B) *rules.Set { return scaled(etLoadable(b), 1000) }},
		{"rules=et-open-all", func(b *testing.B) *rules.Set { return scaled(etLoadable(b), len(etLoadable(b))) }},
		{"rules=et-10000", func(b *testing.B) *rules.Set { return scaled(etLoadable(b), 10000) }},
	}
	for _, c := range cases {
		pats, payloads := benchPatterns(b, c.set(b))
		var nbytes int
		for _, p := range payloads {
			nbytes += len(p)
		}
		per := float64(nbytes) / float64(len(payloads))
		b.Run(c.name+"/impl=ac", func(b *testing.B) {
			a := newACAuto(pats)
			states, dense, classes := a.size()
			n := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				a.scan(payloads[i%len(payloads)], func(int32) { n++ })
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/per, "ns/byte")
			b.ReportMetric(float64(len(pats)), "patterns")
			b.ReportMetric(float64(states), "states")
			b.ReportMetric(float64(dense), "dense")
			b.ReportMetric(float64(classes), "classes")
		})
		b.Run(c.name+"/impl=coregx", func(b *testing.B) {
			if len(pats) == 0 {
				b.Skip("no patterns")
			}
			ac, err := ahocorasick.NewBuilder().AddPatterns(pats).Build()
			if err != nil {
				b.Fatal(err)
			}
			var low []byte
			n := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				low = lowerInto(low[:0], payloads[i%len(payloads)])
				n += len(ac.FindAllOverlapping(low))
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/per, "ns/byte")
		})
	}
}
