package loader

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/internal/testenv"
)

// blockScanFixture fills a fresh datapath's block list with n host bans
// (IPv4 and IPv6, some challenge bans) and a few prefixes.
func blockScanFixture(t testing.TB, n int) *Maps {
	t.Helper()
	d, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	m := d.Maps()
	var items []BlockItem
	for i := range n {
		p := netip.MustParsePrefix(fmt.Sprintf("198.18.%d.%d/32", i/256, i%256))
		if i%3 == 0 {
			p = netip.MustParsePrefix(fmt.Sprintf("2001:db8::%x/128", i))
		}
		items = append(items, BlockItem{Prefix: p, BlockOptions: BlockOptions{TTL: time.Hour, Origin: bpf.OriginDetector, Level: uint32(i % 3), Challenge: i%5 == 0}})
	}
	for _, s := range []string{"203.0.113.0/24", "2001:db8:1::/48"} {
		items = append(items, BlockItem{Prefix: netip.MustParsePrefix(s), BlockOptions: BlockOptions{Origin: bpf.OriginManual}})
	}
	if _, err := m.BlockBatch(items); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestScanBlocks: the batched scan reads what Blocks reads, across
// several batch chunks, and reuses its buffers.
func TestScanBlocks(t *testing.T) {
	testenv.RequireBPF(t)
	m := blockScanFixture(t, 3000)
	want, err := m.Blocks()
	if err != nil {
		t.Fatal(err)
	}
	var s BlockScan
	for range 2 {
		if err := m.ScanBlocks(&s); err != nil {
			t.Fatal(err)
		}
		if len(s.Entries) != len(want) {
			t.Fatalf("scan read %d entries, Blocks %d", len(s.Entries), len(want))
		}
		got := map[netip.Prefix]BlockStamp{}
		for _, e := range s.Entries {
			got[e.Prefix] = e
		}
		for _, e := range want {
			g := got[e.Prefix]
			if g.CreatedNs != e.CreatedNs || g.ExpiresNs != e.ExpiresNs || g.Origin != e.Origin || g.Level != e.Level || g.Challenge != e.Challenge {
				t.Fatalf("%s: scan %+v, Blocks %+v", e.Prefix, g, e)
			}
		}
	}
	if !slices.ContainsFunc(s.Entries, func(e BlockStamp) bool { return e.Challenge }) {
		t.Error("no challenge entry read")
	}
}

// BenchmarkScanBlocks: one read of a 10 000-entry block list, batched
// (ScanBlocks) against the per-entry iteration (Blocks) in the same run.
func BenchmarkScanBlocks(b *testing.B) {
	if !testenv.HaveBPF() {
		b.Skip("needs root and BPF")
	}
	m := blockScanFixture(b, 10000)
	var iter time.Duration
	b.Run("Blocks", func(b *testing.B) {
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			if _, err := m.Blocks(); err != nil {
				b.Fatal(err)
			}
		}
		iter = time.Since(start) / time.Duration(b.N)
	})
	b.Run("ScanBlocks", func(b *testing.B) {
		b.ReportAllocs()
		var s BlockScan
		start := time.Now()
		for b.Loop() {
			if err := m.ScanBlocks(&s); err != nil {
				b.Fatal(err)
			}
		}
		if iter > 0 {
			b.ReportMetric(float64(iter)/float64(time.Since(start)/time.Duration(b.N)), "x-faster-than-Blocks")
		}
	})
}
