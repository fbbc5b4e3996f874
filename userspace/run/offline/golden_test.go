package offline_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/xdpids/xdpids/userspace/capture/pcapfile"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/internal/testgen"
	"github.com/xdpids/xdpids/userspace/config"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/output/eve"
	"github.com/xdpids/xdpids/userspace/run/offline"
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

func (h goldenAlert) String() string {
	return fmt.Sprintf("%d subject=%s %s", h.SID, h.Subject, h.Action)
}

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
	{"udpflood_oneflow", []goldenAlert{{8200003, genAttacker, "blocked"}}},
	{"icmpflood_single", []goldenAlert{{8200005, genAttacker, "blocked"}}},
	// Spoofed or reflected floods: the target is the subject and nothing
	// is banned (banning spoofed sources would ban innocents).
	{"synflood_spoofed", []goldenAlert{{8200002, genVictim, "allowed"}}},
	{"synack_reflection", []goldenAlert{{8200007, genVictim, "allowed"}}},
	{"amp_dns", []goldenAlert{{8300053, genVictim, "allowed"}}},
	{"amp_ntp", []goldenAlert{{8300123, genVictim, "allowed"}}},
	{"amp_snmp", []goldenAlert{{8300161, genVictim, "allowed"}}},
	// Reflection over a service with no named detector: the generic sid.
	{"amp_wsd", []goldenAlert{{8300000, genVictim, "allowed"}}},
	// Brute force: the client, banned.
	{"brute_ssh", []goldenAlert{{8400022, genAttacker, "blocked"}}},
	{"brute_ftp", []goldenAlert{{8400021, genAttacker, "blocked"}}},
	// Ordinary traffic raises nothing: a stub resolver's answers from
	// three resolvers are no reflection.
	{"dns_three_resolvers", nil},
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
			path := filepath.Join(goldenDir(t), tc.name+".pcap")
			checkGeneratedCapture(t, c, path)
			frames, err := c.Frames()
			if err != nil {
				t.Fatal(err)
			}

			var us []goldenAlert
			usRan := false
			t.Run("userspace", func(t *testing.T) {
				sum, alerts, _, err := runGolden(t, path, offline.ModeUserspace)
				if err != nil {
					t.Fatalf("offline.Run: %v", err)
				}
				checkGoldenSummary(t, sum, offline.ModeUserspace, len(frames))
				checkGoldenAlerts(t, alerts, tc.want)
				us, usRan = alerts, true
			})
			t.Run("xdp", func(t *testing.T) {
				testenv.RequireBPF(t)
				sum, alerts, out, err := runGolden(t, path, offline.ModeXDP)
				if err != nil {
					t.Fatalf("offline.Run: %v", err)
				}
				checkGoldenSummary(t, sum, offline.ModeXDP, len(frames))
				checkGoldenAlerts(t, alerts, tc.want)
				checkGolden(t, filepath.Join(goldenDir(t), tc.name+".eve.json"), out)
				// Both modes must agree on what was detected and done. Their
				// EVE lines may legitimately differ in time and metadata: the
				// XDP program enforces its own rate limits (see
				// icmpflood_single in the golden files), where userspace
				// mode has none; both inspect every frame.
				if usRan && !sameAlerts(us, alerts) {
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
		t.Fatalf("%v (generate it: go test ./userspace/run/offline/ -run TestGolden -update)", err)
	}
	if !bytes.Equal(onDisk, a) {
		i := 0
		for i < len(onDisk) && i < len(a) && onDisk[i] == a[i] {
			i++
		}
		t.Fatalf("%s (%d bytes) is not what testgen generates (%d bytes; first difference at byte %d): "+
			"if the generator changed on purpose, regenerate with go test ./userspace/run/offline/ -run TestGolden -update "+
			"and review the EVE diff", path, len(onDisk), len(a), i)
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
		t.Fatalf("%v (generate it: go test ./userspace/run/offline/ -run TestGolden -update)", err)
	}
	if !bytes.Equal(want, out) {
		t.Errorf("EVE output differs from %s (-want +got):\n%s%s\nIf the change is intended, regenerate with "+
			"go test ./userspace/run/offline/ -run TestGolden -update and review the diff.",
			path, goldenDiff(string(want), string(out)), firstDifference(want, out))
	}
}

// firstDifference points at the first differing byte: EVE lines are long.
func firstDifference(want, got []byte) string {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	from := max(0, i-30)
	ctx := func(b []byte) string { return string(b[from:min(len(b), i+50)]) }
	return fmt.Sprintf("first difference at byte %d:\n  want ...%s\n  got  ...%s\n", i, ctx(want), ctx(got))
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
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			fmt.Fprintf(&sb, "- %s\n", x[i])
			i++
		default:
			fmt.Fprintf(&sb, "+ %s\n", y[j])
			j++
		}
	}
	return sb.String()
}

