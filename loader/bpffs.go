package loader

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultPinPath is where maps are pinned unless configured otherwise.
const DefaultPinPath = "/sys/fs/bpf/xdpids"

const bpffsRoot = "/sys/fs/bpf"

// isBPFFS reports whether path is on a bpffs mount.
func isBPFFS(path string) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false, err
	}
	return uint32(st.Type) == unix.BPF_FS_MAGIC, nil
}

// ensurePinDir makes dir exist on a bpffs, mounting one if none is there:
// at /sys/fs/bpf for paths below it, else at dir itself.
func ensurePinDir(dir string) error {
	dir = filepath.Clean(dir)
	mountAt := dir
	if dir == bpffsRoot || strings.HasPrefix(dir, bpffsRoot+"/") {
		mountAt = bpffsRoot
	}
	ok, err := isBPFFS(mountAt)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(mountAt, 0o755); err != nil {
			return fmt.Errorf("create bpffs mount point %s: %w", mountAt, err)
		}
		ok, err = isBPFFS(mountAt)
	}
	if err != nil {
		return fmt.Errorf("check bpffs at %s: %w", mountAt, err)
	}
	if !ok {
		if err := unix.Mount("bpf", mountAt, "bpf", 0, "mode=0700"); err != nil {
			return fmt.Errorf("mount bpffs at %s: %w", mountAt, err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create pin directory %s: %w", dir, err)
	}
	return nil
}

// checkPinDir reports a clear error when dir holds no xdpids maps, for
// commands that read what a running (or earlier) daemon pinned.
func checkPinDir(dir string) error {
	ok, err := isBPFFS(dir)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no xdpids maps at %s: is the daemon running (xdpids run), or is --pin-path different?", dir)
	}
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("read %s: permission denied: run as root, or as a member of the daemon's pin_group", dir)
	}
	if err != nil {
		return fmt.Errorf("check %s: %w", dir, err)
	}
	if !ok {
		return fmt.Errorf("%s is not on a bpffs: no xdpids maps pinned there (is the daemon running?)", dir)
	}
	return nil
}
