package daemon

import (
	"net/netip"
	"testing"

	"github.com/xdpids/xdpids/userspace/config"
)

// TestRepliesUnseen: the model's gate covers the host's own addresses on
// the interfaces whose egress is not sampled, and nothing else.
func TestRepliesUnseen(t *testing.T) {
	own := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")}
	ifaces := []ReadyIface{{Name: "a", Ifindex: 2, Egress: true}, {Name: "b", Ifindex: 3, Egress: false}}
	cfg := config.Default()
	cfg.Sampling.Egress = true
	fn := repliesUnseen(cfg, ifaces, own)
	host, v6, other := own[0], own[1], netip.MustParseAddr("198.51.100.9")
	for _, c := range []struct {
		ifindex uint32
		resp    netip.Addr
		want    bool
	}{{2, host, false}, {3, host, true}, {3, v6, true}, {3, other, false}, {3, netip.AddrFrom16(host.As16()), true}} {
		if got := fn(c.ifindex, c.resp); got != c.want {
			t.Errorf("ifindex %d resp %v: %v, want %v", c.ifindex, c.resp, got, c.want)
		}
	}
	if fn := repliesUnseen(cfg, ifaces[:1], own); fn != nil {
		t.Error("a gate where every egress is sampled")
	}
	cfg.Sampling.Egress = false
	if fn := repliesUnseen(cfg, ifaces[:1], own); fn == nil || !fn(2, host) {
		t.Error("sampling.egress off: no gate on the host's address")
	}
}
