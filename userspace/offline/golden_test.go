package offline_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/userspace/alert"
	"github.com/xdpids/xdpids/userspace/config"
	"github.com/xdpids/xdpids/userspace/eve"
	"github.com/xdpids/xdpids/userspace/offline"
	"github.com/xdpids/xdpids/userspace/offline/testgen"
)

// -update rewrites testdata/*.pcap from testgen and testdata/*.eve.json
// from an XDP run of each. Golden files change only on purpose: review the
// diff, and the expectations in goldenCases stay the judge either way.
var updateGolden = flag.Bool("update", false, "regenerate testdata/*.pcap (testgen) and testdata/*.eve.json (XDP run)")

// goldenAlert is one alert as the tests judge it.
type goldenAlert struct {
	SID     uint32
	Subject string
	Action  string
}

func (h goldenAlert) String() string { return fmt.Sprintf("%d subject=%s %s", h.SID, h.Subject, h.Action) }

const (
	genAttacker  = "203.0.113.66"
	genVictim    = "198.51.100.10"
	genAttacker6 = "2001:db8:bad:1::66"
)

// goldenCases say, independently of the golden files, every alert each
// capture must raise, in order, with the built-in default configuration.
// A regenerated golden file cannot bless a wrong result: it must also
// match this table.
var goldenCases = []struct {
	name string
	want []goldenAlert
}{
	// Scans: the scanner is the subject and is banned (ScanBanTTL, or
	// FlagsBanTTL for illegal flags) on the first alert; the ban drops the
	// rest of its probes, so one alert per scan.
	{"scan_syn", []goldenAlert{{8100001, genAttacker, "blocked"}}},
	{"scan_connect", []goldenAlert{{8100001, genAttacker, "blocked"}}},
	{"scan_fin", []goldenAlert{{8100014, genAttacker, "blocked"}}},
	{"scan_null", []goldenAlert{{8100011, genAttacker, "blocked"}}},
	{"scan_xmas", []goldenAlert{{8100012, genAttacker, "blocked"}}},
	{"scan_ack", []goldenAlert{{8100001, genAttacker, "blocked"}}},
	{"scan_udp", []goldenAlert{{8100003, genAttacker, "blocked"}}},
	{"sweep_tcp", []goldenAlert{{8100002, genAttacker, "blocked"}}},
	{"scan_ipproto", []goldenAlert{{8100005, genAttacker, "blocked"}}},
	{"scan_ipv6", []goldenAlert{{8100001, genAttacker6, "blocked"}}},
	// A flood from one real source: that source, banned.
	{"synflood_single", []goldenAlert{{8200001, genAttacker, "blocked"}}},
	{"udpflood_single", []goldenAlert{{8200003, genAttacker, "blocked"}}},
	{"icmpflood_single", []goldenAlert{{8200005, genAttacker, "blocked"}}},
	// Spoofed or reflected floods: the target is the subject and nothing
	// is banned (banning spoofed sources would ban innocents).
	{"synflood_spoofed", []goldenAlert{{8200002, genVictim, "allowed"}}},
	{"synack_reflection", []goldenAlert{{8200007, genVictim, "allowed"}}},
	{"amp_dns", []goldenAlert{{8300053, genVictim, "allowed"}}},
	{"amp_ntp", []goldenAlert{{8300123, genVictim, "allowed"}}},
	{"amp_snmp", []goldenAlert{{8300161, genVictim, "allowed"}}},
	// Brute force: the client, banned.
	{"brute_ssh", []goldenAlert{{8400022, genAttacker, "blocked"}}},
	{"brute_ftp", []goldenAlert{{8400021, genAttacker, "blocked"}}},
	// Ordinary traffic raises nothing.
	{"benign", nil},
}

func TestGoldenCasesCoverEveryCapture(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range goldenCases {
		if _, ok := testgen.Lookup(tc.name); !ok {
			t.Errorf("golden case %s: testgen has no such capture", tc.name)
		}
		seen[tc.name] = true
	}
	for _, c := range testgen.All() {
		if !seen[c.Name] {
			t.Errorf("testgen capture %s has no golden case", c.Name)
		}
	}
}

// TestGolden runs every generated capture through the XDP program and the
// pipeline with the built-in default configuration, compares the EVE output
// with testdata/<name>.eve.json and the alerts with goldenCases, and runs
// it again without BPF (userspace mode), which must raise the same alerts.
func TestGolden(t *testing.T) {
	if *updateGolden {
		// The golden EVE files come from XDP runs: -update cannot skip them.
		testenv.RequireBPF(t)
	}
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := testgen.Lookup(tc.name)
			if !ok {
				t.Fatalf("testgen has no capture %s", tc.name)
			}
			path := filepath.Join("testdata", tc.name+".pcap")
			checkGeneratedCapture(t, c, path)
			frames, err := c.Frames()
			if err != nil {
				t.Fatal(err)
			}

			var us []goldenAlert
			t.Run("userspace", func(t *testing.T) {
				sum, alerts, _, err := runGolden(t, path, offline.ModeUserspace)
				if err != nil {
					t.Fatalf("offline.Run: %v", err)
				}
				checkGoldenSummary(t, sum, offline.ModeUserspace, len(frames))
				checkGoldenAlerts(t, alerts, tc.want)
				us = alerts
			})
			t.Run("xdp", func(t *testing.T) {
				testenv.RequireBPF(t)
				sum, alerts, out, err := runGolden(t, path, offline.ModeXDP)
				if err != nil {
					t.Fatalf("offline.Run: %v", err)
				}
				checkGoldenSummary(t, sum, offline.ModeXDP, len(frames))
				checkGoldenAlerts(t, alerts, tc.want)
				checkGolden(t, filepath.Join("testdata", tc.name+".eve.json"), out)
				// Both modes must agree on what was detected and done. Their
				// EVE lines may legitimately differ in time and metadata: the
				// XDP program samples only the first packets of each flow
				// and enforces its own rate limits (see amp_ntp and
				// icmpflood_single in the golden files), where userspace
				// mode inspects every frame.
				if us != nil && !sameAlerts(us, alerts) {
					t.Errorf("userspace and XDP modes disagree:\nuserspace: %v\nxdp:       %v", us, alerts)
				}
			})
		})
	}
}

