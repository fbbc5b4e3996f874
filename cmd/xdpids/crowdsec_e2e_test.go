package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xdpids/xdpids/internal/testenv"
)

// TestCrowdSecEndToEnd: a real CrowdSec LAPI (the Debian package's,
// started in the server namespace with the Central API off) and the
// daemon's bouncer polling it every second. cscli decisions (an address,
// a range) reach the block list within two polls and drop those hosts
// while another passes; deleting lifts them; a local ban on the same
// address is neither replaced nor lifted; with the LAPI killed the bans
// stay and the errors are counted; restarted, the bouncer recovers, and
// after a reinstall (empty database) it drops what the LAPI no longer has.
func TestCrowdSecEndToEnd(t *testing.T) {
	testenv.Short(t)
	testenv.RequireTool(t, "ping")
	l := newLab(t)
	lapi := testenv.StartCrowdSec(t, l.s)
	key := lapi.AddBouncer(t, "xdpids-e2e", "")
	keyFile := filepath.Join(t.TempDir(), "crowdsec.key")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const poll = time.Second
	cfg := labConfig + fmt.Sprintf("crowdsec:\n  lapi_url: %s\n  api_key_file: %s\n  poll_interval: %s\n", lapi.URL, keyFile, poll)
	d := l.start(t, cfg, "--metrics-addr", "127.0.0.1:0")
	defer func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s\nLAPI log:\n%s", d.log, lapi.Log())
		}
	}()
	a, c := l.clientEnds["a"].IP(), l.clientEnds["c"].IP()
	ifA := l.serverEnds["a"].Name
	scrape := func() map[string]float64 { return l.scrapeMetrics(t, d.ready.Metrics, "xdpids_crowdsec_") }
	waitMetric := func(name string, atLeast float64, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			m := scrape()
			if m[name] >= atLeast {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s = %v, not %v within %s; metrics %v", name, m[name], atLeast, within, m)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for _, h := range []string{"a", "b", "c"} {
		if ok, out := l.ping(h, 2); !ok {
			t.Fatalf("ping from %s before any decision:\n%s", h, out)
		}
	}
	waitMetric("xdpids_crowdsec_lapi_up", 1, 5*time.Second)

	t.Run("an ip decision bans within two polls", func(t *testing.T) {
		lapi.MustCscli(t, "decisions", "add", "--ip", a, "--duration", "1h")
		took, row := l.waitBlock(t, a+"/32", time.Now(), 2*poll)
		t.Logf("cscli decisions add --ip %s in xdpids blocks after %s", a, took)
		if row.Origin != "crowdsec" || row.ExpiresIn < 3500 || row.ExpiresIn > 3600 {
			t.Errorf("entry %+v, want origin crowdsec expiring in about 1h", row)
		}
		if ok, _ := l.ping("a", 2); ok {
			t.Error("A still reaches S while CrowdSec bans it")
		}
		if got := l.stats(t)[ifA].Verdicts["drop"].Reasons["block_list"].Packets; got < 2 {
			t.Errorf("block_list drops on A = %d, want >= 2", got)
		}
		if ok, out := l.ping("c", 2); !ok {
			t.Errorf("C affected by A's ban:\n%s", out)
		}
	})

	t.Run("a range decision bans the range", func(t *testing.T) {
		lapi.MustCscli(t, "decisions", "add", "--range", "198.18.2.0/24", "--duration", "30m")
		took, row := l.waitBlock(t, "198.18.2.0/24", time.Now(), 2*poll)
		t.Logf("range decision in xdpids blocks after %s", took)
		if row.Origin != "crowdsec" {
			t.Errorf("entry %+v", row)
		}
		if ok, _ := l.ping("b", 2); ok {
			t.Error("B (in 198.18.2.0/24) still reaches S")
		}
	})

	t.Run("a local ban is neither replaced nor lifted", func(t *testing.T) {
		l.mustCLI(t, "block", c, "--ttl", "10m", "--reason", "by-hand")
		before := scrape()["xdpids_crowdsec_decisions_skipped_total{reason=\"local\"}"]
		lapi.MustCscli(t, "decisions", "add", "--ip", c, "--duration", "1h")
		waitMetric("xdpids_crowdsec_decisions_skipped_total{reason=\"local\"}", before+1, 2*poll)
		lapi.MustCscli(t, "decisions", "delete", "--ip", c)
		// Two more polls: the deletion has been read.
		polls := scrape()["xdpids_crowdsec_polls_total{kind=\"delta\"}"]
		waitMetric("xdpids_crowdsec_polls_total{kind=\"delta\"}", polls+2, 4*poll)
		row, ok := l.blockRow(t, c+"/32")
		if !ok || row.Origin != "manual" || row.Reason != "by-hand" {
			t.Errorf("the manual ban on %s became %+v (listed %v)", c, row, ok)
		}
		l.mustCLI(t, "unblock", c)
	})

	t.Run("cscli decisions delete lifts the ban", func(t *testing.T) {
		lapi.MustCscli(t, "decisions", "delete", "--ip", a)
		took := l.waitUnblocked(t, a+"/32", time.Now(), 2*poll)
		t.Logf("deleted decision lifted after %s", took)
		if ok, out := l.ping("a", 2); !ok {
			t.Errorf("A still dropped after the delete:\n%s", out)
		}
	})

	t.Run("killing the LAPI leaves the bans enforced", func(t *testing.T) {
		errs := scrape()["xdpids_crowdsec_errors_total{stage=\"fetch\"}"]
		lapi.Kill()
		waitMetric("xdpids_crowdsec_errors_total{stage=\"fetch\"}", errs+2, 5*poll)
		if m := scrape(); m["xdpids_crowdsec_lapi_up"] != 0 || m["xdpids_crowdsec_decisions_active"] != 1 {
			t.Errorf("metrics with the LAPI down: %v", m)
		}
		if _, ok := l.blockRow(t, "198.18.2.0/24"); !ok {
			t.Error("the range ban went with the LAPI")
		}
		if ok, _ := l.ping("b", 2); ok {
			t.Error("B passes while the LAPI is down")
		}
	})

	t.Run("restarted, the bouncer recovers", func(t *testing.T) {
		startups := scrape()["xdpids_crowdsec_polls_total{kind=\"startup\"}"]
		if err := lapi.Start(); err != nil {
			t.Fatal(err)
		}
		lapi.MustCscli(t, "decisions", "add", "--ip", a, "--duration", "1h")
		// The retry backoff has doubled from 1 s to 4 or 8 s by now: the
		// first retry after the LAPI is up takes that long at most.
		took, _ := l.waitBlock(t, a+"/32", time.Now(), 20*time.Second)
		t.Logf("decision made after the LAPI restart in xdpids blocks after %s", took)
		m := scrape()
		if m["xdpids_crowdsec_lapi_up"] != 1 || m["xdpids_crowdsec_polls_total{kind=\"startup\"}"] < startups+1 {
			t.Errorf("metrics after the restart: %v", m)
		}
		if _, ok := l.blockRow(t, "198.18.2.0/24"); !ok {
			t.Error("the range ban was lost over the restart")
		}
	})

	t.Run("after a reinstall the decisions it lost are lifted", func(t *testing.T) {
		errs := scrape()["xdpids_crowdsec_errors_total{stage=\"fetch\"}"]
		lapi.Kill()
		waitMetric("xdpids_crowdsec_errors_total{stage=\"fetch\"}", errs+1, 5*poll)
		lapi.Reinstall(t)
		lapi.AddBouncer(t, "xdpids-e2e", key) // the same key, so the file stays valid
		lapi.MustCscli(t, "decisions", "add", "--ip", c, "--duration", "1h")
		l.waitBlock(t, c+"/32", time.Now(), 20*time.Second)
		for _, p := range []string{a + "/32", "198.18.2.0/24"} {
			if row, ok := l.blockRow(t, p); ok {
				t.Errorf("%s kept after the LAPI lost its decision: %+v", p, row)
			}
		}
		if ok, out := l.ping("b", 2); !ok {
			t.Errorf("B still dropped:\n%s", out)
		}
	})
	d.stop(t)
	if strings.Contains(d.log.String(), "panic") {
		t.Errorf("daemon log:\n%s", d.log)
	}
}

