package detect

import (
	"fmt"
	"time"
)

// Reconfigure applies new thresholds, windows and bounds to a running
// engine without losing its state: windows, sets and suppression entries
// carry on under the new values (a threshold lowered below a count already
// reached alerts on the next packet; a window shortened ends a window that
// is now past it). A smaller probe partition evicts its oldest entries
// (counted in Stats.StateEvictedProbe); smaller MaxKeys only stop new
// state until eviction and expiry bring the partitions under it.
func (e *Engine) Reconfigure(cfg Config) error {
	if err := cfg.check(); err != nil {
		return fmt.Errorf("reconfigure detectors: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	// The detectors and the state read e.cfg through pointers.
	e.cfg = cfg
	if n := probeCap(cfg); n != e.st.probeCap {
		e.st.resizeProbes(n)
	}
	return nil
}

// check rejects the values the engine cannot run with (a zero window
// divides by zero, the reflector count sizes per-target memory). The
// config loader's validation is stricter and names the YAML line; this
// guards callers that build a Config themselves.
func (c *Config) check() error {
	for _, w := range []struct {
		key string
		d   time.Duration
	}{
		{"suppress", c.Suppress}, {"scan_window", c.ScanWindow}, {"flood_window", c.FloodWindow},
		{"syn_flood_destination_window", c.SynFloodDstWindow}, {"dhcp_window", c.DHCPWindow},
		{"amplification_window", c.AmpWindow}, {"brute_force_window", c.BruteWindow},
	} {
		if w.d <= 0 {
			return fmt.Errorf("%s %v: must be positive", w.key, w.d)
		}
	}
	if c.MaxKeys < 1 {
		return fmt.Errorf("max_keys %d: at least 1", c.MaxKeys)
	}
	if c.AmpReflectors < 1 || c.AmpReflectors > 256 {
		return fmt.Errorf("amplification_reflectors %d: 1 to 256", c.AmpReflectors)
	}
	return nil
}
