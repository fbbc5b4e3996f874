package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/xdpids/xdpids/loader"
)

func newDetachCommand() *cobra.Command {
	var iface string
	cmd := &cobra.Command{
		Use:   "detach [-i IFACE]",
		Short: "Remove xdpids programs left on interfaces (all interfaces without -i)",
		Long: "detach removes xdpids XDP programs from IFACE (or every interface), whether attached\n" +
			"through a bpf_link held by a running or stuck process, a pinned link, or netlink, and\n" +
			"the xdpids tcx egress program beside each. Other XDP and tcx programs are left alone.\n" +
			"Pinned maps (bans, counters) stay; remove the pin directory by hand to reset them.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if os.Geteuid() != 0 {
				return fmt.Errorf("detach needs root")
			}
			cleaned, err := loader.DetachOrphans(iface)
			for _, c := range cleaned {
				fmt.Fprintf(cmd.OutOrStdout(), "detached xdpids from %s\n", c)
			}
			if err != nil {
				return err
			}
			if len(cleaned) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no xdpids program attached")
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&iface, "iface", "i", "", "interface (default: every interface)")
	return cmd
}
