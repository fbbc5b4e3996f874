package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/xdpids/xdpids/userspace/capture/pcapfile"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/userspace/signature/rules"
)

var (
	conformanceTable = flag.String("conformance-table", "", "write the suricata-verify conformance table (Markdown) to this file")
	conformanceMode  = flag.String("conformance-mode", "auto", "read --mode for the conformance run: auto (the default of read), xdp or userspace")
	conformanceApp   = flag.String("conformance-app-table", "", "write the suricata-verify-app conformance table (Markdown) to this file")
)

// Conformance targets over every test of the corpus (none skipped):
// every core-tier test passes, and at least this share of the fully
// normalised checks passes.
const minCheckRatio = 0.97

// minAppCheckRatio is the share of the app-layer run
// (../shared/corpus/suricata-verify-app) that must pass: 771/785
// (98.2%) measured, the target 90%.
const minAppCheckRatio = 0.97

// svCheck is one check of expected.json (see the corpus README).
type svCheck struct {
	Type            string         `json:"type"`
	Normalized      any            `json:"normalized"`
	SID             *uint32        `json:"sid"`
	GID             *uint32        `json:"gid"`
	Count           int            `json:"count"`
	Where           map[string]any `json:"where"`
	AppliesToLatest *bool          `json:"applies_to_latest"`
}

type svExpected struct {
	Test        string                       `json:"test"`
	Pcap        string                       `json:"pcap"`
	Tier        string                       `json:"tier"`
	IPSMode     bool                         `json:"ips_mode"`
	ConfigNotes []string                     `json:"config_notes"`
	Vars        map[string]map[string]string `json:"vars_from_test_suricata_yaml"`
	Checks      []svCheck                    `json:"checks"`
}

type svResult struct {
	folder, tier, status string
	notes                []string // why a test fails, or what it ran without
	full, fullPass       int
	partial, partialPass int
	failures             []string
}

// TestSuricataVerify runs every test of ../shared/corpus/suricata-verify
// through `xdpids read`, in process, with only what a user can pass:
// the test's rules, its variables (--vars), --simulate-ips for IPS-mode
// tests and --midstream where the test sets stream.midstream. The EVE
// output is compared with expected.json's checks. Nothing is skipped: a
// test the engine cannot pass fails, with its reason in the table.
func TestSuricataVerify(t *testing.T) {
	runSuricataVerify(t, "suricata-verify", *conformanceTable, minCheckRatio)
}

// TestSuricataVerifyApp is TestSuricataVerify on the application-layer
// tests (HTTP/1, DNS, TLS, SSH rules): the same harness and checks, its
// own table.
func TestSuricataVerifyApp(t *testing.T) {
	runSuricataVerify(t, "suricata-verify-app", *conformanceApp, minAppCheckRatio)
}

