package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/xdpids/xdpids/userspace/config"
	"github.com/xdpids/xdpids/userspace/learn/dataset"
	"github.com/xdpids/xdpids/userspace/learn/model"
	"github.com/xdpids/xdpids/userspace/run/offline"
)

func newModelCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "model",
		Short: "Flow features and the learned detectors: features, train, learn, eval",
	}
	cmd.AddCommand(newModelFeaturesCommand(), newModelTrainCommand(), newModelLearnCommand(), newModelEvalCommand(), newModelXDPCommand())
	return cmd
}

// labelFlags are the labelling flags of features and train.
type labelFlags struct {
	labels     []string
	labelFiles []string
	def        string
	mode       string
	points     string
	config     string
	keepGoing  bool
}

func (l *labelFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVar(&l.labels, "label", nil, "CIDR=LABEL: flows with an endpoint in CIDR get LABEL (repeatable; first match wins)")
	f.StringArrayVar(&l.labelFiles, "labels", nil, "labels file: lines CAPTURE-GLOB CIDR LABEL [FROM TO] (repeatable)")
	f.StringVar(&l.def, "default-label", "benign", "label of flows no rule matches")
	f.StringVar(&l.mode, "mode", "userspace", "how frames reach the pipeline: userspace, xdp or auto (as read)")
	f.StringVar(&l.points, "points", "all", "feature points to keep: all, packet or end")
	f.StringVar(&l.config, "config", "", "YAML configuration (default: built-in)")
	f.BoolVar(&l.keepGoing, "keep-going", false, "warn about a damaged capture and go on (its records before the damage are kept)")
}

func (l *labelFlags) options() (dataset.Options, error) {
	o := dataset.Options{Labels: dataset.Labels{Default: l.def}, Mode: offline.Mode(l.mode), Points: l.points, Config: l.config}
	if l.keepGoing {
		o.OnError = func(_ string, err error) error {
			fmt.Fprintln(os.Stderr, "xdpids: warning:", err)
			return nil
		}
	}
	switch o.Points {
	case "all", "packet", "end":
	default:
		return o, fmt.Errorf("bad --points %q: want all, packet or end", l.points)
	}
	for _, s := range l.labels {
		r, err := dataset.ParseFlag(s)
		if err != nil {
			return o, err
		}
		o.Labels.Rules = append(o.Labels.Rules, r)
	}
	for _, name := range l.labelFiles {
		rs, err := dataset.ReadFile(name)
		if err != nil {
			return o, err
		}
		o.Labels.Rules = append(o.Labels.Rules, rs...)
	}
	return o, nil
}

func newModelFeaturesCommand() *cobra.Command {
	var (
		out string
		lf  labelFlags
	)
	cmd := &cobra.Command{
		Use:   "features CAPTURE... -o FILE.csv",
		Short: "Write the flow features of captures as CSV (a header row, one row per flow and feature point)",
		Long: "features runs captures through the offline pipeline and writes each flow's features at\n" +
			"each feature point (packet: the flow reached the configured packet count; end: it left\n" +
			"the table) with a label, so anyone can train anything on them.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := lf.options()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if out != "" && out != "-" {
				f, err := os.Create(out)
				if err != nil {
					return fmt.Errorf("features output: %w", err)
				}
				defer f.Close()
				w = f
			}
			cw, err := dataset.NewWriter(w)
			if err != nil {
				return fmt.Errorf("features output: %w", err)
			}
			if _, err := dataset.Collect(args, o, cw.Write); err != nil {
				return err
			}
			return cw.Flush()
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "-", `CSV file ("-" = stdout)`)
	lf.add(cmd)
	return cmd
}

// rowsOf reads the training rows: features CSVs as they are, captures
// through the pipeline.
// With score set, CSV rows are scored by it and captures run with it.
func rowsOf(args []string, o dataset.Options, score model.Set) ([]dataset.Row, error) {
	o.Model = score
	var rows, caps []dataset.Row
	var captures []string
	for _, a := range args {
		if strings.HasSuffix(a, ".csv") {
			r, err := dataset.ReadCSV(a)
			if err != nil {
				return nil, err
			}
			dataset.ScoreRows(r, score)
			rows = append(rows, r...)
			continue
		}
		captures = append(captures, a)
	}
	if len(captures) > 0 {
		var err error
		if caps, err = dataset.Collect(captures, o, nil); err != nil {
			return nil, err
		}
	}
	return append(rows, caps...), nil
}

