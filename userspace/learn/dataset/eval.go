package dataset

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
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

// Evaluate scores rows a model scored (Collect with Options.Model), one
// result per flow, as the daemon alerts once per flow: a flow is alerted
// when any of its feature points alerted, with the class of the first
// that did. For a model without classes (isolation: "anomaly"), an alert
// on any attack counts as right for the flow's class.
func Evaluate(rows []Row) (per []ClassScore, benign ClassScore) {
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
	}
	flows := map[key]*flow{}
	var order []key
	for _, r := range rows {
		k := key{r.Capture, r.FlowID}
		f := flows[k]
		if f == nil {
			f = &flow{label: r.Label}
			flows[k] = f
			order = append(order, k)
		}
		if r.Alert && !f.alerted {
			f.alerted, f.pred = true, r.Class
		}
	}
	for _, k := range order {
		f := flows[k]
		c := get(f.label)
		c.Flows++
		if !f.alerted {
			continue
		}
		c.Alerted++
		pred := f.pred
		if pred == "anomaly" && f.label != "benign" {
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
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if n == "benign" {
			benign = *by[n]
			continue
		}
		per = append(per, *by[n])
	}
	return per, benign
}

// Report prints Evaluate's table.
func Report(w io.Writer, per []ClassScore, benign ClassScore) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "class\tflows\talerted\tprecision\trecall\tF1")
	for _, c := range per {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%.3f\t%.3f\n", c.Class, c.Flows, c.Alerted, c.Precision(), c.Recall(), c.F1())
	}
	fmt.Fprintf(tw, "benign\t%d\t%d (false alerts)\t\t\t\n", benign.Flows, benign.Alerted)
	tw.Flush()
}
