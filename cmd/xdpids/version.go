package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/xdpids/xdpids/internal/buildinfo"
)

func newVersionCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version [--json]",
		Short: "Print the version, commit, Go version and BPF object hash",
		Long: "version prints what this binary is: its version (git describe at `make build`, \"devel\"\n" +
			"for a plain go build), the commit it was built from (\"+dirty\" when the tree had changes),\n" +
			"the Go version, and the SHA-256 of the XDP object it embeds (bpf/xdpids_bpfel.o).\n" +
			"`xdpids --version` prints the same on one line.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			i := buildinfo.Get()
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), i)
			}
			commit := i.Commit
			if i.Modified {
				commit += " (modified)"
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "version:           %s\ncommit:            %s\ngo:                %s\nbpf object sha256: %s\n",
				i.Version, commit, i.GoVersion, i.BPFObject)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
