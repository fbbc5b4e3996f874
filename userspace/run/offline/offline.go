// Package offline analyses a capture file with the live pipeline. Where
// the machine allows BPF, every frame first runs through the real XDP
// program (BPF_PROG_TEST_RUN) with the program's clock set to the packet's
// time, so verdicts, counters, rate limits, bans and samples are what the
// live path would produce; elsewhere frames go straight to userspace.
// Packet timestamps drive every detector: the same capture gives the same
// alerts on every run.
package offline

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"time"

	"github.com/cilium/ebpf"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/capture/pcapfile"
	"github.com/xdpids/xdpids/userspace/capture/samples"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/learn/model"
	"github.com/xdpids/xdpids/userspace/output/eve"
	"github.com/xdpids/xdpids/userspace/packet/decode"
	"github.com/xdpids/xdpids/userspace/respond"
	"github.com/xdpids/xdpids/userspace/run/pipeline"
	"github.com/xdpids/xdpids/userspace/signature"
)

// Mode says how frames reach the pipeline.
type Mode string

// Modes.
const (
	ModeAuto      Mode = "auto"      // XDP where BPF works, else userspace
	ModeXDP       Mode = "xdp"       // through the XDP program, or fail
	ModeUserspace Mode = "userspace" // every frame straight to the pipeline
)

// Options configure Run.
type Options struct {
	Path     string
	Mode     Mode
	Datapath loader.Config // sampling and rate limits for the XDP pass
	Pipeline pipeline.Config
	Respond  respond.Config
	Iface    string             // in_iface of alerts
	Rules    *signature.Engine  // signatures to match (nil: none)
	Model    model.Set          // learned models to score flows with (nil: none)
	OnAlert  func(*alert.Alert) // after the responder set the action
	// EVE, when set, gets the run's flow, anomaly and drop events, and a
	// stats event at the end (alerts go to OnAlert). Its write errors
	// stick: Close reports them.
	EVE      *eve.Writer
	Progress func(done, total int64)

	// Tree is the in-kernel model the XDP pass runs (nil: none; the
	// userspace mode has no kernel and ignores it).
	Tree *loader.Tree
	// TreeVerdicts names Tree's verdicts (xdptree.Model.Verdicts): the
	// class and threshold of the alerts on them (nil: class numbers only).
	TreeVerdicts *pipeline.KernelModel
}

// Talker is one source's traffic.
type Talker struct {
	Addr    netip.Addr
	Packets uint64
	Bytes   uint64
}

// Summary is what a run saw.
type Summary struct {
	Path       string
	Format     string
	Mode       Mode // the mode used
	Packets    uint64
	Bytes      uint64
	FirstNs    int64
	LastNs     int64
	Verdicts   [bpf.VerdictMax]uint64
	Samples    uint64
	Pipeline   pipeline.Stats
	Alerts     map[string]int // "sid signature" -> count
	AlertTotal int
	Bans       uint64
	Top        []Talker
	XDPStats   *loader.IfaceStats
}

// Run reads the capture through the pipeline. A damaged capture returns
// the summary of the packets before the damage and an error wrapping
// pcapfile.ErrCorrupt.
func Run(o Options) (*Summary, error) {
	c, err := pcapfile.Open(o.Path)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	sum := &Summary{Path: o.Path, Format: c.Format, Alerts: map[string]int{}}
	r := &runner{o: o, sum: sum, talkers: map[netip.Addr]*Talker{}}
	if err := r.setup(); err != nil {
		return nil, err
	}
	defer r.close()
	var readErr error
	lastProgress := time.Now()
	for {
		frame, ts, wireLen, err := c.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			readErr = fmt.Errorf("%s: after %d packets: %w", o.Path, sum.Packets, err)
			break
		}
		if err := r.packet(frame, ts.UnixNano(), wireLen); err != nil {
			return sum, err
		}
		if o.Progress != nil && time.Since(lastProgress) > 200*time.Millisecond {
			lastProgress = time.Now()
			o.Progress(c.Offset(), c.Size)
		}
	}
	r.finish()
	return sum, readErr
}

