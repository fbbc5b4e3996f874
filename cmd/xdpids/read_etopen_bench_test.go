package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/xdpids/xdpids/internal/dpktbench"
	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/internal/testgen"
)

// BenchmarkReadETOpen times `xdpids read --mode userspace` (the built
// binary, EVE with app records to /dev/null) on the web/DNS/TLS mix of 6000
// connections with every loadable rule of ET Open
// (../shared/corpus/rules/et-open; the rules that cannot load are skipped
// as `read` always does), with the built-in rules only, and with no rules,
// against the seed article's dpkt loop on the same capture, in alternating
// rounds; medians of 3. Each configuration's start-up (rule loading) is
// timed apart on a one-connection mix and taken off, so packets/s is the
// packets' own rate; the start-up is reported too.
func BenchmarkReadETOpen(b *testing.B) {
	et := testenv.CorpusDir("rules/et-open")
	if et == "" {
		b.Skip("../shared/corpus/rules/et-open absent")
	}
	if why := dpktbench.Available(); why != "" {
		b.Skip(why)
	}
	bin := xdpidsBinary(b)
	dir := b.TempDir()
	mix, err := testgen.Mix(6000).WriteFile(dir)
	if err != nil {
		b.Fatal(err)
	}
	tiny, err := testgen.Mix(1).WriteFile(dir)
	if err != nil {
		b.Fatal(err)
	}
	noRules := filepath.Join(dir, "norules.yaml")
	if err := os.WriteFile(noRules, []byte("signatures:\n  builtin: false\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	configs := []struct {
		name string
		args []string
	}{
		{"none", []string{"--config", noRules}},
		{"builtin", nil},
		{"etopen", []string{"--config", noRules, "--rules", et}},
	}
	for range b.N {
		wall := make([][]time.Duration, len(configs))
		start := make([][]time.Duration, len(configs))
		var dpLoop []time.Duration
		packets := 0
		for range 3 {
			r, err := dpktbench.Run(dir, mix)
			if err != nil {
				b.Fatal(err)
			}
			dpLoop, packets = append(dpLoop, r.Loop), r.Packets
			for i, c := range configs {
				wall[i] = append(wall[i], timeReadArgs(b, bin, mix, c.args))
				start[i] = append(start[i], timeReadArgs(b, bin, tiny, c.args))
			}
		}
		dpPPS := float64(packets) / median(dpLoop).Seconds()
		pps := make([]float64, len(configs))
		for i, c := range configs {
			s := median(start[i])
			pps[i] = float64(packets) / (median(wall[i]) - s).Seconds()
			b.ReportMetric(pps[i], c.name+"-pkt/s")
			b.ReportMetric(s.Seconds(), c.name+"-startup-s")
		}
		b.ReportMetric(dpPPS, "dpkt-loop-pkt/s")
		b.ReportMetric(pps[2]/pps[0], "etopen-x-none")
		b.ReportMetric(pps[2]/dpPPS, "etopen-x-dpkt")
		b.ReportMetric(pps[1]/pps[0], "builtin-x-none")
		b.ReportMetric(float64(packets), "packets")
	}
}

func timeReadArgs(b *testing.B, bin, path string, extra []string) time.Duration {
	b.Helper()
	args := append([]string{"read", "-q", "--mode", "userspace", "--eve", "/dev/null"}, extra...)
	start := time.Now()
	if out, err := exec.Command(bin, append(args, path)...).CombinedOutput(); err != nil {
		b.Fatalf("xdpids %v: %v\n%s", args, err, out)
	}
	return time.Since(start)
}
