package loader

import (
	"time"

	"golang.org/x/sys/unix"
)

// KernelNow returns CLOCK_MONOTONIC in nanoseconds: the clock of the XDP
// program (bpf_ktime_get_coarse_ns for bans, buckets and flows, a tick
// behind at most; bpf_ktime_get_ns for sample stamps).
func KernelNow() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return uint64(ts.Nano())
}

// KernelToWall converts a program clock stamp to wall-clock time.
func KernelToWall(ns uint64) time.Time {
	now := time.Now()
	k := KernelNow()
	return now.Add(-time.Duration(int64(k) - int64(ns)))
}
