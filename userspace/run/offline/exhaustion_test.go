package offline_test

import (
	"testing"

	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/internal/testgen"
	"github.com/xdpids/xdpids/userspace/run/offline"
)

// TestExhaustion reads the state exhaustion captures (issue 9) with the
// built-in default configuration, as `xdpids read` does, in both modes:
// the real attack inside the forged load is detected and its source
// banned, and the forged sources raise nothing. The captures are
// generated into a temp dir (7 MB each: not committed).
func TestExhaustion(t *testing.T) {
	for _, tc := range []struct {
		name string
		want []goldenAlert
	}{
		{"exhaust_ack_scan", []goldenAlert{{8100001, genAttacker, "blocked"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := testgen.LookupExhaustion(tc.name)
			if !ok {
				t.Fatalf("testgen has no capture %s", tc.name)
			}
			path, err := c.WriteFile(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			frames, err := c.Frames()
			if err != nil {
				t.Fatal(err)
			}
			for _, mode := range []offline.Mode{offline.ModeUserspace, offline.ModeXDP} {
				t.Run(string(mode), func(t *testing.T) {
					if mode == offline.ModeXDP {
						testenv.RequireBPF(t)
					}
					sum, alerts, _, err := runGolden(t, path, mode)
					if err != nil {
						t.Fatalf("offline.Run: %v", err)
					}
					checkGoldenSummary(t, sum, mode, len(frames))
					checkGoldenAlerts(t, alerts, tc.want)
				})
			}
		})
	}
}