func writeModel(m *model.Model, out string) error {
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write model: %w", err)
	}
	return nil
}

func newModelTrainCommand() *cobra.Command {
	var (
		out        string
		lf         labelFlags
		opts       model.ForestOptions
		folds      int
		repeatFrom []int
	)
	cmd := &cobra.Command{
		Use:   "train INPUT... -o MODEL.json",
		Short: "Train the supervised model (a random forest) on labelled captures or features CSVs",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := lf.options()
			if err != nil {
				return err
			}
			rows, err := rowsOf(args, o, nil)
			if err != nil {
				return err
			}
			ds := dataset.Split(rows)
			m, oof, err := model.TrainForestCV(ds, dataset.Groups(rows), folds, opts)
			if err != nil {
				return err
			}
			if len(m.ClassThresholds) > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "class thresholds (out of fold, %d folds by capture): %v %v\n", folds, m.Classes[1:], m.ClassThresholds[1:])
			}
			if len(repeatFrom) > 0 {
				if folds < 2 {
					return errors.New("--repeat-from needs --val-folds: repeats are chosen out of fold")
				}
				rs := dataset.ChooseRepeats(rows, m, oof, repeatFrom)
				fmt.Fprintf(cmd.ErrOrStderr(), "class repeats (out of fold, of %v): %v %v\n", repeatFrom, m.Classes[1:], rs[1:])
			}
			if oof != nil {
				res := dataset.OutOfFold(rows, m, oof)
				fmt.Fprintf(cmd.ErrOrStderr(), "out of fold (each capture scored by a forest trained without its fold, with these thresholds and repeats):\n")
				dataset.Report(cmd.ErrOrStderr(), &res)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "trained %d trees on %d records, classes %v (counts %v)\n", len(m.Trees), len(ds.X), m.Classes, m.Info.Counts)
			return writeModel(m, out)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "model.json", "model file to write")
	cmd.Flags().IntVar(&opts.Trees, "trees", 30, "trees in the forest")
	cmd.Flags().IntVar(&opts.MaxDepth, "max-depth", 12, "maximum tree depth")
	cmd.Flags().Float64Var(&opts.Threshold, "threshold", 0.6, "alert when 1 - P(benign) is at least this (without --val-folds)")
	cmd.Flags().IntVar(&opts.Repeat, "repeat", 1, "alert on a source once this many of its feature points scored at or above the threshold within about a minute (1: each one)")
	cmd.Flags().IntSliceVar(&repeatFrom, "repeat-from", nil, "with --val-folds, choose each class's --repeat among these out of fold (e.g. 1,2,3): the best F1, then the fewest false alerts")
	cmd.Flags().IntVar(&folds, "val-folds", 0, "choose a threshold per class out of fold: cut the inputs by capture into this many folds (0: one threshold, --threshold)")
	cmd.Flags().Uint64Var(&opts.Seed, "seed", 1, "random seed (the same data and seed give the same model)")
	lf.add(cmd)
	return cmd
}

