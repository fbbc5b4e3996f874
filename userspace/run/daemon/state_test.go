package daemon

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/run/pipeline"
)

// deadPID is the pid of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("run true: %v", err)
	}
	return cmd.Process.Pid
}

// TestStaleReadyFile: a ready file left by kill -9 (its pid is gone) reads
// as stale and is removed at start; a live one is kept.
func TestStaleReadyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ready.json")
	if err := writeReady(path, Ready{PID: deadPID(t), PinPath: "/sys/fs/bpf/x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadReady(path); !errors.Is(err, ErrStale) {
		t.Fatalf("dead daemon's ready file: err %v, want ErrStale", err)
	}
	if err := removeStaleReady(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale ready file not removed: %v", err)
	}
	if err := writeReady(path, Ready{PID: os.Getpid()}); err != nil {
		t.Fatal(err)
	}
	if err := removeStaleReady(path); err != nil {
		t.Fatal(err)
	}
	if r, err := ReadReady(path); err != nil || r.PID != os.Getpid() {
		t.Fatalf("live ready file: %+v %v", r, err)
	}
}

// TestStatusFile: the status file carries the pipeline's losses, is
// found from the pin path, and reads as stale once its daemon is gone.
func TestStatusFile(t *testing.T) {
	t.Setenv("XDPIDS_RUN_DIR", t.TempDir())
	pin := "/sys/fs/bpf/xdpids-status-test"
	pipe := pipeline.New(pipeline.DefaultConfig(), func(*alert.Alert) {})
	pipe.Worker(0).Process(make([]byte, 10)) // malformed
	w := newStatusWriter(pin, pipe)
	w.write()
	s, err := ReadStatus(pin)
	if err != nil {
		t.Fatal(err)
	}
	if s.PID != os.Getpid() || s.PinPath != pin || s.Userspace.Malformed != 1 {
		t.Fatalf("status %+v", s)
	}
	s.PID = deadPID(t)
	if err := writeJSON(StatusPath(pin), s); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadStatus(pin); !errors.Is(err, ErrStale) {
		t.Fatalf("dead daemon's status: %v, want ErrStale", err)
	}
	w.remove()
	if _, err := ReadStatus(pin); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("status after remove: %v", err)
	}
}
