package testenv

import (
	"net"
	"testing"

	"github.com/cilium/ebpf/link"

	"github.com/xdpids/xdpids/bpf"
)

// AttachBarePass attaches a bare XDP_PASS program (driver mode) to ifname
// in namespace n until the test ends. XDP_TX on a veth reaches the peer
// only when the peer runs XDP too, so tests of a program that answers with
// XDP_TX (SYN cookies) put one on the client's end.
func (n *Netns) AttachBarePass(t testing.TB, ifname string) {
	t.Helper()
	var base bpf.BaselineObjects
	if err := bpf.LoadBaselineObjects(&base, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { base.Close() })
	if err := n.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		lk, err := link.AttachXDP(link.XDPOptions{Program: base.BarePass, Interface: ifi.Index, Flags: link.XDPDriverMode})
		if err != nil {
			return err
		}
		t.Cleanup(func() { lk.Close() })
		return nil
	}); err != nil {
		t.Fatalf("attach XDP_PASS to %s in %s: %v", ifname, n.Name, err)
	}
}
