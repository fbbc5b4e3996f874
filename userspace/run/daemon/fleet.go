package daemon

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/config"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/fleet/natsbans"
	"github.com/xdpids/xdpids/userspace/respond"
)

// FleetStatus is the fleet loop's state in the status file (xdpids stats).
type FleetStatus struct {
	Node       string `json:"node"`
	Connected  bool   `json:"connected"`
	Published  uint64 `json:"published"`
	Deleted    uint64 `json:"deleted"`
	Applied    uint64 `json:"applied"`
	Removed    uint64 `json:"removed"`
	Skipped    uint64 `json:"skipped"`
	Errors     uint64 `json:"errors"`
	Reconnects uint64 `json:"reconnects"`
}

// fleet is the running ban sharing (nil when fleet.nats.url is empty).
type fleet struct {
	f      *natsbans.Fleet
	node   string
	emb    *natsbans.Embedded
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var badNodeChars = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// fleetNode is the node's name: configured, else the hostname.
func fleetNode(n *config.FleetNATS) string {
	if n.Node != "" {
		return n.Node
	}
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "xdpids"
	}
	return strings.Trim(badNodeChars.ReplaceAllString(h, "-"), "-")
}

// startFleet starts sharing bans when the configuration asks for it:
// after the maps are loaded and the responder exists, so that the first
// diff sees the bans a previous run left. The responder kicks the loop
// after each ban, so a ban crosses at once; bans made with the CLI
// (which writes the pinned maps and never talks to the daemon) are
// found by the loop's poll (natsbans.DefaultPoll).
func startFleet(cfg *config.File, pinPath string, listKept bool, maps *loader.Maps, resp *respond.Responder) (*fleet, error) {
	n := &cfg.Fleet.NATS
	if !n.Enabled() {
		return nil, nil
	}
	fl := &fleet{node: fleetNode(n)}
	o := natsbans.Options{URL: n.URL, Bucket: n.Bucket, Node: fl.node, ReceiveOnly: n.ReceiveOnly,
		Replicas: n.Replicas, Protected: resp.IsProtected, ListKept: listKept}
	for _, s := range cfg.Allow {
		if p, err := loader.ParsePrefix(s); err == nil {
			o.ConfigAllow = append(o.ConfigAllow, p)
		}
	}
	if n.Embedded() {
		emb, err := natsbans.StartEmbedded(natsbans.EmbeddedOptions{Name: fl.node, StoreDir: storeDir(n.StoreDir, pinPath),
			Listen: n.Listen, ClusterListen: n.ClusterListen, Routes: n.Routes, ClusterName: n.ClusterName,
			User: n.User, Password: n.Password})
		if err != nil {
			return nil, err
		}
		fl.emb = emb
		o.NATSOptions = append(o.NATSOptions, emb.ConnectOption())
		if n.User != "" {
			o.NATSOptions = append(o.NATSOptions, nats.UserInfo(n.User, n.Password))
		}
		if o.Replicas == 0 && len(n.Routes) > 0 {
			// A JetStream cluster of embedded servers: R3 where there are
			// three (the meta group then survives one node's loss).
			o.Replicas = min(3, len(n.Routes)+1)
		}
		slog.Info("fleet: embedded NATS server started", "listen", emb.ClientURL(), "routes", n.Routes, "store", storeDir(n.StoreDir, pinPath))
	} else {
		if n.Creds != "" {
			o.NATSOptions = append(o.NATSOptions, nats.UserCredentials(n.Creds))
		}
		if n.User != "" {
			o.NATSOptions = append(o.NATSOptions, nats.UserInfo(n.User, n.Password))
		}
		if n.TLS.CA != "" {
			o.NATSOptions = append(o.NATSOptions, nats.RootCAs(n.TLS.CA))
		}
		if n.TLS.Cert != "" {
			o.NATSOptions = append(o.NATSOptions, nats.ClientCert(n.TLS.Cert, n.TLS.Key))
		}
	}
	f, err := natsbans.New(o, maps)
	if err != nil {
		fl.stop()
		return nil, err
	}
	fl.f = f
	prev := resp.OnBan
	resp.OnBan = func(a *alert.Alert) {
		if prev != nil {
			prev(a)
		}
		f.Kick()
	}
	ctx, cancel := context.WithCancel(context.Background())
	fl.cancel = cancel
	fl.wg.Add(1)
	go func() {
		defer fl.wg.Done()
		if err := f.Run(ctx); err != nil {
			slog.Error("fleet stopped", "err", err)
		}
	}()
	slog.Info("fleet: sharing bans", "node", fl.node, "bucket", n.Bucket, "receive_only", n.ReceiveOnly)
	return fl, nil
}

// storeDir is the embedded server's store: one per pin path, so that
// daemons on other pin paths (tests, several instances) do not share it.
func storeDir(base, pinPath string) string {
	if pinPath == "" || filepath.Clean(pinPath) == "/sys/fs/bpf/xdpids" {
		return base
	}
	return filepath.Join(base, strings.ReplaceAll(strings.Trim(filepath.Clean(pinPath), "/"), "/", "_"))
}

// pinned reports whether map name is pinned under pinPath.
func pinned(pinPath, name string) bool {
	if pinPath == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(pinPath, name))
	return err == nil
}

// stop ends the loop, then the embedded server.
func (fl *fleet) stop() {
	if fl == nil {
		return
	}
	if fl.cancel != nil {
		fl.cancel()
		fl.wg.Wait()
	}
	if fl.emb != nil {
		fl.emb.Shutdown()
	}
}

// status is the fleet's part of the status file.
func (fl *fleet) status() *FleetStatus {
	if fl == nil || fl.f == nil {
		return nil
	}
	s := fl.f.Stats()
	return &FleetStatus{Node: fl.node, Connected: s.Connected, Published: s.Published, Deleted: s.Deleted,
		Applied: s.Applied, Removed: s.Removed, Skipped: s.Skipped, Errors: s.Errors, Reconnects: s.Reconnects}
}

// fleetOf is the Fleet for metrics (nil when off).
func (fl *fleet) fleetOf() *natsbans.Fleet {
	if fl == nil {
		return nil
	}
	return fl.f
}
