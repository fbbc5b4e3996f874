// Package metrics exposes the XDP program's counters and the daemon's own
// as Prometheus metrics. Every metric is declared once, in the table below;
// kernel counters are read from the maps at scrape time.
package metrics

import (
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/internal/buildinfo"
	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/fleet/crowdsec"
	"github.com/xdpids/xdpids/userspace/fleet/natsbans"
	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/respond"
	"github.com/xdpids/xdpids/userspace/run/pipeline"
)

var (
	descPackets = prometheus.NewDesc("xdpids_packets_total",
		"Packets seen by the XDP program, by verdict and reason.", []string{"iface", "verdict", "reason"}, nil)
	descBytes = prometheus.NewDesc("xdpids_bytes_total",
		"Bytes seen by the XDP program, by verdict and reason.", []string{"iface", "verdict", "reason"}, nil)
	descProto = prometheus.NewDesc("xdpids_protocol_packets_total",
		"Packets by protocol (a packet counts in each layer it carries).", []string{"iface", "proto"}, nil)
	descFlows = prometheus.NewDesc("xdpids_flows_new_total",
		"Flows inserted in the kernel flow table.", []string{"iface"}, nil)
	descSamples = prometheus.NewDesc("xdpids_samples_total",
		"Samples the XDP program wanted to send, by outcome (sent, lost: ring buffer full, over_budget).", []string{"iface", "outcome"}, nil)
	descVerify = prometheus.NewDesc("xdpids_verification_total",
		"Source verification in the kernel, by event (cookie: an ACK with a valid SYN cookie verified its source; handshake: a final ACK acknowledging a SYN-ACK the host sent verified its source; synack_recorded: SYN-ACKs the egress program recorded; bad_ack: ACKs of a recorded handshake with another ack number; hop_mismatch: packets claiming a verified source with another hop count).", []string{"iface", "event"}, nil)
	descModelVerdicts = prometheus.NewDesc("xdpids_model_verdicts_total",
		"Flow directions the in-kernel model (xdp_model) judged, by class index (0 benign; the model file names the others).", []string{"iface", "class"}, nil)
	descBlocks = prometheus.NewDesc("xdpids_block_entries",
		"Entries in the block list, by state.", []string{"state"}, nil)
	descAllows = prometheus.NewDesc("xdpids_allow_entries",
		"Entries in the allow list.", nil, nil)
	descSamplesRead = prometheus.NewDesc("xdpids_samples_read_total",
		"Samples the daemon read from the ring buffer.", nil, nil)
	descSamplesBad = prometheus.NewDesc("xdpids_samples_malformed_total",
		"Ring buffer records the daemon could not decode.", nil, nil)
	descOverflow = prometheus.NewDesc("xdpids_samples_overflow_total",
		"Samples dropped because a pipeline worker's queue was full.", nil, nil)
	descAlertsDropped = prometheus.NewDesc("xdpids_alerts_dropped_total",
		"Alerts lost because the alert outbox (to the responder and EVE) was full.", nil, nil)
	descDecodeErrors = prometheus.NewDesc("xdpids_decode_errors_total",
		"Samples the decoder could not fully decode, by kind.", []string{"kind"}, nil)
	descFlowsActive = prometheus.NewDesc("xdpids_flows_active",
		"Flows tracked by the userspace pipeline.", nil, nil)
	descRules = prometheus.NewDesc("xdpids_rules_loaded",
		"Signature rules compiled into the running engine.", nil, nil)
	descRuleMatches = prometheus.NewDesc("xdpids_rule_matches_total",
		"Signature rules that matched (before thresholds and noalert).", nil, nil)
	descRuleCandidates = prometheus.NewDesc("xdpids_rule_candidates_total",
		"Rules the prefilter selected for full inspection.", nil, nil)
	descDetectState = prometheus.NewDesc("xdpids_detector_state_total",
		"Detector state entries evicted, expired or refused, by partition (probe: single-packet entries; flood; evidence).", []string{"partition", "outcome"}, nil)
	descDetectEntries = prometheus.NewDesc("xdpids_detector_state_entries",
		"Detector state entries held, by partition (probe, other).", []string{"partition"}, nil)
	descGapPackets = prometheus.NewDesc("xdpids_inspection_gap_packets_total",
		"Packets of flows under inspection that the kernel saw and inspection never got (sample budget, ring buffer or queue full).", nil, nil)
	descGapFlows = prometheus.NewDesc("xdpids_inspection_gap_flows_total",
		"Flows whose inspection had gaps.", nil, nil)
	descBypassed = prometheus.NewDesc("xdpids_flow_bypass_total",
		"Flow directions the pipeline bypassed in the kernel, by reason (stream_depth, no_rule, encrypted).", []string{"reason"}, nil)
	descScrapeErrors = prometheus.NewDesc("xdpids_scrape_errors_total",
		"Map reads that failed while collecting metrics.", nil, nil)
	descBuildInfo = prometheus.NewDesc("xdpids_build_info",
		"Always 1: the running build's version, commit and Go version.", []string{"version", "commit", "goversion"}, nil)
	descBans = prometheus.NewDesc("xdpids_bans_total",
		"Bans the responder wrote to the block list, by the detector that asked for them.", []string{"detector"}, nil)
	descBanCap = prometheus.NewDesc("xdpids_ban_cap_hits_total",
		"Bans not made because a cap was reached, by cap (active: max_active_bans, rate: max_bans_per_minute, rate_forgeable: the share of it bans on forgeable evidence may take, forgeable_reserve: what that share keeps for stronger evidence).", []string{"cap"}, nil)
	descBanOther = prometheus.NewDesc("xdpids_ban_decisions_total",
		"Ban requests that made no ban, by outcome (dry_run: monitor mode, protected: allow list or own address, failed: map write failed, spoof_allowed: forgeable evidence against a verified source, challenge_lifted: a challenge ban lifted when its source verified).", []string{"outcome"}, nil)
	descRingPending = prometheus.NewDesc("xdpids_ring_buffer_pending_bytes",
		"Bytes written by the XDP program to the samples ring buffer and not yet read.", nil, nil)
	descRingSize = prometheus.NewDesc("xdpids_ring_buffer_size_bytes",
		"Size of the samples ring buffer.", nil, nil)
	descFleet = prometheus.NewDesc("xdpids_fleet_total",
		"Fleet ban sharing (NATS JetStream), by event (published, deleted: keys this node put and deleted; applied, removed: other nodes' bans written to and lifted from the block list; allow_applied; skipped: fleet bans not applied, expired, protected, allowed or under a local ban).", []string{"event"}, nil)
	descFleetErrors = prometheus.NewDesc("xdpids_fleet_errors_total",
		"Fleet errors: NATS requests, undecodable values, map writes.", nil, nil)
	descFleetConnected = prometheus.NewDesc("xdpids_fleet_connected",
		"1 while connected to NATS (the fleet's bans are still enforced while 0).", nil, nil)
	descCSPolls = prometheus.NewDesc("xdpids_crowdsec_polls_total",
		"Successful reads of the CrowdSec LAPI decision stream, by kind (startup: the whole stream, delta).", []string{"kind"}, nil)
	descCSErrors = prometheus.NewDesc("xdpids_crowdsec_errors_total",
		"Failed CrowdSec polls, by stage (fetch: connect, HTTP status or body; apply: a block list write).", []string{"stage"}, nil)
	descCSActive = prometheus.NewDesc("xdpids_crowdsec_decisions_active",
		"Prefixes held for live CrowdSec ban decisions.", nil, nil)
	descCSApplied = prometheus.NewDesc("xdpids_crowdsec_decisions_applied_total",
		"Block list entries written for CrowdSec decisions.", nil, nil)
	descCSDeleted = prometheus.NewDesc("xdpids_crowdsec_decisions_deleted_total",
		"Block list entries lifted because CrowdSec deleted their decisions (or no longer had them at a re-read).", nil, nil)
	descCSSkipped = prometheus.NewDesc("xdpids_crowdsec_decisions_skipped_total",
		"CrowdSec decisions that made no entry, by reason (scope, type: not ban, invalid, expired, protected: a protected host address, local: a local ban holds the prefix).", []string{"reason"}, nil)
	descCSUp = prometheus.NewDesc("xdpids_crowdsec_lapi_up",
		"1 when the last CrowdSec poll succeeded.", nil, nil)
	descCSApply = prometheus.NewDesc("xdpids_crowdsec_last_apply_seconds",
		"Time the last CrowdSec poll took to apply its decisions to the block list (after the fetch).", nil, nil)
	descCSLast = prometheus.NewDesc("xdpids_crowdsec_last_success_timestamp_seconds",
		"Unix time of the last successful CrowdSec poll (0: none yet).", nil, nil)

	// Event metrics: the daemon reports these as they happen.
	optsAlerts = prometheus.CounterOpts{Name: "xdpids_alerts_total",
		Help: "Alerts raised, by detector (signature for rules), action taken (allowed, blocked) and severity (1 high .. 4 low)."}
	labelsAlerts = []string{"detector", "action", "severity"}
	optsReloads  = prometheus.CounterOpts{Name: "xdpids_reloads_total",
		Help: "Configuration reloads (SIGHUP), by result (success, failure)."}
	optsLastReload = prometheus.GaugeOpts{Name: "xdpids_last_reload_timestamp_seconds",
		Help: "Unix time of the last successful configuration reload (0: none since start)."}
	optsBanLatency = prometheus.HistogramOpts{Name: "xdpids_ban_latency_seconds",
		Help: "From the packet's kernel timestamp to the block list update returning, for each ban made.",
		// 100 µs to ~26 s: a ban normally lands within milliseconds; the
		// tail shows queueing under floods and detector windows.
		Buckets: prometheus.ExponentialBuckets(100e-6, 4, 10)}
)

