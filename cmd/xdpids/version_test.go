package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/xdpids/xdpids/internal/buildinfo"
)

func TestVersion(t *testing.T) {
	want := buildinfo.Get()
	for _, args := range [][]string{{"--version"}, {"version"}} {
		var out bytes.Buffer
		cmd := newRootCommand()
		cmd.SetOut(&out)
		cmd.SetArgs(args)
		if err := cmd.Execute(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		for _, s := range []string{want.Version, want.GoVersion, want.BPFObject, want.Commit} {
			if !strings.Contains(out.String(), s) {
				t.Errorf("%v: output lacks %q:\n%s", args, s, out.String())
			}
		}
	}
	var out bytes.Buffer
	cmd := newRootCommand()
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"version", "--json"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	var got buildinfo.Info
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || got != want {
		t.Fatalf("version --json = %+v (%v), want %+v", got, err, want)
	}
}

func TestLogFormat(t *testing.T) {
	defer slog.SetDefault(slog.Default())
	for _, tc := range []struct {
		format string
		check  func(string) bool
	}{
		{"json", func(s string) bool {
			var m map[string]any
			return json.Unmarshal([]byte(s), &m) == nil && m["msg"] == "probe" && m["k"] == "v" && m["level"] == "WARN"
		}},
		{"text", func(s string) bool { return strings.Contains(s, "level=WARN msg=probe k=v") }},
	} {
		var errb bytes.Buffer
		cmd := newRootCommand()
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&errb)
		cmd.SetArgs([]string{"--log-format", tc.format, "--log-level", "warn", "version"})
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		slog.Info("below the level")
		slog.Warn("probe", "k", "v")
		if line := strings.TrimSpace(errb.String()); !tc.check(line) {
			t.Errorf("--log-format %s logged %q", tc.format, line)
		}
	}
	cmd := newRootCommand()
	cmd.SetArgs([]string{"--log-format", "yaml", "version"})
	cmd.SetOut(&bytes.Buffer{})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), `bad --log-format "yaml"`) {
		t.Errorf("--log-format yaml: err = %v", err)
	}
}
