package loader

import (
	"net/netip"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/internal/testenv"
)

// TestXDPClockOverride drives the program's clock through SetReplayClock
// (what offline replay does with packet time): a SYN bucket of 1/s with
// burst 1 refills exactly when a second of program time has passed, and a
// ban expires at its expiry in program time, not wall time.
func TestXDPClockOverride(t *testing.T) {
	testenv.RequireBPF(t)
	d, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cfg := DefaultConfig()
	cfg.SYN = Bucket{Rate: 1, Burst: 1}
	if err := d.Maps().SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	run := func(at time.Duration, pkt []byte) uint32 {
		t.Helper()
		if err := d.SetReplayClock(uint64(at)); err != nil {
			t.Fatal(err)
		}
		ret, err := d.Program().Run(&ebpf.RunOptions{Data: pkt})
		if err != nil {
			t.Fatal(err)
		}
		return ret
	}
	pkt := tcp4(srcA, syn)
	steps := []struct {
		at   time.Duration
		want uint32
	}{
		{10 * time.Second, actPass},                      // first SYN: bucket created with burst-1 tokens
		{10*time.Second + time.Millisecond, actDrop},     // empty
		{10*time.Second + 999*time.Millisecond, actDrop}, // not yet a token
		{11*time.Second + time.Millisecond, actPass},     // one token after 1 s
		{11*time.Second + 2*time.Millisecond, actDrop},
	}
	for i, s := range steps {
		if got := run(s.at, pkt); got != s.want {
			t.Errorf("step %d at %s: verdict %d, want %d", i, s.at, got, s.want)
		}
	}

	// A ban with a 5 s TTL written at program time 100 s drops until 105 s.
	other := tcp4(srcB, ack)
	if err := d.Maps().Block(netip.PrefixFrom(srcB, 32), BlockOptions{TTL: 5 * time.Second, Now: uint64(100 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	if got := run(104*time.Second, other); got != actDrop {
		t.Errorf("ban at 104 s: verdict %d, want drop", got)
	}
	if got := run(105*time.Second+time.Millisecond, other); got != actPass {
		t.Errorf("ban at 105 s: verdict %d, want pass (expired)", got)
	}
	st, err := d.Maps().SlotStats(0)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Verdicts[bpf.VerdictDrop][bpf.ReasonBlock].Packets; got != 1 {
		t.Errorf("block drops %d, want 1", got)
	}
}
