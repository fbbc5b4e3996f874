package main

import (
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"

	"github.com/xdpids/xdpids/userspace/signature"
	"github.com/xdpids/xdpids/userspace/signature/rules"
)

func newRulesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "Work with Suricata/Snort rule files",
	}
	cmd.AddCommand(newRulesCheckCommand())
	return cmd
}

func newRulesCheckCommand() *cobra.Command {
	var varsFile string
	var list bool
	cmd := &cobra.Command{
		Use:   "check PATH...",
		Short: "Load rule files and report what loads and what is skipped, and why",
		Long: "check parses and compiles the rule files the way the daemon would and prints how many\n" +
			"rules loaded and how many were skipped, grouped by reason (unsupported keyword or\n" +
			"protocol, malformed rule, ...); --list prints every skipped rule as file:line: sid N: reason.\n" +
			"PATH is a rule file, a directory (every *.rules file in it) or a quoted glob pattern\n" +
			"('/etc/xdpids/rules/*.rules'); give several. --rules and signatures.files take the same.\n" +
			"Variables ($HOME_NET, $HTTP_PORTS, ...) default to Suricata's; --vars reads a YAML file\n" +
			"with address-groups and port-groups (suricata.yaml's vars block).\n\n" +
			"Exit status 1 when a file or the vars file cannot be read, or when no rule at all loads;\n" +
			"skipped rules alone do not fail the check (a rule set for Suricata always has some).",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			vars := rules.DefaultVars()
			if varsFile != "" {
				v, err := rules.LoadVarsFile(varsFile)
				if err != nil {
					return err
				}
				vars = v
			}
			return rulesCheck(cmd.OutOrStdout(), args, vars, list)
		},
	}
	cmd.Flags().StringVar(&varsFile, "vars", "", "YAML file with address-groups and port-groups")
	cmd.Flags().BoolVar(&list, "list", false, "print every skipped rule")
	return cmd
}

func rulesCheck(w io.Writer, paths []string, vars rules.Vars, list bool) error {
	files, pathErr := signature.ExpandPaths(paths)
	set, skipped, readErr := rules.LoadFiles(files, vars)
	readErr = errors.Join(pathErr, readErr)
	if set.Len() > 0 {
		if _, err := signature.Compile(set); err != nil {
			return fmt.Errorf("compile rules: %w", err)
		}
	}
	fmt.Fprintf(w, "loaded %d rules, skipped %d", set.Len(), len(skipped))
	if set.Disabled > 0 {
		fmt.Fprintf(w, " (%d commented out)", set.Disabled)
	}
	fmt.Fprintln(w)
	if len(skipped) > 0 {
		by := map[string]int{}
		for _, s := range skipped {
			by[s.Reason]++
		}
		reasons := make([]string, 0, len(by))
		for r := range by {
			reasons = append(reasons, r)
		}
		sort.Slice(reasons, func(i, j int) bool {
			if by[reasons[i]] != by[reasons[j]] {
				return by[reasons[i]] > by[reasons[j]]
			}
			return reasons[i] < reasons[j]
		})
		fmt.Fprintln(w, "skipped by reason:")
		for _, r := range reasons {
			fmt.Fprintf(w, "  %7d  %s\n", by[r], r)
		}
	}
	if list {
		for _, s := range skipped {
			fmt.Fprintln(w, s.Error())
		}
	}
	if readErr != nil {
		return readErr
	}
	if set.Len() == 0 {
		return errors.New("no rule loaded")
	}
	return nil
}
