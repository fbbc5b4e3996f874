package loader

import (
	"time"

	"golang.org/x/sys/unix"
)

// BootNow returns CLOCK_BOOTTIME in nanoseconds, the clock the XDP program
// stamps packets, flows and ban expiries with (bpf_ktime_get_boot_ns).
func BootNow() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return uint64(ts.Nano())
}

// BootToWall converts a CLOCK_BOOTTIME stamp to wall-clock time.
func BootToWall(bootNs uint64) time.Time {
	now := time.Now()
	boot := BootNow()
	return now.Add(-time.Duration(int64(boot) - int64(bootNs)))
}
