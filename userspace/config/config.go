// Package config reads the xdpids YAML configuration: the built-in default
// (default.yaml, embedded) with an operator's file laid over it.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"runtime"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/xdpids/xdpids/userspace/app/apphttp"
	"github.com/xdpids/xdpids/userspace/detect"
	"github.com/xdpids/xdpids/userspace/respond"
	"github.com/xdpids/xdpids/userspace/run/pipeline"
	"github.com/xdpids/xdpids/userspace/signature"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/loader"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML is the built-in configuration text.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// File is the configuration file's schema.
type File struct {
	Mode          string         `yaml:"mode"`
	XDPMode       string         `yaml:"xdp_mode"`
	PinPath       string         `yaml:"pin_path"`
	PinGroup      string         `yaml:"pin_group"` // group (name or gid) given read/write on the pinned maps: the CLI without root
	Interfaces    []string       `yaml:"interfaces"`
	RateLimits    RateLimits     `yaml:"rate_limits"`
	SynCookies    SynCookies     `yaml:"syn_cookies"`
	Sampling      Sampling       `yaml:"sampling"`
	Allow         []string       `yaml:"allow"`
	SweepInterval time.Duration  `yaml:"sweep_interval"`
	MetricsAddr   string         `yaml:"metrics_addr"`
	EVE           EVE            `yaml:"eve"`
	Pipeline      Pipeline       `yaml:"pipeline"`
	Detect        detect.Config  `yaml:"detectors"`
	Signatures    Signatures     `yaml:"signatures"`
	AppLayer      AppLayer       `yaml:"app_layer"`
	Respond       respond.Config `yaml:"response"`
	// Model is the learned model: builtin, none, or a model file
	// (xdpids model train/learn); ModelBanTTL the ban its alerts ask for.
	Model       string        `yaml:"model"`
	ModelBanTTL time.Duration `yaml:"model_ban_ttl"`
	// Learn is the live learning period (run --learn): the daemon
	// learns this network's normal traffic and runs that model beside
	// model:.
	Learn    Learn          `yaml:"learn"`
	Fleet    Fleet          `yaml:"fleet"` // ban sharing between nodes (NATS JetStream)
	CrowdSec CrowdSec       `yaml:"crowdsec"`
	lines    map[string]int // key path -> line, for error messages
	source   string

	// XDPModel is the in-kernel model: none, or an xdp-forest file
	// (xdpids model xdp train), run by the XDP program itself.
	XDPModel string `yaml:"xdp_model"`
}

// SynCookies configures the XDP SYN cookies answered under a SYN flood.
type SynCookies struct {
	Threshold    uint32        `yaml:"threshold"`     // SYN/s to one port that turns cookie mode on; 0 = off
	Refresh      time.Duration `yaml:"refresh"`       // one SYN per port per interval still reaches the stack
	HopTolerance uint32        `yaml:"hop_tolerance"` // TTL difference tolerated from a verified source
	// Always answers every SYN to a listening port with a cookie, flood
	// or not: every client is verified by its handshake (so forgeable
	// evidence in its name never bans it), at the cost of window scaling.
	Always bool `yaml:"always"`
}

// Signatures configures the Suricata-rule engine.
type Signatures struct {
	Builtin bool     `yaml:"builtin"` // xdpids' own small rule set
	Files   []string `yaml:"files"`   // rule files (Emerging Threats Open, your own)
	Vars    struct {
		Address map[string]string `yaml:"address-groups"`
		Port    map[string]string `yaml:"port-groups"`
	} `yaml:"vars"`
	Snaplen     uint32        `yaml:"snaplen"`      // bytes of each sampled frame when rules are active
	StreamDepth uint64        `yaml:"stream_depth"` // reassembled bytes per direction; then the flow is bypassed
	DropBanTTL  time.Duration `yaml:"drop_ban_ttl"` // a drop rule also bans its source (0: no)
}

