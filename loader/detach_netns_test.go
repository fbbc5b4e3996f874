package loader

import (
	"net"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/xdpids/xdpids/internal/testenv"
)

// egressOn counts the xdpids egress programs on ifname's tcx egress in ns.
func egressOn(t *testing.T, ns *testenv.Netns, ifname string) int {
	t.Helper()
	n := 0
	if err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		res, err := link.QueryPrograms(link.QueryOptions{Target: ifi.Index, Attach: ebpf.AttachTCXEgress})
		if err != nil {
			return err
		}
		for _, p := range res.Programs {
			if programName(p.ID) == EgressProgramName {
				n++
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDetachStaysInItsNamespace: two namespaces each have an interface of
// the same ifindex, and an xdpids program attached there; `detach` run in
// one removes only that namespace's (an ifindex means nothing across
// namespaces), and the datapath whose link was detached notices (Lost).
func TestDetachStaysInItsNamespace(t *testing.T) {
	testenv.RequireBPF(t)
	id := testenv.UniqueID()
	nsA, nsB := testenv.NewNetns(t, "dta"+id), testenv.NewNetns(t, "dtb"+id)
	for _, ns := range []*testenv.Netns{nsA, nsB} {
		// created inside the namespace: both get the same ifindex
		ns.Run(t, "ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1")
		ns.Run(t, "ip", "link", "set", "v0", "up")
		ns.Run(t, "ip", "link", "set", "v1", "up")
	}
	attach := func(ns *testenv.Netns) *Datapath {
		t.Helper()
		d, err := Load(Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		if err := ns.Do(func() error { _, err := d.Attach("v0", ModeGeneric); return err }); err != nil {
			t.Fatal(err)
		}
		return d
	}
	a, b := attach(nsA), attach(nsB)
	if a.Attachments()[0].Ifindex != b.Attachments()[0].Ifindex {
		t.Skipf("the two interfaces got ifindex %d and %d: nothing to tell apart", a.Attachments()[0].Ifindex, b.Attachments()[0].Ifindex)
	}
	var cleaned []string
	if err := nsA.Do(func() error {
		var err error
		cleaned, err = DetachOrphans("")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(cleaned) != 1 || cleaned[0] != "v0" {
		t.Errorf("detach in A cleaned %v, want [v0]", cleaned)
	}
	var inB []Attached
	if err := nsB.Do(func() error {
		var err error
		inB, err = FindAttached("v0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(inB) != 1 {
		t.Errorf("B's program was detached from A: %+v", inB)
	}
	// The egress programs: A's went with its XDP program, B's stays.
	if n := egressOn(t, nsA, "v0"); n != 0 {
		t.Errorf("%d xdpids egress programs left on A's v0 after detach, want 0", n)
	}
	if n := egressOn(t, nsB, "v0"); n != 1 {
		t.Errorf("%d xdpids egress programs on B's v0, want 1", n)
	}
	// The daemon that held A's link notices; B's does not.
	if lost := a.Lost(); len(lost) != 1 || lost[0] != "v0" {
		t.Errorf("A's datapath lost %v, want [v0]", lost)
	}
	if lost := b.Lost(); len(lost) != 0 {
		t.Errorf("B's datapath lost %v, want none", lost)
	}
}
