package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPinGroupCLIWithoutRoot: with pin_group set, an operator who is not
// root but is in that group runs stats, block, blocks and unblock against
// the daemon's pinned maps; one outside the group gets one line saying
// why. The pin path is on its own bpffs (the daemon mounts it), which the
// group can reach, unlike /sys/fs/bpf (mode 0700).
func TestPinGroupCLIWithoutRoot(t *testing.T) {
	l := newLab(t)
	const nobody, nogroup = 65534, 65534
	base := filepath.Join("/run", "xdpids-test-"+l.id)
	l.pin = filepath.Join(base, "bpf")
	t.Cleanup(func() {
		_ = unix.Unmount(l.pin, unix.MNT_DETACH)
		os.RemoveAll(base)
	})
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	d := l.start(t, labConfig+"pin_group: \"65534\"\n")
	if strings.Contains(d.log.String(), "keeps group") {
		t.Fatalf("daemon warned the group cannot reach the pin path:\n%s", d.log.String())
	}
	as := func(gid uint32, args ...string) (string, error) {
		cmd := exec.Command(l.bin, append([]string{"--pin-path", l.pin}, args...)...)
		cmd.Env = append(os.Environ(), "HOME=/")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: gid, Groups: []uint32{gid}}}
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	const member = nogroup
	if out, err := as(member, "stats"); err != nil || !strings.Contains(out, l.serverEnds["a"].Name) || strings.Contains(out, "warning") {
		t.Fatalf("stats as a pin_group member: %v\n%s", err, out)
	}
	if out, err := as(member, "block", "--ttl", "1m", "203.0.113.77"); err != nil {
		t.Fatalf("block as a pin_group member: %v\n%s", err, out)
	}
	if out, err := as(member, "blocks"); err != nil || !strings.Contains(out, "203.0.113.77/32") {
		t.Fatalf("blocks as a pin_group member: %v\n%s", err, out)
	}
	if out, err := as(member, "unblock", "203.0.113.77"); err != nil {
		t.Fatalf("unblock as a pin_group member: %v\n%s", err, out)
	}
	// Outside the group: gid 65533 owns nothing here.
	out, err := as(65533, "stats")
	if err == nil || strings.Count(out, "\n") != 0 || !strings.Contains(out, "permission denied") || !strings.Contains(out, "pin_group") {
		t.Fatalf("stats outside pin_group: %v\n%q, want one line saying permission denied and naming pin_group", err, out)
	}
}
