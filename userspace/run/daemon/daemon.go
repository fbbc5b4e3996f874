// Package daemon runs xdpids: it loads and attaches the XDP program, keeps
// its configuration and lists in step with the config file, drains the
// sample ring buffer, sweeps expired bans and serves metrics, until its
// context ends; then it detaches from every interface.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/vishvananda/netlink"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/capture/samples"
	"github.com/xdpids/xdpids/userspace/config"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/output/eve"
	"github.com/xdpids/xdpids/userspace/output/metrics"
	"github.com/xdpids/xdpids/userspace/packet/decode"
	"github.com/xdpids/xdpids/userspace/respond"
	"github.com/xdpids/xdpids/userspace/respond/hostaddrs"
	"github.com/xdpids/xdpids/userspace/run/pipeline"
)

// Options configure Run.
type Options struct {
	Interfaces  []string
	Config      *config.File
	ConfigPath  string             // reread on Reload; "" = built-in default
	Overlay     func(*config.File) // the command line, laid again over a reloaded file
	Reload      <-chan string      // a value asks for a config reload (SIGHUP)
	ReadyFile   string             // written once attached, removed on exit
	MetricsAddr string
	SamplePcap  string // write every sample to this pcap file
	EVEPath     string // alerts: a file, or "-" for stdout
}

// Ready is what the ready file holds.
type Ready struct {
	PID        int          `json:"pid"`
	PinPath    string       `json:"pin_path"`
	Interfaces []ReadyIface `json:"interfaces"`
	Metrics    string       `json:"metrics_addr,omitempty"`
}

// ReadyIface is one attachment in the ready file.
type ReadyIface struct {
	Name    string `json:"name"`
	Ifindex int    `json:"ifindex"`
	Mode    string `json:"xdp_mode"`
	// Egress is whether the tcx egress program that verifies sources
	// through the host's handshakes is attached beside XDP (false on a
	// kernel without tcx: only SYN cookies verify).
	Egress bool `json:"egress"`
}

