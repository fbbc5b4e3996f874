package offline_test

import (
	"net/netip"
	"testing"

	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/userspace/config"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/learn/model"
	"github.com/xdpids/xdpids/userspace/run/offline"
)

// TestModelRepliesUnseen: the embedded model names a SYN scan; where
// the pipeline is told the scanned host's replies are out of sight
// (LearnConfig.RepliesUnseen: the daemon's gate for a host's own
// addresses on an interface without egress samples) it judges none of
// those flows, and a gate naming another address changes nothing.
func TestModelRepliesUnseen(t *testing.T) {
	scan := testenv.RootPath(t, "testdata", "golden", "scan_syn.pcap")
	run := func(unseen func(uint32, netip.Addr) bool) int {
		cfg := config.Default()
		pc := cfg.PipelineConfig()
		pc.Learn.RepliesUnseen = unseen
		n := 0
		if _, err := offline.Run(offline.Options{Path: scan, Mode: offline.ModeUserspace, Pipeline: pc,
			Respond: cfg.ResponseConfig(), Model: model.Set{model.Default()},
			OnAlert: func(a *alert.Alert) {
				if a.Detector == "model" {
					n++
				}
			}}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := run(nil); n == 0 {
		t.Fatal("no model alert on the SYN scan")
	}
	if n := run(func(uint32, netip.Addr) bool { return true }); n != 0 {
		t.Errorf("%d model alerts with every reply out of sight", n)
	}
	other := netip.MustParseAddr("192.0.2.200")
	if n := run(func(_ uint32, a netip.Addr) bool { return a == other }); n == 0 {
		t.Error("no model alert with another address's replies out of sight")
	}
}
