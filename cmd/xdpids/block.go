package main

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/loader"
)

func newBlockCommand(g *globalFlags) *cobra.Command {
	var (
		ttl    time.Duration
		reason string
		force  bool
	)
	cmd := &cobra.Command{
		Use:   "block PREFIX",
		Short: "Drop packets from an address or prefix (IPv4 or IPv6)",
		Long: "block adds PREFIX to the kernel block list: its packets are dropped in the driver\n" +
			"(counted as would_drop in monitor mode). The allow list still wins. --ttl 0 never expires.\n" +
			"A prefix covering your own SSH session, or shorter than /8 (IPv4) or /32 (IPv6), needs --force.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loader.ParsePrefix(args[0])
			if err != nil {
				return err
			}
			if ttl < 0 {
				return fmt.Errorf("bad --ttl %s: must be 0 (never expires) or positive", ttl)
			}
			if len(reason) > 31 {
				return fmt.Errorf("bad --reason: %d bytes, at most 31 are kept", len(reason))
			}
			if !force {
				if err := guardBlock(p); err != nil {
					return err
				}
			}
			m, err := g.openMaps()
			if err != nil {
				return err
			}
			defer m.Close()
			if reason == "" {
				reason = "manual"
			}
			if err := m.Block(p, loader.BlockOptions{TTL: ttl, Origin: bpf.OriginManual, Comment: reason}); err != nil {
				return err
			}
			if ok, _ := m.Allowed(p.Addr()); ok {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s is on the allow list, which wins: it is not dropped\n", p.Addr())
			}
			expiry := "never expires"
			if ttl > 0 {
				expiry = "expires in " + ttl.String()
			}
			fmt.Fprintf(cmd.OutOrStdout(), "blocked %s (%s; %s)\n", p, reason, expiry)
			return nil
		},
	}
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "time to live, e.g. 10m, 24h; 0 = never expires")
	cmd.Flags().StringVar(&reason, "reason", "", "why (kept up to 31 bytes)")
	cmd.Flags().BoolVar(&force, "force", false, "block even a prefix covering your SSH session or a very wide prefix")
	return cmd
}

// guardBlock refuses blocks that would cut the operator off.
func guardBlock(p netip.Prefix) error {
	if (p.Addr().Is4() && p.Bits() < 8) || (p.Addr().Is6() && p.Bits() < 32) {
		return fmt.Errorf("refusing to block %s: wider than /8 (IPv4) or /32 (IPv6); use --force", p)
	}
	if f := strings.Fields(os.Getenv("SSH_CONNECTION")); len(f) > 0 {
		if a, err := netip.ParseAddr(f[0]); err == nil && p.Contains(a.Unmap()) {
			return fmt.Errorf("refusing to block %s: it covers your SSH session from %s; use --force", p, a)
		}
	}
	return nil
}

func newUnblockCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "unblock PREFIX",
		Short: "Remove a block list entry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loader.ParsePrefix(args[0])
			if err != nil {
				return err
			}
			m, err := g.openMaps()
			if err != nil {
				return err
			}
			defer m.Close()
			if err := m.Unblock(p); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "unblocked %s\n", p)
			return nil
		},
	}
}

var originNames = map[uint32]string{bpf.OriginManual: "manual", bpf.OriginDetector: "detector", bpf.OriginRule: "rule",
	bpf.OriginFleet: "fleet", bpf.OriginCrowdSec: "crowdsec"}

type blockJSON struct {
	Prefix    string  `json:"prefix"`
	Origin    string  `json:"origin"`
	Reason    string  `json:"reason"`
	Level     uint32  `json:"level"`
	ExpiresIn float64 `json:"expires_in_seconds"` // 0 never, -1 expired
	Expired   bool    `json:"expired"`
	Hits      uint64  `json:"hits"`
}

func newBlocksCommand(g *globalFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "blocks [--json]",
		Short: "List the block list: prefix, reason, expires in, hits",
		Long: "blocks lists the kernel block list: prefix, origin (manual, detector, rule), reason,\n" +
			"expires in, and the packets each entry dropped.\n\n" +
			"When no daemon is attached with these maps, blocks still prints the list (bans survive a\n" +
			"restart), says on stderr that nothing enforces it now, and exits with status 1.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := g.openMaps()
			if err != nil {
				return err
			}
			defer m.Close()
			live := g.requireDaemon(cmd.ErrOrStderr(), m, "the block list is not enforced until one runs (xdpids run)")
			entries, err := m.Blocks()
			if err != nil {
				return err
			}
			now := loader.KernelNow()
			rows := make([]blockJSON, 0, len(entries))
			for _, e := range entries {
				r := blockJSON{Prefix: e.Prefix.String(), Origin: originNames[e.Origin], Reason: e.Comment,
					Level: e.Level, Hits: e.Hits, Expired: e.Expired(now)}
				if r.Expired {
					r.ExpiresIn = -1
				} else {
					r.ExpiresIn = e.ExpiresIn(now).Seconds()
				}
				rows = append(rows, r)
			}
			if asJSON {
				if err := writeJSON(cmd.OutOrStdout(), rows); err != nil {
					return err
				}
				return live
			}
			printBlocks(cmd.OutOrStdout(), rows)
			return live
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printBlocks(w io.Writer, rows []blockJSON) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PREFIX\tORIGIN\tREASON\tEXPIRES IN\tHITS")
	for _, r := range rows {
		exp := "never"
		switch {
		case r.Expired:
			exp = "expired"
		case r.ExpiresIn > 0:
			exp = (time.Duration(r.ExpiresIn * float64(time.Second))).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", r.Prefix, r.Origin, r.Reason, exp, r.Hits)
	}
	tw.Flush()
}
