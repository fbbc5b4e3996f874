package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/userspace/app/apphttp"
	"github.com/xdpids/xdpids/userspace/learn/model"
)

func TestDefaultIsValid(t *testing.T) {
	f := Default()
	c := f.DatapathConfig()
	// The built-in signatures are on: whole frames, every packet of a flow
	// until userspace bypasses it.
	if c.Monitor || c.Snaplen != 1536 || c.FlowSamples != bpf.FlowSamplesAll || c.SYN.Rate != 1000 || c.SampleMask == 0 {
		t.Fatalf("unexpected default: %+v", c)
	}
	if p := f.PipelineConfig(); p.DetectDepth != 4 {
		t.Fatalf("detect depth %d, want sampling.flow_packets 4", p.DetectDepth)
	}
	// Without rules the detectors' first packets of each flow suffice.
	f.Signatures.Builtin = false
	if c := f.DatapathConfig(); c.FlowSamples != 4 || c.Snaplen != 256 {
		t.Fatalf("no rules: flow samples %d snaplen %d, want 4 and 256", c.FlowSamples, c.Snaplen)
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

func TestAmplificationAnyPortKey(t *testing.T) {
	if !Default().Detect.AmpAnyPort {
		t.Fatal("amplification_any_port is off by default")
	}
	f, err := Parse([]byte("detectors:\n  amplification_any_port: false\n"), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if f.Detect.AmpAnyPort || f.Detect.AmpPackets != 100 {
		t.Fatalf("detectors %+v", f.Detect)
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
		{"too many reflectors", "detectors:\n  amplification_reflectors: 100000\n", "x.yaml:2: detectors.amplification_reflectors: must be 1 to 256"},
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

func TestLoadVars(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f, err := Parse([]byte("signatures:\n  vars:\n    address-groups: {HOME_NET: \"[10.0.0.0/8]\", DNS_SERVERS: \"[192.0.2.53]\"}\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// laid over the configuration's variables
	if err := f.LoadVars(write("a.yaml", "vars:\n  address-groups:\n    HOME_NET: \"[198.51.100.0/24]\"\n  port-groups:\n    $HTTP_PORTS: 8080\n")); err != nil {
		t.Fatal(err)
	}
	v := f.Signatures.Vars
	if v.Address["HOME_NET"] != "[198.51.100.0/24]" || v.Address["DNS_SERVERS"] != "[192.0.2.53]" || v.Port["HTTP_PORTS"] != "8080" {
		t.Errorf("vars %+v", v)
	}
	// the two groups at the top level, next to other suricata.yaml keys
	if err := f.LoadVars(write("b.yaml", "outputs: []\nport-groups:\n  SSH_PORTS: \"[22,2222]\"\n")); err != nil || f.Signatures.Vars.Port["SSH_PORTS"] != "[22,2222]" {
		t.Errorf("top-level groups: %v %+v", err, f.Signatures.Vars)
	}
	// the built-in default is not changed
	if d := Default(); len(d.Signatures.Vars.Address)+len(d.Signatures.Vars.Port) != 0 {
		t.Errorf("default vars changed: %+v", d.Signatures.Vars)
	}
	for name, tc := range map[string]struct{ text, want string }{
		"unknown key": {"vars:\n  address-groups: {}\n  nope: {}\n", "u.yaml:3: vars.nope: unknown key"},
		"not a map":   {"vars:\n  address-groups:\n    HOME_NET: [1, 2]\n", "n.yaml:3: "},
		"no vars":     {"outputs: []\n", "e.yaml: no vars: block"},
		"bad yaml":    {"vars:\n  address-groups: {\n", "y.yaml:"},
	} {
		p := write(strings.SplitN(tc.want, ":", 2)[0], tc.text)
		if err := Default().LoadVars(p); err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, tc.want)) {
			t.Errorf("%s: error %v, want %s...", name, err, filepath.Join(dir, tc.want))
		}
	}
	if err := Default().LoadVars(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("missing file: no error")
	}
}

// FuzzLoadVars: any file gives variables or an error naming the file,
// never a panic; variables it accepts are strings without a leading '$'.
func FuzzLoadVars(f *testing.F) {
	for _, s := range []string{
		"vars:\n  address-groups:\n    HOME_NET: \"[10.0.0.0/8]\"\n  port-groups:\n    HTTP_PORTS: 80\n",
		"%YAML 1.1\n---\nvars:\n  address-groups: {$HOME_NET: any}\noutputs: []\n",
		"address-groups:\n  A: 1\nport-groups: ~\n",
		"vars: 3\n", "vars:\n  x: {}\n", "- a\n", "",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "vars.yaml")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		c := Default()
		if err := c.LoadVars(p); err != nil {
			if !strings.HasPrefix(err.Error(), p) {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		for _, m := range []map[string]string{c.Signatures.Vars.Address, c.Signatures.Vars.Port} {
			for k := range m {
				if strings.HasPrefix(k, "$") {
					t.Errorf("variable %q keeps its '$'", k)
				}
			}
		}
	})
}

// TestAppLayerHTTPLimits: app_layer.http reaches the pipeline's HTTP
// parser limits; zero keeps the default.
func TestAppLayerHTTPLimits(t *testing.T) {
	f, err := Parse([]byte("app_layer:\n  http:\n    response_body_decompress_layer_limit: 3\n    request_body_limit: 0\n    response_body_limit: 4096\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	l := f.PipelineConfig().HTTP
	def := apphttp.DefaultLimits()
	if l.MaxEncodingLayers != 3 || l.ResponseBodyInspect != 4096 || l.RequestBodyInspect != def.RequestBodyInspect || l.MaxDecompressed != def.MaxDecompressed {
		t.Errorf("limits %+v", l)
	}
	if got := Default().PipelineConfig().HTTP; got != def {
		t.Errorf("default limits %+v, want %+v", got, def)
	}
}

// model: names one model or several side by side; a bad entry is one
// error naming it, and more than the set holds is refused.
func TestLoadModelList(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "forest.json")
	b, err := model.Default().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, b, 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		v    string
		n    int
		fail string
	}{
		{"", 1, ""}, {"builtin", 1, ""}, {"none", 0, ""}, {good, 1, ""},
		{"builtin, " + good, 2, ""}, {good + "," + good + ",builtin", 3, ""},
		{"builtin," + bad, 0, bad + ": bad model file"},
		{"builtin,,", 0, "in a list"}, {"builtin,none", 0, "in a list"},
		{strings.Repeat("builtin,", model.MaxSet) + "builtin", 0, "at most"},
	} {
		s, err := LoadModel(c.v)
		if c.fail != "" {
			if err == nil || !strings.Contains(err.Error(), c.fail) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%q: error %v, want one line with %q", c.v, err, c.fail)
			}
			continue
		}
		if err != nil || len(s) != c.n {
			t.Errorf("%q: %d models, %v; want %d", c.v, len(s), err, c.n)
		}
	}
}
