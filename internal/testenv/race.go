//go:build race

package testenv

// Race is true when the race detector is on: its instrumentation makes
// values escape, so allocation counts are not those of a normal build.
const Race = true
