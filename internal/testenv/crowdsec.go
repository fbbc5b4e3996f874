package testenv

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// CrowdSecRoot is where .ci/run unpacks the Debian crowdsec package
// (dpkg-deb -x, without its postinst, which registers with the Central
// API and fails offline). XDPIDS_CROWDSEC_ROOT overrides it; crowdsec
// and cscli on PATH are used when neither holds them.
const CrowdSecRoot = "/opt/crowdsec-deb"

// CrowdSecBinaries finds crowdsec and cscli; "" when absent.
func CrowdSecBinaries() (crowdsec, cscli string) {
	root := os.Getenv("XDPIDS_CROWDSEC_ROOT")
	if root == "" {
		root = CrowdSecRoot
	}
	a, b := filepath.Join(root, "usr/bin/crowdsec"), filepath.Join(root, "usr/bin/cscli")
	if isExec(a) && isExec(b) {
		return a, b
	}
	a, errA := exec.LookPath("crowdsec")
	b, errB := exec.LookPath("cscli")
	if errA != nil || errB != nil {
		return "", ""
	}
	return a, b
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// CrowdSec is a real CrowdSec Local API the test started: LAPI only
// (-no-cs: no acquisition, no hub), the Central API off (no
// online_client in its config), SQLite in a temporary directory. It is
// killed when the test ends.
type CrowdSec struct {
	bin, cli string
	NS       *Netns // where it listens (nil: this namespace)
	Dir      string
	Config   string // its config.yaml
	URL      string // http://127.0.0.1:port
	port     int
	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	log      *os.File
	agent    *CrowdSecAgent
}

// pkgRoot is the root the binaries were unpacked under: /opt/crowdsec-deb
// for .../usr/bin/crowdsec, / for an installed package.
func (c *CrowdSec) pkgRoot() string { return filepath.Dir(filepath.Dir(filepath.Dir(c.bin))) }

// HubDir is the package's offline hub.
func (c *CrowdSec) HubDir() string { return filepath.Join(c.pkgRoot(), "usr/share/crowdsec/hub") }

// CrowdSecAgent makes StartCrowdSecAgent run the agent beside the LAPI.
type CrowdSecAgent struct {
	Acquis string // acquis.yaml text
	// Items are hub files to enable, relative to the package's offline
	// hub (Debian ships one in /usr/share/crowdsec/hub), e.g.
	// parsers/s01-parse/crowdsecurity/suricata-logs.yaml.
	Items []string
	// Local are files of our own to install: path under the config
	// directory (parsers/s02-enrich/x.yaml) -> source file.
	Local map[string]string
}

// StartCrowdSec starts a LAPI in ns (nil: this namespace) listening on
// 127.0.0.1 and registers a machine for cscli. It skips (fails under
// CI=true) without the crowdsec binaries.
func StartCrowdSec(t testing.TB, ns *Netns) *CrowdSec {
	t.Helper()
	return StartCrowdSecAgent(t, ns, nil)
}

// StartCrowdSecAgent starts the LAPI and, with agent set, the agent too
// (acquisition, parsers, scenarios) in the same process, as the Debian
// service runs it, still with the Central API off.
func StartCrowdSecAgent(t testing.TB, ns *Netns, agent *CrowdSecAgent) *CrowdSec {
	t.Helper()
	bin, cli := CrowdSecBinaries()
	if bin == "" {
		skipOrFail(t, "needs crowdsec and cscli (.ci/run unpacks the Debian crowdsec package into %s)", CrowdSecRoot)
	}
	c := &CrowdSec{bin: bin, cli: cli, NS: ns, Dir: t.TempDir(), agent: agent}
	port, err := c.freePort()
	if err != nil {
		t.Fatal(err)
	}
	c.port = port
	c.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := c.writeConfig(); err != nil {
		t.Fatal(err)
	}
	// cscli writes machines to the database directly: the agent finds its
	// credentials when it starts.
	if out, err := c.Cscli("machines", "add", "xdpids-test", "--auto", "--force"); err != nil {
		t.Fatalf("cscli machines add: %v\n%s", err, out)
	}
	t.Cleanup(c.Kill)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	return c
}

// freePort asks the kernel for a free port on 127.0.0.1 in the LAPI's
// namespace.
func (c *CrowdSec) freePort() (int, error) {
	var port int
	pick := func() error {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		port = ln.Addr().(*net.TCPAddr).Port
		return ln.Close()
	}
	if c.NS != nil {
		return port, c.NS.Do(pick)
	}
	return port, pick()
}

// writeConfig writes the smallest config the 1.4 LAPI runs with.
func (c *CrowdSec) writeConfig() error {
	d := c.Dir
	for _, sub := range []string{"cfg", "data", "hub"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			return err
		}
	}
	// The Debian package's default profile: alerts with remediation get a
	// 4h ban. cscli decisions add writes decisions directly.
	profiles := `name: default_ip_remediation
filters:
 - Alert.Remediation == true && Alert.GetScope() == "Ip"
decisions:
 - type: ban
   duration: 4h
on_success: break
`
	cfg := fmt.Sprintf(`common:
  daemonize: false
  log_media: stdout
  log_level: info
  working_dir: %[1]s
config_paths:
  config_dir: %[1]s/cfg/
  data_dir: %[1]s/data/
  hub_dir: %[1]s/hub/
  index_path: %[1]s/hub/.index.json
db_config:
  type: sqlite
  db_path: %[1]s/data/crowdsec.db
  use_wal: true
api:
  client:
    credentials_path: %[1]s/cfg/local_api_credentials.yaml
  server:
    listen_uri: 127.0.0.1:%[2]d
    profiles_path: %[1]s/cfg/profiles.yaml
prometheus:
  enabled: false
`, d, c.port)
	if a := c.agent; a != nil {
		hub := c.HubDir()
		cfg = strings.Replace(cfg, "  hub_dir: "+d+"/hub/\n  index_path: "+d+"/hub/.index.json\n",
			"  hub_dir: "+hub+"/\n  index_path: "+hub+"/.index.json\n  simulation_path: "+d+"/cfg/simulation.yaml\n", 1)
		cfg += "crowdsec_service:\n  acquisition_path: " + d + "/cfg/acquis.yaml\n  parser_routines: 1\n"
		if err := c.enable(a); err != nil {
			return err
		}
	}
	c.Config = filepath.Join(d, "cfg", "config.yaml")
	if err := os.WriteFile(filepath.Join(d, "cfg", "profiles.yaml"), []byte(profiles), 0o644); err != nil {
		return err
	}
	return os.WriteFile(c.Config, []byte(cfg), 0o644)
}

