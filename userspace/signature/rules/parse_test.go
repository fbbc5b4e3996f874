package rules

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func parseOne(t *testing.T, text string) *Rule {
	t.Helper()
	set, sk := Parse(text, "t.rules", Vars{})
	if len(sk) > 0 {
		t.Fatalf("skipped: %v", sk[0].Error())
	}
	if set.Len() != 1 {
		t.Fatalf("%d rules", set.Len())
	}
	return set.Rules[0]
}

func TestParseHeaderAndMeta(t *testing.T) {
	r := parseOne(t, `drop tcp $HOME_NET [1024:65535,!8080] <> ![10.0.0.0/8,192.0.2.1] $HTTP_PORTS (msg:"a \"quoted\"\; msg"; classtype:trojan-activity; sid:42; rev:7; gid:3; reference:url,example.org; metadata:created_at 2024_01_01; target:src_ip;)`)
	if r.Action != ActionDrop || r.Proto.L4 != 6 || !r.Bidir || r.SID != 42 || r.Rev != 7 || r.GID != 3 {
		t.Errorf("header/meta: %+v", r)
	}
	if r.Msg != `a "quoted"; msg` || r.Classtype != "trojan-activity" || r.Priority != 1 || r.Category != "A Network Trojan was detected" {
		t.Errorf("msg %q classtype %q prio %d", r.Msg, r.Classtype, r.Priority)
	}
	if r.Target != TargetSrc || len(r.References) != 1 || len(r.Metadata) != 1 {
		t.Errorf("target/reference/metadata: %+v", r)
	}
	for _, c := range []struct {
		a    string
		src  bool
		want bool
	}{{"192.168.1.1", true, true}, {"8.8.8.8", true, false}, {"10.1.1.1", false, false}, {"192.0.2.1", false, false}, {"8.8.8.8", false, true}, {"2001:db8::1", false, true}} {
		set := r.Dst
		if c.src {
			set = r.Src
		}
		if got := set.Contains(netip.MustParseAddr(c.a)); got != c.want {
			t.Errorf("%s in %v side: %v", c.a, c.src, got)
		}
	}
	for p, want := range map[uint16]bool{1024: true, 8080: false, 65535: true, 80: false} {
		if r.SrcPorts.Contains(p) != want {
			t.Errorf("src port %d: %v", p, !want)
		}
	}
	if !r.DstPorts.Contains(80) || r.DstPorts.Contains(81) {
		t.Error("$HTTP_PORTS")
	}
	// priority keyword wins over the classtype, wherever it is
	r = parseOne(t, `alert ip any any -> any any (priority:4; classtype:trojan-activity; sid:1;)`)
	if r.Priority != 4 {
		t.Errorf("priority %d", r.Priority)
	}
	r = parseOne(t, `alert ip any any -> any any (sid:1;)`)
	if r.Priority != 3 || r.GID != 1 {
		t.Errorf("defaults: prio %d gid %d", r.Priority, r.GID)
	}
	// sctp: IP protocol 132, with ports
	r = parseOne(t, `alert sctp any 2905 -> any [36412,38412] (sid:1;)`)
	if r.Proto.L4 != 132 || !r.SrcPorts.Contains(2905) || !r.DstPorts.Contains(38412) || r.DstPorts.Contains(80) {
		t.Errorf("sctp: %+v", r.Proto)
	}
}

func TestVars(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "vars.yaml")
	os.WriteFile(p, []byte("vars:\n  address-groups:\n    HOME_NET: \"[203.0.113.0/24]\"\n  port-groups:\n    HTTP_PORTS: \"[80,8080]\"\n"), 0o644)
	v, err := LoadVarsFile(p)
	if err != nil {
		t.Fatal(err)
	}
	set, sk := Parse(`alert tcp $EXTERNAL_NET any -> $HOME_NET $HTTP_PORTS (sid:1;)`, "t", v)
	if len(sk) > 0 {
		t.Fatal(sk)
	}
	r := set.Rules[0]
	if !r.Dst.Contains(netip.MustParseAddr("203.0.113.5")) || r.Src.Contains(netip.MustParseAddr("203.0.113.5")) || !r.DstPorts.Contains(8080) {
		t.Error("vars not applied")
	}
	if _, err := ParseVars([]byte("foo: 1")); err == nil {
		t.Error("vars without groups accepted")
	}
	// a variable loop is an error, not a hang
	loop := DefaultVars().With(Vars{Addr: map[string]string{"A": "$B", "B": "[$A]"}})
	if _, sk := Parse(`alert ip $A any -> any any (sid:1;)`, "t", loop); len(sk) != 1 {
		t.Errorf("variable loop: %v", sk)
	}
}

