package detect

// Reconfigure applies new thresholds, windows and ban TTLs to a running
// engine: the next packet is judged by them, and the state gathered so
// far (ports a scanner touched, flood windows, suppression) is kept. The
// sizes that preallocate state (MaxKeys, MaxProbeKeys) keep their values
// until a restart.
func (e *Engine) Reconfigure(cfg Config) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	cfg.MaxKeys, cfg.MaxProbeKeys = e.cfg.MaxKeys, e.cfg.MaxProbeKeys
	e.cfg = cfg
	return nil
}
