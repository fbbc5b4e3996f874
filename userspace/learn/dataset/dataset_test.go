package dataset

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/userspace/config"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/learn/model"
	"github.com/xdpids/xdpids/userspace/run/offline"
)

func golden(t *testing.T, name string) string {
	return testenv.RootPath(t, "testdata", "golden", name)
}

func goldenLabels(t *testing.T) Labels {
	rs, err := ReadFile(testenv.RootPath(t, "testdata", "learn-golden.labels"))
	if err != nil {
		t.Fatal(err)
	}
	return Labels{Rules: rs}
}

func TestLabels(t *testing.T) {
	rs, err := Read(strings.NewReader("# c\nscan_*.pcap 203.0.113.66 scan\n* 198.51.100.0/24 dos 100 200\n"))
	if err != nil {
		t.Fatal(err)
	}
	l := Labels{Rules: rs, Default: "benign"}
	a, b := netip.MustParseAddr("203.0.113.66"), netip.MustParseAddr("198.51.100.7")
	o := netip.MustParseAddr("192.0.2.1")
	for _, tc := range []struct {
		capture string
		x       netip.Addr
		at      int64
		want    string
	}{
		{"dir/scan_syn.pcap", a, 0, "scan"},
		{"other.pcap", a, 0, "benign"},
		{"other.pcap", b, 150e9, "dos"},
		{"other.pcap", b, 250e9, "benign"},
		{"scan_syn.pcap", o, 0, "benign"},
	} {
		if got := l.Of(tc.capture, o, tc.x, tc.at); got != tc.want {
			t.Errorf("%s %s at %d: %q, want %q", tc.capture, tc.x, tc.at, got, tc.want)
		}
	}
	for _, bad := range []string{"x 1.2.3.4\n", "x notanaddr scan\n", "x 1.2.3.4 scan yesterday 5\n", "[ 1.2.3.4 scan\n"} {
		if _, err := Read(strings.NewReader(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := ParseFlag("1.2.3.4"); err == nil {
		t.Error("a label flag without =LABEL accepted")
	}
}

func TestCSVRoundTrip(t *testing.T) {
	rows, err := Collect([]string{golden(t, "brute_ssh.pcap"), golden(t, "benign.pcap")}, Options{Labels: goldenLabels(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]int{}
	for _, r := range rows {
		labels[r.Label]++
	}
	if labels["bruteforce"] != 30 || labels["benign"] == 0 { // 15 connections, at the packet point and the end
		t.Errorf("labels %v", labels)
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		if err := w.Write(&rows[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "f.csv")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := ReadCSV(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(rows) {
		t.Fatalf("%d rows back, wrote %d", len(back), len(rows))
	}
	for i := range rows {
		for j := range rows[i].Vec {
			a, b := rows[i].Vec[j], back[i].Vec[j]
			if d := a - b; d > 1e-6*max(1, a) || -d > 1e-6*max(1, a) {
				t.Fatalf("row %d feature %d: %v back as %v", i, j, a, b)
			}
		}
		if back[i].Label != rows[i].Label {
			t.Fatalf("row %d: label %q back as %q", i, rows[i].Label, back[i].Label)
		}
	}
}

// The default model raises one model alert on a SYN scan, against the
// scanner, with its score, threshold and top features; none on the
// generated benign traffic it trained on but one at most. In monitor
// mode: in prevent mode the scan detector bans the scanner first, and the
// model sees nothing of its later probes.
func TestModelAlerts(t *testing.T) {
	cfg := config.Default()
	cfg.Mode = "monitor"
	run := func(name string) []*alert.Alert {
		var got []*alert.Alert
		_, err := offline.Run(offline.Options{Path: golden(t, name), Mode: offline.ModeUserspace,
			Datapath: cfg.DatapathConfig(), Pipeline: cfg.PipelineConfig(), Respond: cfg.ResponseConfig(),
			Model: model.Set{model.Default()},
			OnAlert: func(a *alert.Alert) {
				if a.Detector == "model" {
					got = append(got, a)
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	scan := run("scan_syn.pcap")
	if len(scan) != 1 {
		t.Fatalf("%d model alerts on a SYN scan, want 1", len(scan))
	}
	a := scan[0]
	if a.SID != alert.ModelSupervised.SID || a.Subject.String() != "203.0.113.66" || a.Trust != alert.TrustForgeable {
		t.Errorf("alert sid %d subject %s trust %s", a.SID, a.Subject, a.Trust)
	}
	for _, k := range []string{"score", "threshold", "top_features", "class"} {
		if a.Metadata[k] == "" {
			t.Errorf("metadata has no %s: %v", k, a.Metadata)
		}
	}
	if n := len(run("benign.pcap")); n > 1 {
		t.Errorf("%d model alerts on benign traffic", n)
	}
	if f := run("synflood_spoofed.pcap"); len(f) != 1 || !f[0].SubjectIsTarget {
		t.Errorf("spoofed flood: %d model alerts (want 1, against the target)", len(f))
	}
}

// Trained on the generated captures only, the forest is scored on the
// corpus's real captures it never saw, one flow at a time.
func TestHeldOutCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a forest")
	}
	dir := testenv.Corpus(t, "attack-pcaps")
	// Monitor mode: nothing dropped, every flow seen whole (a scanner the
	// scan detector bans would otherwise show its target's answers only).
	mon := filepath.Join(t.TempDir(), "monitor.yaml")
	if err := os.WriteFile(mon, []byte("mode: monitor\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var train []string
	for _, n := range []string{"scan_syn", "scan_fin", "scan_null", "scan_xmas", "scan_ack", "scan_udp", "scan_connect", "scan_ipv6",
		"sweep_tcp", "brute_ssh", "brute_ftp", "synflood_single", "synflood_spoofed", "synack_reflection", "udpflood_single",
		"amp_dns", "amp_ntp", "amp_snmp", "benign", "dns_three_resolvers", "app_dns", "app_http", "app_ssh", "app_tls"} {
		train = append(train, golden(t, n+".pcap"))
	}
	rows, err := Collect(train, Options{Labels: goldenLabels(t), Config: mon}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.TrainForest(Split(rows), model.ForestOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := ReadFile(testenv.RootPath(t, "testdata", "learn-corpus.labels"))
	if err != nil {
		t.Fatal(err)
	}
	var test []string
	for _, p := range []string{"scans/nmap_sS_TCP_SYN_SCAN.pcap", "scans/nmap_sF_FIN_SCAN.pcap", "scans/nmap_sA_ACK_SCAN.pcap",
		"scans/nmap_sU_UDP_SCAN.pcap", "floods/pkt.TCP.synflood.spoofed.pcap", "floods/amp.UDP.snmp.src161.pcapng",
		"bruteforce/zeek_ssh_sshguess.pcap", "bruteforce/zeek_ftp_bruteforce.pcap"} {
		test = append(test, filepath.Join(dir, p))
	}
	scored, err := Collect(test, Options{Labels: Labels{Rules: rs}, Model: model.Set{m}, Config: mon}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res := Evaluate(scored)
	var out bytes.Buffer
	Report(&out, &res)
	t.Log("\n" + out.String())
	for _, c := range res.Per {
		if c.Recall() < 0.5 {
			t.Errorf("%s: recall %.3f on unseen captures", c.Class, c.Recall())
		}
	}
}

// The daemon's alert decision (the pipeline, Collect with a model) and
// the CSV scorer (ScoreRows) agree point by point, for a forest, for an
// isolation forest that alerts on a source only once it repeated, and for
// both side by side (a set: each model gated on its own, a point alerting
// when either's verdict does, as the first alerting one); and Repeat holds
// back a source's first anomalous points.
func TestScoreRowsMatchesPipeline(t *testing.T) {
	mon := filepath.Join(t.TempDir(), "monitor.yaml")
	if err := os.WriteFile(mon, []byte("mode: monitor\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	normal, err := Collect([]string{golden(t, "benign.pcap"), golden(t, "app_http.pcap")}, Options{Config: mon}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ds := Split(normal)
	alerted := map[int]int{}
	for _, repeat := range []int{1, 3} {
		iso, err := model.TrainIsolation(ds.X, model.IsolationOptions{Trees: 30, Seed: 1, Repeat: repeat})
		if err != nil {
			t.Fatal(err)
		}
		forest := model.Default()
		var single [2][]Row
		for si, set := range []model.Set{{forest}, {iso}, {forest, iso}, {iso, forest}} {
			rows, err := Collect([]string{golden(t, "scan_syn.pcap"), golden(t, "brute_ssh.pcap")}, Options{Config: mon, Model: set}, nil)
			if err != nil {
				t.Fatal(err)
			}
			again := slices.Clone(rows)
			ScoreRows(again, set)
			for i := range rows {
				if rows[i].Alert != again[i].Alert || rows[i].Score != again[i].Score || rows[i].Class != again[i].Class {
					t.Fatalf("set %d repeat %d, row %d: pipeline alert %v score %v class %s, ScoreRows %v %v %s", si, repeat, i,
						rows[i].Alert, rows[i].Score, rows[i].Class, again[i].Alert, again[i].Score, again[i].Class)
				}
			}
			if si < 2 {
				single[si] = rows
				continue
			}
			// A set alerts where either model alone did, as the first
			// in its order that did.
			a, b := single[0], single[1]
			if si == 3 {
				a, b = b, a
			}
			for i, r := range rows {
				want, class := a[i].Alert || b[i].Alert, a[i].Class
				if !a[i].Alert && b[i].Alert {
					class = b[i].Class
				}
				if r.Alert != want || (want && r.Class != class) {
					t.Fatalf("set %d repeat %d, row %d: alert %v %s, alone %v %s and %v %s", si, repeat, i,
						r.Alert, r.Class, a[i].Alert, a[i].Class, b[i].Alert, b[i].Class)
				}
			}
		}
		for _, r := range single[1] {
			if r.Alert {
				alerted[repeat]++
			}
		}
	}
	if alerted[1] == 0 || alerted[3] > alerted[1]-2 {
		t.Errorf("alerted points: %d with repeat 1, %d with repeat 3 (want at least 2 fewer)", alerted[1], alerted[3])
	}
}

// Calibrate's threshold is the lowest at which the normal traffic's gated
// alerts stay within the bound: one score step below it they do not.
func TestCalibrate(t *testing.T) {
	mon := filepath.Join(t.TempDir(), "monitor.yaml")
	if err := os.WriteFile(mon, []byte("mode: monitor\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	normal, err := Collect([]string{golden(t, "benign.pcap"), golden(t, "app_http.pcap"), golden(t, "scan_syn.pcap")}, Options{Config: mon}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ds := Split(normal)
	for _, perHour := range []float64{0, 50, 1e4} {
		m, err := model.TrainIsolation(ds.X, model.IsolationOptions{Trees: 30, Seed: 1, Repeat: 2, Quantile: 0.5})
		if err != nil {
			t.Fatal(err)
		}
		floor := m.Threshold
		rows := slices.Clone(normal)
		got := Calibrate(rows, m, perHour)
		t.Logf("max %v: threshold %.4f (quantile %.4f), %v an hour", perHour, m.Threshold, floor, got)
		if got > perHour || m.Threshold < floor {
			t.Fatalf("max %v: %v an hour at threshold %v (quantile's %v)", perHour, got, m.Threshold, floor)
		}
		// The rate at the next lower score, if above the floor, is over the bound.
		lower := floor
		for _, r := range rows {
			if r.Score < m.Threshold && r.Score > lower {
				lower = r.Score
			}
		}
		if lower > floor {
			m2 := *m
			m2.Threshold = lower
			again := slices.Clone(normal)
			ScoreRows(again, model.Set{&m2})
			for i := range again {
				again[i].Label = model.Benign
			}
			if res := Evaluate(again); res.FalseAlertsPerHour() <= perHour {
				t.Errorf("max %v: threshold %v is not the lowest: %v gives %v an hour", perHour, m.Threshold, lower, res.FalseAlertsPerHour())
			}
		}
		// The model file written after calibration alerts the same way.
		again := slices.Clone(normal)
		ScoreRows(again, model.Set{m})
		for i := range again {
			again[i].Label = model.Benign
		}
		if res := Evaluate(again); res.FalseAlertsPerHour() != got {
			t.Errorf("max %v: ScoreRows after Calibrate gives %v an hour, Calibrate said %v", perHour, res.FalseAlertsPerHour(), got)
		}
	}
}

// ChooseRepeats picks each attack class's repeat among the candidates from
// out-of-fold scores, and the pipeline then gates by it.
func TestChooseRepeats(t *testing.T) {
	mon := filepath.Join(t.TempDir(), "monitor.yaml")
	if err := os.WriteFile(mon, []byte("mode: monitor\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	caps := []string{golden(t, "benign.pcap"), golden(t, "app_http.pcap"), golden(t, "scan_syn.pcap"), golden(t, "brute_ssh.pcap"), golden(t, "synflood_spoofed.pcap")}
	rows, err := Collect(caps, Options{Config: mon, Labels: goldenLabels(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ds := Split(rows)
	m, oof, err := model.TrainForestCV(ds, Groups(rows), 2, model.ForestOptions{Trees: 5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(oof) != len(rows) {
		t.Fatalf("%d out-of-fold scores for %d rows", len(oof), len(rows))
	}
	cands := []int{1, 2, 3}
	got := ChooseRepeats(rows, m, oof, cands)
	if len(got) != len(m.Classes) || got[0] != 0 {
		t.Fatalf("repeats %v for classes %v", got, m.Classes)
	}
	for c, r := range got[1:] {
		if !slices.Contains(cands, r) {
			t.Errorf("class %s: repeat %d not a candidate", m.Classes[c+1], r)
		}
	}
	b, _ := m.Marshal()
	if _, err := model.Parse(b); err != nil {
		t.Fatal(err)
	}
	// Deterministic: the same scores give the same choice.
	if again := ChooseRepeats(rows, m, oof, cands); !slices.Equal(again, got) {
		t.Errorf("repeats %v, then %v", got, again)
	}
	if ChooseRepeats(rows, m, oof[:1], cands) != nil {
		t.Error("scores of the wrong length accepted")
	}
	// OutOfFold is Evaluate of those scores at the model's thresholds and
	// repeats, as the daemon would alert: the rows themselves untouched.
	res := OutOfFold(rows, m, oof)
	work := slices.Clone(rows)
	for i := range work {
		work[i].Score, work[i].Class = oof[i].Score, m.Classes[oof[i].Class]
		work[i].Alert = oof[i].Score >= m.ThresholdOf(&model.Result{Class: oof[i].Class})
	}
	Gate(work, m.RepeatOfClass)
	if want := Evaluate(work); !reflect.DeepEqual(res, want) || len(res.Per) == 0 {
		t.Errorf("OutOfFold %+v, want %+v", res.Per, want.Per)
	}
	if rows[0].Class != "" || rows[0].Score != 0 {
		t.Errorf("OutOfFold wrote into its rows: %+v", rows[0])
	}
}
