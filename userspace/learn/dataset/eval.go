package dataset

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/xdpids/xdpids/userspace/learn/features"
	"github.com/xdpids/xdpids/userspace/learn/model"
)

// ClassScore is a model's record on one class of flows.
type ClassScore struct {
	Class            string
	Flows, Alerted   int // flows of the class, those alerted
	Predicted, Right int // alerts naming the class, those right
}

// Precision and Recall of the class (Recall: alerted share; Precision:
// the share of alerts naming it that were right, or of all alerts on
// attacks when the model names no class).
func (c ClassScore) Recall() float64 { return ratio(c.Alerted, c.Flows) }

// Precision is the share of the alerts naming the class that were right.
func (c ClassScore) Precision() float64 { return ratio(c.Right, c.Predicted) }

// F1 is the harmonic mean of precision and recall.
func (c ClassScore) F1() float64 {
	p, r := c.Precision(), c.Recall()
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Result is Evaluate's: the per-class scores, the benign flows, and the
// false alerts per hour of benign traffic.
type Result struct {
	Per    []ClassScore
	Benign ClassScore // Flows, and Alerted: benign flows alerted
	// FalseAlerts are the alerts the daemon would raise on benign flows:
	// one per source per AlertGap of packet time in each capture (the
	// daemon's model alert gate), the first alerted point of each flow.
	FalseAlerts int
	// FalseList are those alerts: capture, source, the flow's responder
	// and the class named.
	FalseList []FalseAlert
	// Confusion counts alerted flows by label, then by the class named.
	Confusion map[string]map[string]int
	// BenignHours is the benign traffic's time: per capture, from the
	// first benign flow's start to the last one's end, summed.
	BenignHours float64
	// Captures are the attack flows by capture and label, those alerted
	// and those named their label (in capture order).
	Captures []CaptureScore
}

// CaptureScore is a model's record on one capture's flows of one label.
type CaptureScore struct {
	Capture, Label        string
	Flows, Alerted, Named int
}

// FalseAlert is one false alert of Evaluate's count.
type FalseAlert struct {
	Capture, Src, Dst, Class string
	DstPort                  uint16
	TsNs                     int64
}

// FalseAlertsPerHour is FalseAlerts over BenignHours (0 without benign time).
func (r *Result) FalseAlertsPerHour() float64 {
	if r.BenignHours <= 0 {
		return 0
	}
	return float64(r.FalseAlerts) / r.BenignHours
}

// MacroF1 is the mean F1 over the attack classes.
func (r *Result) MacroF1() float64 {
	if len(r.Per) == 0 {
		return 0
	}
	s := 0.0
	for _, c := range r.Per {
		s += c.F1()
	}
	return s / float64(len(r.Per))
}

// AlertGapNs is the gate of the false-alert count: the daemon's default
// model alert gap (pipeline.LearnConfig.AlertGapNs).
const AlertGapNs = 60e9

// Evaluate scores rows a model scored (Collect with Options.Model, or
// ScoreRows), one result per flow, as the daemon alerts once per flow: a
// flow is alerted when any of its feature points alerted, with the class
// of the first that did. For a model without classes (isolation:
// "anomaly"), an alert on any attack counts as right for the flow's
// class. dist/learn_baseline.py counts the same way.
func Evaluate(rows []Row) Result {
	by := map[string]*ClassScore{}
	get := func(c string) *ClassScore {
		if by[c] == nil {
			by[c] = &ClassScore{Class: c}
		}
		return by[c]
	}
	type key struct {
		capture string
		id      uint64
	}
	type flow struct {
		label, pred string
		alerted     bool
		src, dst    string
		dport       uint16
		alertNs     int64
		startNs     int64
		endNs       int64
		seen        bool
	}
	flows := map[key]*flow{}
	var order []key
	for _, r := range rows {
		k := key{r.Capture, r.FlowID}
		f := flows[k]
		if f == nil {
			f = &flow{label: r.Label, src: r.Src, dst: r.Dst, dport: r.DstPort}
			flows[k] = f
			order = append(order, k)
		}
		start := r.TsNs - int64(r.Vec[features.Duration]*1e9)
		if !f.seen || start < f.startNs {
			f.startNs = start
		}
		f.endNs = max(f.endNs, r.TsNs)
		f.seen = true
		if r.Alert && !f.alerted {
			f.alerted, f.pred, f.alertNs = true, r.Class, r.TsNs
		}
	}
	var res Result
	byCapture := map[[2]string]int{} // index in res.Captures
	type span struct{ lo, hi int64 }
	spans := map[string]*span{}
	type falseAlert struct {
		capture, src string
		at           int64
		f            *flow
	}
	var fas []falseAlert
	for _, k := range order {
		f := flows[k]
		c := get(f.label)
		c.Flows++
		if f.label != model.Benign {
			ck := [2]string{k.capture, f.label}
			i, ok := byCapture[ck]
			if !ok {
				i = len(res.Captures)
				res.Captures = append(res.Captures, CaptureScore{Capture: k.capture, Label: f.label})
				byCapture[ck] = i
			}
			cs := &res.Captures[i]
			cs.Flows++
			if f.alerted {
				cs.Alerted++
				if f.pred == f.label || f.pred == "anomaly" {
					cs.Named++
				}
			}
		}
		if f.label == model.Benign {
			s := spans[k.capture]
			if s == nil {
				spans[k.capture] = &span{f.startNs, f.endNs}
			} else {
				s.lo, s.hi = min(s.lo, f.startNs), max(s.hi, f.endNs)
			}
			if f.alerted {
				fas = append(fas, falseAlert{k.capture, f.src, f.alertNs, f})
			}
		}
		if !f.alerted {
			continue
		}
		c.Alerted++
		if res.Confusion == nil {
			res.Confusion = map[string]map[string]int{}
		}
		if res.Confusion[f.label] == nil {
			res.Confusion[f.label] = map[string]int{}
		}
		res.Confusion[f.label][f.pred]++
		pred := f.pred
		if pred == "anomaly" && f.label != model.Benign {
			pred = f.label
		}
		if pred == "anomaly" {
			continue // a false alert on benign: counted in benign.Alerted
		}
		p := get(pred)
		p.Predicted++
		if pred == f.label {
			p.Right++
		}
	}
	for _, s := range spans {
		res.BenignHours += float64(s.hi-s.lo) / 3600e9
	}
	slices.SortStableFunc(fas, func(a, b falseAlert) int {
		if c := strings.Compare(a.capture, b.capture); c != 0 {
			return c
		}
		if c := strings.Compare(a.src, b.src); c != 0 {
			return c
		}
		return cmp.Compare(a.at, b.at)
	})
	last := map[[2]string]int64{}
	for _, fa := range fas {
		k := [2]string{fa.capture, fa.src}
		if at, ok := last[k]; ok && fa.at-at < AlertGapNs {
			continue
		}
		last[k] = fa.at
		res.FalseAlerts++
		res.FalseList = append(res.FalseList, FalseAlert{Capture: fa.capture, Src: fa.src, Dst: fa.f.dst, DstPort: fa.f.dport, Class: fa.f.pred, TsNs: fa.at})
	}
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if n == model.Benign {
			res.Benign = *by[n]
			continue
		}
		res.Per = append(res.Per, *by[n])
	}
	return res
}

