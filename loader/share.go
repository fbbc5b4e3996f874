package loader

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ShareWithGroup gives group gid what the CLI needs under a daemon's pin
// directory: the directory readable and searchable (0750) and the pinned
// maps readable and writable (0660), so an operator in that group runs
// stats, top, blocks, block and allow without root. Program and link pins
// stay root's. The kernel checks these modes on BPF_OBJ_GET; an
// unprivileged process may then look up and update the maps it opened.
//
// It returns a warning, not an error, when a parent directory keeps the
// group out (systemd mounts /sys/fs/bpf with mode 0700).
func ShareWithGroup(dir string, gid int) (warning string, err error) {
	dir = filepath.Clean(dir)
	if err := os.Lchown(dir, -1, gid); err != nil {
		return "", fmt.Errorf("share %s with gid %d: %w", dir, gid, err)
	}
	if err := os.Chmod(dir, 0o750); err != nil {
		return "", fmt.Errorf("share %s: %w", dir, err)
	}
	for _, name := range pinnedMapNames() {
		path := filepath.Join(dir, name)
		if err := os.Lchown(path, -1, gid); err != nil {
			return "", fmt.Errorf("share %s with gid %d: %w", path, gid, err)
		}
		if err := os.Chmod(path, 0o660); err != nil {
			return "", fmt.Errorf("share %s: %w", path, err)
		}
	}
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err == nil && !searchable(st, gid) {
			return fmt.Sprintf("%s (mode %04o) keeps group %d from reaching %s: chmod o+x %s, or use a pin_path on its own bpffs (e.g. /run/xdpids/bpf)", p, st.Mode&0o7777, gid, dir, p), nil
		}
		if p == "/" {
			return "", nil
		}
	}
}

// searchable reports whether a member of gid (not the owner) can pass
// through the directory st describes.
func searchable(st unix.Stat_t, gid int) bool {
	if int(st.Gid) == gid {
		return st.Mode&0o010 != 0
	}
	return st.Mode&0o001 != 0
}
