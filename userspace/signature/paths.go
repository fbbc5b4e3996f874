package signature

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// RuleFileExt is what a rule file in a directory is named: a directory
// given as a rule path stands for every *.rules file directly inside it.
const RuleFileExt = ".rules"

// ExpandPaths turns the rule paths an operator gives (--rules, rules check,
// signatures.files) into rule files, in order and each once:
//   - a file is taken as it is, whatever its name;
//   - a directory stands for every *.rules file directly inside it, sorted
//     by name (not recursive; other files are left alone, as Suricata's
//     rule directories hold *.config and *.map files too);
//   - a pattern with *, ? or [ (quoted, so the shell left it alone) is
//     expanded with filepath.Glob, sorted; each match is a file or a
//     directory as above.
//
// A path that does not exist, a pattern matching nothing and a directory
// without a *.rules file are errors: an operator who names rules expects
// some to load. Every such path is reported, not only the first.
func ExpandPaths(paths []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[filepath.Clean(p)] {
			seen[filepath.Clean(p)] = true
			out = append(out, p)
		}
	}
	var errs []error
	for _, p := range paths {
		if p == "" {
			errs = append(errs, errors.New("rules: empty path"))
			continue
		}
		matches := []string{p}
		glob := hasMeta(p)
		if glob {
			m, err := filepath.Glob(p)
			if err != nil {
				errs = append(errs, fmt.Errorf("rules %q: bad pattern: %w", p, err))
				continue
			}
			if len(m) == 0 {
				errs = append(errs, fmt.Errorf("rules %q: no file matches", p))
				continue
			}
			sort.Strings(m)
			matches = m
		}
		n := 0
		for _, m := range matches {
			files, err := expandOne(m)
			if err != nil {
				// A directory a pattern matched may hold no rules (a glob
				// over *.rules meeting a directory so named); the pattern
				// as a whole must give some.
				if !glob || !errors.Is(err, errNoRuleFiles) {
					errs = append(errs, err)
				}
				continue
			}
			n += len(files)
			for _, f := range files {
				add(f)
			}
		}
		if glob && n == 0 {
			errs = append(errs, fmt.Errorf("rules %q: no rule file matches", p))
		}
	}
	return out, errors.Join(errs...)
}

// expandOne is a file as itself, or a directory's *.rules files.
func expandOne(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("rules %s: no such file or directory", p)
		}
		return nil, fmt.Errorf("rules: %w", err)
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	ents, err := os.ReadDir(p)
	if err != nil {
		return nil, fmt.Errorf("rules: read directory: %w", err)
	}
	var files []string
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), RuleFileExt) {
			continue
		}
		f := filepath.Join(p, e.Name())
		// A directory named x.rules, or a link to one, is not a rule file.
		if fst, err := os.Stat(f); err == nil && fst.IsDir() {
			continue
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("rules %s: %w", p, errNoRuleFiles)
	}
	return files, nil // ReadDir sorts by name
}

var errNoRuleFiles = errors.New("directory holds no *" + RuleFileExt + " file")

func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[`) }
