package dataset

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/xdpids/xdpids/userspace/config"
	"github.com/xdpids/xdpids/userspace/learn/features"
	"github.com/xdpids/xdpids/userspace/learn/model"
	"github.com/xdpids/xdpids/userspace/run/offline"
	"github.com/xdpids/xdpids/userspace/run/pipeline"
)

// Row is one labelled feature record.
type Row struct {
	Capture string
	Point   string
	TsNs    int64
	FlowID  uint64
	Src     string
	SrcPort uint16
	Dst     string
	DstPort uint16
	Proto   uint8
	Vec     features.Vector
	Label   string
	Score   float64 // the model's, when Options.Model was set
	Alert   bool
	Class   string
}

// Options configure Collect.
type Options struct {
	Labels Labels
	Mode   offline.Mode // default userspace
	// Points: which feature points to keep ("" or "all", "end", "packet").
	Points string
	Model  model.Set // also score each record with these models
	Config string    // YAML configuration ("" built in)
	// OnError, when set, sees a capture's error (a damaged capture: its
	// records before the damage are kept); nil from it goes on.
	OnError func(capture string, err error) error
}

// Collect runs captures through the offline pipeline and returns their
// feature records, labelled. fn, when set, gets each row instead of the
// result slice keeping it.
func Collect(captures []string, o Options, fn func(*Row) error) ([]Row, error) {
	cfg, err := config.Load(o.Config)
	if err != nil {
		return nil, err
	}
	if o.Mode == "" {
		o.Mode = offline.ModeUserspace
	}
	var rows []Row
	var werr error
	for _, c := range captures {
		pc := cfg.PipelineConfig()
		pc.Learn.OnFeatures = func(r *pipeline.FeatureRecord) {
			if werr != nil || (o.Points != "" && o.Points != "all" && o.Points != r.Point) {
				return
			}
			f := r.Flow
			orig, op := f.Orig()
			resp, rp := f.Resp()
			row := Row{Capture: captureName(c), Point: r.Point, TsNs: r.TsNs, FlowID: f.ID,
				Src: orig.String(), SrcPort: op, Dst: resp.String(), DstPort: rp, Proto: f.Proto, Vec: *r.Vec,
				Label: o.Labels.Of(c, orig, resp, f.FirstNs), Score: r.Score, Alert: r.Alert, Class: r.Class}
			if fn != nil {
				werr = fn(&row)
				return
			}
			rows = append(rows, row)
		}
		_, err := offline.Run(offline.Options{Path: c, Mode: o.Mode, Datapath: cfg.DatapathConfig(), Pipeline: pc,
			Respond: cfg.ResponseConfig(), Model: o.Model})
		if err != nil {
			err = fmt.Errorf("features of %s: %w", c, err)
			if o.OnError == nil {
				return rows, err
			}
			if err = o.OnError(c, err); err != nil {
				return rows, err
			}
		}
		if werr != nil {
			return rows, werr
		}
	}
	return rows, nil
}

// Header is the CSV header: where the flow is, the features, the label.
func Header() []string {
	h := []string{"capture", "point", "ts", "flow_id", "src", "src_port", "dst", "dst_port", "proto_num"}
	h = append(h, features.Names...)
	return append(h, "label")
}

const metaCols = 9

// Writer writes rows as CSV.
type Writer struct {
	w   *csv.Writer
	rec []string
}

// NewWriter writes the header and returns a row writer.
func NewWriter(w io.Writer) (*Writer, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(Header()); err != nil {
		return nil, err
	}
	return &Writer{w: cw}, nil
}

// Write writes r.
func (w *Writer) Write(r *Row) error {
	w.rec = append(w.rec[:0], r.Capture, r.Point, strconv.FormatFloat(float64(r.TsNs)/1e9, 'f', 6, 64),
		strconv.FormatUint(r.FlowID, 10), r.Src, strconv.Itoa(int(r.SrcPort)), r.Dst, strconv.Itoa(int(r.DstPort)),
		strconv.Itoa(int(r.Proto)))
	for _, v := range r.Vec {
		w.rec = append(w.rec, strconv.FormatFloat(v, 'g', 8, 64))
	}
	w.rec = append(w.rec, r.Label)
	return w.w.Write(w.rec)
}

// Flush flushes the CSV and returns its first error.
func (w *Writer) Flush() error { w.w.Flush(); return w.w.Error() }

