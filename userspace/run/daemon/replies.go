package daemon

import (
	"log/slog"
	"net"
	"net/netip"

	"github.com/xdpids/xdpids/userspace/config"
	"github.com/xdpids/xdpids/userspace/run/pipeline"
)

// repliesUnseen is the learned model's gate for what the daemon cannot
// see: XDP sees an interface's ingress only, and the host's own replies
// leave on its egress, which only the egress samples show
// (sampling.egress; a kernel without tcx has none). Without them every
// connection to the host looks unanswered, a scan's look, so the model
// does not judge flows to the host's own addresses (own, read now and at
// each reload) on such interfaces. Forwarded flows, whose replies come
// in on another attached interface, it still judges. Nil when every
// interface's egress is sampled.
func repliesUnseen(cfg *config.File, ifaces []ReadyIface, own []netip.Addr) func(uint32, netip.Addr) bool {
	blind := map[uint32]bool{}
	for _, r := range unsampledEgress(cfg, ifaces) {
		blind[uint32(r.Ifindex)] = true
	}
	if len(blind) == 0 {
		return nil
	}
	local := map[netip.Addr]bool{}
	for _, a := range own {
		local[a.Unmap().WithZone("")] = true
	}
	return func(ifindex uint32, resp netip.Addr) bool {
		return blind[ifindex] && local[resp.Unmap().WithZone("")]
	}
}

// ownAddrs are the host's addresses (an error reads as none: the model
// then judges every flow).
func ownAddrs() []netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		slog.Warn("list host addresses: the model judges flows to them without their replies", "err", err)
		return nil
	}
	var out []netip.Addr
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out
}

// gateModel sets pc's RepliesUnseen for cfg and says, when a model is
// on, where it goes without replies.
func gateModel(pc *pipeline.Config, cfg *config.File, ifaces []ReadyIface) {
	fn := repliesUnseen(cfg, ifaces, ownAddrs())
	pc.Learn.RepliesUnseen = fn
	if fn == nil || cfg.Model == "none" || cfg.Model == "off" {
		return
	}
	for _, r := range unsampledEgress(cfg, ifaces) {
		slog.Warn("learned model: the host's own replies are not seen here (sampling.egress off, or no tcx), so it does not judge flows to the host's addresses",
			"iface", r.Name)
	}
}

// unsampledEgress are the interfaces whose egress is not sampled:
// sampling.egress off, or no egress program (no tcx).
func unsampledEgress(cfg *config.File, ifaces []ReadyIface) []ReadyIface {
	var out []ReadyIface
	for _, r := range ifaces {
		if !cfg.Sampling.Egress || !r.Egress {
			out = append(out, r)
		}
	}
	return out
}
