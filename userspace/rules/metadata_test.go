package rules

import (
	"reflect"
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
