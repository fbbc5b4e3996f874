// Package metrics exposes the XDP program's counters and the daemon's own
// as Prometheus metrics. Every metric is declared once, in the table below;
// kernel counters are read from the maps at scrape time.
package metrics

import (
	"log/slog"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/flows"
	"github.com/xdpids/xdpids/userspace/pipeline"
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
	descDecodeErrors = prometheus.NewDesc("xdpids_decode_errors_total",
		"Samples the decoder could not fully decode, by kind.", []string{"kind"}, nil)
	descAlerts = prometheus.NewDesc("xdpids_alerts_total",
		"Alerts raised by the detectors.", nil, nil)
	descFlowsActive = prometheus.NewDesc("xdpids_flows_active",
		"Flows tracked by the userspace pipeline.", nil, nil)
	descRules = prometheus.NewDesc("xdpids_rules_loaded",
		"Signature rules compiled into the running engine.", nil, nil)
	descRuleMatches = prometheus.NewDesc("xdpids_rule_matches_total",
		"Signature rules that matched (before thresholds and noalert).", nil, nil)
	descRuleCandidates = prometheus.NewDesc("xdpids_rule_candidates_total",
		"Rules the prefilter selected for full inspection.", nil, nil)
	descGapPackets = prometheus.NewDesc("xdpids_inspection_gap_packets_total",
		"Packets of flows under inspection that the kernel saw and inspection never got (sample budget, ring buffer or queue full).", nil, nil)
	descGapFlows = prometheus.NewDesc("xdpids_inspection_gap_flows_total",
		"Flows whose inspection had gaps.", nil, nil)
	descBypassed = prometheus.NewDesc("xdpids_flow_bypass_total",
		"Flow directions the pipeline bypassed in the kernel, by reason (stream_depth, no_rule, encrypted).", []string{"reason"}, nil)
	descScrapeErrors = prometheus.NewDesc("xdpids_scrape_errors_total",
		"Map reads that failed while collecting metrics.", nil, nil)
)

// Daemon points at the daemon's userspace parts whose counters are exported.
type Daemon struct {
	Pipeline *pipeline.Pipeline
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
	for _, d := range []*prometheus.Desc{descPackets, descBytes, descProto, descFlows, descSamples, descBlocks, descAllows,
		descSamplesRead, descSamplesBad, descOverflow, descDecodeErrors, descAlerts, descFlowsActive, descRules, descRuleMatches, descRuleCandidates, descGapPackets, descGapFlows, descBypassed, descScrapeErrors} {
		ch <- d
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
		counter(descDecodeErrors, ps.Truncated, "truncated")
		counter(descDecodeErrors, ps.NotIP, "not_ip")
		counter(descAlerts, ps.Alerts)
		ch <- prometheus.MustNewConstMetric(descFlowsActive, prometheus.GaugeValue, float64(ps.FlowsActive))
		counter(descGapPackets, ps.GapPackets)
		counter(descGapFlows, ps.GapFlows)
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
	counter(descScrapeErrors, c.scrapeErrors.Load())
}
