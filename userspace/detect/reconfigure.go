package detect

import "fmt"

// Reconfigure applies new thresholds, windows and bounds to a running
// engine without losing its state: windows, sets and suppression entries
// carry on under the new values (a threshold lowered below a count already
// reached alerts on the next packet; a window shortened ends a window that
// is now past it). A smaller probe partition evicts its oldest entries
// (counted in Stats.StateEvictedProbe); smaller MaxKeys only stop new
// state until eviction and expiry bring the partitions under it.
func (e *Engine) Reconfigure(cfg Config) error {
	if cfg.MaxKeys < 1 {
		return fmt.Errorf("reconfigure detectors: max_keys %d: at least 1", cfg.MaxKeys)
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