// runModes runs fn as a subtest per mode; the XDP one needs BPF.
func runModes(t *testing.T, fn func(t *testing.T, mode offline.Mode)) {
	t.Helper()
	for _, mode := range []offline.Mode{offline.ModeUserspace, offline.ModeXDP} {
		t.Run(string(mode), func(t *testing.T) {
			if mode == offline.ModeXDP {
				testenv.RequireBPF(t)
			}
			fn(t, mode)
		})
	}
}

// pcapRecords returns the offset of every record of a little-endian pcap
// file (what pcapgo.Writer writes).
func pcapRecords(t *testing.T, data []byte) []int {
	t.Helper()
	if len(data) < 24 || binary.LittleEndian.Uint32(data) != 0xa1b2c3d4 {
		t.Fatal("not a little-endian microsecond pcap")
	}
	var offs []int
	for off := 24; off < len(data); {
		offs = append(offs, off)
		off += 16 + int(binary.LittleEndian.Uint32(data[off+8:]))
	}
	return offs
}

// pcapngPackets returns the offset of every Enhanced Packet Block of a
// little-endian pcapng file.
func pcapngPackets(t *testing.T, data []byte) []int {
	t.Helper()
	if len(data) < 12 || binary.LittleEndian.Uint32(data) != 0x0a0d0d0a || binary.LittleEndian.Uint32(data[8:]) != 0x1a2b3c4d {
		t.Fatal("not a little-endian pcapng section")
	}
	var offs []int
	for off := 0; off < len(data); {
		if binary.LittleEndian.Uint32(data[off:]) == 6 {
			offs = append(offs, off)
		}
		off += int(binary.LittleEndian.Uint32(data[off+4:]))
	}
	return offs
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDamagedCapture cuts a valid capture short: the packets before the
// damage are analysed (the scan alert among them), and Run returns their
// summary with one error wrapping ErrCorrupt. A capture that ends exactly
// between two records is a shorter valid capture.
func TestDamagedCapture(t *testing.T) {
	c, _ := testgen.Lookup("scan_syn")
	frames, err := c.Frames()
	if err != nil {
		t.Fatal(err)
	}
	var ng bytes.Buffer
	if err := c.WritePcapNG(&ng); err != nil {
		t.Fatal(err)
	}
	pcap, err := c.Pcap()
	if err != nil {
		t.Fatal(err)
	}
	// The scan alert comes from the first 30 frames; cut after 300.
	const k = 300
	recs, blocks := pcapRecords(t, pcap), pcapngPackets(t, ng.Bytes())
	if len(recs) != len(frames) || len(blocks) != len(frames) {
		t.Fatalf("%d pcap records, %d pcapng packet blocks, %d frames", len(recs), len(blocks), len(frames))
	}
	cases := []struct {
		name    string
		data    []byte
		corrupt bool
	}{
		{"pcap cut inside a packet", pcap[:recs[k]+16+len(frames[k].Data)/2], true},
		{"pcap cut inside a record header", pcap[:recs[k]+7], true},
		{"pcap cut between records", pcap[:recs[k]], false},
		{"pcapng cut inside a packet block", ng.Bytes()[:blocks[k]+20], true},
		{"pcapng cut inside a block header", ng.Bytes()[:blocks[k]+5], true},
	}
	want := []goldenAlert{{8100001, genAttacker, "blocked"}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTemp(t, "damaged.pcap", tc.data)
			runModes(t, func(t *testing.T, mode offline.Mode) {
				sum, alerts, _, err := runGolden(t, path, mode)
				if sum == nil {
					t.Fatalf("no summary; err %v", err)
				}
				if sum.Packets != k {
					t.Errorf("analysed %d packets, want the %d before the damage", sum.Packets, k)
				}
				checkGoldenAlerts(t, alerts, want)
				switch {
				case tc.corrupt && !errors.Is(err, pcapfile.ErrCorrupt):
					t.Errorf("err = %v, want one wrapping pcapfile.ErrCorrupt", err)
				case tc.corrupt && !strings.Contains(err.Error(), fmt.Sprintf("after %d packets", k)):
					t.Errorf("err = %q, want it to say after how many packets", err)
				case !tc.corrupt && err != nil:
					t.Errorf("err = %v, want none", err)
				}
			})
		})
	}
}

