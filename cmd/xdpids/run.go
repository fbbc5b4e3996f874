package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/config"
	"github.com/xdpids/xdpids/userspace/run/daemon"
)

func newRunCommand(g *globalFlags) *cobra.Command {
	var (
		ifaces       []string
		mode         string
		xdpMode      string
		configPath   string
		modelPath    string
		xdpModelPath string
		readyFile    string
		metricsAddr  string
		samplePcap   string
		evePath      string
		rulePaths    []string
		learnPeriod  time.Duration
		learnOutput  string
	)
	cmd := &cobra.Command{
		Use:   "run -i IFACE [-i IFACE ...]",
		Short: "Attach to interfaces and run until SIGINT or SIGTERM",
		Long: "run loads the XDP program, attaches it to each interface (native XDP, falling back to\n" +
			"generic mode with a warning unless --xdp-mode says otherwise), and runs until SIGINT or\n" +
			"SIGTERM, then detaches. Without --config it runs on the built-in default configuration\n" +
			"(see `xdpids run --print-default-config`). SIGHUP rereads the configuration file.",
		Args: argsAfterRules(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			rulePaths, _ = shellRuleArgs(cmd, rulePaths, args)
			if p, _ := cmd.Flags().GetBool("print-default-config"); p {
				_, err := os.Stdout.Write(config.DefaultYAML())
				return err
			}
			if cmd.Flags().Changed("mode") && mode != "prevent" && mode != "monitor" {
				return fmt.Errorf("bad --mode %q: want prevent or monitor", mode)
			}
			if cmd.Flags().Changed("xdp-mode") {
				if _, err := loader.ParseXDPMode(xdpMode); err != nil {
					return err
				}
			}
			// overlay lays the command line over a configuration, at start
			// and again after each SIGHUP reload.
			overlay := func(c *config.File) {
				if cmd.Flags().Changed("mode") {
					c.Mode = mode
				}
				if cmd.Flags().Changed("xdp-mode") {
					c.XDPMode = xdpMode
				}
				if cmd.Flags().Changed("pin-path") || configPath == "" {
					c.PinPath = g.pinPath
				}
				c.Signatures.Files = append(c.Signatures.Files, rulePaths...)
				if cmd.Flags().Changed("model") {
					c.Model = modelPath
				}
				if cmd.Flags().Changed("xdp-model") {
					c.XDPModel = xdpModelPath
				}
				if cmd.Flags().Changed("learn") {
					c.Learn.Period = learnPeriod
				}
				if cmd.Flags().Changed("learn-output") {
					c.Learn.Output = learnOutput
				}
			}
			cfg, err := config.Load(configPath)
			if err != nil {
				return err
			}
			overlay(cfg)
			if metricsAddr == "" {
				metricsAddr = cfg.MetricsAddr
			}
			if len(ifaces) == 0 {
				ifaces = cfg.Interfaces
			}
			if evePath == "" {
				evePath = cfg.EVE.Path
			}
			if err := cfg.Revalidate(); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			reload := make(chan string, 1)
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			go forwardHUP(ctx, hup, reload)
			return daemon.Run(ctx, daemon.Options{
				Interfaces:  ifaces,
				Config:      cfg,
				ConfigPath:  configPath,
				Overlay:     overlay,
				Reload:      reload,
				ReadyFile:   readyFile,
				MetricsAddr: metricsAddr,
				SamplePcap:  samplePcap,
				EVEPath:     evePath,
			})
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&ifaces, "iface", "i", nil, "interface to attach to (repeat for several)")
	f.StringVar(&mode, "mode", "prevent", "prevent (drop) or monitor (count would-drops, pass everything)")
	f.StringVar(&xdpMode, "xdp-mode", "auto", "auto, driver or generic")
	f.StringVar(&configPath, "config", "", "YAML configuration file (default: built-in)")
	f.StringVar(&readyFile, "ready-file", "", "write this file once attached (JSON), remove it on exit")
	f.StringVar(&metricsAddr, "metrics-addr", "", "serve Prometheus metrics on this address, e.g. 127.0.0.1:9400")
	f.StringVar(&samplePcap, "sample-pcap", "", "write every sample the XDP program sends to this pcap file")
	f.StringVar(&evePath, "eve", "", `EVE JSON alert log: a file, or "-" for stdout (default: eve.path of the config)`)
	f.StringArrayVar(&rulePaths, "rules", nil, rulesFlagHelp+"; SIGHUP reloads them")
	f.StringVar(&modelPath, "model", "", `learned model: "builtin", "none" or a model file, or A,B side by side (default: the config's model:)`)
	f.StringVar(&xdpModelPath, "xdp-model", "", `in-kernel model: "none" or an xdp-forest file (xdpids model xdp train; default: the config's xdp_model:)`)
	f.DurationVar(&learnPeriod, "learn", 0, "learn this network's normal traffic for this long (e.g. 24h), then run that model beside --model\n(written to --learn-output; one there already is loaded instead; default: the config's learn.period)")
	f.StringVar(&learnOutput, "learn-output", "", "the learned model's file (default: the config's learn.output)")
	f.Bool("print-default-config", false, "print the built-in configuration and exit")
	return cmd
}

func forwardHUP(ctx context.Context, hup <-chan os.Signal, reload chan<- string) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			select {
			case reload <- "SIGHUP":
			default:
			}
		}
	}
}
