package main

import (
	"fmt"
	"net/netip"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/xdpids/xdpids/loader"
)

func newTopCommand(g *globalFlags) *cobra.Command {
	var (
		n      int
		by     string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "top [-n N] [--by bytes|packets]",
		Short: "Show the largest flows in the kernel flow table",
		Long: "top lists the largest flows in the kernel flow table, by bytes or packets.\n\n" +
			"When no daemon is attached with these maps, top still prints the table the last daemon\n" +
			"left, says so on stderr and exits with status 1.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if by != "bytes" && by != "packets" {
				return fmt.Errorf("bad --by %q: want bytes or packets", by)
			}
			if n <= 0 {
				return fmt.Errorf("bad -n %d: must be positive", n)
			}
			m, err := g.openMaps()
			if err != nil {
				return err
			}
			defer m.Close()
			live := g.requireDaemon(cmd.ErrOrStderr(), m, "the flows are from the last run")
			var flows []loader.Flow
			if err := m.EachFlow(func(f loader.Flow) bool { flows = append(flows, f); return true }); err != nil {
				return err
			}
			key := func(f loader.Flow) uint64 { return f.Bytes }
			if by == "packets" {
				key = func(f loader.Flow) uint64 { return f.Packets }
			}
			sort.Slice(flows, func(i, j int) bool { return key(flows[i]) > key(flows[j]) })
			if len(flows) > n {
				flows = flows[:n]
			}
			now := loader.KernelNow()
			type row struct {
				Src      string  `json:"src"`
				Dst      string  `json:"dst"`
				Proto    uint8   `json:"proto"`
				VLAN     uint16  `json:"vlan"`
				Packets  uint64  `json:"packets"`
				Bytes    uint64  `json:"bytes"`
				TCPFlags uint8   `json:"tcp_flags"`
				Age      float64 `json:"age_seconds"`
				Idle     float64 `json:"idle_seconds"`
			}
			rows := make([]row, 0, len(flows))
			for _, f := range flows {
				rows = append(rows, row{
					Src: netip.AddrPortFrom(f.Src, f.Sport).String(), Dst: netip.AddrPortFrom(f.Dst, f.Dport).String(),
					Proto: f.Proto, VLAN: f.VLAN, Packets: f.Packets, Bytes: f.Bytes, TCPFlags: f.TCPFlags,
					Age: time.Duration(now - min(now, f.FirstNs)).Seconds(), Idle: time.Duration(now - min(now, f.LastNs)).Seconds(),
				})
			}
			if asJSON {
				if err := writeJSON(cmd.OutOrStdout(), rows); err != nil {
					return err
				}
				return live
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SRC\tDST\tPROTO\tPACKETS\tBYTES\tAGE\tIDLE")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%.0fs\t%.0fs\n", r.Src, r.Dst, r.Proto, r.Packets, r.Bytes, r.Age, r.Idle)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			return live
		},
	}
	cmd.Flags().IntVarP(&n, "n", "n", 20, "how many flows")
	cmd.Flags().StringVar(&by, "by", "bytes", "sort by bytes or packets")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