// AppLayer configures the application-layer parsers.
type AppLayer struct {
	HTTP HTTPLimits `yaml:"http"`
}

// HTTPLimits are the HTTP/1 parser's inspection limits, after Suricata's
// libhtp settings of the same names (app-layer.protocols.http.libhtp.
// default-config). 0 takes the default; a negative body or layer limit
// means none kept (no body inspected, no decoding).
type HTTPLimits struct {
	RequestBodyLimit  int `yaml:"request_body_limit"`  // bytes of each request body inspected (100 KiB)
	ResponseBodyLimit int `yaml:"response_body_limit"` // bytes of each response body inspected (100 KiB)
	// ResponseBodyDecompressLayerLimit: Content-Encoding layers decoded (2);
	// further layers are left encoded.
	ResponseBodyDecompressLayerLimit int `yaml:"response_body_decompress_layer_limit"`
	// CompressionBombLimit: bytes all decoding layers of one body may
	// produce (1 MiB); a body that decodes to more is cut.
	CompressionBombLimit int `yaml:"compression_bomb_limit"`
}

// Limits are the parser limits these settings give.
func (h HTTPLimits) Limits() apphttp.Limits {
	l := apphttp.DefaultLimits()
	set := func(dst *int, v int) {
		if v != 0 {
			*dst = v
		}
	}
	set(&l.RequestBodyInspect, h.RequestBodyLimit)
	set(&l.ResponseBodyInspect, h.ResponseBodyLimit)
	set(&l.MaxEncodingLayers, h.ResponseBodyDecompressLayerLimit)
	set(&l.MaxDecompressed, h.CompressionBombLimit)
	return l
}

// RuleSpec is what signature.Load should load.
func (f *File) RuleSpec() signature.Spec {
	return signature.Spec{Builtin: f.Signatures.Builtin, Files: f.Signatures.Files,
		Addr: f.Signatures.Vars.Address, Port: f.Signatures.Vars.Port}
}

// EVE says where alerts go.
type EVE struct {
	Path    string `yaml:"path"`    // file, or "-" for stdout
	Payload bool   `yaml:"payload"` // include the sampled L4 payload
	// Flows writes a flow event as each flow ends.
	Flows bool `yaml:"flows"`
	// AnomaliesPerSecond bounds the anomaly events each worker writes a
	// second live (0: no bound); the rest are counted. read writes all.
	AnomaliesPerSecond int `yaml:"anomalies_per_second"`
	// StatsInterval is how often the daemon writes a stats event (0: never).
	StatsInterval time.Duration `yaml:"stats_interval"`
}

// Pipeline sizes the userspace inspection path.
type Pipeline struct {
	Workers        int `yaml:"workers"`          // 0 = one per CPU
	QueueLen       int `yaml:"queue_len"`        // samples buffered per worker
	FlowsPerWorker int `yaml:"flows_per_worker"` // flow table bound per worker
}

// PipelineConfig is the pipeline configuration this file describes.
func (f *File) PipelineConfig() pipeline.Config {
	c := pipeline.DefaultConfig()
	if f.Pipeline.Workers > 0 {
		c.Workers = f.Pipeline.Workers
	} else {
		c.Workers = runtime.NumCPU()
	}
	if f.Pipeline.QueueLen > 0 {
		c.QueueLen = f.Pipeline.QueueLen
	}
	if f.Pipeline.FlowsPerWorker > 0 {
		c.FlowsPerWorker = f.Pipeline.FlowsPerWorker
	}
	c.Detect = f.Detect
	c.IncludePayload = f.EVE.Payload
	c.AnomalyRate = f.EVE.AnomaliesPerSecond
	c.StreamDepth = f.Signatures.StreamDepth
	c.HTTP = f.AppLayer.HTTP.Limits()
	c.DetectDepth = uint64(max(f.Sampling.FlowPackets, 1))
	c.Prevent = f.Mode == "prevent"
	c.DropBanTTL = int64(f.Signatures.DropBanTTL)
	c.Learn.BanTTLNs = int64(f.ModelBanTTL)
	return c
}

