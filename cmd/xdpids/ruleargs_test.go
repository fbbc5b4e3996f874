package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ruleDir writes a directory of two rule files (one rule each) and a
// non-rule file beside them.
func ruleDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rules")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"a.rules":               `alert tcp any any -> any 8080 (msg:"a"; content:"alpha"; sid:9200001;)`,
		"b.rules":               `alert tcp any any -> any 8080 (msg:"b"; content:"bravo"; sid:9200002;)`,
		"classification.config": "config classification: x,y,1\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestRulesCheckPaths: rules check takes a directory, a quoted glob and a
// shell-expanded list alike.
func TestRulesCheckPaths(t *testing.T) {
	dir := ruleDir(t)
	a, b := filepath.Join(dir, "a.rules"), filepath.Join(dir, "b.rules")
	for _, args := range [][]string{{dir}, {filepath.Join(dir, "*.rules")}, {a, b}, {dir, a}} {
		var out bytes.Buffer
		cmd := newRootCommand()
		cmd.SetOut(&out)
		cmd.SetArgs(append([]string{"rules", "check"}, args...))
		if err := cmd.Execute(); err != nil {
			t.Fatalf("rules check %q: %v\n%s", args, err, out.String())
		}
		if !strings.Contains(out.String(), "loaded 2 rules, skipped 0") {
			t.Errorf("rules check %q: %s", args, out.String())
		}
	}
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "*.nomatch"), "no file matches"},
		{t.TempDir(), "holds no *.rules file"},
	} {
		cmd := newRootCommand()
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetArgs([]string{"rules", "check", tc.path})
		if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("rules check %s: error %v, want %q", tc.path, err, tc.want)
		}
	}
}

// TestReadRulePaths: read's --rules takes a directory, a quoted glob, and
// the files a shell expands from --rules DIR/*.rules (the capture anywhere
// among the arguments); both rules alert.
func TestReadRulePaths(t *testing.T) {
	dir := ruleDir(t)
	pcap := writeCapture(t, append(append([]seg(nil), handshake...),
		seg{true, "PA", 101, 501, "alpha bravo"}))
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(cfg, []byte("signatures: {builtin: false}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, b := filepath.Join(dir, "a.rules"), filepath.Join(dir, "b.rules")
	for _, args := range [][]string{
		{pcap, "--rules", dir},
		{pcap, "--rules", filepath.Join(dir, "*.rules")},
		{"--rules", a, b, pcap}, // what the shell makes of --rules DIR/*.rules
		{pcap, "--rules", a, b},
	} {
		var out, errb bytes.Buffer
		cmd := newRootCommand()
		cmd.SetOut(&out)
		cmd.SetErr(&errb)
		cmd.SetArgs(append([]string{"read", "--mode", "userspace", "--config", cfg}, args...))
		if err := cmd.Execute(); err != nil {
			t.Fatalf("read %q: %v\n%s", args, err, errb.String())
		}
		for _, sid := range []string{`"signature_id":9200001`, `"signature_id":9200002`} {
			if !strings.Contains(out.String(), sid) {
				t.Errorf("read %q: no alert %s\n%s", args, sid, errb.String())
			}
		}
	}
	// Without --rules a second argument is an error, and so is a stray
	// non-rule argument with it.
	for _, args := range [][]string{{pcap, a}, {"--rules", a, pcap, pcap}} {
		cmd := newRootCommand()
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		cmd.SetArgs(append([]string{"read", "--mode", "userspace", "--config", cfg}, args...))
		if err := cmd.Execute(); err == nil {
			t.Errorf("read %q: no error", args)
		}
	}
}

// TestRunRuleArgs: run takes the shell's expansion after --rules and
// nothing else positional.
func TestRunRuleArgs(t *testing.T) {
	cmd := newRootCommand()
	run, _, err := cmd.Find([]string{"run"})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.ParseFlags([]string{"--rules", "a.rules", "b.rules", "c.rules"}); err != nil {
		t.Fatal(err)
	}
	if err := run.Args(run, run.Flags().Args()); err != nil {
		t.Errorf("run --rules a.rules b.rules c.rules: %v", err)
	}
	got, rest := shellRuleArgs(run, []string{"a.rules"}, run.Flags().Args())
	if strings.Join(got, " ") != "a.rules b.rules c.rules" || len(rest) != 0 {
		t.Errorf("rules %q, rest %q", got, rest)
	}
	run2, _, _ := newRootCommand().Find([]string{"run"})
	_ = run2.ParseFlags([]string{"-i", "lo", "eth0"})
	if err := run2.Args(run2, run2.Flags().Args()); err == nil {
		t.Error("run -i lo eth0: no error for the stray argument")
	}
}
