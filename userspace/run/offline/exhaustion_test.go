package offline_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/internal/testgen"
	"github.com/xdpids/xdpids/userspace/config"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/run/offline"
)

// TestExhaustion reads the exhaustion captures (issue 9) with the
// built-in default configuration, as `xdpids read` does, in both modes:
// the real attack inside the forged load is detected and its source
// banned. Forged ACK probes raise nothing; forged scanners past the
// threshold get challenge bans, within what the forgeable share gives
// evidence at the threshold, and never the real scanner's. The captures
// are generated into a temp dir (up to 7 MB each: not committed).
func TestExhaustion(t *testing.T) {
	scan := alert.ScanVerticalTCP.SID
	for _, tc := range []struct {
		name string
		// the attacker's alerts: the last blocked, up to again more
		// before it allowed (the forgeable share asked for more
		// evidence); then any number of alerts about forged sources, of
		// which at most maxForgedBans blocked
		again         int
		maxForgedBans int
	}{
		{"exhaust_ack_scan", 0, 0},
		// The forged scanners keep the share down to the half it keeps
		// for stronger evidence, taking each token that comes back above
		// it within 18 ms: an alert at the threshold that finds none is
		// refused, the one at twice the threshold finds the reserve.
		{"exhaust_forged_scanners", 1, forgedBanBound()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := testgen.LookupExhaustion(tc.name)
			if !ok {
				t.Fatalf("testgen has no capture %s", tc.name)
			}
			path, err := c.WriteFile(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			frames, err := c.Frames()
			if err != nil {
				t.Fatal(err)
			}
			scanStart := testgen.Start.Add(testgen.RealScanAt[tc.name])
			for _, mode := range []offline.Mode{offline.ModeUserspace, offline.ModeXDP} {
				t.Run(string(mode), func(t *testing.T) {
					if mode == offline.ModeXDP {
						testenv.RequireBPF(t)
					}
					sum, alerts, eveOut, err := runGolden(t, path, mode)
					if err != nil {
						t.Fatalf("offline.Run: %v", err)
					}
					checkGoldenSummary(t, sum, mode, len(frames))
					var real []goldenAlert
					forgedBans := 0
					for _, a := range alerts {
						switch {
						case a.Subject == genAttacker:
							real = append(real, a)
						case forgedRange.Contains(netip.MustParseAddr(a.Subject)) && a.SID == scan:
							if a.Action == "blocked" {
								forgedBans++
							}
						default:
							t.Errorf("unexpected alert %v", a)
						}
					}
					if n := len(real); n == 0 || n > tc.again+1 || real[n-1] != (goldenAlert{scan, genAttacker, "blocked"}) {
						t.Errorf("the attacker's alerts %v: want up to %d allowed, then one blocked (sid %d)", real, tc.again, scan)
					} else {
						for _, a := range real[:n-1] {
							if a != (goldenAlert{scan, genAttacker, "allowed"}) {
								t.Errorf("the attacker's alerts %v: want up to %d allowed, then one blocked", real, tc.again)
							}
						}
					}
					if forgedBans > tc.maxForgedBans {
						t.Errorf("%d forged sources banned, want at most %d", forgedBans, tc.maxForgedBans)
					}
					if sum.Bans != uint64(forgedBans+1) {
						t.Errorf("summary: %d bans, want %d (forged %d and the attacker)", sum.Bans, forgedBans+1, forgedBans)
					}
					ban := checkExhaustionEVE(t, eveOut)
					t.Logf("%d forged sources challenge-banned (of %d alerting); the real scanner banned %v after its scan started (packet time), at its alert %d",
						forgedBans, len(alerts)-len(real), ban.Sub(scanStart), len(real))
					if d := ban.Sub(scanStart); d < 0 || d > time.Second {
						t.Errorf("real scanner banned %v after its scan started, want within 1 s", d)
					}
				})
			}
		})
	}
}

var forgedRange = netip.MustParsePrefix("198.18.0.0/15")

// forgedBanBound is the most challenge bans forged scanners at the
// threshold can get from the default budget in exhaust_forged_scanners:
// half the forgeable share at once (the rest is kept for stronger
// evidence), then its refill over the 12 s of the load.
func forgedBanBound() int {
	r := config.Default().ResponseConfig()
	share := int(r.ForgeableShare * float64(r.MaxBansPerMin))
	return share/2 + int(13*float64(share)/60) + 1
}

// checkExhaustionEVE checks the EVE alerts of an exhaustion run: every
// ban on forgeable evidence is a challenge ban, the attacker's ban names
// its prefix; it returns the time of the attacker's ban.
func checkExhaustionEVE(t *testing.T, out []byte) time.Time {
	t.Helper()
	var ban time.Time
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e struct {
			Timestamp string `json:"timestamp"`
			Alert     struct {
				Action string `json:"action"`
				Source struct {
					IP string `json:"ip"`
				} `json:"source"`
			} `json:"alert"`
			Metadata struct {
				Flowvars []map[string]string `json:"flowvars"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("EVE line %q: %v", sc.Text(), err)
		}
		if e.Alert.Action != "blocked" {
			continue
		}
		vars := map[string]string{}
		for _, m := range e.Metadata.Flowvars {
			for k, v := range m {
				vars[k] = v
			}
		}
		if vars["xdpids.trust"] != "forgeable" || vars["xdpids.ban_kind"] != "challenge" {
			t.Errorf("ban of %s: trust %q kind %q, want a challenge ban on forgeable evidence", e.Alert.Source.IP, vars["xdpids.trust"], vars["xdpids.ban_kind"])
		}
		if e.Alert.Source.IP == genAttacker {
			if vars["xdpids.ban_prefix"] != genAttacker+"/32" {
				t.Errorf("attacker's ban prefix %q", vars["xdpids.ban_prefix"])
			}
			ts, err := time.Parse("2006-01-02T15:04:05.000000-0700", e.Timestamp)
			if err != nil {
				t.Fatal(err)
			}
			if ban.IsZero() {
				ban = ts
			}
		}
	}
	if ban.IsZero() {
		t.Fatal("no EVE alert banning the attacker")
	}
	return ban
}
