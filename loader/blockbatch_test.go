package loader

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/internal/testenv"
)

// TestBlockBatch: a batch of host and prefix bans, IPv4 and IPv6, lands
// in the lists with its TTL and origin, replaces what was there, and
// UnblockBatch takes it out again.
func TestBlockBatch(t *testing.T) {
	testenv.RequireBPF(t)
	d, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	m := d.Maps()
	var items []BlockItem
	for i := 0; i < 1000; i++ {
		p := netip.MustParsePrefix(fmt.Sprintf("198.18.%d.%d/32", i/256, i%256))
		items = append(items, BlockItem{Prefix: p, BlockOptions: BlockOptions{TTL: time.Hour, Origin: bpf.OriginCrowdSec, Comment: "cs"}})
	}
	for _, s := range []string{"203.0.113.0/24", "2001:db8::1/128", "2001:db8:1::/48"} {
		items = append(items, BlockItem{Prefix: netip.MustParsePrefix(s), BlockOptions: BlockOptions{Origin: bpf.OriginFleet}})
	}
	if err := m.Block(items[0].Prefix, BlockOptions{Origin: bpf.OriginManual}); err != nil {
		t.Fatal(err)
	}
	n, err := m.BlockBatch(items)
	if err != nil || n != len(items) {
		t.Fatalf("BlockBatch = %d, %v; want %d", n, err, len(items))
	}
	got, err := m.Blocks()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(items) {
		t.Fatalf("%d entries listed, want %d", len(got), len(items))
	}
	e, err := m.LookupBlock(items[0].Prefix)
	if err != nil || e.Origin != bpf.OriginCrowdSec || e.Comment != "cs" || e.ExpiresIn(KernelNow()) < 59*time.Minute {
		t.Errorf("replaced entry %+v, %v", e, err)
	}
	if e, err := m.LookupBlock(netip.MustParsePrefix("2001:db8:1::/48")); err != nil || e.Origin != bpf.OriginFleet || e.ExpiresNs != 0 {
		t.Errorf("IPv6 prefix entry %+v, %v", e, err)
	}
	var ps []netip.Prefix
	for _, it := range items {
		ps = append(ps, it.Prefix)
	}
	ps = append(ps, netip.MustParsePrefix("192.0.2.1/32")) // never listed: skipped
	if n, err := m.UnblockBatch(ps); err != nil || n != len(items) {
		t.Fatalf("UnblockBatch = %d, %v; want %d", n, err, len(items))
	}
	if got, _ := m.Blocks(); len(got) != 0 {
		t.Errorf("%d entries left", len(got))
	}
}