// ReadCSV reads a features CSV (with Header's columns) back into rows.
func ReadCSV(name string) ([]Row, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("features csv: %w", err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.ReuseRecord = true
	h, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("features csv %s: %w", name, err)
	}
	if !slices.Equal(h, Header()) {
		return nil, fmt.Errorf("features csv %s: header differs from this build's (xdpids model features writes it)", name)
	}
	var rows []Row
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("features csv %s: %w", name, err)
		}
		if len(rec) != metaCols+features.NumFeatures+1 {
			return nil, fmt.Errorf("features csv %s line %d: %d columns", name, line, len(rec))
		}
		r := Row{Capture: rec[0], Point: rec[1], Src: rec[4], Dst: rec[6], Label: rec[len(rec)-1]}
		ts, err := strconv.ParseFloat(rec[2], 64)
		if err != nil {
			return nil, fmt.Errorf("features csv %s line %d: ts: %w", name, line, err)
		}
		r.TsNs = int64(ts * 1e9)
		if r.FlowID, err = strconv.ParseUint(rec[3], 10, 64); err != nil {
			return nil, fmt.Errorf("features csv %s line %d: flow_id: %w", name, line, err)
		}
		sp, err1 := strconv.ParseUint(rec[5], 10, 16)
		dp, err2 := strconv.ParseUint(rec[7], 10, 16)
		pr, err3 := strconv.ParseUint(rec[8], 10, 8)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("features csv %s line %d: %w", name, line, err)
		}
		r.SrcPort, r.DstPort, r.Proto = uint16(sp), uint16(dp), uint8(pr)
		for i := range features.NumFeatures {
			if r.Vec[i], err = strconv.ParseFloat(rec[metaCols+i], 64); err != nil {
				return nil, fmt.Errorf("features csv %s line %d: %s: %w", name, line, features.Names[i], err)
			}
		}
		rows = append(rows, r)
	}
}

