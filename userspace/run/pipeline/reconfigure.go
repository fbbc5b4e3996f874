package pipeline

import "fmt"

// Reconfigure applies the settings of cfg a running pipeline can change
// (detector thresholds, mode, drop_ban_ttl, stream depth, payload,
// anomaly rate, detect depth): workers take them at their next sample,
// without losing one. The sizes (Workers, QueueLen, FlowsPerWorker,
// Timeouts, OutboxLen) keep their values; RestartNeeded names those
// that differ.
func (p *Pipeline) Reconfigure(cfg Config) error {
	old := p.live.Load()
	cfg.Workers, cfg.QueueLen, cfg.FlowsPerWorker, cfg.Timeouts, cfg.OutboxLen = old.Workers, old.QueueLen, old.FlowsPerWorker, old.Timeouts, old.OutboxLen
	if err := p.engine.Reconfigure(cfg.Detect); err != nil {
		return fmt.Errorf("reconfigure detectors: %w", err)
	}
	p.live.Store(&cfg)
	p.reconfs.Add(1)
	return nil
}

// Settings are the settings in force (a snapshot: do not modify it).
func (p *Pipeline) Settings() *Config { return p.live.Load() }

// RestartNeeded names the sizes in cfg that differ from the running
// pipeline's: Reconfigure cannot change them.
func (p *Pipeline) RestartNeeded(cfg Config) []string {
	var out []string
	if cfg.Workers < 1 {
		cfg.Workers = 1
	}
	if cfg.QueueLen < 1 {
		cfg.QueueLen = 1
	}
	if cfg.Workers != p.cfg.Workers {
		out = append(out, "workers")
	}
	if cfg.QueueLen != p.cfg.QueueLen {
		out = append(out, "queue_len")
	}
	if cfg.FlowsPerWorker != p.cfg.FlowsPerWorker {
		out = append(out, "flows_per_worker")
	}
	if cfg.Timeouts != p.cfg.Timeouts {
		out = append(out, "flow timeouts")
	}
	return out
}

// reconfigure takes new settings (Pipeline.Reconfigure) at a sample's
// start: what the worker owns alone (its reassembler) is changed here,
// on its goroutine, so no lock is needed.
func (w *Worker) reconfigure(c *Config) {
	if c.StreamDepth != w.cfg.StreamDepth {
		w.stream.SetDepth(c.StreamDepth)
	}
	w.cfg = c
}