// blockRow is the `xdpids blocks --json` row for prefix.
func (l *lab) blockRow(t *testing.T, prefix string) (blockJSON, bool) {
	t.Helper()
	var rows []blockJSON
	if err := json.Unmarshal([]byte(l.mustCLI(t, "blocks", "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Prefix == prefix && !r.Expired {
			return r, true
		}
	}
	return blockJSON{}, false
}

// waitBlock polls `xdpids blocks` until prefix is listed, and returns how
// long after start that was.
func (l *lab) waitBlock(t *testing.T, prefix string, start time.Time, within time.Duration) (time.Duration, blockJSON) {
	t.Helper()
	for {
		if r, ok := l.blockRow(t, prefix); ok {
			return time.Since(start), r
		}
		if time.Since(start) > within {
			t.Fatalf("%s not in xdpids blocks within %s:\n%s", prefix, within, l.mustCLI(t, "blocks"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitUnblocked polls until prefix is no longer listed.
func (l *lab) waitUnblocked(t *testing.T, prefix string, start time.Time, within time.Duration) time.Duration {
	t.Helper()
	for {
		if _, ok := l.blockRow(t, prefix); !ok {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s still in xdpids blocks after %s:\n%s", prefix, within, l.mustCLI(t, "blocks"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scrapeMetrics reads the daemon's metrics (it listens in S) and returns
// the samples whose name starts with prefix, keyed by name and labels.
func (l *lab) scrapeMetrics(t *testing.T, addr, prefix string) map[string]float64 {
	t.Helper()
	var body []byte
	err := l.s.Do(func() error {
		conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			return err
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(conn, "GET /metrics HTTP/1.0\r\n\r\n"); err != nil {
			return err
		}
		body, err = io.ReadAll(conn)
		return err
	})
	if err != nil {
		t.Fatalf("scrape metrics: %v", err)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// TestCrowdSecConfigErrors: a crowdsec section that cannot work is one
// error line, before anything is pinned or attached.
func TestCrowdSecConfigErrors(t *testing.T) {
	testenv.RequireRoot(t)
	bin := xdpidsBinary(t)
	dir := t.TempDir()
	missing := "/sys/fs/bpf/xdpids-missing-" + testenv.UniqueID()
	empty := filepath.Join(dir, "empty.key")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ yaml, want string }{
		{"crowdsec:\n  lapi_url: http://127.0.0.1:8080\n  api_key_file: " + dir + "/none.key\n", "crowdsec.api_key_file: open " + dir + "/none.key: no such file or directory"},
		{"crowdsec:\n  lapi_url: http://127.0.0.1:8080\n  api_key_file: " + empty + "\n", "want the key alone"},
		{"crowdsec:\n  lapi_url: ftp://127.0.0.1\n  api_key_file: " + empty + "\n", "crowdsec.lapi_url: \"ftp://127.0.0.1\" is not a LAPI address"},
		{"crowdsec:\n  lapi_url: http://127.0.0.1:8080\n  poll_interval: 1ms\n  api_key_file: " + empty + "\n", "crowdsec.poll_interval: 1ms is too short"},
	} {
		cfg := filepath.Join(dir, "xdpids.yaml")
		if err := os.WriteFile(cfg, []byte(c.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "run", "--config", cfg, "--pin-path", missing, "-i", "lo").CombinedOutput()
		s := strings.TrimRight(string(out), "\n")
		if err == nil || strings.Count(s, "\n") != 0 || !strings.HasPrefix(s, "xdpids: ") || !strings.Contains(s, c.want) {
			t.Errorf("%q: %v, output %q; want one line containing %q", c.yaml, err, s, c.want)
		}
	}
	if _, err := os.Stat(missing); err == nil {
		os.RemoveAll(missing)
		t.Errorf("a failed run created %s", missing)
	}
}
