package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/xdpids/xdpids/userspace/signature"
)

// rulesFlagHelp is the --rules help of run and read.
const rulesFlagHelp = "rule file, directory (its *.rules) or quoted glob to load besides the configured ones; " +
	"repeat, or list several after it as the shell expands --rules DIR/*.rules"

// shellRuleArgs takes back the rule files a shell expanded after --rules:
// `--rules /etc/xdpids/rules/*.rules` reaches us as --rules a.rules plus
// positional b.rules c.rules, since a flag takes one value. When --rules is
// given, positional arguments named *.rules are rule files; the rest are
// returned for the command. Without --rules nothing is taken.
func shellRuleArgs(cmd *cobra.Command, rulePaths, args []string) (rules, rest []string) {
	if !cmd.Flags().Changed("rules") {
		return rulePaths, args
	}
	rules = append([]string(nil), rulePaths...)
	for _, a := range args {
		if strings.HasSuffix(a, signature.RuleFileExt) {
			rules = append(rules, a)
		} else {
			rest = append(rest, a)
		}
	}
	return rules, rest
}

// argsAfterRules is the Args check of a command taking n positional
// arguments besides the shell-expanded rule files of --rules.
func argsAfterRules(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		_, rest := shellRuleArgs(cmd, nil, args)
		if len(rest) != n {
			if n == 0 {
				return fmt.Errorf("%s takes no arguments (rule files go after --rules), got %q", cmd.Name(), rest)
			}
			return fmt.Errorf("%s takes %s, got %d arguments %q", cmd.Name(), what, len(rest), rest)
		}
		return nil
	}
}
