package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/userspace/learn/xdptree"
)

// model xdp train -> file -> model xdp eval: the in-kernel model's loop
// through the CLI, on the generated brute force and benign captures; a
// truncated model file is one error.
func TestModelXDPCommands(t *testing.T) {
	dir := t.TempDir()
	labels := testenv.RootPath(t, "testdata", "learn-golden.labels")
	caps := []string{testenv.RootPath(t, "testdata", "golden", "brute_ssh.pcap"),
		testenv.RootPath(t, "testdata", "golden", "app_ssh.pcap"), testenv.RootPath(t, "testdata", "golden", "benign.pcap")}
	out := filepath.Join(dir, "xdp.json")
	args := append([]string{"model", "xdp", "train", "--labels", labels, "--trees", "3", "-o", out}, caps...)
	if s, err := runCLI(t, args...); err != nil || !strings.Contains(s, "trained 3 trees") {
		t.Fatalf("train: %v %q", err, s)
	}
	m, err := xdptree.Load(out)
	if err != nil || m.Packets != 8 || m.Action != xdptree.ActionAlert {
		t.Fatalf("model file: %v %+v", err, m)
	}
	s, err := runCLI(t, append([]string{"model", "xdp", "eval", "--labels", labels, "--model", out}, caps...)...)
	if err != nil || !strings.Contains(s, "bruteforce") || !strings.Contains(s, "reached packet 8") {
		t.Fatalf("eval: %v\n%s", err, s)
	}
	b, _ := os.ReadFile(out)
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = runCLI(t, append([]string{"model", "xdp", "eval", "--labels", labels, "--model", bad}, caps...)...)
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "bad.json") {
		t.Fatalf("truncated model: %v", err)
	}
}