func runSuricataVerify(t *testing.T, corpus, table string, minRatio float64) {
	dir := testenv.Corpus(t, corpus)
	switch *conformanceMode {
	case "auto", "xdp", "userspace":
	default:
		t.Fatalf("bad -conformance-mode %q", *conformanceMode)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var results []svResult
	for _, e := range ents {
		if e.IsDir() {
			results = append(results, runSV(t, filepath.Join(dir, e.Name())))
		}
	}
	var full, fullPass, partial, partialPass int
	tiers := map[string][2]int{} // passed, failed
	for _, r := range results {
		tr := tiers[r.tier]
		if r.status == "pass" {
			tr[0]++
		} else {
			tr[1]++
			t.Logf("FAIL %s (%s): %s", r.folder, r.tier, strings.Join(append(append([]string(nil), r.notes...), r.failures...), "; "))
			if r.tier == "core" {
				t.Errorf("core-tier test %s fails: %s", r.folder, strings.Join(append(r.notes, r.failures...), "; "))
			}
		}
		tiers[r.tier] = tr
		full += r.full
		fullPass += r.fullPass
		partial += r.partial
		partialPass += r.partialPass
	}
	ratio := float64(fullPass) / float64(max(full, 1))
	t.Logf("%s via xdpids read (--mode %s): %d tests, none skipped; fully normalised checks %d/%d (%.1f%%), partial %d/%d",
		corpus, *conformanceMode, len(results), fullPass, full, 100*ratio, partialPass, partial)
	for _, tier := range sortedKeys(tiers) {
		t.Logf("  tier %-9s passed %d failed %d", tier, tiers[tier][0], tiers[tier][1])
	}
	if table != "" {
		if err := writeTable(table, corpus, results, tiers, fullPass, full, partialPass, partial); err != nil {
			t.Fatal(err)
		}
	}
	if ratio < minRatio {
		t.Errorf("fully normalised checks passing %.3f, want >= %.2f", ratio, minRatio)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func writeTable(path, corpus string, results []svResult, tiers map[string][2]int, fp, f, pp, p int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s conformance (xdpids read, --mode %s)\n\n", corpus, *conformanceMode)
	if corpus == "suricata-verify" {
		fmt.Fprintf(&b, "Generated by `go test ./cmd/xdpids -run 'TestSuricataVerify$' -conformance-table=PATH`.\n\n")
	} else {
		fmt.Fprintf(&b, "Generated by `go test ./cmd/xdpids -run TestSuricataVerifyApp -conformance-app-table=PATH`.\n\n")
	}
	fmt.Fprintf(&b, "Fully normalised checks passing, every test (none skipped): **%d/%d (%.1f%%)**; partial checks (lower bounds): %d/%d.\n\n",
		fp, f, 100*float64(fp)/float64(max(f, 1)), pp, p)
	fmt.Fprintf(&b, "| tier | passed | failed |\n|---|---|---|\n")
	for _, k := range sortedKeys(tiers) {
		fmt.Fprintf(&b, "| %s | %d | %d |\n", k, tiers[k][0], tiers[k][1])
	}
	fmt.Fprintf(&b, "\n## Every test\n\n| test | tier | result | full checks | partial checks | notes |\n|---|---|---|---|---|---|\n")
	for _, r := range results {
		note := strings.Join(append(append([]string(nil), r.notes...), r.failures...), "; ")
		fmt.Fprintf(&b, "| %s | %s | %s | %d/%d | %d/%d | %s |\n", r.folder, r.tier, r.status, r.fullPass, r.full, r.partialPass, r.partial, strings.ReplaceAll(note, "|", "\\|"))
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// suricataLikeConfig turns off what Suricata reading a capture does not
// have, so that only the test's rules decide: xdpids' built-in rule set
// (suricata -S loads the one file), the per-source rate limits of the
// XDP program and the responder's bans (monitor mode: it reports the ban
// it would make). Detectors still run; their alerts count.
const suricataLikeConfig = `mode: monitor
rate_limits: {syn: {rate: 0}, udp: {rate: 0}, icmp: {rate: 0}}
signatures: {builtin: false}
`

// libhtpSettings maps Suricata's libhtp settings (app-layer.protocols.
// http.libhtp.default-config.*) to xdpids's app_layer.http keys.
var libhtpSettings = map[string]string{
	"request-body-limit":                   "request_body_limit",
	"response-body-limit":                  "response_body_limit",
	"response-body-decompress-layer-limit": "response_body_decompress_layer_limit",
	"compression-bomb-limit":               "compression_bomb_limit",
}

// suricataSettings turns the `--set` arguments of a test that xdpids has
// a setting for into its configuration (YAML text to append); the others
// are left out, as the harness leaves out what a user could not pass.
func suricataSettings(notes []string) string {
	const prefix = "arg --set app-layer.protocols.http.libhtp.default-config."
	var http []string
	for _, n := range notes {
		kv, ok := strings.CutPrefix(n, prefix)
		if !ok {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		key, known := libhtpSettings[k]
		if !ok || !known {
			continue
		}
		if n, err := parseSuricataSize(v); err == nil {
			http = append(http, fmt.Sprintf("%s: %d", key, n))
		}
	}
	if len(http) == 0 {
		return ""
	}
	return "app_layer: {http: {" + strings.Join(http, ", ") + "}}\n"
}

// parseSuricataSize reads a Suricata size ("3", "100kb", "1mb").
func parseSuricataSize(v string) (int, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	mult := 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}} {
		if s, ok := strings.CutSuffix(v, u.suffix); ok {
			v, mult = s, u.mult
			break
		}
	}
	n, err := strconv.Atoi(v)
	return n * mult, err
}

// readArgs is the `xdpids read` command line for a test, from its files
// alone.
func readArgs(dir, tmp string, exp *svExpected) ([]string, error) {
	cfg := filepath.Join(tmp, "xdpids.yaml")
	if err := os.WriteFile(cfg, []byte(suricataLikeConfig+suricataSettings(exp.ConfigNotes)), 0o644); err != nil {
		return nil, err
	}
	args := []string{"read", filepath.Join(dir, exp.Pcap), "--config", cfg, "--rules", filepath.Join(dir, "test.rules")}
	if len(exp.Vars) > 0 {
		y, err := json.Marshal(map[string]any{"vars": exp.Vars}) // JSON is YAML
		if err != nil {
			return nil, err
		}
		p := filepath.Join(tmp, "vars.yaml")
		if err := os.WriteFile(p, y, 0o644); err != nil {
			return nil, err
		}
		args = append(args, "--vars", p)
	}
	if exp.IPSMode {
		args = append(args, "--simulate-ips")
	}
	for _, n := range exp.ConfigNotes {
		if strings.Contains(n, "stream.midstream=true") {
			args = append(args, "--midstream")
			break
		}
	}
	if *conformanceMode != "auto" {
		args = append(args, "--mode", *conformanceMode)
	}
	return append(args, "--eve", filepath.Join(tmp, "eve.json"), "-q"), nil
}

func runSV(t *testing.T, dir string) svResult {
	res := svResult{folder: filepath.Base(dir)}
	data, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp svExpected
	if err := json.Unmarshal(data, &exp); err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	res.tier = exp.Tier
	tmp := t.TempDir()
	args, err := readArgs(dir, tmp, &exp)
	if err != nil {
		t.Fatal(err)
	}
	// What the rules lack (for the notes only: read loads them itself).
	vars := rules.DefaultVars()
	if len(exp.Vars) > 0 {
		if v, err := rules.LoadVarsFile(filepath.Join(tmp, "vars.yaml")); err == nil {
			vars = v
		}
	}
	if _, skipped, err := rules.LoadFiles([]string{filepath.Join(dir, "test.rules")}, vars); err == nil && len(skipped) > 0 {
		res.notes = append(res.notes, fmt.Sprintf("%d rule(s) not loaded: %s", len(skipped), skipped[0].Reason))
	}
	cmd := newRootCommand()
	var stderr bytes.Buffer
	cmd.SetOut(&stderr)
	cmd.SetErr(&stderr)
	cmd.SetArgs(args)
	runErr := cmd.Execute()
	ran := runErr == nil || errors.Is(runErr, pcapfile.ErrCorrupt)
	var alerts []map[string]any
	switch {
	case ran:
		// a damaged capture: the packets before the damage count
		alerts, err = readEVEAlerts(filepath.Join(tmp, "eve.json"))
		if err != nil {
			t.Fatalf("%s: %v", res.folder, err)
		}
	default:
		res.notes = append(res.notes, "read: "+runErr.Error())
	}
	for _, c := range exp.Checks {
		if c.Type != "filter" || (c.AppliesToLatest != nil && !*c.AppliesToLatest) {
			continue
		}
		full := c.Normalized == true
		partial := c.Normalized == "partial"
		if !full && !(partial && c.Count > 0) {
			continue
		}
		n := countAlerts(alerts, c)
		pass := ran && n == c.Count
		if partial {
			pass = ran && n >= c.Count
			res.partial++
			if pass {
				res.partialPass++
			}
		} else {
			res.full++
			if pass {
				res.fullPass++
			}
		}
		if !pass && ran {
			sid := "any"
			if c.SID != nil {
				sid = strconv.Itoa(int(*c.SID))
			}
			res.failures = append(res.failures, fmt.Sprintf("sid %s where %v: got %d want %d", sid, c.Where, n, c.Count))
		}
	}
	res.status = "pass"
	if len(res.failures) > 0 || res.fullPass+res.partialPass < res.full+res.partial {
		res.status = "fail"
	}
	return res
}

// readEVEAlerts returns the alert events of an EVE file (numbers as written).
func readEVEAlerts(path string) ([]map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		d := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		d.UseNumber()
		var ev map[string]any
		if err := d.Decode(&ev); err != nil {
			return nil, fmt.Errorf("eve line %q: %w", sc.Text(), err)
		}
		if ev["event_type"] == "alert" {
			out = append(out, ev)
		}
	}
	return out, sc.Err()
}

// countAlerts counts the alert events a check selects: its sid and gid,
// and each where key (a dotted EVE path) equal to its value.
func countAlerts(alerts []map[string]any, c svCheck) int {
	n := 0
	for _, ev := range alerts {
		if c.SID != nil && fmt.Sprint(lookup(ev, "alert.signature_id")) != strconv.Itoa(int(*c.SID)) {
			continue
		}
		if c.GID != nil && fmt.Sprint(lookup(ev, "alert.gid")) != strconv.Itoa(int(*c.GID)) {
			continue
		}
		ok := true
		for k, want := range c.Where {
			ok = ok && sameValue(k, lookup(ev, k), want)
		}
		if ok {
			n++
		}
	}
	return n
}

func lookup(ev map[string]any, path string) any {
	var v any = ev
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// sameValue compares an EVE value with an expected one: addresses as
// addresses (Suricata writes IPv6 uncompressed), proto without case,
// anything else as text.
func sameValue(key string, got, want any) bool {
	if got == nil {
		return false
	}
	g, w := fmt.Sprint(got), fmt.Sprint(want)
	switch key {
	case "src_ip", "dest_ip":
		a, err1 := netip.ParseAddr(g)
		b, err2 := netip.ParseAddr(w)
		return err1 == nil && err2 == nil && a.Unmap() == b.Unmap()
	case "proto":
		return strings.EqualFold(g, w)
	}
	return g == w
}
