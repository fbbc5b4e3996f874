package crowdsec

import (
	"bufio"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/loader"
)

var eveTimestamp = regexp.MustCompile(`"timestamp":"[^"]*"`)

// goldenLines returns the events of a golden EVE file whose event_type
// is one of types, stamped with the time now (CrowdSec's buckets and
// decisions run on the events' time).
func goldenLines(t *testing.T, name string, types ...string) []string {
	t.Helper()
	f, err := os.Open(testenv.RootPath(t, "testdata", "golden", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	now := `"timestamp":"` + time.Now().UTC().Format("2006-01-02T15:04:05.000000-0700") + `"`
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		for _, typ := range types {
			if strings.Contains(sc.Text(), `"event_type":"`+typ+`"`) {
				out = append(out, eveTimestamp.ReplaceAllString(sc.Text(), now))
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no %v events in %s", types, name)
	}
	return out
}

// TestCrowdSecReadsEVE: a real CrowdSec agent, with the acquisition
// and whitelist shipped in dist/crowdsec and the Suricata collection of
// the Debian package's offline hub, reads xdpids's EVE log: an alert of
// verified evidence (severity 1, TCP) becomes a ban decision, one of
// forgeable evidence is whitelisted, flow events are not alerts; and the
// bouncer puts the decision in the kernel's block list.
func TestCrowdSecReadsEVE(t *testing.T) {
	testenv.RequireBPF(t)
	dir := t.TempDir()
	eve := filepath.Join(dir, "eve.json")
	if err := os.WriteFile(eve, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	acquis, err := os.ReadFile(testenv.RootPath(t, "dist", "crowdsec", "acquis-xdpids.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lapi := testenv.StartCrowdSecAgent(t, nil, &testenv.CrowdSecAgent{
		Acquis: strings.Replace(string(acquis), "/var/log/xdpids/eve.json", eve, 1),
		Items: []string{
			// s00-raw must exist for the built-in non-syslog node to run.
			"parsers/s00-raw/crowdsecurity/syslog-logs.yaml",
			"parsers/s01-parse/crowdsecurity/suricata-logs.yaml",
			"parsers/s02-enrich/crowdsecurity/dateparse-enrich.yaml",
			"scenarios/crowdsecurity/suricata-alerts.yaml",
			"collections/crowdsecurity/suricata.yaml",
		},
		Local: map[string]string{
			"parsers/s02-enrich/xdpids-forgeable-whitelist.yaml": testenv.RootPath(t, "dist", "crowdsec", "xdpids-forgeable-whitelist.yaml"),
		},
	})
	defer func() {
		if t.Failed() {
			t.Logf("crowdsec log:\n%s", lapi.Log())
		}
	}()
	// brute_ssh: SSH brute force on forgeable evidence (203.0.113.66);
	// app_http: /etc/passwd requested, verified (203.0.113.44).
	forged := goldenLines(t, "brute_ssh.eve.json", "alert")
	for _, l := range forged {
		// What the Suricata scenario bans on sight: only the whitelist
		// can keep it from a decision.
		if !strings.Contains(l, `"proto":"TCP"`) || !strings.Contains(l, `"severity":1,`) || !strings.Contains(l, `"xdpids.trust":"forgeable"`) {
			t.Fatalf("brute_ssh alert is not a forgeable TCP severity 1 alert: %s", l)
		}
	}
	lines := append(forged, goldenLines(t, "app_http.eve.json", "flow", "alert")...)
	appendEVE := func() {
		f, err := os.OpenFile(eve, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
			t.Fatal(err)
		}
	}
	key := lapi.AddBouncer(t, "xdpids-eve", "")
	dp, err := loader.Load(loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dp.Close()
	b, err := New(Config{URL: lapi.URL, APIKey: key}, dp.Maps())
	if err != nil {
		t.Fatal(err)
	}
	// The file source tails from the end, from some time after it logs
	// the file: the lines are appended again each second until they are
	// read (the scenario bans once: its blackhole is a minute).
	next := time.Now()
	var values []string
	for deadline := time.Now().Add(20 * time.Second); ; {
		if time.Now().After(next) {
			appendEVE()
			next = time.Now().Add(time.Second)
		}
		s, err := b.fetch(context.Background(), true)
		if err != nil {
			t.Fatal(err)
		}
		values = values[:0]
		for _, d := range s.New {
			values = append(values, d.Value)
		}
		if slices.Contains(values, "203.0.113.44") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no decision on 203.0.113.44 within 20s; decisions %v", values)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if slices.Contains(values, "203.0.113.66") {
		t.Errorf("the alert on forgeable evidence made a decision: %v", values)
	}
	if !strings.Contains(lapi.Log(), "crowdsecurity/suricata-major-severity") {
		t.Error("the log does not name the Suricata scenario")
	}
	if err := b.Poll(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	e, err := dp.Maps().LookupBlock(netipPrefix("203.0.113.44/32"))
	if err != nil || e.Origin != bpf.OriginCrowdSec || e.Comment != "crowdsecurity/suricata-major-se" {
		t.Errorf("block entry %+v, %v", e, err)
	}
}

func netipPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
