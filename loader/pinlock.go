package loader

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// PinLock is the one-daemon-per-pin-path lock: an exclusive flock on the
// pin directory itself. bpffs holds no regular files, so the directory
// is what is locked; the kernel drops the lock when the holder dies,
// even by kill -9.
type PinLock struct {
	f   *os.File
	dir string
}

// LockPinPath creates dir on a bpffs if needed and locks it. A second
// locker gets an error naming the pin path and the holder's pid.
func LockPinPath(dir string) (*PinLock, error) {
	if err := ensurePinDir(dir); err != nil {
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("lock pin path %s: permission denied (xdpids needs root, or CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON, and write access to the pin directory)", dir)
		}
		return nil, err
	}
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("lock pin path %s: %w", dir, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			holder := "another process"
			if pid := lockHolder(f); pid > 0 {
				holder = "pid " + strconv.Itoa(pid)
			}
			return nil, fmt.Errorf("pin path %s is in use by another xdpids daemon (%s): one daemon per pin path; stop it, or give this one its own --pin-path", dir, holder)
		}
		return nil, fmt.Errorf("lock pin path %s: %w", dir, err)
	}
	return &PinLock{f: f, dir: dir}, nil
}

// Close releases the lock.
func (l *PinLock) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// lockHolder finds the pid holding an flock on f's inode in /proc/locks
// (0 when unknown). The format is the kernel's lock_get_status(): "1:
// FLOCK  ADVISORY  WRITE 1234 00:1f:5678 0 EOF", the device as hex
// major:minor; nothing in x/sys parses it.
func lockHolder(f *os.File) int {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0
	}
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	locks, err := os.Open("/proc/locks")
	if err != nil {
		return 0
	}
	defer locks.Close()
	sc := bufio.NewScanner(locks)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) < 6 || fl[1] != "FLOCK" || fl[5] != want {
			continue
		}
		if pid, err := strconv.Atoi(fl[4]); err == nil {
			return pid
		}
	}
	return 0
}
