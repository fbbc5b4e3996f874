package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/learn/dataset"
	"github.com/xdpids/xdpids/userspace/learn/xdptree"
	"github.com/xdpids/xdpids/userspace/run/offline"
)

// newModelXDPCommand is `xdpids model xdp`: the in-kernel model (a tree
// ensemble the XDP program runs at packet N of each flow direction).
func newModelXDPCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "xdp",
		Short: "The in-kernel model: train a tree ensemble on the XDP program's own flow counters, evaluate it",
	}
	cmd.AddCommand(newModelXDPTrainCommand(), newModelXDPEvalCommand())
	return cmd
}

type xdpLabelFlags struct {
	labels     []string
	labelFiles []string
	def        string
	keepGoing  bool
}

func (l *xdpLabelFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVar(&l.labels, "label", nil, "CIDR=LABEL: flows with an endpoint in CIDR get LABEL (repeatable; first match wins)")
	f.StringArrayVar(&l.labelFiles, "labels", nil, "labels file: lines CAPTURE-GLOB CIDR LABEL [FROM TO] (repeatable)")
	f.StringVar(&l.def, "default-label", "benign", "label of flows no rule matches")
	f.BoolVar(&l.keepGoing, "keep-going", false, "warn about a damaged capture and go on (what came before the damage is kept)")
}

// captures reads args as the program would count them, judging at packet n.
func (l *xdpLabelFlags) captures(args []string, n int) ([]*xdptree.Capture, error) {
	labels := dataset.Labels{Default: l.def}
	for _, s := range l.labels {
		r, err := dataset.ParseFlag(s)
		if err != nil {
			return nil, err
		}
		labels.Rules = append(labels.Rules, r)
	}
	for _, name := range l.labelFiles {
		rs, err := dataset.ReadFile(name)
		if err != nil {
			return nil, err
		}
		labels.Rules = append(labels.Rules, rs...)
	}
	var caps []*xdptree.Capture
	for _, a := range args {
		c, err := xdptree.ReadCapture(a, &labels, n)
		if err != nil {
			if !l.keepGoing || c == nil {
				return nil, err
			}
			fmt.Fprintln(os.Stderr, "xdpids: warning:", err)
		}
		caps = append(caps, c)
	}
	return caps, nil
}

func newModelXDPTrainCommand() *cobra.Command {
	var (
		out string
		lf  xdpLabelFlags
		o   xdptree.Options
	)
	cmd := &cobra.Command{
		Use:   "train CAPTURE... -o MODEL.json",
		Short: "Train the in-kernel tree ensemble on labelled captures (features as the XDP program counts them)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errors.New("model xdp train: -o FILE is required")
			}
			caps, err := lf.captures(args, o.Packets)
			if err != nil {
				return err
			}
			ds := xdptree.Training(caps)
			m, err := xdptree.Train(ds, o)
			if err != nil {
				return err
			}
			b, err := m.Marshal()
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
				return fmt.Errorf("write model: %w", err)
			}
			nodes := 0
			for _, t := range m.Trees {
				nodes += len(t.Feature)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "trained %d trees (%d nodes) on %d flow directions at packet %d, classes %v (%v): %s\n",
				len(m.Trees), nodes, len(ds.X), m.Packets, m.Classes, m.Info.Counts, out)
			return nil
		},
	}
	lf.add(cmd)
	f := cmd.Flags()
	f.StringVarP(&out, "output", "o", "", "model file to write")
	f.IntVar(&o.Packets, "packets", 8, "judge each flow direction at this packet (1-255)")
	f.IntVar(&o.Trees, "trees", 4, "trees (1-8)")
	f.IntVar(&o.MaxDepth, "depth", 10, "maximum depth (1-12)")
	f.IntVar(&o.MinLeaf, "min-leaf", 2, "samples a leaf keeps at least")
	f.IntVar(&o.Features, "features", 6, "candidate features per split")
	f.Float64Var(&o.Threshold, "threshold", 0.6, "mean leaf score (1 - P(benign)) that is malicious")
	f.StringVar(&o.Action, "action", xdptree.ActionAlert, "what a malicious verdict does in the kernel: alert (count, record) or drop")
	f.Uint64Var(&o.Seed, "seed", 1, "random seed")
	return cmd
}

func newModelXDPEvalCommand() *cobra.Command {
	var (
		path string
		lf   xdpLabelFlags
	)
	cmd := &cobra.Command{
		Use:   "eval CAPTURE... --model MODEL.json",
		Short: "Score the in-kernel model on labelled captures: precision, recall, F1 per class, false alerts",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := xdptree.Load(path)
			if err != nil {
				return err
			}
			caps, err := lf.captures(args, m.Packets)
			if err != nil {
				return err
			}
			res := dataset.Evaluate(xdptree.Evaluate(m, caps))
			benign := res.Benign
			w := cmd.OutOrStdout()
			dataset.Report(w, &res)
			// flows the program judged at all: a direction reached packet N
			reach, flows := map[string]int{}, map[string]int{}
			var ns int64
			for _, c := range caps {
				ns += c.DurationNs
				seen := make([]bool, len(c.Labels))
				for _, s := range c.Samples {
					if !seen[s.Flow] {
						seen[s.Flow] = true
						reach[s.Label]++
					}
				}
				for _, l := range c.Labels {
					flows[l]++
				}
			}
			for _, l := range slices.Sorted(maps.Keys(flows)) {
				fmt.Fprintf(w, "%s: %d of %d flows reached packet %d\n", l, reach[l], flows[l], m.Packets)
			}
			h := time.Duration(ns).Hours()
			if h > 0 {
				fmt.Fprintf(w, "captures: %d, %.2f h of traffic: %.1f false alerts per hour\n", len(caps), h, float64(benign.Alerted)/h)
			}
			return nil
		},
	}
	lf.add(cmd)
	cmd.Flags().StringVar(&path, "model", "", "xdp-forest model file")
	_ = cmd.MarkFlagRequired("model")
	return cmd
}

// loadReadXDPModel loads read's in-kernel model ("" or "none": none).
func loadReadXDPModel(v string) (*xdptree.Model, *loader.Tree, error) {
	switch v {
	case "", "none", "off":
		return nil, nil, nil
	}
	m, err := xdptree.Load(v)
	if err != nil {
		return nil, nil, err
	}
	t := m.Compile()
	if err := t.Check(); err != nil {
		return nil, nil, fmt.Errorf("xdp model %s: %w", v, err)
	}
	return m, t, nil
}

// printTreeSummary prints the in-kernel model's verdicts of a read.
func printTreeSummary(w io.Writer, s *offline.Summary, m *xdptree.Model) {
	if m == nil {
		return
	}
	if s.XDPStats == nil {
		fmt.Fprintln(w, "in-kernel model: not run (no XDP pass: userspace mode)")
		return
	}
	fmt.Fprintf(w, "in-kernel model (judged at packet %d, %s): flow directions", m.Packets, m.Action)
	for c, n := range s.XDPStats.TreeVerdicts[:len(m.Classes)] {
		fmt.Fprintf(w, " %s %d", m.Classes[c], n)
	}
	fmt.Fprintf(w, "; dropped by it %d packets\n", s.XDPStats.Verdicts[bpf.VerdictDrop][bpf.ReasonModel].Packets)
}
