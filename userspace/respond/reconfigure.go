package respond

import (
	"fmt"
	"net/netip"

	"github.com/xdpids/xdpids/loader"
)

// Reconfigure applies a new response policy (enabled, dry run,
// escalation, caps, forgeable share, IPv6 prefix length, protected
// prefixes) to the running responder: the next alert is judged by it.
// Bans made and the offenders' escalation levels are kept. protect_host
// keeps its value (the host address watcher is set up at start).
func (r *Responder) Reconfigure(cfg Config) error {
	var protected []netip.Prefix
	for _, s := range cfg.Protect {
		p, err := loader.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("respond: protect: %w", err)
		}
		protected = append(protected, p)
	}
	if cfg.IPv6PrefixLen <= 0 || cfg.IPv6PrefixLen > 128 {
		cfg.IPv6PrefixLen = 128
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	cfg.ProtectHost = r.cfg.ProtectHost
	if cfg.ProtectHost {
		protected = append(protected, HostPrefixes()...)
	}
	r.cfg, r.protected = cfg, protected
	return nil
}
