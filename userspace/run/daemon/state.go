package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/xdpids/xdpids/userspace/run/pipeline"
)

// ErrStale says a ready or status file was left by a daemon that is gone
// (killed with -9, or crashed): its pid is not alive.
var ErrStale = errors.New("left by a daemon that is no longer running")

// Alive reports whether a process with this pid exists.
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// ReadReady reads a ready file; one whose daemon is gone is ErrStale.
func ReadReady(path string) (Ready, error) {
	var r Ready
	data, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("ready file %s: %w", path, err)
	}
	if !Alive(r.PID) {
		return r, fmt.Errorf("ready file %s (pid %d): %w", path, r.PID, ErrStale)
	}
	return r, nil
}

// removeStaleReady removes a ready file a dead daemon left behind, so a
// waiter never takes it for this daemon's.
func removeStaleReady(path string) error {
	_, err := ReadReady(path)
	switch {
	case err == nil, errors.Is(err, os.ErrNotExist):
		return nil
	}
	if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		return fmt.Errorf("remove stale ready file: %w", rerr)
	}
	return nil
}

// Status is the daemon's userspace state the CLI cannot read from the
// pinned maps: written every second to StatusPath(pin path).
type Status struct {
	PID       int             `json:"pid"`
	PinPath   string          `json:"pin_path"`
	Updated   time.Time       `json:"updated"`
	Userspace UserspaceStatus `json:"userspace"`
	Fleet     *FleetStatus    `json:"fleet,omitempty"` // fleet ban sharing, when configured
}

// UserspaceStatus counts what the pipeline did with the samples it read,
// and every sample it lost on the way.
type UserspaceStatus struct {
	Samples    uint64 `json:"samples"`
	Overflow   uint64 `json:"overflow"`    // dropped: a worker's queue was full
	Malformed  uint64 `json:"malformed"`   // records that did not decode
	GapPackets uint64 `json:"gap_packets"` // packets of inspected flows inspection never got
	GapFlows   uint64 `json:"gap_flows"`
	Alerts     uint64 `json:"alerts"`
}

// RunDir holds the status files, one directory per pin path (bpffs holds
// no regular files). XDPIDS_RUN_DIR overrides /run/xdpids.
func RunDir() string {
	if d := os.Getenv("XDPIDS_RUN_DIR"); d != "" {
		return d
	}
	return "/run/xdpids"
}

// StatusPath is where the daemon on pinPath writes its status.
func StatusPath(pinPath string) string {
	name := strings.ReplaceAll(strings.Trim(filepath.Clean(pinPath), "/"), "/", "_")
	return filepath.Join(RunDir(), name, "status.json")
}

// ReadStatus reads the status of the daemon on pinPath; one whose daemon
// is gone is ErrStale.
func ReadStatus(pinPath string) (Status, error) {
	var s Status
	path := StatusPath(pinPath)
	data, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("status file %s: %w", path, err)
	}
	if !Alive(s.PID) {
		return s, fmt.Errorf("status file %s (pid %d): %w", path, s.PID, ErrStale)
	}
	return s, nil
}

// writeJSON writes v to path atomically (temporary file, then rename).
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(path, append(data, '\n'))
}

// writeAtomic writes data to path by a rename: a reader never sees half
// a file.
func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// statusWriter publishes the pipeline's loss counters for the CLI.
type statusWriter struct {
	path, pin string
	pipe      *pipeline.Pipeline
	fleet     func() *FleetStatus
	failed    bool
}

func newStatusWriter(pin string, pipe *pipeline.Pipeline) *statusWriter {
	w := &statusWriter{pin: pin, pipe: pipe}
	if pin == "" {
		return w
	}
	w.path = StatusPath(pin)
	if err := os.MkdirAll(filepath.Dir(w.path), 0o755); err != nil {
		slog.Warn("status file: stats will not show userspace losses", "err", err)
		w.path = ""
		return w
	}
	w.write()
	return w
}

func (w *statusWriter) write() {
	if w.path == "" {
		return
	}
	st := w.pipe.Stats()
	s := Status{PID: os.Getpid(), PinPath: w.pin, Updated: time.Now().UTC()}
	u := &s.Userspace
	u.Samples, u.Overflow, u.Malformed = st.Samples, st.Overflow, st.Malformed
	u.GapPackets, u.GapFlows, u.Alerts = st.GapPackets, st.GapFlows, st.Alerts
	if w.fleet != nil {
		s.Fleet = w.fleet()
	}
	if err := writeJSON(w.path, s); err != nil && !w.failed {
		w.failed = true // once: the next success logs nothing either
		slog.Warn("write status file", "path", w.path, "err", err)
	}
}

func (w *statusWriter) remove() {
	if w.path != "" {
		_ = os.Remove(w.path)
		_ = os.Remove(filepath.Dir(w.path))
	}
}
