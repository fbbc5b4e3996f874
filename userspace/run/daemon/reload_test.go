package daemon

import (
	"slices"
	"testing"

	"github.com/xdpids/xdpids/userspace/config"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/run/pipeline"
)

// TestRestartNeeded: a reload names the changed settings it cannot apply,
// and only those.
func TestRestartNeeded(t *testing.T) {
	load := func(text string) *config.File {
		t.Helper()
		f, err := config.Parse([]byte(text), "test.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	boot := load("pipeline:\n  workers: 2\n")
	pipe := pipeline.New(boot.PipelineConfig(), func(*alert.Alert) {})
	for _, c := range []struct {
		yaml string
		want []string
	}{
		{"pipeline:\n  workers: 2\n", nil},
		{"pipeline:\n  workers: 2\nmode: monitor\ndetectors:\n  scan_vertical_ports: 5\nsignatures:\n  stream_depth: 4096\n  drop_ban_ttl: 1m\neve:\n  flows: false\n  payload: true\nresponse:\n  dry_run: true\n", nil},
		{"pipeline:\n  workers: 3\n  queue_len: 16\nxdp_mode: generic\npin_path: /sys/fs/bpf/other\n",
			[]string{"pin_path", "xdp_mode", "pipeline.workers", "pipeline.queue_len"}},
		{"pipeline:\n  workers: 2\ninterfaces: [eth9]\nmetrics_addr: 127.0.0.1:1\ndetectors:\n  max_keys: 5000\n",
			[]string{"interfaces", "metrics_addr", "detectors.max_keys"}},
		{"pipeline:\n  workers: 2\nfleet:\n  nats:\n    url: embedded\n", []string{"fleet"}},
		{"pipeline:\n  workers: 2\ncrowdsec:\n  lapi_url: http://127.0.0.1:8080\n  api_key_file: /k\n  poll_interval: 5s\n",
			[]string{"crowdsec.lapi_url", "crowdsec.api_key_file", "crowdsec.poll_interval"}},
	} {
		if got := restartNeeded(boot, load(c.yaml), pipe); !slices.Equal(got, c.want) {
			t.Errorf("%q: restart needed %v, want %v", c.yaml, got, c.want)
		}
	}
}
