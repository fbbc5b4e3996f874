package signature

// Loading: the signature engine the configuration asks for, from the
// built-in rule set and rule files, with address and port variables laid
// over Suricata's defaults. Rules the engine cannot honour are returned
// with their file:line and reason, never silently dropped.

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/xdpids/xdpids/userspace/signature/rules"
)

// Spec says which rules to load.
type Spec struct {
	Builtin bool              // xdpids' own rules (rules.DefaultRules)
	Files   []string          // rule files, directories (their *.rules) and glob patterns: ExpandPaths
	Addr    map[string]string // address variables (HOME_NET, ...)
	Port    map[string]string // port variables (HTTP_PORTS, ...)
	// Midstream: TCP flows picked up without a handshake count as
	// established (Options.Midstream).
	Midstream bool
	// State, when set, is the state to compile on (Options.State): a
	// reload passes the running one.
	State *State
}

// Active reports whether any rule is asked for.
func (s Spec) Active() bool { return s.Builtin || len(s.Files) > 0 }

// Loaded is a loaded rule set.
type Loaded struct {
	Engine  *Engine // nil when no rule loaded
	Loaded  int
	Skipped []rules.Skipped
}

// Load parses and compiles the rules. A file that cannot be read is an
// error; rules that cannot be honoured are in Loaded.Skipped.
func Load(s Spec) (Loaded, error) {
	vars := rules.DefaultVars().With(rules.Vars{Addr: s.Addr, Port: s.Port})
	set := &rules.Set{}
	var skipped []rules.Skipped
	if s.Builtin {
		b, sk := rules.Parse(rules.DefaultRules, "builtin:default.rules", vars)
		skipped = append(skipped, sk...)
		skipped = append(skipped, set.Merge(b)...)
	}
	if len(s.Files) > 0 {
		files, err := ExpandPaths(s.Files)
		if err != nil {
			return Loaded{}, err
		}
		f, sk, err := rules.LoadFiles(files, vars)
		if err != nil {
			return Loaded{}, err
		}
		skipped = append(skipped, sk...)
		skipped = append(skipped, set.Merge(f)...)
	}
	res := Loaded{Loaded: set.Len(), Skipped: skipped}
	if set.Len() == 0 {
		return res, nil
	}
	e, err := CompileWith(set, Options{Midstream: s.Midstream, State: s.State})
	if err != nil {
		return Loaded{}, fmt.Errorf("compile rules: %w", err)
	}
	res.Engine = e
	return res, nil
}

// Log reports a load: one line with the counts, and each skipped rule at
// debug level (`xdpids rules check` prints them all).
func (r Loaded) Log() {
	reasons := map[string]int{}
	for _, s := range r.Skipped {
		reasons[s.Reason]++
	}
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return reasons[keys[i]] > reasons[keys[j]] })
	var top []string
	for i, k := range keys {
		if i == 5 {
			break
		}
		top = append(top, fmt.Sprintf("%s (%d)", k, reasons[k]))
	}
	slog.Info("signature rules loaded", "loaded", r.Loaded, "skipped", len(r.Skipped), "top_skip_reasons", strings.Join(top, "; "))
	for _, s := range r.Skipped {
		slog.Debug("rule skipped", "rule", s.Error())
	}
}
