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
	res model.Result
	rec FeatureRecord
}

// SetModel installs a model (nil: none). Safe while running: workers
// pick it up at their next feature point (SIGHUP reload).
func (p *Pipeline) SetModel(m *model.Model) { p.model.Store(m) }

// Model is the model in use, or nil.
func (p *Pipeline) Model() *model.Model { return p.model.Load() }

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
	if m := w.p.model.Load(); m != nil && mark != nil && !w.repliesUnseen(f) {
		m.Score(&l.vec, &l.sc, &l.res)
		l.rec.Scored, l.rec.Score = true, l.res.Score
		// A flow whose originator sent only resets is never alerted on.
		l.rec.Alert = m.Alert(&l.res) && !features.AnswerOnly(&l.vec)
		l.rec.Class = m.ClassName(&l.res)
		// A source seen in one flow only (a forged flood's) and a denial
		// of service (from forged sources or reflectors) are counted,
		// gated and reported by target.
		subject, _ := f.Orig()
		isTarget := SubjectIsTarget(&l.vec, l.rec.Class)
		if isTarget {
			subject, _ = f.Resp()
		}
		if rep := m.RepeatOf(&l.res); l.rec.Alert && rep > 1 && l.x.Anomalous(subject, now, model.RepeatHalfLifeNs) < float64(rep)-1e-9 {
			l.rec.Alert = false // not repeated enough yet
		}
		if l.rec.Alert && *mark&markAlerted == 0 {
			*mark |= markAlerted
			// One alert per subject per gap.
			if w.modelGate.allow(subject, now, w.alertGap()) {
				w.modelAlert(m, l, f, now, subject, isTarget)
			}
		}
	}
	if fn := w.p.live.Load().Learn.OnFeatures; fn != nil {
		fn(&l.rec)
	}
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

// modelAlert raises the alert of a flow the model marked. It allocates
// (the alert and its metadata), as every alert does; alerts are rare.
func (w *Worker) modelAlert(m *model.Model, l *learner, f *flows.Flow, now int64, subject netip.Addr, isTarget bool) {
	m.Explain(&l.vec, &l.sc, &l.res)
	orig, op := f.Orig()
	resp, rp := f.Resp()
	sig := alert.ModelSupervised
	if m.Kind == model.KindIsolation {
		sig = alert.ModelAnomaly
	}
	a := newModelAlert(sig, f, now, orig, resp, op, rp, subject, isTarget, l.res.Score/m.ThresholdOf(&l.res))
	a.Metadata = map[string]string{
		"model":     m.Kind,
		"class":     m.ClassName(&l.res),
		"score":     strconv.FormatFloat(l.res.Score, 'f', 4, 64),
		"threshold": strconv.FormatFloat(m.ThresholdOf(&l.res), 'f', 4, 64),
		"point":     l.rec.Point,
	}
	top := ""
	for i, fi := range l.res.Top {
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