// enable writes the agent's acquisition and links the hub items and our
// own files into the config directory, as cscli install would (without
// the hub download).
func (c *CrowdSec) enable(a *CrowdSecAgent) error {
	cfg := filepath.Join(c.Dir, "cfg")
	if err := os.WriteFile(filepath.Join(cfg, "acquis.yaml"), []byte(a.Acquis), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cfg, "simulation.yaml"), []byte("simulation: false\n"), 0o644); err != nil {
		return err
	}
	links := map[string]string{"patterns": filepath.Join(c.pkgRoot(), "etc/crowdsec/patterns")}
	for _, it := range a.Items {
		// parsers/s01-parse/crowdsecurity/x.yaml -> parsers/s01-parse/x.yaml:
		// the config directory has no author level.
		dir, file := filepath.Split(it)
		links[filepath.Join(filepath.Dir(filepath.Clean(dir)), file)] = filepath.Join(c.HubDir(), it)
	}
	// Our own files are copied: the 1.4 agent ignores a symlink that
	// leads out of its hub.
	for dst, src := range a.Local {
		b, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("crowdsec agent: %w", err)
		}
		p := filepath.Join(cfg, dst)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	for dst, src := range links {
		if _, err := os.Stat(src); err != nil {
			return fmt.Errorf("crowdsec agent: %w", err)
		}
		p := filepath.Join(cfg, dst)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(src, p); err != nil {
			return err
		}
	}
	return nil
}