// Run attaches and serves until ctx is done, then detaches cleanly.
func Run(ctx context.Context, o Options) (err error) {
	if len(o.Interfaces) == 0 {
		return errors.New("no interface given: use -i IFACE (or interfaces: in the config file)")
	}
	for _, name := range o.Interfaces {
		if _, err := net.InterfaceByName(name); err != nil {
			return fmt.Errorf("interface %q: no such interface", name)
		}
	}
	cfg := o.Config
	xdpMode, err := loader.ParseXDPMode(cfg.XDPMode)
	if err != nil {
		return err
	}
	csKey, err := crowdSecKey(cfg)
	if err != nil {
		return err
	}
	// Every check before any write: one daemon per pin path (the config
	// map, lists and counters there are shared), a ready file a dead
	// daemon left, interfaces already carrying an XDP program.
	if cfg.PinPath != "" {
		lock, err := loader.LockPinPath(cfg.PinPath)
		if err != nil {
			return err
		}
		defer lock.Close()
	}
	if o.ReadyFile != "" {
		if err := removeStaleReady(o.ReadyFile); err != nil {
			return err
		}
	}
	if err := checkFree(o.Interfaces); err != nil {
		return err
	}
	// Whether the block list outlives the last run (the fleet tells an
	// unblock made while the daemon was stopped from a reboot by it).
	listKept := pinned(cfg.PinPath, bpf.XdpidsMapBlockHostV4)
	dp, err := loader.Load(loader.Options{PinPath: cfg.PinPath})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := dp.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("detach: %w", cerr))
		}
		for _, a := range o.Interfaces {
			slog.Info("detached", "iface", a)
		}
	}()
	if err := sharePins(cfg); err != nil {
		return err
	}
	ready, err := attach(dp, o.Interfaces, xdpMode, cfg)
	if err != nil {
		return err
	}

	counters := &metrics.Daemon{}
	sink, err := eve.Open(o.EVEPath)
	if err != nil {
		return err
	}
	defer sink.Close()
	resp, err := respond.New(cfg.ResponseConfig(), dp.Maps())
	if err != nil {
		return err
	}
	if cfg.Respond.ProtectHost {
		// Addresses, gateways, next hops, broadcast and network addresses
		// of the host's subnets, resolvers and NTP servers, followed live.
		h, err := hostaddrs.New(hostaddrs.Options{})
		if err != nil {
			return fmt.Errorf("protected host addresses: %w", err)
		}
		defer h.Close()
		resp.Host = h
	}
	// The allow list clears the bans it covers (a ban left under an allow
	// entry would come back when the entry is removed).
	clearAllowed(dp.Maps())
	// Escalation outlives the daemon: the bans it made carry their level.
	if blocks, err := dp.Maps().Blocks(); err != nil {
		slog.Warn("read block list: repeat offenders start over", "err", err)
	} else if n := resp.Restore(blocks, int64(loader.KernelNow())); n > 0 {
		slog.Info("escalation restored from the block list", "offenders", n)
	}
	resp.OnBan = func(a *alert.Alert) {
		counters.ObserveBanLatency(float64(time.Now().UnixNano()-a.TsNs) / 1e9)
	}
	counters.Responder = resp
	// Fleet ban sharing, when configured: stopped (and its embedded
	// server with it) before the maps close.
	fl, err := startFleet(cfg, cfg.PinPath, listKept, dp.Maps(), resp)
	if err != nil {
		return err
	}
	defer fl.stop()
	counters.Fleet = fl.fleetOf()
	ifnames := map[uint32]string{}
	for _, r := range ready.Interfaces {
		ifnames[uint32(r.Ifindex)] = r.Name
	}
	// The alert callback runs on the pipeline's outbox goroutine, never
	// under the detector lock nor on a worker: the responder's map
	// syscalls and the EVE write happen here. (The pipeline drops the
	// payload unless eve.payload asks for it.)
	pc := cfg.PipelineConfig()
	gateModel(&pc, cfg, ready.Interfaces)
	// A learning period (learn:) keeps the flows' feature records until
	// it learned this network's normal traffic; a model it learned before
	// runs beside model: from the start.
	learned, err := cfg.Learn.LoadLearned()
	if err != nil {
		return err
	}
	ms := &models{learned: learned}
	learner := startLearning(cfg.Learn, ms, learned)
	learner.hook(&pc)
	pipe := pipeline.New(pc, func(a *alert.Alert) {
		a.Iface = ifnames[a.Ifindex]
		resp.Handle(a, int64(loader.KernelNow()))
		counters.ObserveAlert(a)
		if err := sink.Write(a); err != nil {
			slog.Error("eve", "err", err)
		}
		if a.Action == "blocked" {
			slog.Info("banned", "subject", a.Subject, "prefix", a.BanPrefix, "ttl", time.Duration(a.BanTTL), "signature", a.Signature)
		}
	})
	// Scans refused a ban for want of evidence alert again as it grows.
	pipe.Engine().SetWantMore(resp.WantsMoreEvidence)
	pipe.KernelOffset.Store(kernelOffset())
	var flowsOn atomic.Bool // eve.flows, which a reload may change
	flowsOn.Store(cfg.EVE.Flows)
	wireEVE(pipe, sink, ifnames, &flowsOn)
	pipe.OnFlowAction = func(src, dst netip.Addr, sport, dport uint16, proto uint8, vlan uint16, action uint32) {
		slog.Debug("flow action", "src", src, "dst", dst, "sport", sport, "dport", dport, "proto", proto, "action", action)
		if err := dp.Maps().SetFlowAction(loader.FlowKey(src, dst, sport, dport, proto, vlan), action, 0); err != nil {
			slog.Warn("flow action", "err", err)
		}
	}
	rs, err := compileRules(pipe, cfg)
	if err != nil {
		return err
	}
	installRules(pipe, rs)
	ms.pipe = pipe
	if err := loadModel(ms, cfg); err != nil {
		return err
	}
	xm, err := loadXDPModel(cfg.XDPModel)
	if err != nil {
		return err
	}
	if err := installXDPModel(dp.Maps(), pipe, xm); err != nil {
		return err
	}
	rd, err := samples.NewReader(dp.SamplesMap())
	if err != nil {
		return err
	}
	counters.Ring = rd
	if o.SamplePcap != "" {
		f, err := os.Create(o.SamplePcap)
		if err != nil {
			rd.Close()
			return fmt.Errorf("sample pcap: %w", err)
		}
		defer f.Close()
		pw, err := samples.NewPcapWriter(f)
		if err != nil {
			rd.Close()
			return err
		}
		var s samples.Sample
		pipe.Tap = func(raw []byte) {
			if samples.Decode(raw, &s) == nil {
				_ = pw.Write(&s, loader.KernelToWall(s.TsNs))
			}
		}
		defer pw.Flush()
	}

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := pipe.Run(rd); err != nil {
			slog.Error("sample pipeline stopped", "err", err)
		}
	}()
	// At shutdown the pipeline first drains what the ring holds (Flush:
	// the reader returns every record there, then ErrFlushed), so samples
	// the program sent are inspected and written; then the reader is closed
	// (the reader goroutine may be parked in Read) before waiting.
	start := time.Now()
	defer func() {
		drained := make(chan struct{})
		go func() { wg.Wait(); close(drained) }()
		if err := rd.Flush(); err == nil {
			select {
			case <-drained:
			case <-time.After(2 * time.Second):
				slog.Warn("shutdown: the ring buffer was not drained within 2s")
			}
		}
		rd.Close()
		wg.Wait()
		// The flows still open end with the daemon (flow events, reason
		// shutdown), then one last stats event.
		pipe.EndFlows()
		pipe.Flush()
		writeStats(sink, pipe, dp.Maps(), start)
		st := pipe.Stats()
		slog.Info("pipeline", "samples", st.Samples, "overflow", st.Overflow, "alerts", st.Alerts, "flows", st.FlowsCreated)
	}()
	counters.Pipeline = pipe
	// CrowdSec decisions into the block list, from now until shutdown
	// (stopped before the program detaches: the entries stay pinned).
	bouncer, stopBouncer, err := startCrowdSec(cfg, csKey, dp.Maps(), resp)
	if err != nil {
		return err
	}
	defer stopBouncer()
	counters.CrowdSec = bouncer

	status := newStatusWriter(cfg.PinPath, pipe)
	status.fleet = fl.status
	defer status.remove()
	if addr := o.MetricsAddr; addr != "" {
		srv, bound, err := serveMetrics(addr, dp.Maps(), counters)
		if err != nil {
			return err
		}
		ready.Metrics = bound
		defer srv.Close()
		slog.Info("serving metrics", "addr", bound)
	}

	if o.ReadyFile != "" {
		if err := writeReady(o.ReadyFile, ready); err != nil {
			return err
		}
		defer os.Remove(o.ReadyFile)
	}

	sweep := time.NewTicker(cfg.SweepInterval)
	defer sweep.Stop()
	// Flow and anomaly events are buffered: out within a second.
	flush := time.NewTicker(time.Second)
	defer flush.Stop()
	var stats ticker
	defer stats.stop()
	stats.set(cfg.EVE.StatsInterval)
	learnStop := make(chan struct{})
	learner.run(learnStop)
	defer learner.wait()
	defer close(learnStop)
	r := &reloader{o: &o, boot: cfg, dp: dp, pipe: pipe, resp: resp, sink: sink, counters: counters, flowsOn: &flowsOn, ifaces: ready.Interfaces,
		models: ms, learner: learner}
	for {
		select {
		case <-ctx.Done():
			slog.Info("shutting down")
			return nil
		case <-flush.C:
			if err := sink.Flush(); err != nil {
				slog.Error("eve", "err", err)
			}
			status.write()
			// Someone detached the program (xdpids detach, bpftool): nothing
			// is inspected or blocked there any more, so say so and stop
			// (systemd's Restart=on-failure attaches again).
			if lost := dp.Lost(); len(lost) > 0 {
				slog.Error("the xdp program was detached from outside", "ifaces", lost)
				return fmt.Errorf("xdp program detached from %v by another process", lost)
			}
		case <-stats.c:
			writeStats(sink, pipe, dp.Maps(), start)
		case <-sweep.C:
			pipe.KernelOffset.Store(kernelOffset())
			if n, err := dp.Maps().SweepExpired(); err != nil {
				slog.Warn("sweep expired bans", "err", err)
			} else if n > 0 {
				slog.Info("removed expired bans", "count", n)
			}
			resp.SweepVerified()
		case <-o.Reload:
			if next := r.reload(); next != nil {
				cfg = next
				sweep.Reset(cfg.SweepInterval)
				stats.set(cfg.EVE.StatsInterval)
			}
		}
	}
}