// Report prints Evaluate's table.
func Report(w io.Writer, r *Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "class\tflows\talerted\tprecision\trecall\tF1")
	for _, c := range r.Per {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%.3f\t%.3f\n", c.Class, c.Flows, c.Alerted, c.Precision(), c.Recall(), c.F1())
	}
	fmt.Fprintf(tw, "benign\t%d\t%d (false alerts)\t\t\t\n", r.Benign.Flows, r.Benign.Alerted)
	tw.Flush()
	fmt.Fprintf(w, "false alerts: %d in %.3f h of benign traffic = %.1f per hour (one per source per %.0f s, as the daemon gates)\n",
		r.FalseAlerts, r.BenignHours, r.FalseAlertsPerHour(), AlertGapNs/1e9)
	if len(r.Per) > 0 {
		fmt.Fprintf(w, "macro F1 (mean over the %d attack classes): %.3f\n", len(r.Per), r.MacroF1())
	}
}

// ReportFalse lists the alerted flows by label and class named, then the
// false alerts, one a line.
func ReportFalse(w io.Writer, r *Result) {
	labels := make([]string, 0, len(r.Confusion))
	for l := range r.Confusion {
		labels = append(labels, l)
	}
	slices.Sort(labels)
	for _, l := range labels {
		preds := make([]string, 0, len(r.Confusion[l]))
		for p := range r.Confusion[l] {
			preds = append(preds, p)
		}
		slices.Sort(preds)
		for _, p := range preds {
			fmt.Fprintf(w, "alerted: %s named %s: %d\n", l, p, r.Confusion[l][p])
		}
	}
	for _, fa := range r.FalseList {
		fmt.Fprintf(w, "false alert: %s %s -> %s:%d %s at %d\n", fa.Capture, fa.Src, fa.Dst, fa.DstPort, fa.Class, fa.TsNs)
	}
}

// ReportCaptures prints the attack flows by capture: flows, those
// alerted, those named their label (an anomaly counts as named), recall.
func ReportCaptures(w io.Writer, r *Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "capture\tlabel\tflows\talerted\tnamed\trecall")
	for _, c := range r.Captures {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%.3f\n", c.Capture, c.Label, c.Flows, c.Alerted, c.Named, ratio(c.Alerted, c.Flows))
	}
	tw.Flush()
}