func newModelLearnCommand() *cobra.Command {
	var (
		out        string
		lf         labelFlags
		benignOnly bool
	)
	lo := dataset.DefaultLearnOptions()
	opts := &lo.Isolation
	cmd := &cobra.Command{
		Use:   "learn NORMAL-INPUT... -o MODEL.json",
		Short: "Learn what normal traffic looks like (an isolation forest) from normal captures or CSVs only",
		Long: "learn trains the unsupervised model on traffic taken to be normal (every record of the\n" +
			"inputs; labels are ignored). It scores how unlike that traffic a flow is, so it flags\n" +
			"attacks no label described. The threshold is set from the inputs' own scores: their\n" +
			"--quantile, raised until the daemon would alert at most --alerts-per-hour on them.\n" +
			"(run --learn does the same live, on the daemon's own flows.)",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := lf.options()
			if err != nil {
				return err
			}
			rows, err := rowsOf(args, o, nil)
			if err != nil {
				return err
			}
			if benignOnly {
				rows = slices.DeleteFunc(rows, func(r dataset.Row) bool { return r.Label != model.Benign })
			}
			m, got, err := dataset.Learn(rows, lo)
			if err != nil {
				return err
			}
			if got >= 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "threshold %.4f (%.2f alerts an hour on the normal inputs, at most %.2f asked)\n", m.Threshold, got, lo.AlertsPerHour)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "learned %d trees on %d records, threshold %.4f\n", len(m.Trees), len(rows), m.Threshold)
			return writeModel(m, out)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "model.json", "model file to write")
	cmd.Flags().IntVar(&opts.Trees, "trees", opts.Trees, "trees in the forest")
	cmd.Flags().IntVar(&opts.SampleSize, "sample-size", opts.SampleSize, "records each tree is grown on (at most all of them)")
	cmd.Flags().IntVar(&opts.MaxDepth, "max-depth", opts.MaxDepth, "the trees' height limit (0: log2 of --sample-size)")
	cmd.Flags().Float64Var(&opts.Quantile, "quantile", opts.Quantile, "quantile of the training scores the threshold is set at")
	cmd.Flags().Float64Var(&opts.Margin, "margin", opts.Margin, "the threshold is the quantile's score times this")
	cmd.Flags().Float64Var(&lo.AlertsPerHour, "alerts-per-hour", lo.AlertsPerHour, "then raise the threshold until the daemon would alert at most this often an hour on the normal inputs\n(their traffic's time; one alert per source per 60 s, after --repeat); negative: the quantile's alone")
	cmd.Flags().IntVar(&opts.Repeat, "repeat", opts.Repeat, "alert on a source once this many of its feature points were anomalous within about a minute (1: each one)")
	cmd.Flags().StringSliceVar(&lo.Features, "features", nil, "split only on the features these globs name (e.g. 'src_*,dst_*,svc_*'; default: all)")
	cmd.Flags().StringArrayVar(&lo.Subspaces, "subspace", nil, "grow --trees trees on the features these comma-separated globs name (repeat: two or more);\na flow scores as in the subspace where it is most unusual (default, unless --features: "+
		strings.Join(dataset.DefaultSubspaces, " and ")+")")
	cmd.Flags().BoolVar(&benignOnly, "benign-only", false, "learn from the records labelled benign only (a labelled CSV's normal part)")
	cmd.Flags().Uint64Var(&opts.Seed, "seed", opts.Seed, "random seed")
	lf.add(cmd)
	return cmd
}

func newModelEvalCommand() *cobra.Command {
	var (
		path      string
		lf        labelFlags
		listFalse bool
		byCapture bool
	)
	cmd := &cobra.Command{
		Use:   "eval INPUT... --model MODEL.json",
		Short: "Score labelled captures or features CSVs with a model: precision, recall, F1 per class, false alerts per hour",
		Long: "eval scores each flow (captures through the pipeline with the model, as read --model does;\n" +
			"features CSVs record by record, as the daemon would) and prints, per attack class, the flows,\n" +
			"those alerted, precision, recall and F1, then the false alerts per hour of benign traffic:\n" +
			"alerts on benign flows, one per source per 60 s of packet time (the daemon's gate), over the\n" +
			"benign traffic's time (per capture, first benign flow's start to last one's end, summed).",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := lf.options()
			if err != nil {
				return err
			}
			set, err := config.LoadModel(path)
			if err != nil {
				return err
			}
			rows, err := rowsOf(args, o, set)
			if err != nil {
				return err
			}
			res := dataset.Evaluate(rows)
			dataset.Report(cmd.OutOrStdout(), &res)
			if listFalse {
				dataset.ReportFalse(cmd.OutOrStdout(), &res)
			}
			if byCapture {
				dataset.ReportCaptures(cmd.OutOrStdout(), &res)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "model", "builtin", `model file ("builtin": the embedded default; A,B: models side by side, as model: runs them)`)
	cmd.Flags().BoolVar(&listFalse, "false-alerts", false, "list the false alerts (capture, source, responder, class)")
	cmd.Flags().BoolVar(&byCapture, "by-capture", false, "list the attack flows by capture: flows, alerted, named their label, recall")
	lf.add(cmd)
	return cmd
}
