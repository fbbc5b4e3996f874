package metrics_test

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/capture/samples"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/output/metrics"
	"github.com/xdpids/xdpids/userspace/respond"
	"github.com/xdpids/xdpids/userspace/run/pipeline"
)

var dashboardPath = filepath.Join("..", "..", "..", "dist", "grafana", "xdpids.json")

// daemonMetrics is a Daemon with every part present and one event of each
// kind, so that every family it can export has a series.
func daemonMetrics(t *testing.T, maps *loader.Maps, ring *samples.Reader) *metrics.Daemon {
	t.Helper()
	cfg := respond.DefaultConfig()
	cfg.ProtectHost = false
	resp, err := respond.New(cfg, maps)
	if err != nil {
		t.Fatal(err)
	}
	d := &metrics.Daemon{Pipeline: pipeline.New(pipeline.DefaultConfig(), func(*alert.Alert) {}), Responder: resp, Ring: ring}
	resp.OnBan = func(a *alert.Alert) { d.ObserveBanLatency(0.002) }
	a := &alert.Alert{Subject: netip.MustParseAddr("192.0.2.99"), BanTTLNs: int64(time.Minute), Detector: "port_scan", Severity: 2}
	resp.Handle(a, int64(loader.KernelNow()))
	d.ObserveAlert(a)
	d.ObserveAlert(&alert.Alert{Detector: "signature", Action: "allowed", Severity: 3})
	d.Reloaded(true, time.Now())
	d.Reloaded(false, time.Now())
	return d
}

// gatherAll registers what the daemon serves and returns each family by
// name.
func gatherAll(t *testing.T, maps *loader.Maps, d *metrics.Daemon) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := metrics.Register(reg, maps, d); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// TestDaemonMetrics: the event and responder metrics carry what happened.
func TestDaemonMetrics(t *testing.T) {
	dp, _ := setup(t)
	rd, err := samples.NewReader(dp.SamplesMap())
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	d := daemonMetrics(t, dp.Maps(), rd)
	got := scrape(t, metrics.NewCollector(dp.Maps(), d))
	check(t, got, map[string]float64{
		"xdpids_alerts_total{action=blocked,detector=port_scan,severity=2}": 1,
		"xdpids_alerts_total{action=allowed,detector=signature,severity=3}": 1,
		"xdpids_bans_total{detector=port_scan}":                             1,
		"xdpids_ban_cap_hits_total{cap=active}":                             0,
		"xdpids_ban_cap_hits_total{cap=rate}":                               0,
		"xdpids_ban_cap_hits_total{cap=rate_forgeable}":                     0,
		"xdpids_ban_cap_hits_total{cap=forgeable_reserve}":                  0,
		"xdpids_ban_decisions_total{outcome=failed}":                        0,
		"xdpids_reloads_total{result=success}":                              1,
		"xdpids_reloads_total{result=failure}":                              1,
		"xdpids_ban_latency_seconds{}":                                      1, // the count
		"xdpids_ring_buffer_size_bytes{}":                                   float64(rd.BufferSize()),
		"xdpids_ring_buffer_pending_bytes{}":                                float64(rd.AvailableBytes()),
	})
	if v := got["xdpids_last_reload_timestamp_seconds{}"]; v < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("last reload time %v", v)
	}
	var build string
	for k := range got {
		if strings.HasPrefix(k, "xdpids_build_info{") {
			build = k
		}
	}
	if !strings.Contains(build, "goversion=go") || !strings.Contains(build, "commit=") || !strings.Contains(build, "version=") {
		t.Errorf("build info series %q", build)
	}
	all := gatherAll(t, dp.Maps(), d)
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if all[name] == nil {
			t.Errorf("%s not served", name)
		}
	}
}

// promqlIdent finds identifiers in a PromQL expression once strings,
// label matchers, ranges and groupings are taken out. Hand-written: the
// PromQL parser lives in prometheus/prometheus, far too big a dependency
// for one test; the dashboard's queries use a plain subset.
var (
	promqlStrip = []*regexp.Regexp{
		regexp.MustCompile(`"(?:[^"\\]|\\.)*"`),
		regexp.MustCompile(`\{[^}]*\}`),
		regexp.MustCompile(`\[[^\]]*\]`),
		regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`),
	}
	promqlIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
	promqlKeywords = []string{"and", "or", "unless", "bool", "offset"}
)

func promqlMetrics(expr string) []string {
	for _, re := range promqlStrip {
		expr = re.ReplaceAllString(expr, " ")
	}
	var out []string
	for _, m := range promqlIdent.FindAllStringSubmatch(expr, -1) {
		if m[1] != "" || slices.Contains(promqlKeywords, m[0]) {
			continue // a function or aggregation, or an operator
		}
		out = append(out, m[0])
	}
	return out
}

func TestPromqlMetrics(t *testing.T) {
	got := promqlMetrics(`histogram_quantile(0.99, sum by (le) (rate(a_bucket{x="}"}[$__rate_interval]))) / on (i) b_total > 0 and c`)
	if !slices.Equal(got, []string{"a_bucket", "b_total", "c"}) {
		t.Fatalf("got %q", got)
	}
}

// TestDashboard: the Grafana dashboard parses, and every metric its
// queries name is one the daemon serves (histograms by their _bucket,
// _sum and _count series).
func TestDashboard(t *testing.T) {
	data, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	if dash.Title == "" || len(dash.Panels) < 10 {
		t.Fatalf("dashboard %q has %d panels", dash.Title, len(dash.Panels))
	}
	dp, _ := setup(t)
	rd, err := samples.NewReader(dp.SamplesMap())
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	families := gatherAll(t, dp.Maps(), daemonMetrics(t, dp.Maps(), rd))
	served := map[string]bool{}
	for name, mf := range families {
		served[name] = true
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				served[name+s] = true
			}
		}
	}
	type query struct{ where, expr string }
	var queries []query
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			queries = append(queries, query{"panel " + p.Title, tg.Expr})
		}
	}
	for _, v := range dash.Templating.List {
		if q, ok := v.Query.(string); ok && strings.HasPrefix(q, "label_values(") {
			// label_values(series, label): the series is the query.
			inner := strings.TrimSuffix(strings.TrimPrefix(q, "label_values("), ")")
			if i := strings.LastIndex(inner, ","); i >= 0 {
				inner = inner[:i]
			}
			queries = append(queries, query{"variable " + v.Name, inner})
		}
	}
	used := 0
	for _, q := range queries {
		names := promqlMetrics(q.expr)
		if len(names) == 0 {
			t.Errorf("%s: no metric in %q", q.where, q.expr)
		}
		for _, n := range names {
			used++
			if !served[n] {
				t.Errorf("%s: %s is not a metric xdpids serves (query %q)", q.where, n, q.expr)
			}
		}
	}
	t.Logf("%d panels, %d queries, %d metric references checked", len(dash.Panels), len(queries), used)
}
