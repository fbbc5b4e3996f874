package daemon

import (
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/config"
	"github.com/xdpids/xdpids/userspace/output/eve"
	"github.com/xdpids/xdpids/userspace/output/metrics"
	"github.com/xdpids/xdpids/userspace/respond"
	"github.com/xdpids/xdpids/userspace/run/pipeline"
	"github.com/xdpids/xdpids/userspace/signature"
)

// reloader applies a reread configuration file to the running daemon
// (SIGHUP), without detaching and without losing a sample.
//
// Nothing reads the daemon's *config.File but the goroutine that runs
// the main loop: each part running elsewhere gets its own snapshot of
// its settings, handed over atomically. The pipeline's workers load a
// pipeline.Config pointer per sample, the detectors and the responder
// take theirs under their own lock, the rules are an immutable engine
// behind an atomic pointer, and eve.flows is an atomic flag. A reload
// builds every new snapshot before it installs any: a file whose rules
// or protect list do not compile leaves the running configuration as it
// was.
type reloader struct {
	o        *Options
	boot     *config.File // as started: what the restart-only settings are
	dp       *loader.Datapath
	pipe     *pipeline.Pipeline
	resp     *respond.Responder
	sink     *eve.Writer
	counters *metrics.Daemon
	flowsOn  *atomic.Bool
	ifaces   []ReadyIface // as attached (the model's egress gate)
	models   *models      // the configured and the learned models
	learner  *liveLearner // a learning period (nil: none)
}

// reload rereads the configuration and applies it; it returns the
// configuration now in force, or nil when it kept the running one.
func (r *reloader) reload() *config.File {
	start := time.Now()
	if err := r.sink.Reopen(); err != nil {
		slog.Error("reopen eve log", "err", err)
	}
	next, err := config.Load(r.o.ConfigPath)
	if err == nil && r.o.Overlay != nil {
		r.o.Overlay(next)
		err = next.Revalidate()
	}
	if err == nil {
		err = r.apply(next)
	}
	if err != nil {
		slog.Error("reload: keeping the running configuration", "err", err)
		r.counters.Reloaded(false, time.Now())
		return nil
	}
	r.counters.Reloaded(true, time.Now())
	if need := restartNeeded(r.boot, next, r.pipe); len(need) > 0 {
		slog.Warn("reload: these settings need a restart and keep their running values; every other setting is applied",
			"settings", strings.Join(need, ", "))
	}
	nrules := 0
	if e := r.pipe.Rules(); e != nil {
		nrules = e.Len()
	}
	slog.Info("configuration reloaded", "mode", next.Mode, "rules", nrules, "took", time.Since(start).Round(time.Microsecond))
	return next
}

// apply builds the new settings, then installs them.
func (r *reloader) apply(next *config.File) error {
	// Built first (these can fail): the rules, on the running state.
	rs, err := compileRules(r.pipe, next)
	if err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	// The learned model: a bad file keeps the running one.
	mdl, err := next.LoadModel()
	if err != nil {
		return err
	}
	xm, err := loadXDPModel(next.XDPModel)
	if err != nil {
		return err
	}
	pc := next.PipelineConfig()
	gateModel(&pc, next, r.ifaces)
	if r.learner != nil && !r.learner.done.Load() {
		r.learner.hook(&pc)
	}
	rc := next.ResponseConfig()
	// Then installed. The kernel's config map and allow list first, then
	// the userspace parts.
	if err := applyConfig(r.dp.Maps(), next); err != nil {
		return err
	}
	clearAllowed(r.dp.Maps())
	if err := r.resp.Reconfigure(rc); err != nil {
		return err
	}
	if err := r.pipe.Reconfigure(pc); err != nil {
		return err
	}
	r.flowsOn.Store(next.EVE.Flows)
	installRules(r.pipe, rs)
	r.models.setConfigured(mdl)
	return installXDPModel(r.dp.Maps(), r.pipe, xm)
}

// restartNeeded names the settings of next that only a restart applies
// and that differ from those the daemon started with.
func restartNeeded(boot, next *config.File, pipe *pipeline.Pipeline) []string {
	var out []string
	add := func(changed bool, key string) {
		if changed {
			out = append(out, key)
		}
	}
	add(next.PinPath != boot.PinPath, "pin_path")
	add(next.Learn != boot.Learn, "learn")
	add(next.XDPMode != boot.XDPMode, "xdp_mode")
	add(!slices.Equal(next.Interfaces, boot.Interfaces), "interfaces")
	add(next.MetricsAddr != boot.MetricsAddr, "metrics_addr")
	add(next.EVE.Path != boot.EVE.Path, "eve.path")
	for _, k := range pipe.RestartNeeded(next.PipelineConfig()) {
		out = append(out, "pipeline."+k)
	}
	add(next.Detect.MaxKeys != boot.Detect.MaxKeys, "detectors.max_keys")
	add(next.Detect.MaxProbeKeys != boot.Detect.MaxProbeKeys, "detectors.max_probe_keys")
	add(next.Respond.ProtectHost != boot.Respond.ProtectHost, "response.protect_host")
	add(!reflect.DeepEqual(next.Fleet, boot.Fleet), "fleet")
	add(next.CrowdSec.LAPIURL != boot.CrowdSec.LAPIURL, "crowdsec.lapi_url")
	add(next.CrowdSec.APIKeyFile != boot.CrowdSec.APIKeyFile, "crowdsec.api_key_file")
	add(next.CrowdSec.PollInterval != boot.CrowdSec.PollInterval, "crowdsec.poll_interval")
	return out
}

// ruleSet is a compiled rule set, or none (no rules configured).
type ruleSet struct {
	loaded signature.Loaded
	active bool
}

// compileRules compiles the configured signatures on the pipeline's
// signature state, so that a swap keeps flowbits, host bits and
// thresholds.
func compileRules(pipe *pipeline.Pipeline, cfg *config.File) (ruleSet, error) {
	spec := cfg.RuleSpec()
	if !spec.Active() {
		return ruleSet{}, nil
	}
	spec.State = pipe.RuleState()
	res, err := signature.Load(spec)
	if err != nil {
		return ruleSet{}, err
	}
	return ruleSet{loaded: res, active: true}, nil
}

// installRules swaps a compiled rule set in: workers take it at their
// next sample.
func installRules(pipe *pipeline.Pipeline, rs ruleSet) {
	if !rs.active {
		pipe.SetRules(nil)
		return
	}
	rs.loaded.Log()
	pipe.SetRules(rs.loaded.Engine)
}

// ticker is a time.Ticker whose interval may become 0 (off) and back.
type ticker struct {
	t *time.Ticker
	c <-chan time.Time
	d time.Duration
}

func (t *ticker) set(d time.Duration) {
	if d == t.d && (d <= 0 || t.t != nil) {
		return
	}
	t.stop()
	t.d = d
	if d > 0 {
		t.t = time.NewTicker(d)
		t.c = t.t.C
	}
}

func (t *ticker) stop() {
	if t.t != nil {
		t.t.Stop()
	}
	t.t, t.c = nil, nil
}
