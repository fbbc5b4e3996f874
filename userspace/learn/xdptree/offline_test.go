package xdptree

import (
	"net/netip"
	"strconv"
	"testing"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/userspace/config"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/learn/dataset"
	"github.com/xdpids/xdpids/userspace/run/offline"
)

// TestOfflineReadWithTree: `read` with an in-kernel model (offline.Options.
// Tree) runs it in the XDP pass: the program judges the flow directions
// the Go tracker judges, with the same classes, and with the drop action
// drops the malicious ones in the kernel. Each malicious verdict reaches
// the pipeline as a model sample and is an alert (sid 8600003, detector
// model, engine xdp, the model's class name and threshold), gated as the
// userspace model's are: one per source per 60 s of packet time.
func TestOfflineReadWithTree(t *testing.T) {
	testenv.RequireBPF(t)
	base := trainGolden(t, 8, 0.5)
	path := testenv.RootPath(t, "testdata", "golden", "brute_ssh.pcap")
	c, err := ReadCapture(path, goldenLabels(t), base.Packets)
	if err != nil {
		t.Fatal(err)
	}
	tree := base.Compile()
	var want [bpf.TreeMaxClasses]uint64
	// the alerts the gate lets through, from the Go verdicts
	type wantAlert struct {
		src   netip.Addr
		class string
	}
	var wantAlerts []wantAlert
	last := map[netip.Addr]int64{}
	for _, s := range c.Samples {
		cl := Classify(tree, &s.Vec)
		want[cl]++
		if cl == 0 {
			continue
		}
		subject := s.Src
		if base.Classes[cl] == "dos" {
			subject = s.Dst
		}
		if t0, ok := last[subject]; ok && s.TsNs-t0 < 60e9 {
			continue
		}
		last[subject] = s.TsNs
		wantAlerts = append(wantAlerts, wantAlert{s.Src, base.Classes[cl]})
	}
	if want[0] == uint64(len(c.Samples)) {
		t.Fatal("the model judges nothing malicious here: no drop to check")
	}
	if len(wantAlerts) >= int(len(c.Samples)-int(want[0])) {
		t.Fatalf("%d alerts for %d malicious verdicts: the gate is not tested here", len(wantAlerts), len(c.Samples)-int(want[0]))
	}
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{ActionAlert, ActionDrop} {
		m := *base
		m.Action = action
		tree := m.Compile()
		rc := cfg.ResponseConfig()
		rc.DryRun = true // no bans: the block list would stop packets before the flow table
		var alerts []*alert.Alert
		sum, err := offline.Run(offline.Options{Path: path, Mode: offline.ModeXDP, Datapath: replayConfig(),
			Pipeline: cfg.PipelineConfig(), Respond: rc, Tree: tree, TreeVerdicts: m.Verdicts(),
			OnAlert: func(a *alert.Alert) {
				if a.SID == alert.ModelKernel.SID {
					alerts = append(alerts, a)
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		if sum.XDPStats == nil || sum.XDPStats.TreeVerdicts != want {
			t.Fatalf("%s: kernel verdicts %v, Go %v", action, sum.XDPStats.TreeVerdicts, want)
		}
		d := sum.XDPStats.Verdicts[bpf.VerdictDrop][bpf.ReasonModel].Packets
		if action == ActionDrop && d == 0 {
			t.Errorf("%s: no packet dropped by the model", action)
		}
		if action == ActionAlert && d != 0 {
			t.Errorf("%s: %d packets dropped by the model", action, d)
		}
		if len(alerts) != len(wantAlerts) {
			t.Fatalf("%s: %d in-kernel model alerts, want %d (%d malicious verdicts, gated)", action, len(alerts), len(wantAlerts),
				len(c.Samples)-int(want[0]))
		}
		t.Logf("%s: %d malicious verdicts, %d alerts (%v)", action, len(c.Samples)-int(want[0]), len(alerts), want[:len(m.Classes)])
		wantAction := "allowed"
		if action == ActionDrop {
			wantAction = "blocked"
		}
		for i, a := range alerts {
			w := wantAlerts[i]
			md := a.Metadata
			if a.Detector != "model" || a.Src != w.src || a.Action != wantAction || md["engine"] != "xdp" ||
				md["class"] != w.class || md["threshold"] != strconv.FormatFloat(m.Threshold, 'f', 4, 64) ||
				md["packets"] != strconv.Itoa(m.Packets) || md["model"] != Kind || a.Trust == "" {
				t.Errorf("%s: alert %d: %s %s src %s action %s trust %s metadata %v; want model, src %s, %s, class %s",
					action, i, a.Detector, a.Signature, a.Src, a.Action, a.Trust, md, w.src, wantAction, w.class)
			}
			if s, err := strconv.ParseFloat(md["score"], 64); err != nil || s < m.Threshold-1e-3 {
				t.Errorf("%s: alert %d: score %q under the threshold %v", action, i, md["score"], m.Threshold)
			}
		}
	}
}

// TestEvaluateRowsTimed: Evaluate's rows carry each flow's source and
// times, so dataset.Evaluate gates false alerts per source and measures
// the benign hours as it does for the userspace models.
func TestEvaluateRowsTimed(t *testing.T) {
	m := trainGolden(t, 8, 0.5)
	path := testenv.RootPath(t, "testdata", "golden", "benign.pcap")
	c, err := ReadCapture(path, goldenLabels(t), m.Packets)
	if err != nil {
		t.Fatal(err)
	}
	rows := Evaluate(m, []*Capture{c})
	if len(rows) != len(c.Labels) || len(c.Flows) != len(c.Labels) {
		t.Fatalf("%d rows, %d flows, %d labels", len(rows), len(c.Flows), len(c.Labels))
	}
	for _, r := range rows {
		if r.Src == "" || r.TsNs <= 0 {
			t.Fatalf("row without source or time: %+v", r)
		}
	}
	res := dataset.Evaluate(rows)
	if h := float64(c.DurationNs) / 3.6e12; res.BenignHours <= 0 || res.BenignHours > h*1.001 {
		t.Errorf("benign hours %v, capture %v h", res.BenignHours, h)
	}
}
