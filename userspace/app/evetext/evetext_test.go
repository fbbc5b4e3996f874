package evetext

import "testing"

func TestFromBytes(t *testing.T) {
	for in, want := range map[string]string{
		"plain":      "plain",
		"caf\u00e9":  "caf\u00e9",
		"a\xffb\x80": `a\xffb\x80`,
		"":           "",
	} {
		if got := FromBytes([]byte(in)); got != want {
			t.Errorf("FromBytes(%q) = %q, want %q", in, got, want)
		}
	}
}
