package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRulesCheck(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.rules")
	os.WriteFile(p, []byte(`alert tcp any any -> any 80 (msg:"ok"; content:"x"; sid:1;)
alert smtp any any -> any any (msg:"app"; content:"y"; sid:2;)
alert http any any -> any any (msg:"app"; http.uri; content:"y"; base64_decode; sid:3;)
alert tcp any any -> any any (msg:"bad"; content:"y"; within:0; sid:4;)
`), 0o644)
	vars := filepath.Join(dir, "vars.yaml")
	os.WriteFile(vars, []byte("address-groups:\n  HOME_NET: \"[10.0.0.0/8]\"\n"), 0o644)
	var out bytes.Buffer
	cmd := newRootCommand()
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"rules", "check", "--vars", vars, "--list", p})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"loaded 1 rules, skipped 3", "unsupported protocol smtp", "unsupported keyword base64_decode", "malformed rule", "a.rules:4: sid 4: malformed rule"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	// nothing loads, or a file is missing: exit 1 (an error)
	for _, args := range [][]string{{"rules", "check", filepath.Join(dir, "missing.rules")}, {"rules", "check", vars}} {
		cmd := newRootCommand()
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetArgs(args)
		if err := cmd.Execute(); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
