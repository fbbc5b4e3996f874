package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/output/metrics"
	"github.com/xdpids/xdpids/userspace/run/daemon"
)

func newStatsCommand(g *globalFlags) *cobra.Command {
	var (
		asJSON   bool
		watch    bool
		interval time.Duration
	)
	cmd := &cobra.Command{
		Use:   "stats [--json] [--watch]",
		Short: "Print the XDP program's counters per interface",
		Long: "stats reads the counters from the pinned maps while the daemon runs: packets and bytes\n" +
			"per interface by verdict (pass, drop, would_drop) and reason, by protocol, new flows\n" +
			"and samples. --watch prints packets/s and bits/s every --interval.\n\n" +
			"When no daemon is attached with these maps (the program is on no interface), stats still\n" +
			"prints the counters the last daemon left, says so on stderr and exits with status 1;\n" +
			"--watch refuses to start.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if interval <= 0 {
				return fmt.Errorf("bad --interval %s: must be positive", interval)
			}
			m, err := g.openMaps()
			if err != nil {
				return err
			}
			defer m.Close()
			out := cmd.OutOrStdout()
			live := g.requireDaemon(cmd.ErrOrStderr(), m, "the counters are from the last run")
			if !watch {
				stats, err := m.ReadStats()
				if err != nil {
					return err
				}
				us, usErr := daemon.ReadStatus(g.pinPath)
				if asJSON {
					r := statsReport(stats)
					if usErr == nil {
						r.Userspace = &us.Userspace
						r.Fleet = us.Fleet
					}
					if err := writeJSON(out, r); err != nil {
						return err
					}
					return live
				}
				printStats(out, stats)
				printUserspace(out, us.Userspace, usErr)
				if usErr == nil && us.Fleet != nil {
					printFleet(out, us.Fleet)
				}
				return live
			}
			if live != nil {
				return errNoDaemon{pinPath: g.pinPath, what: "nothing to watch"}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return watchStats(ctx, out, m, interval, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&watch, "watch", false, "print rates every --interval until interrupted")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "--watch interval")
	return cmd
}

type counterJSON = loader.Counter

type verdictJSON struct {
	counterJSON
	Reasons map[string]counterJSON `json:"reasons"`
}

type ifaceJSON struct {
	Iface     string                 `json:"iface"`
	Ifindex   uint32                 `json:"ifindex"`
	Packets   uint64                 `json:"packets"`
	Bytes     uint64                 `json:"bytes"`
	Verdicts  map[string]verdictJSON `json:"verdicts"`
	Protocols map[string]counterJSON `json:"protocols"`
	FlowsNew  uint64                 `json:"flows_new"`
	Samples   map[string]uint64      `json:"samples"`
	// Verification: sources the kernel verified, by how (cookie,
	// handshake), the SYN-ACKs the egress program recorded, ACKs with a
	// wrong ack number and hop count mismatches.
	Verification map[string]uint64 `json:"verification"`

	// ModelVerdicts: flow directions the in-kernel model judged, by class
	// index (0 benign; the model file names the rest); absent when none.
	ModelVerdicts []uint64 `json:"model_verdicts,omitempty"`
}

type statsJSON struct {
	Interfaces []ifaceJSON `json:"interfaces"`
	// Userspace is the running daemon's pipeline counters (its status
	// file); absent when no daemon publishes one.
	Userspace *daemon.UserspaceStatus `json:"userspace,omitempty"`
	// Fleet is the daemon's fleet ban sharing (fleet.nats), when on.
	Fleet *daemon.FleetStatus `json:"fleet,omitempty"`
}

