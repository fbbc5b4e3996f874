package loader

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/xdpids/xdpids/internal/testenv"
)

// TestLiveLinks: the pinned maps of a loaded but unattached program, of an
// attached one (in another namespace), and of one that has exited; and a
// second program on another pin path is not counted for the first.
func TestLiveLinks(t *testing.T) {
	testenv.RequireBPF(t)
	pin := filepath.Join(bpffsRoot, "xdpids-live-"+testenv.UniqueID())
	pin2 := pin + "-other"
	t.Cleanup(func() { os.RemoveAll(pin); os.RemoveAll(pin2) })
	ns := testenv.NewNetns(t, "xlive-"+testenv.UniqueID())

	// count counts the live links, and checks they are XDP and egress in pairs.
	count := func(dir string) int {
		t.Helper()
		m, err := OpenPinned(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		ls, err := m.LiveLinks()
		if err != nil {
			t.Fatal(err)
		}
		egress := 0
		for _, l := range ls {
			if l.Egress {
				egress++
			}
		}
		if 2*egress != len(ls) {
			t.Errorf("live links %+v: want an egress link beside each XDP one", ls)
		}
		return len(ls)
	}
	dp, err := Load(Options{PinPath: pin})
	if err != nil {
		t.Fatal(err)
	}
	defer dp.Close()
	if n := count(pin); n != 0 {
		t.Errorf("loaded, not attached: %d live links, want 0", n)
	}
	other, err := Load(Options{PinPath: pin2})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := ns.Do(func() error { _, err := other.Attach("lo", ModeGeneric); return err }); err != nil {
		t.Fatal(err)
	}
	if n := count(pin); n != 0 {
		t.Errorf("a program on another pin path attached: %d live links for this one, want 0", n)
	}
	if err := ns.Do(func() error { _, err := dp.Attach("lo", ModeGeneric); return err }); err == nil {
		t.Fatal("second program attached over the first on lo")
	}
	other.Close()
	if err := ns.Do(func() error { _, err := dp.Attach("lo", ModeGeneric); return err }); err != nil {
		t.Fatal(err)
	}
	if n := count(pin); n != 2 {
		t.Errorf("attached in a namespace: %d live links, want 2 (XDP and tcx egress)", n)
	}
	dp.Close()
	if n := count(pin); n != 0 {
		t.Errorf("after the program closed: %d live links, want 0", n)
	}
}
