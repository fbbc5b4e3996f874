package features

import (
	"net/netip"

	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

// Config sizes an Extractor.
type Config struct {
	Flows int // the flow table's capacity (flows.Table.Cap)
	Hosts int // hosts tracked (0: DefaultHosts); more replace the stalest
	// Point is the packet count (both directions) at which a flow's
	// features are taken while it is live (0: DefaultPoint); they are
	// taken again when it ends.
	Point uint64
}

// Defaults.
const (
	DefaultHosts = 16384
	DefaultPoint = 8
)

type dirState struct {
	Len, IAT Welford
	LastNs   int64
	Payload  uint64
	Flags    [6]uint32 // SYN FIN RST PSH ACK URG
	WinFirst uint16
	WinMax   uint16
}

// flowState is what the Flow struct does not keep. Pkts and Bytes come
// from the Flow.
type flowState struct {
	Dir          [2]dirState
	FirstReplyNs int64
	Handshake    bool
	RespFirst    bool // the responder's payload came first
	// Mark is the caller's scratch (which points were scored, alerted).
	Mark uint8
}

// Extractor keeps the feature state of one flow table (one worker). Not
// safe for concurrent use.
type Extractor struct {
	cfg   Config
	flows []flowState
	hosts *hostTable
	svcs  *serviceTable
}

// New returns an extractor for a table of cfg.Flows flows.
func New(cfg Config) *Extractor {
	if cfg.Hosts <= 0 {
		cfg.Hosts = DefaultHosts
	}
	if cfg.Point == 0 {
		cfg.Point = DefaultPoint
	}
	return &Extractor{cfg: cfg, flows: make([]flowState, max(cfg.Flows, 1)), hosts: newHostTable(cfg.Hosts), svcs: newServiceTable(cfg.Hosts)}
}

// HostsReplaced counts hosts whose state was replaced for want of room.
func (x *Extractor) HostsReplaced() uint64 { return x.hosts.Replaced + x.svcs.Replaced }

// svcKey keys f's service: its source, responder, port and protocol.
func svcKey(f *flows.Flow) uint64 {
	orig, _ := f.Orig()
	resp, rport := f.Resp()
	return mix64(addrHash(orig) ^ mix64(addrHash(resp)^(uint64(rport)|uint64(f.Proto)<<16)))
}

func (x *Extractor) state(f *flows.Flow) *flowState {
	if i := f.Slot(); i >= 0 && i < len(x.flows) {
		return &x.flows[i]
	}
	return nil
}

// Mark returns the caller's scratch byte for f (nil if f is not of this
// extractor's table).
func (x *Extractor) Mark(f *flows.Flow) *uint8 {
	if s := x.state(f); s != nil {
		return &s.Mark
	}
	return nil
}

// Packet updates f's features with p, which flows.Table.Track just
// counted (fromOrig and ev are what it returned). It reports whether f
// reached the feature point with this packet.
func (x *Extractor) Packet(f *flows.Flow, p *decode.Packet, fromOrig bool, ev int) bool {
	s := x.state(f)
	if s == nil {
		return false
	}
	now := p.TsNs
	orig, _ := f.Orig()
	resp, rport := f.Resp()
	if ev&flows.EvNew != 0 {
		*s = flowState{}
		src := x.hosts.get(orig, now)
		for k, h := range Scales {
			src.Flows[k].add(now, h, 1)
			src.Ports[k].add(now, h, mix64(uint64(rport)|uint64(f.Proto)<<16))
			src.Peers[k].add(now, h, addrHash(resp))
		}
		dst := x.hosts.get(resp, now)
		for k, h := range Scales {
			dst.InFlows[k].add(now, h, 1)
			dst.Srcs[k].add(now, h, addrHash(orig))
		}
		svc := x.svcs.get(svcKey(f), now)
		for k, h := range Scales {
			svc.Flows[k].add(now, h, 1)
		}
	}
	d := 0
	if !fromOrig {
		d = 1
		if ev&flows.EvReply != 0 {
			s.FirstReplyNs = now
		}
	}
	ds := &s.Dir[d]
	if ds.Len.N > 0 {
		ds.IAT.Add(float64(max(now-ds.LastNs, 0)) / 1e9)
	}
	ds.LastNs = now
	ds.Len.Add(float64(p.WireLen))
	if p.PayloadLen > 0 && s.Dir[0].Payload == 0 && s.Dir[1].Payload == 0 {
		s.RespFirst = d == 1
	}
	ds.Payload += uint64(p.PayloadLen)
	if p.Proto == decode.ProtoTCP && p.HasL4 {
		fl := p.TCPFlags
		for i, b := range [6]uint8{decode.FlagSYN, decode.FlagFIN, decode.FlagRST, decode.FlagPSH, decode.FlagACK, decode.FlagURG} {
			if fl&b != 0 {
				ds.Flags[i]++
			}
		}
		if ds.Len.N == 1 {
			ds.WinFirst = p.Window
		}
		ds.WinMax = max(ds.WinMax, p.Window)
		if ev&flows.EvEstablished != 0 {
			s.Handshake = true
		}
	}
	if src := x.hosts.get(orig, now); src != nil {
		for k, h := range Scales {
			if d == 0 {
				src.Out[k].add(now, h, float64(p.WireLen))
			} else {
				src.In[k].add(now, h, float64(p.WireLen))
			}
		}
	}
	return f.Pkts[0]+f.Pkts[1] == x.cfg.Point
}

// Failed reports whether f is a failed connection: never answered, a TCP
// connection whose handshake never completed, or one reset before the
// responder sent data.
func (x *Extractor) Failed(f *flows.Flow) bool {
	s := x.state(f)
	if f.Pkts[1] == 0 {
		return true
	}
	if f.Proto != decode.ProtoTCP || s == nil {
		return false
	}
	return !s.Handshake || (f.State == flows.StateReset && s.Dir[1].Payload == 0)
}

// End records that f ended in its source's failure share. Call it once,
// as f leaves the table (before Fill, so the flow counts itself).
func (x *Extractor) End(f *flows.Flow) {
	orig, _ := f.Orig()
	src := x.hosts.lookup(orig)
	if src == nil {
		return
	}
	failed := 0.0
	if x.Failed(f) {
		failed = 1
	}
	now := max(f.EndNs, f.LastNs)
	for k, h := range Scales {
		src.Ended[k].add(now, h, 1)
		src.Fail[k].add(now, h, failed)
	}
	if svc, s := x.svcs.lookup(svcKey(f)), x.state(f); svc != nil && s != nil {
		for k, h := range Scales {
			svc.Ended[k].add(now, h, 1)
			svc.Resp[k].add(now, h, float64(s.Dir[1].Payload))
			svc.Fwd[k].add(now, h, float64(s.Dir[0].Payload))
		}
	}
}

// Fill writes f's features at packet time nowNs into v.
func (x *Extractor) Fill(f *flows.Flow, nowNs int64, v *Vector) {
	*v = Vector{}
	s := x.state(f)
	if s == nil {
		return
	}
	_, rport := f.Resp()
	v[Proto] = float64(f.Proto)
	v[RespPort] = float64(rport)
	v[Duration] = float64(f.LastNs-f.FirstNs) / 1e9
	if s.FirstReplyNs != 0 {
		v[FirstReply] = float64(s.FirstReplyNs-f.FirstNs) / 1e9
		v[Replied] = 1
	}
	if s.Handshake {
		v[Handshake] = 1
	}
	v[State] = float64(f.State)
	if s.RespFirst {
		v[RespFirst] = 1
	}
	for d, base := range [2]int{Fwd, Bwd} {
		ds := &s.Dir[d]
		v[base+DirPkts] = float64(f.Pkts[d])
		v[base+DirBytes] = float64(f.Bytes[d])
		v[base+DirPayload] = float64(ds.Payload)
		v[base+DirLenMean], v[base+DirLenStd], v[base+DirLenMin], v[base+DirLenMax] = ds.Len.Mean, ds.Len.Std(), ds.Len.Min, ds.Len.Max
		v[base+DirIATMean], v[base+DirIATStd], v[base+DirIATMin], v[base+DirIATMax] = ds.IAT.Mean, ds.IAT.Std(), ds.IAT.Min, ds.IAT.Max
		for i, n := range ds.Flags {
			v[base+DirSYN+i] = float64(n)
		}
		v[base+DirWinFirst], v[base+DirWinMax] = float64(ds.WinFirst), float64(ds.WinMax)
	}
	orig, _ := f.Orig()
	if src := x.hosts.lookup(orig); src != nil {
		for k, h := range Scales {
			b := SrcBase + k*SrcLen
			v[b+SrcFlows] = src.Flows[k].at(nowNs, h)
			v[b+SrcPorts] = src.Ports[k].estimate(nowNs, h)
			v[b+SrcPeers] = src.Peers[k].estimate(nowNs, h)
			if e := src.Ended[k].at(nowNs, h); e > 1e-9 {
				v[b+SrcFailShare] = src.Fail[k].at(nowNs, h) / e
			}
			out, in := src.Out[k].at(nowNs, h), src.In[k].at(nowNs, h)
			if out+in > 0 {
				v[b+SrcOutShare] = out / (out + in)
			}
		}
	}
	resp, _ := f.Resp()
	if dst := x.hosts.lookup(resp); dst != nil {
		for k, h := range Scales {
			b := DstBase + k*DstLen
			v[b+DstFlows] = dst.InFlows[k].at(nowNs, h)
			v[b+DstSrcs] = dst.Srcs[k].estimate(nowNs, h)
		}
	}
	if svc := x.svcs.lookup(svcKey(f)); svc != nil {
		for k, h := range Scales {
			b := SvcBase + k*SvcLen
			v[b+SvcFlows] = svc.Flows[k].at(nowNs, h)
			if e := svc.Ended[k].at(nowNs, h); e > 1e-9 {
				v[b+SvcRespMean] = svc.Resp[k].at(nowNs, h) / e
				v[b+SvcFwdMean] = svc.Fwd[k].at(nowNs, h) / e
			}
		}
	}
}

// MaxCounts is how many damped counts of anomalous points a host keeps:
// one per model run side by side.
const MaxCounts = 4

// Anomalous counts an anomalous feature point of source a at nowNs in
// count n (< MaxCounts: one per model) and returns the source's damped
// count of them (half-life halfLifeNs, this one included).
func (x *Extractor) Anomalous(a netip.Addr, nowNs, halfLifeNs int64, n int) float64 {
	h := x.hosts.get(a, nowNs)
	h.Anom[n].add(nowNs, float64(halfLifeNs)/1e9, 1)
	return h.Anom[n].W
}
