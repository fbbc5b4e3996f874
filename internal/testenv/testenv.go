// Package testenv holds the skip helpers for tests that need the kernel:
// root, BPF, network namespaces and real traffic tools. On a user's laptop
// they skip and say why; under CI=true (or XDPIDS_REQUIRE_KERNEL=1) a missing
// prerequisite fails the test instead, so CI cannot pass by skipping.
package testenv

import (
	"os"
	"os/exec"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/rlimit"
)

// Required reports whether kernel features must be present (CI).
func Required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("XDPIDS_REQUIRE_KERNEL") == "1"
}

func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if Required() {
		t.Fatalf("required under CI=true / XDPIDS_REQUIRE_KERNEL=1: "+format, args...)
	}
	t.Skipf(format, args...)
}

// RequireRoot skips (fails under CI) unless running as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root: BPF maps, XDP and network namespaces (kernel.unprivileged_bpf_disabled)")
	}
}

// RequireBPF skips (fails under CI) unless BPF maps can be created.
func RequireBPF(t testing.TB) {
	t.Helper()
	RequireRoot(t)
	if err := rlimit.RemoveMemlock(); err != nil {
		skipOrFail(t, "cannot lift memlock limit: %v", err)
	}
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		skipOrFail(t, "cannot create a BPF map: %v", err)
		return
	}
	m.Close()
}

// RequireTool skips (fails under CI) unless name is on PATH.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		skipOrFail(t, "needs %s on PATH (.ci/run installs it)", name)
	}
	return p
}

// Short skips long kernel tests under -short.
func Short(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("long kernel test skipped in -short mode")
	}
}

// HaveBPF reports whether this process can create BPF maps (benchmarks
// measure what they can instead of skipping whole).
func HaveBPF() bool {
	if os.Geteuid() != 0 || rlimit.RemoveMemlock() != nil {
		return false
	}
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		return false
	}
	m.Close()
	return true
}