func statsReport(stats []loader.IfaceStats) statsJSON {
	r := statsJSON{Interfaces: []ifaceJSON{}}
	for i := range stats {
		s := &stats[i]
		t := s.Total()
		j := ifaceJSON{Iface: metrics.IfaceLabel(s), Ifindex: s.Ifindex, Packets: t.Packets, Bytes: t.Bytes,
			Verdicts: map[string]verdictJSON{}, Protocols: map[string]counterJSON{}, FlowsNew: s.FlowsNew,
			Samples:      map[string]uint64{"sent": s.SamplesSent, "lost": s.SamplesLost, "over_budget": s.SamplesOverBudget},
			Verification: verification(s)}
		for v := range s.Verdicts {
			vj := verdictJSON{counterJSON: s.Verdict(v), Reasons: map[string]counterJSON{}}
			for r, c := range s.Verdicts[v] {
				if c.Packets > 0 {
					vj.Reasons[bpf.ReasonNames[r]] = c
				}
			}
			j.Verdicts[bpf.VerdictNames[v]] = vj
		}
		for p, c := range s.Protos {
			j.Protocols[bpf.ProtoNames[p]] = c
		}
		j.ModelVerdicts = modelVerdicts(s)
		r.Interfaces = append(r.Interfaces, j)
	}
	return r
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printStats(w io.Writer, stats []loader.IfaceStats) {
	if len(stats) == 0 {
		fmt.Fprintln(w, "no interface attached yet")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	for i := range stats {
		s := &stats[i]
		t := s.Total()
		fmt.Fprintf(w, "%s (ifindex %d): %d packets, %d bytes, %d new flows\n", metrics.IfaceLabel(s), s.Ifindex, t.Packets, t.Bytes, s.FlowsNew)
		fmt.Fprintln(tw, "\tverdict\treason\tpackets\tbytes\t")
		for v := range s.Verdicts {
			for r, c := range s.Verdicts[v] {
				if c.Packets > 0 {
					fmt.Fprintf(tw, "\t%s\t%s\t%d\t%d\t\n", bpf.VerdictNames[v], bpf.ReasonNames[r], c.Packets, c.Bytes)
				}
			}
		}
		tw.Flush()
		fmt.Fprint(w, "  protocols:")
		for p, c := range s.Protos {
			if c.Packets > 0 {
				fmt.Fprintf(w, " %s=%d", bpf.ProtoNames[p], c.Packets)
			}
		}
		fmt.Fprintf(w, "\n  samples: sent=%d lost=%d over_budget=%d\n", s.SamplesSent, s.SamplesLost, s.SamplesOverBudget)
		fmt.Fprintf(w, "  verification: cookie=%d handshake=%d synack_recorded=%d bad_ack=%d hop_mismatch=%d\n",
			s.VerifiedNew, s.VerifiedHandshake, s.SynAcksRecorded, s.HandshakeBadAck, s.HopMismatch)
		if mv := modelVerdicts(s); mv != nil {
			fmt.Fprintf(w, "  in-kernel model: flow directions judged by class %v\n", mv)
		}
	}
}

// modelVerdicts is s.TreeVerdicts up to its last nonzero class (nil: none).
func modelVerdicts(s *loader.IfaceStats) []uint64 {
	n := len(s.TreeVerdicts)
	for n > 0 && s.TreeVerdicts[n-1] == 0 {
		n--
	}
	if n == 0 {
		return nil
	}
	return slices.Clone(s.TreeVerdicts[:n])
}

// verification is the interface's verification counters by name (the
// events of the xdpids_verification_total metric).
func verification(s *loader.IfaceStats) map[string]uint64 {
	return map[string]uint64{"cookie": s.VerifiedNew, "handshake": s.VerifiedHandshake,
		"synack_recorded": s.SynAcksRecorded, "bad_ack": s.HandshakeBadAck, "hop_mismatch": s.HopMismatch}
}

// printUserspace prints the daemon's own losses: samples the kernel sent
// that the pipeline dropped (overflow: a worker's queue was full) or could
// not decode, and packets inspection never got (gaps).
func printUserspace(w io.Writer, u daemon.UserspaceStatus, err error) {
	switch {
	case errors.Is(err, daemon.ErrStale):
		fmt.Fprintf(w, "userspace: no daemon running (%v)\n", err)
	case errors.Is(err, os.ErrNotExist):
		fmt.Fprintln(w, "userspace: no daemon status (is the daemon running?)")
	case err != nil:
		fmt.Fprintf(w, "userspace: %v\n", err)
	default:
		fmt.Fprintf(w, "userspace: samples=%d overflow=%d malformed=%d gaps=%d gap_flows=%d\n",
			u.Samples, u.Overflow, u.Malformed, u.GapPackets, u.GapFlows)
	}
}

// printFleet prints the fleet line: the NATS connection and what crossed it.
func printFleet(w io.Writer, f *daemon.FleetStatus) {
	fmt.Fprintf(w, "fleet: node=%s connected=%t published=%d deleted=%d applied=%d removed=%d skipped=%d errors=%d reconnects=%d\n",
		f.Node, f.Connected, f.Published, f.Deleted, f.Applied, f.Removed, f.Skipped, f.Errors, f.Reconnects)
}

type rateJSON struct {
	Time     time.Time          `json:"time"`
	Iface    string             `json:"iface"`
	PPS      float64            `json:"packets_per_second"`
	BPS      float64            `json:"bits_per_second"`
	Verdicts map[string]float64 `json:"verdict_packets_per_second"`
}

func watchStats(ctx context.Context, w io.Writer, m *loader.Maps, interval time.Duration, asJSON bool) error {
	prev, err := m.ReadStats()
	if err != nil {
		return err
	}
	last := time.Now()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	if !asJSON {
		fmt.Fprintf(w, "%-16s %14s %14s %12s %12s %12s\n", "iface", "packets/s", "bits/s", "pass/s", "drop/s", "would_drop/s")
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			cur, err := m.ReadStats()
			if err != nil {
				return err
			}
			secs := now.Sub(last).Seconds()
			last = now
			before := map[int]loader.IfaceStats{}
			for _, s := range prev {
				before[s.Slot] = s
			}
			for i := range cur {
				s := &cur[i]
				p := before[s.Slot]
				rate := func(a, b uint64) float64 {
					if a < b {
						return 0 // slot reset
					}
					return float64(a-b) / secs
				}
				t, pt := s.Total(), p.Total()
				r := rateJSON{Time: now.UTC(), Iface: metrics.IfaceLabel(s), PPS: rate(t.Packets, pt.Packets),
					BPS: 8 * rate(t.Bytes, pt.Bytes), Verdicts: map[string]float64{}}
				for v := range s.Verdicts {
					r.Verdicts[bpf.VerdictNames[v]] = rate(s.Verdict(v).Packets, p.Verdict(v).Packets)
				}
				if asJSON {
					if err := json.NewEncoder(w).Encode(r); err != nil {
						return err
					}
					continue
				}
				fmt.Fprintf(w, "%-16s %14s %14s %12.0f %12.0f %12.0f\n", r.Iface, human(r.PPS, "pps"), human(r.BPS, "bps"),
					r.Verdicts["pass"], r.Verdicts["drop"], r.Verdicts["would_drop"])
			}
			prev = cur
		}
	}
}