func TestSkippedReasons(t *testing.T) {
	text := strings.Join([]string{
		`alert smtp any any -> any any (msg:"x"; content:"a"; sid:1;)`,
		`alert tcp any any -> any any (msg:"x"; dns.query; content:"a"; tls.sni; content:"b"; sid:2;)`,
		`alert tcp any any -> any any (content:"a"; within:0; sid:3;)`,
		`alert tcp any any -> any any (content:"abc"; depth:2; sid:4;)`,
		`alert tcp any any -> any (sid:5;)`,
		`alert tcp any any -> any any (content:"a" sid:6;)`,
		`alert tcp any any -> any any (content:"a"; classtype:nope; sid:7;)`,
		`alert tcp any any -> any any (msg:"no sid";)`,
		`alert tcp any any -> any any (sid:9;)`,
		`alert tcp any any -> any any (sid:9;)`,
		`#alert tcp any any -> any any (sid:10;)`,
		`alert tcp any any -> any any (pcre:"/(?R)/"; \`,
		`  sid:11;)`,
	}, "\n")
	set, sk := Parse(text, "f.rules", Vars{})
	if set.Len() != 1 || set.Disabled != 1 {
		t.Fatalf("loaded %d disabled %d", set.Len(), set.Disabled)
	}
	want := map[uint32]string{
		1: "unsupported protocol smtp", 2: "unsupported mix of app-layer protocols", 3: "malformed rule", 4: "malformed rule",
		5: "malformed rule", 6: "malformed rule", 7: "unknown classtype", 0: "malformed rule", 9: "duplicate sid",
		11: "unsupported pcre recursion or conditional",
	}
	if len(sk) != len(want) {
		t.Errorf("%d skipped, want %d: %v", len(sk), len(want), sk)
	}
	for _, s := range sk {
		if w, ok := want[s.SID]; !ok || s.Reason != w {
			t.Errorf("sid %d: reason %q, want %q (%s)", s.SID, s.Reason, w, s.Error())
		}
		if !strings.HasPrefix(s.Error(), "f.rules:") {
			t.Errorf("no file:line in %q", s.Error())
		}
	}
	if sk[len(sk)-1].Line != 12 {
		t.Errorf("continued rule reported at line %d, want 12", sk[len(sk)-1].Line)
	}
}

func TestContentParsing(t *testing.T) {
	r := parseOne(t, `alert tcp any any -> any any (content:!"a|0d 0A|b\;\"\\"; nocase; offset:1; depth:10; content:"x"; distance:-2; within:5; fast_pattern; sid:1;)`)
	c := r.Matches[0].(*Content)
	if string(c.Pattern) != "a\r\nb;\"\\" || !c.Negated || !c.Nocase || c.Offset.N != 1 || c.Depth.N != 10 {
		t.Errorf("content %+v", c)
	}
	c2 := r.Matches[1].(*Content)
	if c2.Distance.N != -2 || c2.Within.N != 5 || !c2.FastPattern || !c2.Relative() {
		t.Errorf("content 2 %+v", c2)
	}
	r = parseOne(t, `alert tcp any any -> any any (content:"hdr"; byte_extract:2,0,len,relative,little; content:"x"; distance:len; within:1; byte_test:1,!&,0x80,len; byte_jump:len,0,relative,from_beginning,post_offset 2; sid:1;)`)
	if len(r.Matches) != 5 {
		t.Fatalf("%d matches", len(r.Matches))
	}
	if b := r.Matches[1].(*ByteOp); b.Name != "len" || b.Big || !b.Relative {
		t.Errorf("byte_extract %+v", b)
	}
	if b := r.Matches[3].(*ByteOp); b.Op != "&" || !b.Negate || b.Offset.Var != "len" {
		t.Errorf("byte_test %+v", b)
	}
}

func TestNumbersAndFlags(t *testing.T) {
	for s, x := range map[string][2]uint64{"5": {5, 6}, "<5": {4, 5}, ">5": {6, 5}, "!5": {4, 5}, "3<>7": {4, 7}, "3-7": {7, 8}, ">=2": {2, 1}, "<=2": {2, 3}} {
		n, err := parseNum(s, 100)
		if err != nil {
			t.Fatal(err)
		}
		if !n.Match(x[0]) || n.Match(x[1]) {
			t.Errorf("%s: %d should match, %d not", s, x[0], x[1])
		}
	}
	f, err := parseFlags("S+,12")
	if err != nil || f.Mode != '+' || f.Bits != 0x02 || f.Mask != 0xc0 {
		t.Errorf("flags %+v %v", f, err)
	}
}

func TestETReasonsAreStable(t *testing.T) {
	// a keyword the parser does not know is reported by name, so the
	// check command can group them
	_, sk := Parse(`alert tcp any any -> any any (flow:established; tls.sni; content:"x"; flowint:a,+,1; sid:1;)`, "t", Vars{})
	if len(sk) != 1 || sk[0].Reason != "unsupported keyword flowint" {
		t.Errorf("%v", sk)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		DefaultRules,
		`alert tcp $HOME_NET any -> ![1.2.3.0/24,!1.2.3.4] [80,8000:8100] (msg:"m"; content:"|00 01|a"; nocase; depth:4; pcre:"/x+/iR"; byte_test:2,>,1,0,relative; flowbits:set,a|b; threshold:type limit,track by_src,count 1,seconds 5; sid:1;)`,
		`drop udp any any <> any 53 (byte_jump:2,0,relative,string,dec,post_offset -1; isdataat:!5,relative; dsize:<10; sid:2; rev:1;)`,
		`alert icmp any any -> any any (itype:8<>20; icode:!0; ttl:1-5; fragbits:+M; ipopts:rr; tos:!0x10; sid:3;)`,
		"alert ip any any -> any any (msg:\"a\\;b\"; \\\n sid:4;)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		set, skipped := Parse(text, "fuzz.rules", Vars{})
		for _, s := range skipped {
			if s.File != "fuzz.rules" || s.Line < 1 || s.Reason == "" {
				t.Fatalf("skipped without file:line or reason: %+v", s)
			}
			if !strings.HasPrefix(s.Error(), "fuzz.rules:") {
				t.Fatalf("error without file:line: %q", s.Error())
			}
			if strings.Contains(s.Detail, "parser error") {
				t.Fatalf("parser panicked: %s", s.Error())
			}
		}
		for _, r := range set.Rules {
			if r.SID == 0 || r.Line < 1 {
				t.Fatalf("rule without sid or line: %+v", r)
			}
		}
	})
}
