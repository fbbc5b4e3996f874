package pipeline

import (
	"net/netip"
	"strconv"

	"github.com/xdpids/xdpids/userspace/detect"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/learn/features"
	"github.com/xdpids/xdpids/userspace/learn/model"
)

// LearnConfig configures flow features and the learned model.
type LearnConfig struct {
	// Point is the packet count of a flow (both directions) at which its
	// features are taken and scored while it is live (0: features'
	// default); they are taken again as it ends.
	Point uint64
	Hosts int // hosts the per-host windows track (0: features' default)
	// AlertGapNs is the least packet time between two model alerts on
	// one source (0: 60 s): a scan of a thousand ports is one alert, not
	// a thousand.
	AlertGapNs int64
	// BanTTLNs is the ban a model alert asks for (0: none); the
	// responder's trust levels and caps apply as to any detector.
	BanTTLNs int64
	// OnFeatures, when set, sees every feature record (model features
	// CSV). It runs on the worker; r is valid during the call only.
	OnFeatures func(r *FeatureRecord)
	// RepliesUnseen, when set, names the flows whose replies the daemon
	// cannot see (a responder that is this host, on an interface whose
	// egress is not sampled): they look unanswered, as a scan's do, so
	// the model does not judge them (their features are still taken).
	RepliesUnseen func(ifindex uint32, resp netip.Addr) bool
}

// Feature points.
const (
	PointPacket = "packet" // the flow reached LearnConfig.Point packets
	PointEnd    = "end"    // the flow left the table (f.EndReason says why)
)

// FeatureRecord is one flow's features at one point.
type FeatureRecord struct {
	Point string
	TsNs  int64
	Flow  *flows.Flow
	Vec   *features.Vector
	// Score and Alert are the model's, when one is loaded.
	Scored bool
	Score  float64
	Alert  bool
	Class  string // the model's class for it (isolation: "anomaly")
}

// Mark bits per flow (features.Extractor.Mark).
const (
	markPacket  = 1 << iota // scored at the packet point
	markAlerted             // a model alert was raised on it
)

// learner is a worker's feature and model state.
type learner struct {
	x   *features.Extractor
	vec features.Vector
	sc  model.Scratch
	res [model.MaxSet]model.Result // per model of the set
	hit [model.MaxSet]bool         // per model: its gated verdict alerted
	rec FeatureRecord
}

// SetModel installs the models run side by side (none: no model). Safe
// while running: workers pick them up at their next feature point
// (SIGHUP reload).
func (p *Pipeline) SetModel(ms ...*model.Model) {
	var s model.Set
	for _, m := range ms {
		if m != nil && len(s) < model.MaxSet { // config.LoadModel refuses more
			s = append(s, m)
		}
	}
	if len(s) == 0 {
		p.model.Store(nil)
		return
	}
	p.model.Store(&s)
}

// Model is the models in use (nil: none).
func (p *Pipeline) Model() model.Set {
	if s := p.model.Load(); s != nil {
		return *s
	}
	return nil
}

// learning returns the worker's learner, made on first use: nothing is
// allocated until a model or a features consumer is set.
func (w *Worker) learning() *learner {
	if w.learn == nil {
		if w.p.model.Load() == nil && w.p.live.Load().Learn.OnFeatures == nil {
			return nil
		}
		lc := w.p.live.Load().Learn
		w.learn = &learner{x: features.New(features.Config{Flows: w.table.Cap(), Hosts: lc.Hosts, Point: lc.Point})}
	}
	return w.learn
}

// learnPacket updates the features of the packet's flow and scores it
// when it reaches the packet point.
func (w *Worker) learnPacket(in *detect.Input) {
	if in.F == nil {
		return
	}
	l := w.learning()
	if l == nil {
		return
	}
	if l.x.Packet(in.F, in.P, in.FromOrig, in.Ev) {
		w.learnPoint(l, in.F, PointPacket, in.P.TsNs)
	}
}

// learnEnd takes the features of a flow leaving the table.
func (w *Worker) learnEnd(f *flows.Flow) {
	l := w.learn
	if l == nil {
		return
	}
	l.x.End(f)
	w.learnPoint(l, f, PointEnd, max(f.EndNs, f.LastNs))
}

func (w *Worker) learnPoint(l *learner, f *flows.Flow, point string, now int64) {
	l.x.Fill(f, now, &l.vec)
	l.rec = FeatureRecord{Point: point, TsNs: now, Flow: f, Vec: &l.vec}
	mark := l.x.Mark(f)
	if set := w.p.model.Load(); set != nil && mark != nil && !w.repliesUnseen(f) {
		// Each model judges the point on its own threshold and repeat
		// gate; the record and the alert are the first alerting one's
		// (else the first model's score).
		first := -1
		for i, m := range *set {
			r := &l.res[i]
			m.Score(&l.vec, &l.sc, r)
			l.hit[i] = w.judge(l, m, r, f, now, i)
			if l.hit[i] && first < 0 {
				first = i
			}
		}
		at := max(first, 0)
		m, r := (*set)[at], &l.res[at]
		l.rec.Scored, l.rec.Score, l.rec.Alert, l.rec.Class = true, r.Score, first >= 0, m.ClassName(r)
		if l.rec.Alert && *mark&markAlerted == 0 {
			*mark |= markAlerted
			subject, isTarget := modelSubject(f, &l.vec, l.rec.Class)
			// One alert per subject per gap.
			if w.modelGate.allow(subject, now, w.alertGap()) {
				w.modelAlert(*set, at, l, f, now, subject, isTarget)
			}
		}
	}
	if fn := w.p.live.Load().Learn.OnFeatures; fn != nil {
		fn(&l.rec)
	}
}

