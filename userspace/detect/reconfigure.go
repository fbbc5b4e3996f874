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
	e.cfg = cfg
	if n := probeCap(cfg); n != e.probeCap {
		e.resizeProbes(n)
	}
	return nil
}

// resizeProbes gives the probe ring n slots, keeping its newest records;
// the older ones' entries, if still probe entries, are evicted.
func (e *Engine) resizeProbes(n int) {
	ring := make([]probeRec, n)
	drop := max(e.probeLen-n, 0)
	for i := range drop {
		if e.dropProbe(&e.probes[(e.probeHead+i)%e.probeCap]) {
			e.stats.StateEvictedProbe++
		}
	}
	kept := e.probeLen - drop
	for i := range kept {
		ring[i] = e.probes[(e.probeHead+drop+i)%e.probeCap]
	}
	e.probes, e.probeHead, e.probeLen, e.probeCap = ring, 0, kept, n
}