// TestNotACapture: a file that is no capture gets one clear error and no
// summary, whatever its name says.
func TestNotACapture(t *testing.T) {
	pcap, err := testgen.All()[0].Pcap()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, data, want string
	}{
		{"bad magic", "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n", "not a pcap or pcapng file (magic 47455420)"},
		{"too short", "\xd4\xc3", "not a pcap or pcapng file: too short"},
		{"pcap header cut", string(pcap[:10]), "bad pcap header"},
		{"pcapng header cut", "\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d", "bad pcapng header"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTemp(t, "capture.pcap", []byte(tc.data))
			called := false
			cfg := config.Default()
			sum, err := offline.Run(offline.Options{Path: path, Mode: offline.ModeUserspace,
				Datapath: cfg.DatapathConfig(), Pipeline: cfg.PipelineConfig(), Respond: cfg.ResponseConfig(),
				OnAlert: func(*alert.Alert) { called = true }})
			if err == nil || sum != nil || called {
				t.Fatalf("Run = %v, %v (alerts: %v), want no summary and an error", sum, err, called)
			}
			if errors.Is(err, pcapfile.ErrCorrupt) {
				t.Errorf("err = %v: not a damaged capture, but no capture at all", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, path+": ") || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("err = %q, want one line naming %s and saying %q", msg, path, tc.want)
			}
		})
	}
}

// TestPcapng: the same capture written as pcapng (named .pcap: the format
// is told by its magic number) gives the same alerts, byte for byte.
func TestPcapng(t *testing.T) {
	for _, name := range []string{"scan_syn", "amp_ntp", "brute_ssh", "benign"} {
		t.Run(name, func(t *testing.T) {
			c, _ := testgen.Lookup(name)
			var ng bytes.Buffer
			if err := c.WritePcapNG(&ng); err != nil {
				t.Fatal(err)
			}
			frames, err := c.Frames()
			if err != nil {
				t.Fatal(err)
			}
			ngPath := writeTemp(t, name+".pcap", ng.Bytes())
			runModes(t, func(t *testing.T, mode offline.Mode) {
				sum, _, got, err := runGolden(t, ngPath, mode)
				if err != nil {
					t.Fatalf("offline.Run: %v", err)
				}
				if sum.Format != "pcapng" || sum.Packets != uint64(len(frames)) {
					t.Errorf("read %d packets as %s, want %d as pcapng", sum.Packets, sum.Format, len(frames))
				}
				_, _, want, err := runGolden(t, filepath.Join(goldenDir(t), name+".pcap"), mode)
				if err != nil {
					t.Fatalf("offline.Run on the pcap: %v", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("pcapng and pcap give different EVE output (-pcap +pcapng):\n%s", goldenDiff(string(want), string(got)))
				}
			})
		})
	}
}

// goldenDir is where the project's generated captures and their golden
// EVE files live: testdata/golden at the top of the checkout.
func goldenDir(t testing.TB) string { return testenv.RootPath(t, "testdata", "golden") }
