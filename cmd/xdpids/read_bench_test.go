package main

import (
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/xdpids/xdpids/internal/dpktbench"
	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/internal/testgen"
)

// BenchmarkReadVsDpkt times `xdpids read` as a user runs it (the built
// binary, its default configuration with the built-in rules, EVE to
// /dev/null), in userspace mode and in its default XDP replay, against the
// seed article's Python dpkt loop (parse each frame, count TCP) on the same
// capture, in alternating rounds; medians of 3. Both are whole processes,
// start-up included (dpkt's loop alone is reported too). Captures: the
// corpus's spoofed SYN flood (every packet a new flow) and a generated
// web/DNS/TLS mix of 6000 connections (~200 000 packets).
func BenchmarkReadVsDpkt(b *testing.B) {
	if why := dpktbench.Available(); why != "" {
		b.Skip(why)
	}
	bin := xdpidsBinary(b)
	dir := b.TempDir()
	mix, err := testgen.Mix(6000).WriteFile(dir)
	if err != nil {
		b.Fatal(err)
	}
	caps := []struct{ name, path string }{{"mix6000", mix}}
	if c := testenv.CorpusDir("attack-pcaps"); c != "" {
		caps = append([]struct{ name, path string }{{"synflood_spoofed", filepath.Join(c, "floods", "pkt.TCP.synflood.spoofed.pcap")}}, caps...)
	}
	bpfOK := testenv.HaveBPF()
	for _, c := range caps {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				var dpWall, dpLoop, us, xdp []time.Duration
				for range 3 {
					r, err := dpktbench.Run(dir, c.path)
					if err != nil {
						b.Fatal(err)
					}
					dpWall, dpLoop = append(dpWall, r.Wall), append(dpLoop, r.Loop)
					us = append(us, timeRead(b, bin, c.path, "userspace"))
					if bpfOK {
						xdp = append(xdp, timeRead(b, bin, c.path, "xdp"))
					}
				}
				dw, dl, u := median(dpWall), median(dpLoop), median(us)
				b.ReportMetric(dw.Seconds(), "dpkt-s")
				b.ReportMetric(dl.Seconds(), "dpkt-loop-s")
				b.ReportMetric(u.Seconds(), "userspace-s")
				b.ReportMetric(dw.Seconds()/u.Seconds(), "userspace-x-dpkt")
				if bpfOK {
					x := median(xdp)
					b.ReportMetric(x.Seconds(), "xdp-s")
					b.ReportMetric(dw.Seconds()/x.Seconds(), "xdp-x-dpkt")
				}
			}
		})
	}
}

func timeRead(b *testing.B, bin, path, mode string) time.Duration {
	b.Helper()
	start := time.Now()
	if out, err := exec.Command(bin, "read", "-q", "--mode", mode, "--eve", "/dev/null", path).CombinedOutput(); err != nil {
		b.Fatalf("xdpids read --mode %s: %v\n%s", mode, err, out)
	}
	return time.Since(start)
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
