package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/xdpids/xdpids/loader"
)

type globalFlags struct {
	pinPath  string
	logLevel string
}

func newRootCommand() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "xdpids",
		Short: "XDP network monitor and intrusion prevention",
		Long: "xdpids counts and filters every packet in the NIC driver with XDP, rate-limits floods\n" +
			"per source, drops banned sources, and samples suspicious packets to userspace.",
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(g.logLevel)); err != nil {
				return fmt.Errorf("bad --log-level %q: want debug, info, warn or error", g.logLevel)
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})))
			return nil
		},
	}
	root.PersistentFlags().StringVar(&g.pinPath, "pin-path", loader.DefaultPinPath, "bpffs directory of the pinned maps")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.AddCommand(
		newRunCommand(g),
		newStatsCommand(g),
		newTopCommand(g),
		newBlockCommand(g),
		newUnblockCommand(g),
		newBlocksCommand(g),
		newAllowCommand(g),
		newAllowsCommand(g),
		newDetachCommand(),
		newReadCommand(),
		newRulesCommand(),
	)
	return root
}

// openMaps opens the pinned maps for a command that reads or edits them.
func (g *globalFlags) openMaps() (*loader.Maps, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("reading the xdpids maps needs root (bpffs %s)", g.pinPath)
	}
	return loader.OpenPinned(g.pinPath)
}

func human(n float64, unit string) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f G%s", n/1e9, unit)
	case n >= 1e6:
		return fmt.Sprintf("%.2f M%s", n/1e6, unit)
	case n >= 1e3:
		return fmt.Sprintf("%.2f k%s", n/1e3, unit)
	}
	return strings.TrimSpace(fmt.Sprintf("%.0f %s", n, unit))
}
