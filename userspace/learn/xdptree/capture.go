package xdptree

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"

	"github.com/xdpids/xdpids/userspace/capture/pcapfile"
	"github.com/xdpids/xdpids/userspace/learn/dataset"
	"github.com/xdpids/xdpids/userspace/learn/features"
)

// Sample is one flow direction at its packet N.
type Sample struct {
	Flow int  // the bidirectional flow (Capture.Labels index)
	Orig bool // the originator's direction
	// Src and Dst are the direction's addresses (Src sent its packets).
	Src, Dst netip.Addr
	TsNs     int64
	Vec      Vector
	Label    string // the flow's
}

// Capture is what one capture gives the model: every flow's label, and
// the directions that reached packet N, in the order they did.
type Capture struct {
	Path       string
	Labels     []string   // by flow
	Flows      []FlowSpan // by flow
	Samples    []Sample
	DurationNs int64 // first to last packet
}

// ReadCapture runs a capture's frames through a Tracker judging at packet
// n, with the program's clock at each frame's time, and labels its flows
// (the label of the flow's originator and responder addresses at its
// first packet). A damaged capture keeps what came before the damage and
// returns the error too.
func ReadCapture(path string, labels *dataset.Labels, n int) (*Capture, error) {
	c, err := pcapfile.Open(path)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	out := &Capture{Path: path}
	t := NewTracker(n)
	var first, last int64
	for i := 0; ; i++ {
		frame, ts, _, err := c.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return out, fmt.Errorf("%s: after %d packets: %w", path, i, err)
		}
		now := max(ts.UnixNano(), 1)
		if i == 0 {
			first = now
		}
		last = now
		flows := t.Flows()
		d, judged := t.Packet(frame, uint64(now))
		if d == nil {
			continue
		}
		if t.Flows() > flows { // a new flow: its originator's first packet
			src, dst := d.key.addrs()
			out.Labels = append(out.Labels, labels.Of(path, src, dst, now))
			out.Flows = append(out.Flows, FlowSpan{Src: src, Dst: dst, FirstNs: now})
		}
		if d.Flow < len(out.Flows) {
			out.Flows[d.Flow].LastNs = now
		}
		if judged {
			src, dst := d.key.addrs()
			out.Samples = append(out.Samples, Sample{Flow: d.Flow, Orig: d.Orig, Src: src, Dst: dst, TsNs: now, Vec: d.Vec,
				Label: out.Labels[d.Flow]})
		}
	}
	out.DurationNs = last - first
	return out, nil
}

// FlowSpan is a flow's originator, responder and packet times.
type FlowSpan struct {
	Src, Dst        netip.Addr
	FirstNs, LastNs int64
}

func (k flowKey) addrs() (src, dst netip.Addr) {
	if k.family == 4 {
		return netip.AddrFrom4([4]byte(k.src[:4])), netip.AddrFrom4([4]byte(k.dst[:4]))
	}
	return netip.AddrFrom16(k.src), netip.AddrFrom16(k.dst)
}

// Training turns captures into a training set: each flow's originator
// direction with the flow's label, and the reply direction of benign
// flows as benign. The reply direction of an attack is left out: it is
// the victim's traffic, which the victim's own XDP program never sees.
// Classes are benign first, then by name.
func Training(caps []*Capture) *Dataset {
	ds := &Dataset{Classes: []string{Benign}}
	var names []string
	for _, c := range caps {
		ds.Sources = append(ds.Sources, c.Path)
		for _, l := range c.Labels {
			if l != Benign && !slices.Contains(names, l) {
				names = append(names, l)
			}
		}
	}
	slices.Sort(names)
	ds.Classes = append(ds.Classes, names...)
	for _, c := range caps {
		for _, s := range c.Samples {
			if !s.Orig && s.Label != Benign {
				continue
			}
			ds.X = append(ds.X, s.Vec)
			ds.Y = append(ds.Y, slices.Index(ds.Classes, s.Label))
		}
	}
	return ds
}

// Evaluate judges every flow of caps with m as the program would (a flow
// is alerted when either direction is judged malicious; its class is
// that of the first direction judged so), one row per flow, for
// dataset.Evaluate and dataset.Report.
func Evaluate(m *Model, caps []*Capture) []dataset.Row {
	t := m.Compile()
	var rows []dataset.Row
	for _, c := range caps {
		alert := make([]string, len(c.Labels))
		for _, s := range c.Samples {
			if alert[s.Flow] != "" {
				continue
			}
			if cl := Classify(t, &s.Vec); cl != 0 {
				alert[s.Flow] = m.Classes[cl]
			}
		}
		for f, l := range c.Labels {
			r := dataset.Row{Capture: c.Path, Point: "xdp", FlowID: uint64(f), Label: l,
				Alert: alert[f] != "", Class: alert[f]}
			if f < len(c.Flows) {
				// Its source and times: the false-alert gate and the
				// benign hours, as for the userspace models.
				sp := &c.Flows[f]
				r.Src, r.Dst, r.TsNs = sp.Src.String(), sp.Dst.String(), sp.LastNs
				r.Vec[features.Duration] = float64(sp.LastNs-sp.FirstNs) / 1e9
			}
			rows = append(rows, r)
		}
	}
	return rows
}