// checkFree fails when an interface already carries an XDP program, so
// that nothing is written to the pinned maps for an attach that would
// fail. (The attach itself still reports a race lost after this check.)
func checkFree(ifaces []string) error {
	for _, name := range ifaces {
		l, err := netlink.LinkByName(name)
		if err != nil {
			return fmt.Errorf("interface %q: %w", name, err)
		}
		if x := l.Attrs().Xdp; x != nil && x.Attached {
			return fmt.Errorf("attach to %s: an XDP program (id %d) is attached there already (xdpids detach -i %s removes an xdpids one)", name, x.ProgId, name)
		}
	}
	return nil
}

// attach writes the configuration to the maps and attaches to every
// interface. When an attach fails, the configuration the maps held
// before is written back.
func attach(dp *loader.Datapath, ifaces []string, mode loader.XDPMode, cfg *config.File) (Ready, error) {
	ready := Ready{PID: os.Getpid(), PinPath: cfg.PinPath}
	old, oldErr := dp.Maps().ReadConfig()
	if err := applyConfig(dp.Maps(), cfg); err != nil {
		return ready, err
	}
	for _, name := range ifaces {
		a, err := dp.Attach(name, mode)
		if err != nil {
			if oldErr == nil {
				_ = dp.Maps().SetConfig(old)
			}
			return ready, err
		}
		slog.Info("attached", "iface", a.Iface, "ifindex", a.Ifindex, "xdp_mode", a.Mode, "egress", a.Egress, "mode", cfg.Mode)
		ready.Interfaces = append(ready.Interfaces, ReadyIface{a.Iface, a.Ifindex, string(a.Mode), a.Egress})
	}
	return ready, nil
}

