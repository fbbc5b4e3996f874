package main

import (
	"errors"
	"fmt"
	"github.com/xdpids/xdpids/userspace/run/daemon"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/xdpids/xdpids/internal/buildinfo"
	"github.com/xdpids/xdpids/loader"
)

type globalFlags struct {
	pinPath   string
	logLevel  string
	logFormat string
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
		Version:       buildinfo.Get().String(),
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			h, err := logHandler(cmd.ErrOrStderr(), g.logLevel, g.logFormat)
			if err != nil {
				return err
			}
			slog.SetDefault(slog.New(h))
			return nil
		},
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.PersistentFlags().StringVar(&g.pinPath, "pin-path", loader.DefaultPinPath, "bpffs directory of the pinned maps")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format on stderr: text (key=value) or json (one object a line, for journald/log shippers)")
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
		newModelCommand(),
		newRulesCommand(),
		newVersionCommand(),
	)
	return root
}

// logHandler builds the slog handler the global flags ask for.
func logHandler(w io.Writer, level, format string) (slog.Handler, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("bad --log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.NewTextHandler(w, opts), nil
	case "json":
		return slog.NewJSONHandler(w, opts), nil
	}
	return nil, fmt.Errorf("bad --log-format %q: want text or json", format)
}

// openMaps opens the pinned maps for a command that reads or edits them.
func (g *globalFlags) openMaps() (*loader.Maps, error) {
	// No euid check: a member of the daemon's pin_group may open them; the
	// kernel checks the pins' modes and OpenPinned says why it could not.
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

// errNoDaemon is what stats, top and blocks return, after printing, when
// no daemon is attached with the maps at the pin path: what they printed
// is what the last daemon left, and the exit status says so.
type errNoDaemon struct {
	pinPath string
	what    string // what the output is, without a daemon
}

func (e errNoDaemon) Error() string {
	return fmt.Sprintf("no xdpids daemon is attached with the maps at %s (no XDP program uses them on any interface): %s", e.pinPath, e.what)
}

// requireDaemon reports errNoDaemon when no XDP program using m is attached
// (through a bpf_link, in any namespace), and nil when one is, or when that
// cannot be told (a warning then: the output may still be live).
func (g *globalFlags) requireDaemon(w io.Writer, m *loader.Maps, what string) error {
	live, err := m.LiveLinks()
	if errors.Is(err, os.ErrPermission) {
		// Listing bpf links needs CAP_SYS_ADMIN; a pin_group member asks
		// the daemon's status file instead (written every second).
		if _, serr := daemon.ReadStatus(g.pinPath); serr == nil {
			return nil
		} else if errors.Is(serr, daemon.ErrStale) || errors.Is(serr, os.ErrNotExist) {
			return errNoDaemon{pinPath: g.pinPath, what: what}
		}
	}
	if err != nil {
		fmt.Fprintf(w, "warning: cannot tell whether a daemon is attached: %v\n", err)
		return nil
	}
	if len(live) == 0 {
		return errNoDaemon{pinPath: g.pinPath, what: what}
	}
	return nil
}