// ResponseConfig is the responder configuration: in monitor mode it only
// reports the bans it would make.
func (f *File) ResponseConfig() respond.Config {
	c := f.Respond
	if f.Mode == "monitor" {
		c.DryRun = true
	}
	return c
}

// RateLimits are the per-source token buckets.
type RateLimits struct {
	SYN  loader.Bucket `yaml:"syn"`
	UDP  loader.Bucket `yaml:"udp"`
	ICMP loader.Bucket `yaml:"icmp"`
}

// Sampling says what the XDP program sends to userspace.
type Sampling struct {
	Snaplen           uint32        `yaml:"snaplen"`
	FlowPackets       uint32        `yaml:"flow_packets"`
	OneIn             uint32        `yaml:"one_in"`
	BudgetPerCPU      uint32        `yaml:"budget_per_cpu"`
	BudgetBurst       uint32        `yaml:"budget_burst"`
	RateLimitInterval time.Duration `yaml:"rate_limit_interval"`
	Reasons           []string      `yaml:"reasons"`
	// Egress: the host's own packets of flows under inspection are
	// sampled too (the tcx egress program), so the daemon sees the
	// replies of connections to this host as it sees what arrives.
	Egress bool `yaml:"egress"`
}

var sampleReasons = map[string]uint32{
	"new_flow": bpf.SampleNewFlow, "anomaly": bpf.SampleAnomaly, "fragment": bpf.SampleFragment,
	"icmp": bpf.SampleICMP, "rate_limit": bpf.SampleRateLimit, "random": bpf.SampleRandom, "non_ip": bpf.SampleNonIP,
	"arp":       bpf.SampleNonIP, // the name before MPLS and NSH frames were sampled too
	"milestone": bpf.SampleMilestone,
}

// Default returns the built-in configuration.
func Default() *File {
	base := &File{Detect: detect.DefaultConfig(), Respond: respond.DefaultConfig()}
	f, err := parse(defaultYAML, "built-in default", base)
	if err != nil {
		panic("built-in default configuration: " + err.Error())
	}
	return f
}

// Load reads path over the built-in default ("" = the default alone).
func Load(path string) (*File, error) {
	if path == "" {
		return Default(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return parse(data, path, Default())
}

// Parse reads YAML text over the built-in default; name labels errors.
func Parse(data []byte, name string) (*File, error) { return parse(data, name, Default()) }

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

func parse(data []byte, name string, base *File) (*File, error) {
	f := &File{}
	if base != nil {
		*f = *base
		f.Interfaces = append([]string(nil), base.Interfaces...)
		f.Allow = append([]string(nil), base.Allow...)
		f.Sampling.Reasons = append([]string(nil), base.Sampling.Reasons...)
		f.Detect.BrutePorts = maps.Clone(base.Detect.BrutePorts)
		f.Respond.Escalation = append([]time.Duration(nil), base.Respond.Escalation...)
		f.Respond.Protect = append([]string(nil), base.Respond.Protect...)
		f.Fleet.NATS.Routes = append([]string(nil), base.Fleet.NATS.Routes...)
	}
	f.source = name
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(name, err)
	}
	f.lines = map[string]int{}
	if len(root.Content) > 0 {
		collectLines(root.Content[0], "", f.lines)
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(f); err != nil && !errors.Is(err, io.EOF) {
			return nil, yamlError(name, err)
		}
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	return f, nil
}

func yamlError(name string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		if m := yamlLine.FindStringSubmatch(te.Errors[0]); m != nil {
			return fmt.Errorf("%s:%s: %s", name, m[1], m[2])
		}
		return fmt.Errorf("%s: %s", name, te.Errors[0])
	}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("%s:%s: %s", name, m[1], m[2])
	}
	return fmt.Errorf("%s: %w", name, err)
}

