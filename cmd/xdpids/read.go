package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/userspace/config"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/output/eve"
	"github.com/xdpids/xdpids/userspace/run/offline"
	"github.com/xdpids/xdpids/userspace/signature"
)

func newReadCommand() *cobra.Command {
	var (
		evePath    string
		configPath string
		mode       string
		payload    bool
		iface      string
		quiet      bool
		rulePaths  []string
		varsPath   string
		ips        bool
		midstream  bool
		modelPath  string
	)
	var xdpModelPath string
	cmd := &cobra.Command{
		Use:   "read FILE",
		Short: "Analyse a pcap or pcapng capture with the live pipeline",
		Long: "read feeds a capture (pcap or pcapng, told apart by magic number) through the same\n" +
			"pipeline as `run`. Link types: Ethernet (with PPPoE sessions), Linux SLL and SLL2\n" +
			"(tcpdump -i any), raw IP (12, 14, 101), raw IPv4 (228) and IPv6 (229), BSD loopback\n" +
			"NULL (0) and LOOP (108), PPP (9), PPP in HDLC framing (50) and Cisco HDLC (104); in a\n" +
			"pcapng every interface has its own. Frames of other link types get a synthetic Ethernet\n" +
			"header (PPPoE is unwrapped), so both modes see Ethernet; an unsupported link type is an\n" +
			"error. As root, each frame first runs through the real XDP program\n" +
			"(BPF_PROG_TEST_RUN) with packet time as its clock, so verdicts, rate limits, bans and\n" +
			"samples match the live path; elsewhere frames go straight to userspace (--mode).\n" +
			"Replay has no egress: the host's SYN-ACKs are not recorded, so no source is verified\n" +
			"by its handshake (live, the tcx egress program does that), nor by SYN cookies (no\n" +
			"one receives a replayed SYN-ACK); a capture's SYN-ACKs still make signature hits on\n" +
			"answered handshakes verified evidence in userspace.\n" +
			"Alerts, flow, anomaly and drop events and a closing stats event are written as EVE\n" +
			"JSON (--eve, default stdout; pcap_cnt numbers the packet); a summary goes to stderr.\n" +
			"A damaged capture: the packets before the damage are analysed, then one error.\n\n" +
			"Signatures as Suricata reads a capture (suricata -r): without --simulate-ips a drop or\n" +
			"reject rule only alerts, with action \"allowed\"; with it, verdicts are inline as with\n" +
			"Suricata's --simulate-ips: the alert says \"blocked\" and the rest of the flow is\n" +
			"dropped (in the kernel flow table in XDP replay). --vars lays a suricata.yaml vars:\n" +
			"block over the configured variables; --midstream counts TCP sessions picked up\n" +
			"without a handshake as established (Suricata's stream.midstream).",
		Args: argsAfterRules(1, "one capture FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			rulePaths, args = shellRuleArgs(cmd, rulePaths, args)
			m := offline.Mode(mode)
			if m != offline.ModeAuto && m != offline.ModeXDP && m != offline.ModeUserspace {
				return fmt.Errorf("bad --mode %q: want auto, xdp or userspace", mode)
			}
			cfg, err := config.Load(configPath)
			if err != nil {
				return err
			}
			if evePath == "" {
				evePath = "-"
			}
			var sink *eve.Writer
			if evePath == "-" {
				sink = eve.NewWriter(cmd.OutOrStdout(), time.Local)
			} else {
				// A new file each run: the output of one capture.
				f, err := os.Create(evePath)
				if err != nil {
					return fmt.Errorf("eve output: %w", err)
				}
				defer f.Close()
				sink = eve.NewWriter(f, time.Local)
			}
			if varsPath != "" {
				if err := cfg.LoadVars(varsPath); err != nil {
					return err
				}
			}
			cfg.Signatures.Files = append(cfg.Signatures.Files, rulePaths...)
			var engine *signature.Engine
			spec := cfg.RuleSpec()
			spec.Midstream = midstream
			if spec.Active() {
				res, err := signature.Load(spec)
				if err != nil {
					return err
				}
				engine = res.Engine
				if !quiet {
					fmt.Fprintf(cmd.ErrOrStderr(), "rules: %d loaded, %d skipped (xdpids rules check lists them)\n", res.Loaded, len(res.Skipped))
				}
			}
			if cmd.Flags().Changed("model") {
				cfg.Model = modelPath
			}
			mdl, err := cfg.LoadModel()
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("xdp-model") {
				cfg.XDPModel = xdpModelPath
			}
			xm, tree, err := loadReadXDPModel(cfg.XDPModel)
			if err != nil {
				return err
			}
			pc := cfg.PipelineConfig()
			// Signature verdicts follow --simulate-ips, not the config's
			// mode (which still governs the detectors' bans and the rate
			// limits): a capture is read as Suricata reads one.
			pc.Prevent = ips
			pc.AnomalyRate = 0 // a capture's anomalies are all written
			sink.NoFlows = !cfg.EVE.Flows
			opts := offline.Options{
				Path: args[0], Mode: m, Datapath: cfg.DatapathConfig(), Pipeline: pc,
				Respond: cfg.ResponseConfig(), Iface: iface, Rules: engine, EVE: sink, Model: mdl, Tree: tree,
				OnAlert: func(a *alert.Alert) {
					if !payload {
						a.Payload = nil
					}
					if err := sink.Write(a); err != nil {
						fmt.Fprintln(os.Stderr, "xdpids: eve:", err)
					}
				},
			}
			if xm != nil {
				opts.TreeVerdicts = xm.Verdicts()
			}
			errOut := cmd.ErrOrStderr()
			if isTerminal(os.Stderr) && !quiet {
				opts.Progress = func(done, total int64) {
					if total > 0 {
						fmt.Fprintf(errOut, "\r%5.1f%%  %s of %s", 100*float64(done)/float64(total), human(float64(done), "B"), human(float64(total), "B"))
					}
				}
			}
			sum, runErr := offline.Run(opts)
			if opts.Progress != nil {
				fmt.Fprint(errOut, "\r\033[K")
			}
			if sinkErr := sink.Close(); sinkErr != nil && runErr == nil {
				runErr = sinkErr
			}
			if sum != nil && !quiet {
				printSummary(errOut, sum)
				printTreeSummary(errOut, sum, xm)
			}
			return runErr
		},
	}
	f := cmd.Flags()
	f.StringVar(&evePath, "eve", "-", `write EVE JSON events to this file ("-" = stdout)`)
	f.StringVar(&configPath, "config", "", "YAML configuration (default: built-in)")
	f.StringVar(&mode, "mode", "auto", "auto (XDP where BPF works), xdp, or userspace")
	f.BoolVar(&payload, "payload", false, "include the sampled payload in alerts")
	f.StringVar(&iface, "iface", "", "in_iface to put in alerts")
	f.BoolVarP(&quiet, "quiet", "q", false, "no summary or progress")
	f.StringArrayVar(&rulePaths, "rules", nil, rulesFlagHelp)
	f.StringVar(&varsPath, "vars", "", "Suricata-style YAML with a vars: block (address-groups, port-groups) laid over the configured variables")
	f.BoolVar(&ips, "simulate-ips", false, `inline verdicts (Suricata's --simulate-ips): drop and reject rules alert "blocked" and drop the rest of their flow; without it they alert "allowed"`)
	f.BoolVar(&midstream, "midstream", false, "pick up TCP sessions without a handshake as established (Suricata's stream.midstream)")
	f.StringVar(&modelPath, "model", "", `learned model: "builtin", "none" or a model file, or A,B side by side (default: the config's model:)`)
	f.StringVar(&xdpModelPath, "xdp-model", "", `in-kernel model for the XDP pass: "none" or an xdp-forest file (default: the config's xdp_model:)`)
	return cmd
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func printSummary(w io.Writer, s *offline.Summary) {
	dur := time.Duration(s.LastNs - s.FirstNs)
	fmt.Fprintf(w, "%s (%s): %d packets, %d bytes over %s, via %s\n", s.Path, s.Format, s.Packets, s.Bytes, dur.Round(time.Millisecond), s.Mode)
	fmt.Fprintf(w, "  verdicts: pass=%d drop=%d; samples=%d; flows=%d; decode errors: truncated=%d not_ip=%d\n",
		s.Verdicts[bpf.VerdictPass], s.Verdicts[bpf.VerdictDrop], s.Samples, s.Pipeline.FlowsCreated, s.Pipeline.Truncated, s.Pipeline.NotIP)
	fmt.Fprintf(w, "  alerts: %d, bans: %d\n", s.AlertTotal, s.Bans)
	keys := make([]string, 0, len(s.Alerts))
	for k := range s.Alerts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, k := range keys {
		sid, msg, _ := strings.Cut(k, " ")
		fmt.Fprintf(tw, "    %d\t%s\t%s\n", s.Alerts[k], sid, msg)
	}
	tw.Flush()
	if len(s.Top) > 0 {
		fmt.Fprintln(w, "  top talkers:")
		for _, t := range s.Top {
			fmt.Fprintf(tw, "    %s\t%d packets\t%d bytes\n", t.Addr, t.Packets, t.Bytes)
		}
		tw.Flush()
	}
}
