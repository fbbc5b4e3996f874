// Package dataset turns captures into labelled feature records: the
// labels (an address range per class, optionally per capture and time
// window, from the tool that made the traffic), a run of each capture
// through the offline pipeline, and the features CSV.
package dataset

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
)

// Rule labels the flows of a capture that touch Prefix (either endpoint)
// and start within [From, To) (zero: any time).
type Rule struct {
	Capture  string // base-name glob ("" or "*": every capture)
	Prefix   netip.Prefix
	Label    string
	From, To int64 // Unix ns
}

// Labels are rules, first match wins, and the label of the rest.
type Labels struct {
	Rules   []Rule
	Default string
}

// ParseFlag parses --label CIDR=LABEL.
func ParseFlag(s string) (Rule, error) {
	c, l, ok := strings.Cut(s, "=")
	if !ok || l == "" {
		return Rule{}, fmt.Errorf("bad label %q: want CIDR=LABEL", s)
	}
	p, err := parsePrefix(c)
	if err != nil {
		return Rule{}, fmt.Errorf("bad label %q: %w", s, err)
	}
	return Rule{Prefix: p, Label: l}, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ReadFile reads a labels file: one rule a line, "CAPTURE CIDR LABEL
// [FROM TO]" (CAPTURE a base-name glob, * for all; FROM and TO RFC 3339
// or Unix seconds), # comments.
func ReadFile(name string) ([]Rule, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	defer f.Close()
	r, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("labels %s: %w", name, err)
	}
	return r, nil
}

// Read parses a labels file (see ReadFile).
func Read(r io.Reader) ([]Rule, error) {
	var rules []Rule
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fs := strings.Fields(line)
		if len(fs) == 0 {
			continue
		}
		if len(fs) != 3 && len(fs) != 5 {
			return nil, fmt.Errorf("line %d: want CAPTURE CIDR LABEL [FROM TO]", n)
		}
		if _, err := path.Match(fs[0], ""); err != nil {
			return nil, fmt.Errorf("line %d: capture glob: %w", n, err)
		}
		p, err := parsePrefix(fs[1])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		ru := Rule{Capture: fs[0], Prefix: p, Label: fs[2]}
		if len(fs) == 5 {
			if ru.From, err = parseTime(fs[3]); err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			if ru.To, err = parseTime(fs[4]); err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
		}
		rules = append(rules, ru)
	}
	return rules, sc.Err()
}

func parseTime(s string) (int64, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return int64(f * 1e9), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("time %q: want RFC 3339 or Unix seconds", s)
	}
	return t.UnixNano(), nil
}

// Of labels a flow of capture (its base name) between a and b that
// started at startNs.
func (l *Labels) Of(capture string, a, b netip.Addr, startNs int64) string {
	base := path.Base(capture)
	for i := range l.Rules {
		r := &l.Rules[i]
		if r.Capture != "" && r.Capture != "*" {
			if ok, _ := path.Match(r.Capture, base); !ok {
				continue
			}
		}
		if !r.Prefix.Contains(a) && !r.Prefix.Contains(b) {
			continue
		}
		if (r.From != 0 || r.To != 0) && (startNs < r.From || startNs >= r.To) {
			continue
		}
		return r.Label
	}
	if l.Default == "" {
		return "benign"
	}
	return l.Default
}