func collectLines(n *yaml.Node, prefix string, out map[string]int) {
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		path := k.Value
		if prefix != "" {
			path = prefix + "." + k.Value
		}
		out[path] = k.Line
		collectLines(n.Content[i+1], path, out)
	}
}

func (f *File) errAt(key, format string, args ...any) error {
	if line, ok := f.lines[key]; ok {
		return fmt.Errorf("%s:%d: %s: %s", f.source, line, key, fmt.Sprintf(format, args...))
	}
	return fmt.Errorf("%s: %s: %s", f.source, key, fmt.Sprintf(format, args...))
}

func (f *File) validate() error {
	if f.Mode != "prevent" && f.Mode != "monitor" {
		return f.errAt("mode", "%q is not prevent or monitor", f.Mode)
	}
	if _, err := loader.ParseXDPMode(f.XDPMode); err != nil {
		return f.errAt("xdp_mode", "%v", err)
	}
	if f.PinPath == "" || !strings.HasPrefix(f.PinPath, "/") {
		return f.errAt("pin_path", "%q must be an absolute path", f.PinPath)
	}
	if f.PinGroup != "" {
		if _, err := LookupGroup(f.PinGroup); err != nil {
			return f.errAt("pin_group", "%v", err)
		}
	}
	for i, a := range f.Allow {
		if _, err := loader.ParsePrefix(a); err != nil {
			return f.errAt("allow", "entry %d: %v", i+1, err)
		}
	}
	for _, r := range f.Sampling.Reasons {
		if _, ok := sampleReasons[r]; !ok {
			return f.errAt("sampling.reasons", "unknown reason %q (want new_flow, anomaly, fragment, icmp, rate_limit, random, arp, milestone)", r)
		}
	}
	if f.EVE.AnomaliesPerSecond < 0 {
		return f.errAt("eve.anomalies_per_second", "must not be negative")
	}
	if f.EVE.StatsInterval < 0 {
		return f.errAt("eve.stats_interval", "must not be negative (0: no stats events)")
	}
	if f.SweepInterval < MinSweepInterval {
		return f.errAt("sweep_interval", "%v is too short (at least %v: each sweep walks the whole block list)", f.SweepInterval, MinSweepInterval)
	}
	for i, p := range f.Respond.Protect {
		if _, err := loader.ParsePrefix(p); err != nil {
			return f.errAt("response.protect", "entry %d: %v", i+1, err)
		}
	}
	if f.Respond.MaxActiveBans < 1 || f.Respond.MaxBansPerMin < 1 {
		return f.errAt("response", "max_active_bans and max_bans_per_minute must be at least 1")
	}
	if f.Respond.ForgeableShare < 0 || f.Respond.ForgeableShare > 1 {
		return f.errAt("response.forgeable_ban_share", "%v is not a share from 0 to 1", f.Respond.ForgeableShare)
	}
	if f.Detect.Suppress <= 0 || f.Detect.ScanWindow <= 0 || f.Detect.FloodWindow <= 0 || f.Detect.BruteWindow <= 0 ||
		f.Detect.AmpWindow <= 0 || f.Detect.DHCPWindow <= 0 || f.Detect.SynFloodDstWindow <= 0 {
		return f.errAt("detectors", "every window and suppress must be positive")
	}
	if f.Detect.MaxKeys < 1 {
		return f.errAt("detectors.max_keys", "must be at least 1")
	}
	// The reflection tracker keeps this many sources per port and
	// destination, preallocated.
	if f.Detect.AmpReflectors < 1 || f.Detect.AmpReflectors > 256 {
		return f.errAt("detectors.amplification_reflectors", "must be 1 to 256")
	}
	if err := f.validateRanges(); err != nil {
		return err
	}
	if err := f.validateFleet(); err != nil {
		return err
	}
	if err := f.validateCrowdSec(); err != nil {
		return err
	}
	if err := f.DatapathConfig().Validate(); err != nil {
		return fmt.Errorf("%s: %w", f.source, err)
	}
	return nil
}