// Ring is the samples ring buffer reader (*samples.Reader).
type Ring interface {
	AvailableBytes() int
	BufferSize() int
}

// Daemon points at the daemon's userspace parts whose counters are
// exported, and holds the metrics of its events (alerts, reloads, ban
// latency). The zero value is ready to use; fields may stay nil.
type Daemon struct {
	Pipeline  *pipeline.Pipeline
	Responder *respond.Responder
	Ring      Ring
	Fleet     *natsbans.Fleet
	CrowdSec  *crowdsec.Bouncer

	once       sync.Once
	alerts     *prometheus.CounterVec
	reloads    *prometheus.CounterVec
	lastReload prometheus.Gauge
	banLatency prometheus.Histogram
}

func (d *Daemon) init() {
	d.once.Do(func() {
		d.alerts = prometheus.NewCounterVec(optsAlerts, labelsAlerts)
		d.reloads = prometheus.NewCounterVec(optsReloads, []string{"result"})
		d.reloads.WithLabelValues("success")
		d.reloads.WithLabelValues("failure")
		d.lastReload = prometheus.NewGauge(optsLastReload)
		d.banLatency = prometheus.NewHistogram(optsBanLatency)
	})
}

func (d *Daemon) eventMetrics() []prometheus.Collector {
	d.init()
	return []prometheus.Collector{d.alerts, d.reloads, d.lastReload, d.banLatency}
}

