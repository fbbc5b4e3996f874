package config

import (
	"os"
	"strings"
	"testing"
)

// TestRejectsSenselessValues: values that parse but would break the daemon
// or ban everyone are refused, with the YAML key and its line.
func TestRejectsSenselessValues(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"huge queue_len", "pipeline:\n  queue_len: 1000000000\n", "x.yaml:2: pipeline.queue_len: 1000000000 is out of range"},
		{"huge workers", "pipeline:\n  workers: 100000\n", "x.yaml:2: pipeline.workers: 100000 is out of range"},
		{"negative workers", "pipeline:\n  workers: -1\n", "x.yaml:2: pipeline.workers: -1 is out of range"},
		{"huge flows_per_worker", "pipeline:\n  flows_per_worker: 99999999999\n", "x.yaml:2: pipeline.flows_per_worker: 99999999999 is out of range"},
		{"memory over the bound", "pipeline:\n  workers: 64\n  queue_len: 1048576\n", "x.yaml:1: pipeline: workers, queue_len and flows_per_worker need about"},
		{"sweep 1ns", "sweep_interval: 1ns\n", "x.yaml:1: sweep_interval: 1ns is too short"},
		{"vertical ports 0", "detectors:\n  scan_vertical_ports: 0\n", "x.yaml:2: detectors.scan_vertical_ports: 0 would flag every client"},
		{"horizontal hosts 1", "detectors:\n  scan_horizontal_hosts: 1\n", "x.yaml:2: detectors.scan_horizontal_hosts: 1 would flag every client"},
		{"brute 0", "detectors:\n  brute_force_connections: 0\n", "x.yaml:2: detectors.brute_force_connections: 0 would flag every packet"},
		{"negative ban ttl", "detectors:\n  scan_ban_ttl: -5m\n", "x.yaml:2: detectors.scan_ban_ttl: -5m0s: a duration must not be negative"},
		{"negative forget_after", "response:\n  forget_after: -1h\n", "x.yaml:2: response.forget_after: -1h0m0s: a duration must not be negative"},
		{"negative escalation", "response:\n  escalation: [10m, -1h]\n", "x.yaml:2: response.escalation: entry 2: -1h0m0s"},
		{"negative drop_ban_ttl", "signatures:\n  drop_ban_ttl: -1s\n", "x.yaml:2: signatures.drop_ban_ttl: -1s"},
		{"ipv6 prefix 999", "response:\n  ipv6_prefix_len: 999\n", "x.yaml:2: response.ipv6_prefix_len: 999 is not an IPv6 prefix length"},
		{"ipv6 prefix 0", "response:\n  ipv6_prefix_len: 0\n", "x.yaml:2: response.ipv6_prefix_len: 0 is not an IPv6 prefix length"},
		{"ratio", "detectors:\n  syn_completed_ratio: 3\n", "x.yaml:2: detectors.syn_completed_ratio: 3 is not a ratio"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "x.yaml")
			if err == nil {
				t.Fatalf("accepted %q", tc.yaml)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to start %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "time.Duration") || strings.Contains(err.Error(), "int") && !strings.Contains(tc.want, "int") {
				t.Fatalf("error names a Go type: %q", err)
			}
		})
	}
}

func TestPipelineBytesDefault(t *testing.T) {
	f := Default()
	f.Pipeline.Workers = 2
	got := f.PipelineBytes()
	// Two workers: 8192 slots of a whole sample and 262144 flows each.
	if got < 100<<20 || got > 400<<20 {
		t.Fatalf("default pipeline with 2 workers estimated at %d bytes", got)
	}
}

// TestTrustKeys: syn_cookies.always reaches the program's configuration
// and response.forgeable_ban_share is a share.
func TestTrustKeys(t *testing.T) {
	f, err := Parse([]byte("syn_cookies:\n  always: true\nresponse:\n  forgeable_ban_share: 0.5\n"), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !f.DatapathConfig().CookieAlways || f.ResponseConfig().ForgeableShare != 0.5 {
		t.Fatalf("always %v share %v", f.DatapathConfig().CookieAlways, f.ResponseConfig().ForgeableShare)
	}
	d := Default()
	if d.DatapathConfig().CookieAlways || d.ResponseConfig().ForgeableShare != 0.2 {
		t.Fatalf("defaults: always %v share %v", d.DatapathConfig().CookieAlways, d.ResponseConfig().ForgeableShare)
	}
	_, err = Parse([]byte("response:\n  forgeable_ban_share: 1.5\n"), "x.yaml")
	if err == nil || !strings.HasPrefix(err.Error(), "x.yaml:2: response.forgeable_ban_share: 1.5 is not a share") {
		t.Fatalf("share 1.5: %v", err)
	}
}

// TestCrowdSecConfig: the crowdsec section parses, is off by default, and
// a bad one gets one error naming its key and line.
func TestCrowdSecConfig(t *testing.T) {
	if Default().CrowdSec.Enabled() {
		t.Fatal("crowdsec on by default")
	}
	f, err := Parse([]byte("crowdsec:\n  lapi_url: http://127.0.0.1:8080\n  api_key_file: /etc/xdpids/crowdsec.key\n  poll_interval: 10s\n"), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c := f.CrowdSec; !c.Enabled() || c.APIKeyFile != "/etc/xdpids/crowdsec.key" || c.PollInterval.String() != "10s" {
		t.Errorf("parsed %+v", c)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"crowdsec:\n  lapi_url: 127.0.0.1:8080\n  api_key_file: k\n", "x.yaml:2: crowdsec.lapi_url: \"127.0.0.1:8080\" is not a LAPI address"},
		{"crowdsec:\n  lapi_url: http://127.0.0.1:8080/v1/decisions\n  api_key_file: k\n", "x.yaml:2: crowdsec.lapi_url:"},
		{"crowdsec:\n  lapi_url: http://127.0.0.1:8080\n", "x.yaml: crowdsec.api_key_file: required with crowdsec.lapi_url"},
		{"crowdsec:\n  lapi_url: http://127.0.0.1:8080\n  api_key_file: k\n  poll_interval: 10ms\n", "x.yaml:4: crowdsec.poll_interval: 10ms is too short"},
		{"crowdsec:\n  lapi_url: http://127.0.0.1:8080\n  api_key_file: k\n  poll_interval: -1s\n", "x.yaml:4: crowdsec.poll_interval: -1s: a duration must not be negative"},
		{"crowdsec:\n  lapi: http://127.0.0.1:8080\n", "x.yaml:2: field lapi not found"},
	} {
		_, err := Parse([]byte(tc.yaml), "x.yaml")
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error %v, want one line starting %q", tc.yaml, err, tc.want)
		}
	}
	dir := t.TempDir()
	f.CrowdSec.APIKeyFile = dir + "/key"
	if _, err := f.CrowdSecKey(); err == nil || !strings.HasPrefix(err.Error(), "crowdsec.api_key_file: open ") {
		t.Errorf("missing key file: %v", err)
	}
	for content, ok := range map[string]bool{"abc123\n": true, "\n": false, "two words\n": false} {
		if err := os.WriteFile(f.CrowdSec.APIKeyFile, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		key, err := f.CrowdSecKey()
		if (err == nil) != ok || ok && key != "abc123" {
			t.Errorf("key file %q: %q, %v", content, key, err)
		}
	}
}
