package pipeline

import (
	"net/netip"
	"strconv"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/userspace/capture/samples"
	"github.com/xdpids/xdpids/userspace/detect"
	"github.com/xdpids/xdpids/userspace/detect/alert"
)

// KernelModel says what the in-kernel model's verdicts mean: a model
// sample (samples.Sample.ModelVerdict) carries a class number and the
// trees' leaf score sum only.
type KernelModel struct {
	Kind      string   // the model file's kind (xdptree.Kind)
	Classes   []string // class names, benign (0) first
	Threshold float64  // the trees' mean leaf score at which a flow is malicious
	Trees     int
	Packets   int // a flow direction is judged at this packet
}

// SetKernelModel names the verdicts of the model the XDP program runs
// (nil: none loaded; a verdict still alerts, with its class number).
// Safe while running.
func (p *Pipeline) SetKernelModel(m *KernelModel) { p.kmodel.Store(m) }

// KernelModel is what SetKernelModel set, or nil.
func (p *Pipeline) KernelModel() *KernelModel { return p.kmodel.Load() }

// Drop reasons of OnDrop (Suricata's drop.reason for rules).
const (
	DropRules = "rules"
	DropModel = "model"
)

// kernelVerdict raises the alert of a model sample: the packet at which
// the XDP program's model judged its flow direction malicious (and, with
// the drop action, dropped it). The userspace model's gate applies (the
// same one: a subject either model alerted on waits out the gap): one
// alert per subject per gap of packet time. A drop has its drop event
// (OnDrop, reason model) whether or not the gate let the alert through:
// the kernel sends one model sample per judged flow direction.
func (w *Worker) kernelVerdict(s *samples.Sample, in *detect.Input) {
	pk, f := in.P, in.F
	if f == nil || w.encap {
		return // the kernel keys flows on the outer headers: nothing to name here
	}
	if s.Verdict == bpf.VerdictDrop && w.p.OnDrop != nil {
		defer w.p.drop(pk, f, DropModel) // after the alert, if any
	}
	km := w.p.kmodel.Load()
	class := "class " + strconv.Itoa(int(s.ModelClass))
	kind, threshold, mean := "xdp-forest", 0.0, float64(s.ModelScore)/bpf.TreeScoreOne
	if km != nil {
		if int(s.ModelClass) < len(km.Classes) {
			class = km.Classes[s.ModelClass]
		}
		if km.Kind != "" {
			kind = km.Kind
		}
		threshold = km.Threshold
		if km.Trees > 0 {
			mean /= float64(km.Trees)
		}
	}
	// A denial of service comes from forged sources or reflectors: it is
	// gated and reported by its target.
	subject, isTarget := pk.Src, class == "dos"
	if isTarget {
		subject = pk.Dst
	}
	if !w.modelGate.allow(subject, pk.TsNs, w.alertGap()) {
		return
	}
	evidence := 1.0
	if threshold > 0 {
		evidence = mean / threshold
	}
	a := newModelAlert(alert.ModelKernel, f, pk.TsNs, pk.Src, pk.Dst, pk.SrcPort, pk.DstPort, subject, isTarget, evidence)
	a.Ifindex = s.Ifindex
	a.Action = "allowed"
	if s.Verdict == bpf.VerdictDrop {
		a.Action = "blocked"
	}
	a.Metadata = map[string]string{
		"model":     kind,
		"engine":    "xdp",
		"class":     class,
		"score":     strconv.FormatFloat(mean, 'f', 4, 64),
		"score_sum": strconv.Itoa(int(s.ModelScore)),
		"point":     PointPacket,
		"packets":   strconv.FormatUint(s.FlowPackets, 10),
	}
	if km != nil {
		a.Metadata["threshold"] = strconv.FormatFloat(threshold, 'f', 4, 64)
	}
	w.raiseModelAlert(a, f, s.Trust)
}

// sourceGateCap bounds the sources a worker's sourceGate remembers.
const sourceGateCap = 4096

// sourceGate lets one alert per subject through per gap of packet time:
// the model alerts' gate, the userspace model's and the in-kernel one's
// together. It is asked only for an alert due, so it allocates with those
// only.
type sourceGate struct {
	last map[netip.Addr]int64
}

func (g *sourceGate) allow(a netip.Addr, nowNs, gapNs int64) bool {
	if t, ok := g.last[a]; ok && nowNs >= t && nowNs-t < gapNs {
		return false
	}
	if g.last == nil {
		g.last = make(map[netip.Addr]int64)
	}
	if len(g.last) >= sourceGateCap {
		for k, t := range g.last {
			if nowNs < t || nowNs-t >= gapNs {
				delete(g.last, k)
			}
		}
		if len(g.last) >= sourceGateCap {
			clear(g.last) // as many sources alerted in one gap: a forged flood
		}
	}
	g.last[a] = nowNs
	return true
}
