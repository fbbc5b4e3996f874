package rules

import (
	"reflect"
	"strings"
	"testing"
)

func TestMetadataMap(t *testing.T) {
	set, sk := Parse(`alert tcp any any -> any any (msg:"m"; metadata: affected_product Windows, attack_target Client_Endpoint, tag x; metadata:tag y, created_at 2010_09_23, lonely; sid:1;)`, "f.rules", Vars{})
	if len(sk) != 0 || set.Len() != 1 {
		t.Fatalf("parse: %v", sk)
	}
	got := set.Rules[0].MetadataMap()
	want := map[string][]string{
		"affected_product": {"Windows"}, "attack_target": {"Client_Endpoint"},
		"tag": {"x", "y"}, "created_at": {"2010_09_23"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if m := (&Rule{}).MetadataMap(); m != nil {
		t.Fatalf("no metadata: got %v", m)
	}
}

func FuzzMetadataMap(f *testing.F) {
	for _, s := range []string{"affected_product Windows, tag x", " a  b ,, c", "k v,k w", "lonely", ",", "created_at 2010_09_23 , updated_at 2019_07_26"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, opt string) {
		m := (&Rule{Metadata: []string{opt, opt}}).MetadataMap()
		for k, vs := range m {
			if k == "" || strings.ContainsAny(k, " ,") || len(vs)%2 != 0 {
				t.Fatalf("key %q values %q", k, vs)
			}
			for _, v := range vs {
				if v == "" || v != strings.TrimSpace(v) || strings.Contains(v, ",") {
					t.Fatalf("value %q of %q", v, k)
				}
			}
		}
	})
}
