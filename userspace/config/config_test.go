package config

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultIsValid(t *testing.T) {
	f := Default()
	c := f.DatapathConfig()
	// The built-in signatures are on: whole frames, 32 packets a flow.
	if c.Monitor || c.Snaplen != 1536 || c.FlowSamples != 32 || c.SYN.Rate != 1000 || c.SampleMask == 0 {
		t.Fatalf("unexpected default: %+v", c)
	}
	if f.SweepInterval != 10*time.Second {
		t.Fatalf("sweep interval %v", f.SweepInterval)
	}
}

func TestOverlayKeepsDefaults(t *testing.T) {
	f, err := Parse([]byte("mode: monitor\nrate_limits:\n  syn: {rate: 5, burst: 10}\n"), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := f.DatapathConfig()
	if !c.Monitor || c.SYN.Rate != 5 || c.SYN.Burst != 10 {
		t.Fatalf("overlay not applied: %+v", c)
	}
	if c.UDP.Rate != 20000 || c.Snaplen != 1536 {
		t.Fatalf("defaults lost: %+v", c)
	}
}

func TestErrorsNameFileAndLine(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"unknown key", "mode: prevent\nbogus: 1\n", "x.yaml:2:"},
		{"unknown nested key", "sampling:\n  snaplen: 100\n  nope: 3\n", "x.yaml:3:"},
		{"bad mode", "mode: loud\n", "x.yaml:1: mode:"},
		{"bad prefix", "allow:\n  - 10.0.0.0/33\n", "x.yaml:1: allow: entry 1: bad prefix"},
		{"bad type", "sampling:\n  snaplen: lots\n", "x.yaml:2:"},
		{"bad reason", "sampling:\n  reasons: [everything]\n", "x.yaml:2: sampling.reasons"},
		{"snaplen too big", "sampling:\n  snaplen: 9000\n", "snaplen 9000 out of range"},
		{"syntax", "mode: [\n", "x.yaml:"},
		{"relative pin path", "pin_path: bpf\n", "x.yaml:1: pin_path"},
		{"bad xdp mode", "xdp_mode: fast\n", "x.yaml:1: xdp_mode"},
		{"burst zero", "rate_limits:\n  udp: {rate: 5, burst: 0}\n", "burst must be at least 1"},
		{"negative anomaly rate", "eve:\n  anomalies_per_second: -1\n", "x.yaml:2: eve.anomalies_per_second"},
		{"negative stats interval", "eve:\n  stats_interval: -1s\n", "x.yaml:2: eve.stats_interval"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yaml), "x.yaml")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want it to contain %q", err, c.want)
			}
			if strings.Count(err.Error(), "\n") > 0 {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

// The EVE defaults: flow events on, anomalies bounded live, stats every
// minute.
func TestEVEDefaults(t *testing.T) {
	f := Default()
	if !f.EVE.Flows || f.EVE.AnomaliesPerSecond != 100 || f.EVE.StatsInterval != time.Minute {
		t.Fatalf("eve defaults %+v", f.EVE)
	}
	if f.PipelineConfig().AnomalyRate != 100 {
		t.Fatal("eve.anomalies_per_second does not reach the pipeline")
	}
}

func TestEmptyFileIsDefault(t *testing.T) {
	f, err := Parse(nil, "empty.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if f.DatapathConfig() != Default().DatapathConfig() {
		t.Fatal("empty file changed the configuration")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(DefaultYAML())
	f.Add([]byte("mode: monitor\n"))
	f.Add([]byte("sampling: {snaplen: 0}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = Parse(data, "fuzz.yaml")
	})
}

func TestSignaturesOffKeepsSampling(t *testing.T) {
	f, err := Parse([]byte("signatures:\n  builtin: false\n"), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c := f.DatapathConfig(); c.Snaplen != 256 || c.FlowSamples != 4 {
		t.Fatalf("without rules the sampling defaults apply: %+v", c)
	}
	if f.RuleSpec().Active() {
		t.Fatal("no rules asked for, yet active")
	}
}