// ObserveAlert counts an alert once the responder has set its action.
func (d *Daemon) ObserveAlert(a *alert.Alert) {
	d.init()
	det := a.Detector
	if det == "" {
		det = "unknown"
	}
	d.alerts.WithLabelValues(det, a.Action, strconv.Itoa(a.Severity)).Inc()
}

// ObserveBanLatency records the time from a sample to its ban.
func (d *Daemon) ObserveBanLatency(seconds float64) {
	d.init()
	d.banLatency.Observe(max(seconds, 0))
}

// Reloaded counts a configuration reload; a successful one sets the
// last reload time.
func (d *Daemon) Reloaded(ok bool, at time.Time) {
	d.init()
	if !ok {
		d.reloads.WithLabelValues("failure").Inc()
		return
	}
	d.reloads.WithLabelValues("success").Inc()
	d.lastReload.Set(float64(at.UnixNano()) / 1e9)
}

// Register registers on reg everything the daemon serves: the collector
// of maps and daemon counters, and the Go runtime and process collectors.
func Register(reg prometheus.Registerer, maps *loader.Maps, d *Daemon) error {
	for _, c := range []prometheus.Collector{
		NewCollector(maps, d),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register metrics: %w", err)
		}
	}
	return nil
}

// Collector reads the maps on every scrape.
type Collector struct {
	maps         *loader.Maps
	daemon       *Daemon
	scrapeErrors atomic.Uint64
}

