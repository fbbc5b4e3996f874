package main

import (
	"os"
	"path/filepath"
	"strconv"
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

// TestReadXDPModelAlerts: `read --xdp-model` runs the tree in the XDP
// pass, and its malicious verdicts are EVE alerts (sid 8600003, detector
// model, engine xdp, the model file's class name and threshold), at most
// one per source per 60 s of packet time; with the drop action they are
// "blocked".
func TestReadXDPModelAlerts(t *testing.T) {
	testenv.RequireBPF(t)
	dir := t.TempDir()
	labels := testenv.RootPath(t, "testdata", "learn-golden.labels")
	brute := testenv.RootPath(t, "testdata", "golden", "brute_ssh.pcap")
	caps := []string{brute, testenv.RootPath(t, "testdata", "golden", "app_ssh.pcap"), testenv.RootPath(t, "testdata", "golden", "benign.pcap")}
	for _, action := range []string{xdptree.ActionAlert, xdptree.ActionDrop} {
		model := filepath.Join(dir, action+".json")
		args := append([]string{"model", "xdp", "train", "--labels", labels, "--trees", "3", "--action", action, "-o", model}, caps...)
		if _, err := runCLI(t, args...); err != nil {
			t.Fatalf("train: %v", err)
		}
		m, err := xdptree.Load(model)
		if err != nil {
			t.Fatal(err)
		}
		eve := filepath.Join(dir, action+".eve.json")
		if _, err := runCLI(t, "read", "-q", "--mode", "xdp", "--xdp-model", model, "--eve", eve, brute); err != nil {
			t.Fatalf("read: %v", err)
		}
		got := readModelEVE(t, eve)
		n := 0
		srcs := map[string]int{}
		want := "allowed"
		if action == xdptree.ActionDrop {
			want = "blocked"
		}
		for _, a := range got {
			if a.Alert.SignatureID != 8600003 {
				continue
			}
			n++
			srcs[a.SrcIP]++
			v := a.vars()
			if v["xdpids.detector"] != "model" || v["xdpids.engine"] != "xdp" || v["xdpids.class"] != "bruteforce" ||
				v["xdpids.threshold"] != strconv.FormatFloat(m.Threshold, 'f', 4, 64) || a.Alert.Action != want || a.Proto != "TCP" {
				t.Errorf("%s: alert %+v %v: want detector model, engine xdp, class bruteforce, threshold %v, %s", action, a, v, m.Threshold, want)
			}
		}
		if n == 0 {
			t.Fatalf("%s: no in-kernel model alert in %d alerts", action, len(got))
		}
		for src, c := range srcs {
			if c > 1 { // the capture lasts less than the 60 s gate
				t.Errorf("%s: %d alerts on %s, want one (gated)", action, c, src)
			}
		}
	}
}