func (c *CrowdSec) command(name string, args ...string) *exec.Cmd {
	if c.NS != nil {
		return c.NS.Cmd(name, args...)
	}
	return exec.Command(name, args...)
}

// Start runs the LAPI (again, after Kill: same database) and waits until
// it answers.
func (c *CrowdSec) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd != nil {
		return errors.New("crowdsec already running")
	}
	log, err := os.OpenFile(filepath.Join(c.Dir, "lapi.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	args := []string{"-c", c.Config}
	if c.agent == nil {
		args = append(args, "-no-cs")
	}
	cmd := c.command(c.bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start crowdsec: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	c.cmd, c.done, c.log = cmd, done, log
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			c.cmd = nil
			log.Close()
			return fmt.Errorf("crowdsec exited at start:\n%s", c.Log())
		case <-time.After(50 * time.Millisecond):
		}
		if c.healthy() {
			return nil
		}
	}
	return fmt.Errorf("crowdsec LAPI not up on %s after 20s:\n%s", c.URL, c.Log())
}

// healthy reports whether the LAPI answers on its port (any HTTP reply).
func (c *CrowdSec) healthy() bool {
	ok := false
	probe := func() error {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", c.port), time.Second)
		if err != nil {
			return err
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := fmt.Fprintf(conn, "GET /health HTTP/1.0\r\n\r\n"); err != nil {
			return err
		}
		buf := make([]byte, 64)
		n, _ := conn.Read(buf)
		ok = strings.HasPrefix(string(buf[:n]), "HTTP/1.") && strings.Contains(string(buf[:n]), " "+fmt.Sprint(http.StatusOK))
		return nil
	}
	if c.NS != nil {
		_ = c.NS.Do(probe)
	} else {
		_ = probe()
	}
	return ok
}

// Kill stops the LAPI at once (SIGKILL), as a crash would.
func (c *CrowdSec) Kill() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
	c.log.Close()
	c.cmd = nil
}

// Cscli runs cscli against this LAPI's config.
func (c *CrowdSec) Cscli(args ...string) (string, error) {
	out, err := c.command(c.cli, append([]string{"-c", c.Config}, args...)...).CombinedOutput()
	return string(out), err
}

// MustCscli runs cscli and fails the test on error.
func (c *CrowdSec) MustCscli(t testing.TB, args ...string) string {
	t.Helper()
	out, err := c.Cscli(args...)
	if err != nil {
		t.Fatalf("cscli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// AddBouncer registers a bouncer and returns its API key; key "" lets
// cscli make one.
func (c *CrowdSec) AddBouncer(t testing.TB, name, key string) string {
	t.Helper()
	args := []string{"bouncers", "add", name, "-o", "raw"}
	if key != "" {
		args = append(args, "-k", key)
	}
	out := strings.TrimSpace(c.MustCscli(t, args...))
	if key != "" {
		return key
	}
	// The raw output is the key alone on the last line.
	lines := strings.Split(out, "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// Log is what the LAPI printed so far.
func (c *CrowdSec) Log() string {
	b, _ := os.ReadFile(filepath.Join(c.Dir, "lapi.log"))
	return string(b)
}

// Reinstall kills the LAPI, deletes its database (decisions, machines,
// bouncers) and starts it again empty, with the machine cscli uses
// registered anew: an operator's reinstall.
func (c *CrowdSec) Reinstall(t testing.TB) {
	t.Helper()
	c.Kill()
	matches, _ := filepath.Glob(filepath.Join(c.Dir, "data", "crowdsec.db*"))
	for _, m := range matches {
		if err := os.Remove(m); err != nil {
			t.Fatal(err)
		}
	}
	c.MustCscli(t, "machines", "add", "xdpids-test", "--auto", "--force")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
}