// DatapathConfig is the XDP program's configuration this file describes.
func (f *File) DatapathConfig() loader.Config {
	var mask uint32
	for _, r := range f.Sampling.Reasons {
		mask |= sampleReasons[r]
	}
	snap, flowPackets := f.Sampling.Snaplen, f.Sampling.FlowPackets
	if f.RuleSpec().Active() {
		// Signatures need every packet, whole: the kernel samples each
		// packet of a flow until userspace bypasses it (stream depth, no
		// rule can match it, a drop verdict).
		snap, flowPackets = max(snap, f.Signatures.Snaplen), bpf.FlowSamplesAll
	}
	return loader.Config{
		Monitor:             f.Mode == "monitor",
		Snaplen:             snap,
		FlowSamples:         flowPackets,
		SampleOneIn:         f.Sampling.OneIn,
		SampleRate:          f.Sampling.BudgetPerCPU,
		SampleBurst:         f.Sampling.BudgetBurst,
		RateLimitSampleEach: f.Sampling.RateLimitInterval,
		SampleMask:          mask,
		CookieThreshold:     f.SynCookies.Threshold,
		CookieAlways:        f.SynCookies.Always,
		CookieRefresh:       f.SynCookies.Refresh,
		HopTolerance:        f.SynCookies.HopTolerance,
		EgressSamples:       f.Sampling.Egress,
		SYN:                 f.RateLimits.SYN,
		UDP:                 f.RateLimits.UDP,
		ICMP:                f.RateLimits.ICMP,
	}
}

// Revalidate checks the file again after command-line flags changed it.
func (f *File) Revalidate() error {
	f.lines = nil
	if f.source == "" {
		f.source = "configuration"
	}
	return f.validate()
}

// LoadVars lays the variables of a Suricata-style YAML file over
// signatures.vars: its vars: block (address-groups and port-groups, as
// suricata.yaml writes them), or those two keys at the top level. Other
// top-level keys are ignored, so a whole suricata.yaml may be given.
// Errors are file:line: reason.
func (f *File) LoadVars(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read vars: %w", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return yamlError(path, err)
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return fmt.Errorf("%s: no vars: block (want vars: {address-groups: ..., port-groups: ...})", path)
	}
	block, prefix := root.Content[0], ""
	if v := mappingValue(block, "vars"); v != nil {
		if v.Kind != yaml.MappingNode {
			return fmt.Errorf("%s:%d: vars: want a map of address-groups and port-groups", path, v.Line)
		}
		block, prefix = v, "vars."
	}
	addr, port := map[string]string{}, map[string]string{}
	found := false
	for i := 0; i+1 < len(block.Content); i += 2 {
		k, v := block.Content[i], block.Content[i+1]
		var dst map[string]string
		switch k.Value {
		case "address-groups":
			dst = addr
		case "port-groups":
			dst = port
		default:
			if prefix != "" {
				return fmt.Errorf("%s:%d: %s%s: unknown key (want address-groups or port-groups)", path, k.Line, prefix, k.Value)
			}
			continue // another part of a suricata.yaml
		}
		found = true
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			continue // an empty group
		}
		var m map[string]string
		if err := v.Decode(&m); err != nil {
			return yamlError(path, err)
		}
		for name, val := range m {
			dst[strings.TrimPrefix(name, "$")] = val
		}
	}
	if !found {
		return fmt.Errorf("%s: no vars: block (want vars: {address-groups: ..., port-groups: ...})", path)
	}
	sv := &f.Signatures.Vars
	sv.Address = overlay(sv.Address, addr)
	sv.Port = overlay(sv.Port, port)
	return nil
}

func mappingValue(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// overlay returns base (copied: it may be the built-in default's) with
// top's entries added or replaced.
func overlay(base, top map[string]string) map[string]string {
	if len(top) == 0 {
		return base
	}
	m := maps.Clone(base)
	if m == nil {
		m = map[string]string{}
	}
	maps.Copy(m, top)
	return m
}
