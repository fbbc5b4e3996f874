package loader

import (
	"errors"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/xdpids/xdpids/internal/testenv"
)

// FuzzEgress: whatever frame the host sends, the egress program lets it
// go on (TCX_NEXT), without error, and records at most one SYN-ACK.
func FuzzEgress(f *testing.F) {
	testenv.RequireBPF(f)
	d := loadDatapath(f, fuzzConfig())
	f.Fuzz(func(t *testing.T, pkt []byte) {
		if len(pkt) <= ethLen {
			return // an skb test run rejects frames of an Ethernet header or less
		}
		pkt = pkt[:min(len(pkt), fuzzMaxLen)]
		before, err := d.Maps().SlotStats(0)
		if err != nil {
			t.Fatal(err)
		}
		ret, err := d.EgressProgram().Run(&ebpf.RunOptions{Data: pkt})
		if errors.Is(err, unix.EINVAL) {
			// The skb test run itself refuses some frames before the program
			// runs (6.18: an IPv4/IPv6 EtherType with a shorter header).
			return
		}
		if err != nil {
			t.Fatalf("run %d-byte frame: %v", len(pkt), err)
		}
		if ret != tcxNext {
			t.Fatalf("egress returned %d, want TCX_NEXT", int32(ret))
		}
		after, err := d.Maps().SlotStats(0)
		if err != nil {
			t.Fatal(err)
		}
		if n := after.SynAcksRecorded - before.SynAcksRecorded; n > 1 {
			t.Fatalf("one frame recorded %d SYN-ACKs", n)
		}
	})
}