// clearAllowed removes the bans the allow list covers, and logs them.
func clearAllowed(m *loader.Maps) {
	entries, err := m.Allows()
	if err != nil {
		slog.Warn("read allow list: bans under it kept", "err", err)
		return
	}
	allow := make([]netip.Prefix, 0, len(entries))
	for _, e := range entries {
		allow = append(allow, e.Prefix)
	}
	removed, err := respond.ClearAllowed(m, allow)
	if err != nil {
		slog.Warn("clear bans under the allow list", "err", err)
	}
	for _, p := range removed {
		slog.Info("ban removed: the allow list covers it", "prefix", p)
	}
}

// syncookiesSysctl is this network namespace's net.ipv4.tcp_syncookies.
const syncookiesSysctl = "/proc/sys/net/ipv4/tcp_syncookies"

// applyConfig writes the program configuration and adds the configured
// allow list entries (entries added by hand stay).
func applyConfig(m *loader.Maps, cfg *config.File) error {
	dc := cfg.DatapathConfig()
	if dc.CookieThreshold > 0 || dc.CookieAlways {
		if v, err := os.ReadFile(syncookiesSysctl); err != nil || strings.TrimSpace(string(v)) != "2" {
			// The listener accepts an ACK carrying an XDP cookie only when it
			// accepts cookies always; else those clients would be reset.
			slog.Warn("XDP SYN cookies off: they need net.ipv4.tcp_syncookies=2 (sysctl -w net.ipv4.tcp_syncookies=2)",
				"tcp_syncookies", strings.TrimSpace(string(v)))
			dc.CookieThreshold, dc.CookieAlways = 0, false
		}
	}
	if err := m.SetConfig(dc); err != nil {
		return err
	}
	for _, s := range cfg.Allow {
		p, err := loader.ParsePrefix(s)
		if err != nil {
			return err
		}
		if err := m.Allow(p); err != nil {
			return err
		}
	}
	return nil
}

