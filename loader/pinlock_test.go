package loader

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/xdpids/xdpids/internal/testenv"
)

// TestPinLockOneHolder: a second lock on a pin path fails, naming the pin
// path and the holder's pid; after Close it is free again.
func TestPinLockOneHolder(t *testing.T) {
	testenv.RequireRoot(t)
	dir := "/sys/fs/bpf/xdpids-lock-" + testenv.UniqueID()
	t.Cleanup(func() { os.RemoveAll(dir) })
	l, err := LockPinPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = LockPinPath(dir)
	if err == nil {
		t.Fatal("second lock on the same pin path succeeded")
	}
	if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("error %q does not name the pin path and holder pid %d", err, os.Getpid())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, err := LockPinPath(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	l2.Close()
}