type runner struct {
	o         Options
	sum       *Summary
	pipe      *pipeline.Pipeline
	worker    *pipeline.Worker
	resp      *respond.Responder
	dp        *loader.Datapath
	rd        *samples.Reader
	cfg       loader.Config
	mem       *memBanner
	nowNs     int64
	talkers   map[netip.Addr]*Talker
	flowDrops map[flowDir]bool
	dec       *decode.Decoder
	pkt       decode.Packet // the frame being processed, decoded once
	decErr    error         // the decoder's error for pkt
	sample    samples.Sample
	raw       []byte
}

func (r *runner) setup() error {
	mode := r.o.Mode
	if mode == "" {
		mode = ModeAuto
	}
	if mode != ModeUserspace {
		dp, err := loader.Load(loader.Options{})
		if err != nil && mode == ModeXDP {
			return fmt.Errorf("offline xdp pass: %w", err)
		}
		if err == nil {
			rd, err := samples.NewReader(dp.SamplesMap())
			if err != nil {
				dp.Close()
				return err
			}
			rd.SetDeadline(time.Unix(1, 0)) // never block: drain what is there
			r.dp, r.rd, mode = dp, rd, ModeXDP
		} else {
			mode = ModeUserspace
		}
	}
	r.sum.Mode = mode
	var banner respond.Banner
	if r.dp != nil {
		banner = r.dp.Maps()
		r.cfg = r.o.Datapath
		// Offline there is no budget: every packet of every flow is
		// inspected (whole while rules are active) until the pipeline
		// bypasses the flow, as the userspace mode inspects every frame.
		r.cfg.FlowSamples, r.cfg.SampleRate = bpf.FlowSamplesAll, 0
		if r.o.Rules != nil {
			r.cfg.Snaplen = bpf.MaxSnaplen
		}
		if err := r.cfg.Validate(); err != nil {
			return err
		}
		if err := r.dp.Maps().SetConfig(r.cfg); err != nil {
			return err
		}
		if r.o.Tree != nil {
			if err := r.dp.Maps().LoadTree(r.o.Tree); err != nil {
				return err
			}
		}
	} else {
		r.mem = &memBanner{bans: map[netip.Prefix]int64{}}
		banner = r.mem
	}
	rc := r.o.Respond
	rc.ProtectHost = false // the capture's hosts are not this machine's
	resp, err := respond.New(rc, banner)
	if err != nil {
		return err
	}
	r.resp = resp
	pc := r.o.Pipeline
	pc.Workers = 1
	r.pipe = pipeline.New(pc, r.onAlert)
	r.pipe.Engine().SetWantMore(resp.WantsMoreEvidence)
	r.pipe.SetRules(r.o.Rules)
	r.pipe.SetModel(r.o.Model...)
	if r.o.Tree != nil {
		r.pipe.SetKernelModel(r.o.TreeVerdicts)
	}
	r.pipe.OnFlowAction = r.flowAction
	if w := r.o.EVE; w != nil {
		r.pipe.OnFlowEnd = func(f *flows.Flow) { _ = w.WriteFlow(f, r.o.Iface) }
		r.pipe.OnAnomaly = func(a *eve.Anomaly) { _ = w.WriteAnomaly(a, r.o.Iface) }
		r.pipe.OnDrop = func(p *decode.Packet, f *flows.Flow, reason string) { _ = w.WriteDrop(p, f, reason, r.o.Iface) }
		r.pipe.OnApp = func(ev *eve.AppEvent) { _ = w.WriteApp(ev, r.o.Iface) }
	}
	r.flowDrops = map[flowDir]bool{}
	r.worker = r.pipe.Worker(0)
	r.dec = decode.NewDecoder()
	r.raw = make([]byte, samples.HeaderLen+bpf.MaxSnaplen)
	return nil
}

// flowDir is one direction of a flow (userspace mode's flow drops).
type flowDir struct {
	src, dst     netip.Addr
	sport, dport uint16
	proto        uint8
}

