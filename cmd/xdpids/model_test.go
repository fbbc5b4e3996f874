package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xdpids/xdpids/internal/testenv"
)

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := newRootCommand()
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// features -> CSV -> train and learn -> read --model: the whole loop of
// the learned detectors through the CLI.
func TestModelCommands(t *testing.T) {
	dir := t.TempDir()
	scan := testenv.RootPath(t, "testdata", "golden", "scan_syn.pcap")
	benign := testenv.RootPath(t, "testdata", "golden", "benign.pcap")
	csvPath := filepath.Join(dir, "f.csv")
	if _, err := runCLI(t, "model", "features", "--label", "203.0.113.66=scan", "-o", csvPath, scan, benign); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if !strings.HasPrefix(lines[0], "capture,point,ts,flow_id,src,src_port,dst,dst_port,proto_num,proto,resp_port,") ||
		!strings.HasSuffix(lines[0], ",label") || len(lines) < 1000 {
		t.Fatalf("csv: %d lines, header %q", len(lines), lines[0])
	}
	rf := filepath.Join(dir, "rf.json")
	if _, err := runCLI(t, "model", "train", "--trees", "5", "-o", rf, csvPath); err != nil {
		t.Fatal(err)
	}
	iso := filepath.Join(dir, "iso.json")
	if _, err := runCLI(t, "model", "learn", "--trees", "20", "-o", iso, benign); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{rf, iso} {
		out, err := runCLI(t, "read", "-q", "--mode", "userspace", "--model", m, scan)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, `"xdpids.detector":"model"`) || !strings.Contains(out, `"xdpids.top_features"`) {
			t.Errorf("%s: no model alert on a SYN scan", filepath.Base(m))
		}
	}
	out, err := runCLI(t, "read", "-q", "--mode", "userspace", "--model", "none", scan)
	if err != nil || strings.Contains(out, `"xdpids.detector":"model"`) {
		t.Errorf("--model none: err %v, model alert present %v", err, strings.Contains(out, "model"))
	}
	bad := filepath.Join(dir, "bad.json")
	rfText, _ := os.ReadFile(rf)
	if err := os.WriteFile(bad, rfText[:len(rfText)/3], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = runCLI(t, "read", "-q", "--mode", "userspace", "--model", bad, scan)
	if err == nil || !strings.Contains(err.Error(), "bad model file") || strings.Contains(err.Error(), "\n") {
		t.Errorf("truncated model: error %v", err)
	}
}