// judge is model i's gated verdict on the point it scored into r: at or
// above its threshold, on a flow whose originator sent more than resets,
// and, with a repeat above one, repeated that often by the subject (a
// damped count of the model's own).
func (w *Worker) judge(l *learner, m *model.Model, r *model.Result, f *flows.Flow, now int64, i int) bool {
	if !m.Alert(r) || features.AnswerOnly(&l.vec) {
		return false
	}
	rep := m.RepeatOf(r)
	if rep <= 1 {
		return true
	}
	subject, _ := modelSubject(f, &l.vec, m.ClassName(r))
	return l.x.Anomalous(subject, now, model.RepeatHalfLifeNs, i) >= float64(rep)-1e-9
}

// modelSubject is whom a model verdict of class on f with features v is
// about: its originator, or its responder (SubjectIsTarget).
func modelSubject(f *flows.Flow, v *features.Vector, class string) (netip.Addr, bool) {
	if SubjectIsTarget(v, class) {
		a, _ := f.Resp()
		return a, true
	}
	a, _ := f.Orig()
	return a, false
}

// repliesUnseen reports whether f's replies are out of sight
// (LearnConfig.RepliesUnseen).
func (w *Worker) repliesUnseen(f *flows.Flow) bool {
	fn := w.p.live.Load().Learn.RepliesUnseen
	if fn == nil {
		return false
	}
	resp, _ := f.Resp()
	return fn(f.Ifindex, resp)
}

// alertGap is the least packet time between two model alerts on one
// source (LearnConfig.AlertGapNs, 60 s by default).
func (w *Worker) alertGap() int64 {
	if gap := w.p.live.Load().Learn.AlertGapNs; gap > 0 {
		return gap
	}
	return 60e9
}

// modelAlert raises the alert of a flow model at of set marked. It
// allocates (the alert and its metadata), as every alert does; alerts
// are rare.
func (w *Worker) modelAlert(set model.Set, at int, l *learner, f *flows.Flow, now int64, subject netip.Addr, isTarget bool) {
	m, r := set[at], &l.res[at]
	m.Explain(&l.vec, &l.sc, r)
	orig, op := f.Orig()
	resp, rp := f.Resp()
	sig := alert.ModelSupervised
	if m.Kind == model.KindIsolation {
		sig = alert.ModelAnomaly
	}
	a := newModelAlert(sig, f, now, orig, resp, op, rp, subject, isTarget, r.Score/m.ThresholdOf(r))
	a.Metadata = map[string]string{
		"model":     m.Kind,
		"class":     m.ClassName(r),
		"score":     strconv.FormatFloat(r.Score, 'f', 4, 64),
		"threshold": strconv.FormatFloat(m.ThresholdOf(r), 'f', 4, 64),
		"point":     l.rec.Point,
	}
	top := ""
	for i, fi := range r.Top {
		if fi < 0 {
			break
		}
		if i > 0 {
			top += ","
		}
		top += features.Names[fi] + "=" + strconv.FormatFloat(l.vec[fi], 'g', 4, 64)
	}
	if top != "" {
		a.Metadata["top_features"] = top
	}
	// The other models of the set that alerted on the point too.
	also := ""
	for i := at + 1; i < len(set); i++ {
		if l.hit[i] {
			if also != "" {
				also += ","
			}
			also += set[i].Kind + ":" + set[i].ClassName(&l.res[i]) + "=" + strconv.FormatFloat(l.res[i].Score, 'f', 4, 64)
		}
	}
	if also != "" {
		a.Metadata["also"] = also
	}
	w.raiseModelAlert(a, f, 0)
}

// newModelAlert is the alert of a model verdict (userspace's or the
// kernel's) on flow f, from src:sport to dst:dport.
func newModelAlert(sig alert.Signature, f *flows.Flow, now int64, src, dst netip.Addr, sport, dport uint16,
	subject netip.Addr, isTarget bool, evidence float64) *alert.Alert {
	a := &alert.Alert{
		TsNs: now, Ifindex: f.Ifindex, FlowID: f.ID, Src: src, Dst: dst, SrcPort: sport, DstPort: dport,
		Proto: f.Proto, VLAN: f.VLAN, Subject: subject, SubjectIsTarget: isTarget,
		Detector: "model", Evidence: evidence,
		Community: flows.CommunityID(src, dst, sport, dport, f.Proto),
	}
	sig.Fill(a)
	return a
}

// raiseModelAlert sets a model alert's trust and ban and hands it on;
// trust is the kernel's trust bits of the packet (0: none known).
func (w *Worker) raiseModelAlert(a *alert.Alert, f *flows.Flow, trust uint32) {
	a.BanTTLNs = w.p.live.Load().Learn.BanTTLNs
	// A verdict on a connection whose handshake was answered needs a
	// working return path; anything else a forged source could produce.
	a.Trust = alert.TrustForgeable
	if handshakeAnswered(f, trust) {
		a.Trust = alert.TrustVerified
	}
	f.Alerted = true
	w.p.alert(a)
	w.p.deliver()
}

// SubjectIsTarget reports whether a model alert on a flow with features v
// and class is about the flow's responder (its target) rather than its
// originator: a denial of service (from forged sources or reflectors), or
// an originator seen in this one flow only (forged).
func SubjectIsTarget(v *features.Vector, class string) bool {
	return v[features.SrcBase+(features.NumScales-1)*features.SrcLen+features.SrcFlows] < 2 || class == "dos"
}
