package daemon

import (
	"context"
	"log/slog"
	"sync"

	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/config"
	"github.com/xdpids/xdpids/userspace/fleet/crowdsec"
	"github.com/xdpids/xdpids/userspace/respond"
)

// crowdSecKey reads the bouncer's key before anything is attached, so a
// missing key file is one error line and nothing changes ("" when the
// bouncer is off).
func crowdSecKey(cfg *config.File) (string, error) {
	if !cfg.CrowdSec.Enabled() {
		return "", nil
	}
	return cfg.CrowdSecKey()
}

// startCrowdSec starts the CrowdSec bouncer when the configuration names
// a LAPI, and returns the function that stops it and waits for it (a poll
// in flight is cancelled). The bouncer skips Ip decisions on the
// addresses the responder protects; the allow list wins in the kernel.
// A configuration without crowdsec returns a no-op.
func startCrowdSec(cfg *config.File, key string, maps *loader.Maps, resp *respond.Responder) (*crowdsec.Bouncer, func(), error) {
	if !cfg.CrowdSec.Enabled() {
		return nil, func() {}, nil
	}
	b, err := crowdsec.New(crowdsec.Config{
		URL: cfg.CrowdSec.LAPIURL, APIKey: key, PollInterval: cfg.CrowdSec.PollInterval,
		Protected: resp.Protects,
	}, maps)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = b.Run(ctx)
	}()
	slog.Info("crowdsec bouncer started", "lapi", cfg.CrowdSec.LAPIURL, "poll_interval", cfg.CrowdSec.PollInterval)
	return b, func() { cancel(); wg.Wait() }, nil
}