// NewCollector collects from maps and the daemon counters (daemon may be nil).
func NewCollector(maps *loader.Maps, daemon *Daemon) *Collector {
	return &Collector{maps: maps, daemon: daemon}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPackets, descBytes, descProto, descFlows, descSamples, descVerify, descModelVerdicts, descBlocks, descAllows,
		descSamplesRead, descSamplesBad, descOverflow, descAlertsDropped, descDecodeErrors, descFlowsActive, descRules, descRuleMatches, descRuleCandidates, descGapPackets, descGapFlows, descBypassed, descDetectState, descDetectEntries, descScrapeErrors,
		descBuildInfo, descBans, descBanCap, descBanOther, descRingPending, descRingSize, descFleet, descFleetErrors, descFleetConnected,
		descCSPolls, descCSErrors, descCSActive, descCSApplied, descCSDeleted, descCSSkipped, descCSUp, descCSLast, descCSApply} {
		ch <- d
	}
	if c.daemon != nil {
		for _, m := range c.daemon.eventMetrics() {
			m.Describe(ch)
		}
	}
}

// IfaceLabel names an interface for labels and tables.
func IfaceLabel(s *loader.IfaceStats) string {
	switch {
	case s.Name != "":
		return s.Name
	case s.Ifindex != 0:
		return "ifindex" + strconv.Itoa(int(s.Ifindex))
	}
	return "unassigned"
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	stats, err := c.maps.ReadStats()
	if err != nil {
		c.scrapeErrors.Add(1)
		slog.Warn("metrics: read stats", "err", err)
	}
	for i := range stats {
		s := &stats[i]
		iface := IfaceLabel(s)
		for v := range s.Verdicts {
			for r := range s.Verdicts[v] {
				cnt := s.Verdicts[v][r]
				if cnt.Packets == 0 && r != bpf.ReasonNone {
					continue
				}
				counter(descPackets, cnt.Packets, iface, bpf.VerdictNames[v], bpf.ReasonNames[r])
				counter(descBytes, cnt.Bytes, iface, bpf.VerdictNames[v], bpf.ReasonNames[r])
			}
		}
		for p := range s.Protos {
			counter(descProto, s.Protos[p].Packets, iface, bpf.ProtoNames[p])
		}
		counter(descFlows, s.FlowsNew, iface)
		counter(descSamples, s.SamplesSent, iface, "sent")
		counter(descSamples, s.SamplesLost, iface, "lost")
		counter(descSamples, s.SamplesOverBudget, iface, "over_budget")
		counter(descVerify, s.VerifiedNew, iface, "cookie")
		counter(descVerify, s.VerifiedHandshake, iface, "handshake")
		counter(descVerify, s.SynAcksRecorded, iface, "synack_recorded")
		counter(descVerify, s.HandshakeBadAck, iface, "bad_ack")
		counter(descVerify, s.HopMismatch, iface, "hop_mismatch")
		for c, n := range s.TreeVerdicts {
			if n > 0 {
				counter(descModelVerdicts, n, iface, strconv.Itoa(c))
			}
		}
	}
	if blocks, err := c.maps.Blocks(); err == nil {
		now := loader.KernelNow()
		var active, expired int
		for _, b := range blocks {
			if b.Expired(now) {
				expired++
			} else {
				active++
			}
		}
		ch <- prometheus.MustNewConstMetric(descBlocks, prometheus.GaugeValue, float64(active), "active")
		ch <- prometheus.MustNewConstMetric(descBlocks, prometheus.GaugeValue, float64(expired), "expired")
	} else {
		c.scrapeErrors.Add(1)
	}
	if allows, err := c.maps.Allows(); err == nil {
		ch <- prometheus.MustNewConstMetric(descAllows, prometheus.GaugeValue, float64(len(allows)))
	} else {
		c.scrapeErrors.Add(1)
	}
	if c.daemon != nil && c.daemon.Pipeline != nil {
		ps := c.daemon.Pipeline.Stats()
		counter(descSamplesRead, ps.Samples)
		counter(descSamplesBad, ps.Malformed)
		counter(descOverflow, ps.Overflow)
		counter(descAlertsDropped, ps.AlertsDropped)
		counter(descDecodeErrors, ps.Truncated, "truncated")
		counter(descDecodeErrors, ps.NotIP, "not_ip")
		ch <- prometheus.MustNewConstMetric(descFlowsActive, prometheus.GaugeValue, float64(ps.FlowsActive))
		counter(descGapPackets, ps.GapPackets)
		counter(descGapFlows, ps.GapFlows)
		ds := c.daemon.Pipeline.Engine().Stats()
		counter(descDetectState, ds.StateEvictedProbe, "probe", "evicted")
		counter(descDetectState, ds.StateExpiredProbe, "probe", "expired")
		counter(descDetectState, ds.StateEvictedFlood, "flood", "evicted")
		counter(descDetectState, ds.StateEvictedEvidence, "evidence", "evicted")
		counter(descDetectState, ds.StateRefused, "any", "refused")
		ch <- prometheus.MustNewConstMetric(descDetectEntries, prometheus.GaugeValue, float64(ds.ProbeKeys), "probe")
		ch <- prometheus.MustNewConstMetric(descDetectEntries, prometheus.GaugeValue, float64(ds.Keys-ds.ProbeKeys), "other")
		for i, name := range flows.BypassNames {
			if name != "" {
				counter(descBypassed, ps.Bypassed[i], name)
			}
		}
		loaded := 0
		if e := c.daemon.Pipeline.Rules(); e != nil {
			loaded = e.Len()
			es := e.Stats()
			counter(descRuleMatches, es.Matches)
			counter(descRuleCandidates, es.Candidates)
		}
		ch <- prometheus.MustNewConstMetric(descRules, prometheus.GaugeValue, float64(loaded))
	}
	if c.daemon != nil {
		c.collectDaemon(ch, counter)
	}
	b := buildinfo.Get()
	ch <- prometheus.MustNewConstMetric(descBuildInfo, prometheus.GaugeValue, 1, b.Version, b.Commit, b.GoVersion)
	counter(descScrapeErrors, c.scrapeErrors.Load())
}