// flowAction applies a drop rule or a bypass: in the run's kernel flow
// table on the XDP path, in a map the userspace path checks otherwise.
func (r *runner) flowAction(src, dst netip.Addr, sport, dport uint16, proto uint8, vlan uint16, action uint32) {
	if r.dp != nil {
		_ = r.dp.Maps().SetFlowAction(loader.FlowKey(src, dst, sport, dport, proto, vlan), action, uint64(r.nowNs))
		return
	}
	if action == bpf.FlowDrop {
		r.flowDrops[flowDir{src, dst, sport, dport, proto}] = true
	}
}

func (r *runner) close() {
	if r.rd != nil {
		r.rd.Close()
	}
	if r.dp != nil {
		r.dp.Close()
	}
}

func (r *runner) onAlert(a *alert.Alert) {
	a.Iface = r.o.Iface
	r.resp.Handle(a, r.nowNs)
	r.sum.AlertTotal++
	r.sum.Alerts[fmt.Sprintf("%d %s", a.SID, a.Signature)]++
	if r.o.OnAlert != nil {
		r.o.OnAlert(a)
	}
}

func (r *runner) packet(frame []byte, tsNs int64, wireLen int) error {
	s := r.sum
	if s.Packets == 0 {
		s.FirstNs = tsNs
	}
	s.Packets++
	r.worker.PcapCnt = s.Packets // EVE pcap_cnt of what this frame raises
	s.Bytes += uint64(wireLen)
	s.LastNs = tsNs
	r.nowNs = tsNs
	r.worker.PcapCnt = s.Packets
	// Each frame is decoded once, here: the worker takes the decoded
	// packet with the XDP program's sample of it (or the userspace
	// mode's). The decoder sees what the program's sample would hold:
	// the frame up to the snap length. A frame longer than any sample
	// (a TSO or GRO segment, captured on a host before the NIC cut it,
	// or a jumbo frame) is taken whole instead: on the wire it was
	// segments the kernel would have sampled whole, and cutting it
	// would leave a reassembly gap no live run has.
	n := len(frame)
	pk := &r.pkt
	pk.Reset()
	if r.dp != nil {
		if n <= bpf.MaxSnaplen {
			n = min(n, int(r.cfg.Snaplen))
		}
		pk.WireLen = uint32(len(frame))
	} else {
		pk.WireLen = uint32(wireLen)
	}
	pk.CapLen = uint32(n)
	r.decErr = r.dec.Decode(frame[:n], pk)
	r.talk(wireLen)
	if r.dp != nil {
		return r.viaXDP(frame, tsNs, n)
	}
	return r.viaUserspace(frame[:n], tsNs, wireLen)
}

// talk counts top talkers by source address.
func (r *runner) talk(wireLen int) {
	if r.decErr != nil && r.pkt.Family == 0 {
		return
	}
	t := r.talkers[r.pkt.Src]
	if t == nil {
		if len(r.talkers) >= 100000 {
			return
		}
		t = &Talker{Addr: r.pkt.Src}
		r.talkers[r.pkt.Src] = t
	}
	t.Packets++
	t.Bytes += uint64(wireLen)
}

func (r *runner) viaXDP(frame []byte, tsNs int64, n int) error {
	if len(frame) < 14 {
		// BPF_PROG_TEST_RUN refuses frames shorter than Ethernet; the live
		// program would count them malformed and pass them.
		r.sum.Verdicts[bpf.VerdictPass]++
		return nil
	}
	// 0 would give the program back its own clock: a packet stamped at the
	// epoch runs at 1 ns.
	if err := r.dp.SetReplayClock(uint64(max(tsNs, 1))); err != nil {
		return err
	}
	ret, err := r.dp.Program().Run(&ebpf.RunOptions{Data: frame})
	if err != nil {
		return fmt.Errorf("xdp test run: %w", err)
	}
	if ret == 1 { // XDP_DROP
		r.sum.Verdicts[bpf.VerdictDrop]++
	} else {
		r.sum.Verdicts[bpf.VerdictPass]++
	}
	for r.rd.AvailableBytes() > 0 {
		raw, err := r.rd.ReadRaw()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			return fmt.Errorf("read samples: %w", err)
		}
		r.sum.Samples++
		s := &r.sample
		if samples.Decode(raw, s) == nil && (s.CapLen == uint32(n) && s.WireLen == uint32(len(frame)) ||
			n > bpf.MaxSnaplen && s.WireLen <= uint32(n) && s.CapLen == min(r.cfg.Snaplen, s.WireLen)) {
			// The program's one sample of this frame: what r.pkt decoded
			// (the whole frame, for one longer than any sample: the
			// program sees its first page, BPF_PROG_TEST_RUN puts the
			// rest in fragments).
			if n > bpf.MaxSnaplen {
				s.Data, s.CapLen = frame, uint32(n)
			}
			r.worker.ProcessDecoded(s, &r.pkt, r.decErr)
			continue
		}
		r.worker.Process(raw) // a bypassed flow's milestone (headers only), or malformed
	}
	return nil
}