// loadModel installs the configured learned models (on error the
// pipeline keeps the ones it has).
func loadModel(ms *models, cfg *config.File) error {
	s, err := cfg.LoadModel()
	if err != nil {
		return err
	}
	ms.setConfigured(s)
	return nil
}

// kernelOffset is Unix time minus CLOCK_MONOTONIC, in ns.
func kernelOffset() int64 {
	return time.Now().UnixNano() - int64(loader.KernelNow())
}

func serveMetrics(addr string, m *loader.Maps, d *metrics.Daemon) (*http.Server, string, error) {
	reg := prometheus.NewRegistry()
	if err := metrics.Register(reg, m, d); err != nil {
		return nil, "", err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("metrics listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("metrics server", "err", err)
		}
	}()
	return srv, ln.Addr().String(), nil
}

func writeReady(path string, r Ready) error {
	if err := writeJSON(path, r); err != nil {
		return fmt.Errorf("write ready file: %w", err)
	}
	return nil
}

// wireEVE sends the pipeline's flow, anomaly and drop events to sink
// (flow events while flowsOn is true). Write errors stick in the writer:
// the flush ticker logs them.
func wireEVE(pipe *pipeline.Pipeline, sink *eve.Writer, ifnames map[uint32]string, flowsOn *atomic.Bool) {
	pipe.OnFlowEnd = func(f *flows.Flow) {
		if flowsOn.Load() {
			_ = sink.WriteFlow(f, ifnames[f.Ifindex])
		}
	}
	pipe.OnAnomaly = func(a *eve.Anomaly) {
		var ifx uint32
		if a.P != nil {
			ifx = a.P.Ifindex
		} else if a.F != nil {
			ifx = a.F.Ifindex
		}
		_ = sink.WriteAnomaly(a, ifnames[ifx])
	}
	pipe.OnDrop = func(p *decode.Packet, f *flows.Flow, reason string) {
		_ = sink.WriteDrop(p, f, reason, ifnames[p.Ifindex])
	}
	pipe.OnApp = func(ev *eve.AppEvent) { _ = sink.WriteApp(ev, ifnames[ev.F.Ifindex]) }
}

// writeStats writes a stats event: the pipeline's counters and the
// kernel's, summed over the interfaces (capture.kernel_packets: every
// packet the program saw; capture.kernel_drops: those it could not hand
// to userspace, lost or over the sample budget).
func writeStats(sink *eve.Writer, pipe *pipeline.Pipeline, maps *loader.Maps, start time.Time) {
	now := time.Now()
	st := pipe.Stats().EVE(now.UnixNano(), int64(now.Sub(start)/time.Second))
	if ifs, err := maps.ReadStats(); err == nil {
		var pkts, drops uint64
		for i := range ifs {
			pkts += ifs[i].Total().Packets
			drops += ifs[i].SamplesLost + ifs[i].SamplesOverBudget
		}
		st.Extra["capture.kernel_packets"] = pkts
		st.Extra["capture.kernel_drops"] = drops
	}
	if err := sink.WriteStats(st); err != nil {
		slog.Error("eve stats", "err", err)
	}
}