func (c *Collector) collectDaemon(ch chan<- prometheus.Metric, counter func(*prometheus.Desc, uint64, ...string)) {
	d := c.daemon
	for _, m := range d.eventMetrics() {
		m.Collect(ch)
	}
	if r := d.Responder; r != nil {
		st := r.Stats()
		for det, n := range st.BansBy {
			counter(descBans, n, det)
		}
		counter(descBanCap, st.CappedActive, "active")
		counter(descBanCap, st.CappedRate, "rate")
		counter(descBanCap, st.CappedForgeable, "rate_forgeable")
		counter(descBanCap, st.CappedReserve, "forgeable_reserve")
		counter(descBanOther, st.DryRun, "dry_run")
		counter(descBanOther, st.Protected, "protected")
		counter(descBanOther, st.Failed, "failed")
		counter(descBanOther, st.SpoofAllowed, "spoof_allowed")
		counter(descBanOther, st.ChallengeLifted, "challenge_lifted")
	}
	if f := d.Fleet; f != nil {
		st := f.Stats()
		counter(descFleet, st.Published, "published")
		counter(descFleet, st.Deleted, "deleted")
		counter(descFleet, st.Applied, "applied")
		counter(descFleet, st.Removed, "removed")
		counter(descFleet, st.AllowsApplied, "allow_applied")
		counter(descFleet, st.Skipped, "skipped")
		counter(descFleetErrors, st.Errors)
		up := 0.0
		if st.Connected {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descFleetConnected, prometheus.GaugeValue, up)
	}
	if b := d.CrowdSec; b != nil {
		st := b.Stats()
		gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
		counter(descCSPolls, st.Startups, "startup")
		counter(descCSPolls, st.Polls-st.Startups, "delta")
		counter(descCSErrors, st.Errors-st.ApplyErrors, "fetch")
		counter(descCSErrors, st.ApplyErrors, "apply")
		gauge(descCSActive, float64(st.Active))
		counter(descCSApplied, st.Applied)
		counter(descCSDeleted, st.Deleted)
		for i, n := range st.Skipped {
			counter(descCSSkipped, n, crowdsec.SkipNames[i])
		}
		up, last := 0.0, 0.0
		if st.Reachable {
			up = 1
		}
		if !st.LastSuccess.IsZero() {
			last = float64(st.LastSuccess.UnixNano()) / 1e9
		}
		gauge(descCSUp, up)
		gauge(descCSLast, last)
		gauge(descCSApply, st.ApplyLatency.Seconds())
	}
	if r := d.Ring; r != nil {
		ch <- prometheus.MustNewConstMetric(descRingPending, prometheus.GaugeValue, float64(r.AvailableBytes()))
		ch <- prometheus.MustNewConstMetric(descRingSize, prometheus.GaugeValue, float64(r.BufferSize()))
	}
}