func (r *runner) viaUserspace(frame []byte, tsNs int64, wireLen int) error {
	// Emulate the block list: a banned source is dropped before inspection.
	if r.pkt.Family != 0 && (r.mem.blocked(r.pkt.Src, tsNs) ||
		(len(r.flowDrops) > 0 && r.flowDrops[flowDir{r.pkt.Src, r.pkt.Dst, r.pkt.SrcPort, r.pkt.DstPort, r.pkt.Proto}])) {
		r.sum.Verdicts[bpf.VerdictDrop]++
		return nil
	}
	r.sum.Verdicts[bpf.VerdictPass]++
	s := &r.sample
	*s = samples.Sample{TsNs: uint64(tsNs), WireLen: uint32(wireLen), CapLen: uint32(len(frame)), Data: frame,
		Flags: bpf.SampleNewFlow}
	r.sum.Samples++
	r.worker.ProcessDecoded(s, &r.pkt, r.decErr)
	return nil
}

func (r *runner) finish() {
	r.pipe.EndFlows()
	r.pipe.Flush()
	r.sum.Pipeline = r.pipe.Stats()
	r.sum.Bans = r.resp.Stats().Bans
	for _, t := range r.talkers {
		r.sum.Top = append(r.sum.Top, *t)
	}
	sort.Slice(r.sum.Top, func(i, j int) bool {
		if r.sum.Top[i].Bytes != r.sum.Top[j].Bytes {
			return r.sum.Top[i].Bytes > r.sum.Top[j].Bytes
		}
		return r.sum.Top[i].Addr.Less(r.sum.Top[j].Addr)
	})
	if len(r.sum.Top) > 10 {
		r.sum.Top = r.sum.Top[:10]
	}
	if r.dp != nil {
		if st, err := r.dp.Maps().SlotStats(0); err == nil {
			r.sum.XDPStats = &st
		}
	}
	r.stats()
}

// stats writes the run's one EVE stats event, at the last packet's time.
func (r *runner) stats() {
	if r.o.EVE == nil {
		return
	}
	s := r.sum
	st := s.Pipeline.EVE(s.LastNs, (s.LastNs-s.FirstNs)/1e9)
	if x := s.XDPStats; x != nil {
		st.Extra["capture.kernel_packets"] = x.Total().Packets
		st.Extra["capture.kernel_drops"] = x.SamplesLost + x.SamplesOverBudget
	}
	_ = r.o.EVE.WriteStats(st)
}

// memBanner stands in for the kernel block list when BPF is unavailable.
type memBanner struct {
	bans map[netip.Prefix]int64 // expiry in packet time
}

func (m *memBanner) Block(p netip.Prefix, o loader.BlockOptions) error {
	exp := int64(0)
	if o.TTL > 0 {
		exp = int64(o.Now) + int64(o.TTL)
	}
	m.bans[p] = exp
	return nil
}

func (m *memBanner) Allowed(netip.Addr) (bool, error) { return false, nil }

func (m *memBanner) LookupBlock(p netip.Prefix) (loader.BlockEntry, error) {
	exp, ok := m.bans[p]
	if !ok {
		return loader.BlockEntry{}, loader.ErrNotListed
	}
	return loader.BlockEntry{Prefix: p, ExpiresNs: uint64(exp)}, nil
}

func (m *memBanner) blocked(a netip.Addr, now int64) bool {
	for p, exp := range m.bans {
		if p.Contains(a) && (exp == 0 || exp > now) {
			return true
		}
	}
	return false
}