// Split turns rows into a training set: classes ordered benign first,
// then by name.
func Split(rows []Row) *model.Dataset {
	ds := &model.Dataset{Classes: []string{model.Benign}}
	idx := map[string]int{model.Benign: 0}
	var names []string
	for _, r := range rows {
		if _, ok := idx[r.Label]; !ok {
			idx[r.Label] = -1
			names = append(names, r.Label)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		idx[n] = len(ds.Classes)
		ds.Classes = append(ds.Classes, n)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		ds.X = append(ds.X, r.Vec)
		ds.Y = append(ds.Y, idx[r.Label])
		if !seen[r.Capture] {
			seen[r.Capture] = true
			ds.Sources = append(ds.Sources, r.Capture)
		}
	}
	return ds
}

// Groups gives each row its capture's index among the rows' captures in
// name order: the groups of a split by capture (model.TrainForestCV).
func Groups(rows []Row) []int {
	var names []string
	for _, r := range rows {
		names = append(names, r.Capture)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	g := make([]int, len(rows))
	for i, r := range rows {
		g[i], _ = slices.BinarySearch(names, r.Capture)
	}
	return g
}

// captureName names a capture in the CSV: its file and folder names
// (suricata-verify's tests all call theirs input.pcap).
func captureName(p string) string {
	return filepath.Join(filepath.Base(filepath.Dir(p)), filepath.Base(p))
}

// ScoreRows scores rows read from a CSV with the set as the daemon would
// at each feature point (Score, Alert, Class), in order: each model on its
// own (scoreRows), a row alerting as the first model that alerted on it
// (with no alert, the first model's score).
func ScoreRows(rows []Row, set model.Set) {
	if len(set) == 0 {
		return
	}
	scoreRows(rows, set[0])
	if len(set) == 1 {
		return
	}
	// The first model's verdicts, then each next model's where none alerted.
	type verdict struct {
		score float64
		alert bool
		class string
	}
	first := make([]verdict, len(rows))
	for i, r := range rows {
		first[i] = verdict{r.Score, r.Alert, r.Class}
	}
	for _, m := range set[1:] {
		scoreRows(rows, m)
		for i, r := range rows {
			if !first[i].alert && r.Alert {
				first[i] = verdict{r.Score, true, r.Class}
			}
		}
	}
	for i, v := range first {
		rows[i].Score, rows[i].Alert, rows[i].Class = v.score, v.alert, v.class
	}
}

// scoreRows scores rows with m as the daemon would: a flow whose
// originator sent only resets is not alerted on (features.AnswerOnly),
// and a model with Repeat alerts on a subject (per capture) only once it
// repeated (Gate).
func scoreRows(rows []Row, m *model.Model) {
	var sc model.Scratch
	var res model.Result
	for i := range rows {
		r := &rows[i]
		m.Score(&r.Vec, &sc, &res)
		r.Score, r.Alert, r.Class = res.Score, m.Alert(&res), m.ClassName(&res)
	}
	Gate(rows, m.RepeatOfClass)
}

// Gate turns rows' Alert (the point at or above its threshold) into the
// daemon's decision, in order: never on a flow whose originator sent only
// resets, and with a repeat (of the row's class) > 1 only once the subject (the source; the
// target of a denial of service or of a source seen once) has that many
// such points in a damped count (half-life model.RepeatHalfLifeNs), per
// capture, as pipeline's model detector counts them.
func Gate(rows []Row, repeatOf func(class string) int) {
	type count struct {
		w  float64
		at int64
	}
	anom := map[[2]string]*count{}
	for i := range rows {
		r := &rows[i]
		r.Alert = r.Alert && !features.AnswerOnly(&r.Vec)
		if !r.Alert {
			continue
		}
		repeat := repeatOf(r.Class)
		if repeat <= 1 {
			continue
		}
		subject := r.Src
		if pipeline.SubjectIsTarget(&r.Vec, r.Class) {
			subject = r.Dst
		}
		k := [2]string{r.Capture, subject}
		c := anom[k]
		if c == nil {
			c = &count{at: r.TsNs}
			anom[k] = c
		}
		if r.TsNs > c.at {
			c.w *= math.Exp2(-float64(r.TsNs-c.at) / model.RepeatHalfLifeNs)
			c.at = r.TsNs
		}
		c.w++
		r.Alert = c.w >= float64(repeat)-1e-9
	}
}

// Calibrate sets an isolation forest's threshold from normal traffic
// (rows taken to be benign, in capture and time order): the lowest
// threshold, not below the model's own, at which the daemon's alerts on
// those rows (Gate, then one per source per AlertGapNs: Evaluate's count)
// come to at most maxPerHour an hour of their traffic. It returns the
// false alerts per hour at that threshold. Scores are taken once; the
// alert count only falls as the threshold rises, so it is a binary
// search over the rows' own scores.
func Calibrate(rows []Row, m *model.Model, maxPerHour float64) float64 {
	if len(rows) == 0 {
		return 0
	}
	scoreRows(rows, m)
	for i := range rows {
		rows[i].Label = model.Benign
	}
	cand := []float64{m.Threshold}
	for _, r := range rows {
		if r.Score > m.Threshold {
			cand = append(cand, r.Score)
		}
	}
	slices.Sort(cand)
	cand = slices.Compact(cand)
	rate := func(t float64) float64 {
		for i := range rows {
			rows[i].Alert = rows[i].Score >= t
		}
		Gate(rows, m.RepeatOfClass)
		res := Evaluate(rows)
		return res.FalseAlertsPerHour()
	}
	// The first candidate whose rate is within the bound; above the
	// largest score nothing alerts.
	lo, hi := 0, len(cand)
	for lo < hi {
		mid := (lo + hi) / 2
		if rate(cand[mid]) <= maxPerHour {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if lo == len(cand) {
		m.Threshold = math.Nextafter(cand[len(cand)-1], math.Inf(1))
	} else {
		m.Threshold = cand[lo]
	}
	return rate(m.Threshold)
}

// ChooseRepeats sets each attack class's Repeat (Model.ClassRepeat) from
// out-of-fold scores (model.TrainForestCV's, one per row, rows in capture
// and time order): for each candidate, the rows' points alerted as the
// daemon would (the class's threshold, Gate with that repeat), and the
// class's per-flow F1 (Evaluate). Of the candidates within RepeatPlateau
// of the best F1, the one with the fewest false alerts named the class
// wins, then the smallest (the soonest alert). It returns
// the chosen repeats, Benign's 0.
func ChooseRepeats(rows []Row, m *model.Model, oof []model.Scored, cands []int) []int {
	if len(oof) != len(rows) || len(cands) == 0 || m.Kind != model.KindForest {
		return nil
	}
	k := len(m.Classes)
	work := slices.Clone(rows)
	out := make([]int, k)
	for c := 1; c < k; c++ {
		name := m.Classes[c]
		type try struct {
			f1     float64
			falses int
		}
		tries := make([]try, len(cands))
		best := 0.0
		for j, rep := range cands {
			setScored(work, m, oof, c)
			Gate(work, func(string) int { return rep })
			res := Evaluate(work)
			for _, cs := range res.Per {
				if cs.Class == name {
					tries[j].f1 = cs.F1()
				}
			}
			tries[j].falses = res.FalseAlerts
			best = max(best, tries[j].f1)
		}
		pick := -1
		for j := range cands {
			if tries[j].f1 < best*(1-RepeatPlateau) {
				continue
			}
			if pick < 0 || tries[j].falses < tries[pick].falses ||
				(tries[j].falses == tries[pick].falses && cands[j] < cands[pick]) {
				pick = j
			}
		}
		out[c] = cands[pick]
	}
	m.ClassRepeat = out
	return out
}

// setScored gives rows their out-of-fold scores and classes, alerted at
// their class's threshold: only those of class only, or all (only 0).
func setScored(rows []Row, m *model.Model, oof []model.Scored, only int) {
	for i := range rows {
		s := oof[i]
		rows[i].Score, rows[i].Class = s.Score, m.Classes[s.Class]
		rows[i].Alert = (only == 0 || s.Class == only) && s.Score >= m.ThresholdOf(&model.Result{Class: s.Class})
	}
}

// OutOfFold evaluates m's thresholds and repeats on out-of-fold scores
// (model.TrainForestCV's, one per row, rows in capture and time order):
// the training data's estimate of how m does on captures it never saw.
func OutOfFold(rows []Row, m *model.Model, oof []model.Scored) Result {
	work := slices.Clone(rows)
	setScored(work, m, oof, 0)
	Gate(work, m.RepeatOfClass)
	return Evaluate(work)
}

// RepeatPlateau is how far below the best out-of-fold F1, as a share of
// it, a repeat may be and still count as as good in ChooseRepeats. Wider
// than model.PlateauF1: a fold holds only one or two captures of a class,
// so the held-out F1 of a class moves by a few per cent with the split,
// while a repeat that halves the false alerts is worth it.
const RepeatPlateau = 0.05
