package signature_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xdpids/xdpids/userspace/signature"
)

func TestExpandPaths(t *testing.T) {
	dir := t.TempDir()
	mk := func(rel, text string) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rd := filepath.Join(dir, "rules")
	b := mk("rules/b.rules", "")
	a := mk("rules/a.rules", "")
	mk("rules/classification.config", "")
	mk("rules/sub/deep.rules", "") // not recursive
	if err := os.Mkdir(filepath.Join(rd, "dir.rules"), 0o755); err != nil {
		t.Fatal(err)
	}
	local := mk("local.txt", "") // a file named on its own loads whatever its name
	mk("empty/readme", "")
	other := mk("other/x.rules", "")

	for _, tc := range []struct {
		name  string
		paths []string
		want  []string
		err   string
	}{
		{"file", []string{a}, []string{a}, ""},
		{"any file name", []string{local}, []string{local}, ""},
		{"directory: its *.rules sorted", []string{rd}, []string{a, b}, ""},
		{"directory with trailing slash", []string{rd + "/"}, []string{filepath.Join(rd, "a.rules"), filepath.Join(rd, "b.rules")}, ""},
		{"shell-expanded list", []string{b, a}, []string{b, a}, ""},
		{"quoted glob", []string{filepath.Join(rd, "*.rules")}, []string{a, b}, ""},
		{"glob over directories", []string{filepath.Join(dir, "o*")}, []string{other}, ""},
		{"duplicates once, first place kept", []string{b, rd, filepath.Join(rd, "*.rules")}, []string{b, a}, ""},
		{"several roots", []string{rd, other, local}, []string{a, b, other, local}, ""},
		{"missing file", []string{filepath.Join(dir, "nope.rules")}, nil, "nope.rules: no such file or directory"},
		{"glob matching nothing", []string{filepath.Join(dir, "*.nomatch")}, nil, "no file matches"},
		{"glob matching only a directory without rules", []string{filepath.Join(dir, "emp*")}, nil, "no rule file matches"},
		{"directory without rules", []string{filepath.Join(dir, "empty")}, nil, "holds no *.rules file"},
		{"bad pattern", []string{filepath.Join(dir, "[")}, nil, "bad pattern"},
		{"every bad path named, good ones kept", []string{a, filepath.Join(dir, "x1"), filepath.Join(dir, "x2")}, []string{a}, "x2: no such"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := signature.ExpandPaths(tc.paths)
			if tc.err == "" && err != nil {
				t.Fatalf("error %v", err)
			}
			if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestLoadDirectory: Load (run, read, signatures.files) takes a directory
// and a pattern as rules check does.
func TestLoadDirectory(t *testing.T) {
	dir := t.TempDir()
	for i, name := range []string{"a.rules", "b.rules", "notes.txt"} {
		text := `alert tcp any any -> any 80 (msg:"r"; content:"x"; sid:` + string(rune('1'+i)) + `;)` + "\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, files := range [][]string{{dir}, {filepath.Join(dir, "*.rules")}} {
		res, err := signature.Load(signature.Spec{Files: files})
		if err != nil {
			t.Fatal(err)
		}
		if res.Loaded != 2 {
			t.Errorf("%q: loaded %d rules, want 2 (a.rules and b.rules, not notes.txt)", files, res.Loaded)
		}
	}
	if _, err := signature.Load(signature.Spec{Files: []string{filepath.Join(dir, "missing")}}); err == nil {
		t.Error("missing path: no error")
	}
}
