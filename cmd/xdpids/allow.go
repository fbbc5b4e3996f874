package main

import (
	"fmt"
	"net/netip"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/respond"
)

func newAllowCommand(g *globalFlags) *cobra.Command {
	var remove bool
	cmd := &cobra.Command{
		Use:   "allow [--remove] PREFIX",
		Short: "Add a prefix to the allow list (it always wins over the block list), or remove it",
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
			if remove {
				if err := m.Disallow(p); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed %s from the allow list\n", p)
				return nil
			}
			if err := m.Allow(p); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "allowed %s\n", p)
			// The allow list clears the bans it covers.
			removed, err := respond.ClearAllowed(m, []netip.Prefix{p})
			for _, b := range removed {
				fmt.Fprintf(cmd.OutOrStdout(), "removed ban %s\n", b)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&remove, "remove", false, "remove PREFIX from the allow list")
	return cmd
}

type allowJSON struct {
	Prefix string `json:"prefix"`
	Hits   uint64 `json:"hits"`
}

func newAllowsCommand(g *globalFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "allows [--json]",
		Short: "List the allow list",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := g.openMaps()
			if err != nil {
				return err
			}
			defer m.Close()
			entries, err := m.Allows()
			if err != nil {
				return err
			}
			rows := make([]allowJSON, 0, len(entries))
			for _, e := range entries {
				rows = append(rows, allowJSON{e.Prefix.String(), e.Hits})
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), rows)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PREFIX\tHITS")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%d\n", r.Prefix, r.Hits)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