// checkGeneratedCapture checks that the generator is deterministic and that the
// committed capture is what it generates (or writes it under -update).
func checkGeneratedCapture(t *testing.T, c testgen.Capture, path string) {
	t.Helper()
	a, err := c.Pcap()
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Pcap()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatalf("testgen %s is not deterministic: two runs gave different bytes", c.Name)
	}
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, a, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	onDisk, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (generate it: go test ./userspace/offline/ -run TestGolden -update)", err)
	}
	if !bytes.Equal(onDisk, a) {
		t.Fatalf("%s (%d bytes) is not what testgen generates (%d bytes): the generator changed; "+
			"regenerate on purpose with go test ./userspace/offline/ -run TestGolden -update and review the EVE diff",
			path, len(onDisk), len(a))
	}
}

// runGolden runs path with the built-in default configuration, as
// `xdpids read` does, and returns the alerts and the EVE output.
func runGolden(t *testing.T, path string, mode offline.Mode) (*offline.Summary, []goldenAlert, []byte, error) {
	t.Helper()
	cfg := config.Default()
	var out bytes.Buffer
	w := eve.NewWriter(&out, time.UTC)
	var alerts []goldenAlert
	sum, err := offline.Run(offline.Options{
		Path: path, Mode: mode,
		Datapath: cfg.DatapathConfig(), Pipeline: cfg.PipelineConfig(), Respond: cfg.ResponseConfig(),
		OnAlert: func(a *alert.Alert) {
			if !cfg.EVE.Payload {
				a.Payload = nil
			}
			h := goldenAlert{SID: a.SID, Action: a.Action}
			if a.Subject.IsValid() {
				h.Subject = a.Subject.String()
			}
			alerts = append(alerts, h)
			if err := w.Write(a); err != nil {
				t.Errorf("eve: %v", err)
			}
		},
	})
	if cerr := w.Close(); cerr != nil {
		t.Errorf("eve: %v", cerr)
	}
	return sum, alerts, out.Bytes(), err
}

func checkGoldenSummary(t *testing.T, sum *offline.Summary, mode offline.Mode, frames int) {
	t.Helper()
	if sum.Mode != mode {
		t.Errorf("ran in mode %s, want %s", sum.Mode, mode)
	}
	if sum.Format != "pcap" {
		t.Errorf("format %q, want pcap", sum.Format)
	}
	if sum.Packets != uint64(frames) {
		t.Errorf("read %d packets, the capture has %d", sum.Packets, frames)
	}
}

func sameAlerts(a, b []goldenAlert) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func checkGoldenAlerts(t *testing.T, got, want []goldenAlert) {
	t.Helper()
	if !sameAlerts(got, want) {
		t.Errorf("alerts (sid, subject, action):\ngot:  %v\nwant: %v", got, want)
	}
}

// checkGolden compares out with the golden file (or rewrites it under
// -update), reporting a line diff on mismatch.
func checkGolden(t *testing.T, path string, out []byte) {
	t.Helper()
	for i, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		if line != "" && !json.Valid([]byte(line)) {
			t.Errorf("EVE line %d is not JSON: %s", i+1, line)
		}
	}
	if *updateGolden {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (generate it: go test ./userspace/offline/ -run TestGolden -update)", err)
	}
	if !bytes.Equal(want, out) {
		t.Errorf("EVE output differs from %s (-want +got):\n%s\nIf the change is intended, regenerate with "+
			"go test ./userspace/offline/ -run TestGolden -update and review the diff.", path, goldenDiff(string(want), string(out)))
	}
}

// goldenDiff is a minimal unified-style diff of two texts by lines (longest
// common subsequence; the golden files are a few lines each).
func goldenDiff(a, b string) string {
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	}
	x, y := split(a), split(b)
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var sb strings.Builder
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			fmt.Fprintf(&sb, "  %s\n", x[i])
			i++
			j++
		case j < len(y) && (i == len(x) || lcs[i][j+1] >= lcs[i+1][j]):
			fmt.Fprintf(&sb, "+ %s\n", y[j])
			j++
		default:
			fmt.Fprintf(&sb, "- %s\n", x[i])
			i++
		}
	}
	return sb.String()
}
