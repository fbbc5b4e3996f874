package natsbans

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// EmbeddedOptions configure the in-process NATS server (fleet.nats.url:
// embedded).
type EmbeddedOptions struct {
	Name     string // server name: the node's name (unique in a cluster)
	StoreDir string // JetStream file store
	// Listen is the client address other nodes connect to (host:port);
	// "" listens nowhere: this node alone, connected in-process.
	Listen string
	// ClusterListen and Routes form a NATS cluster of embedded servers
	// (host:port, and nats://peer:port of the others' cluster listeners).
	ClusterListen string
	Routes        []string
	ClusterName   string
	// User and Password, when set, are required of every client.
	User, Password string
}

// Embedded is a running in-process NATS server with JetStream.
type Embedded struct {
	srv *server.Server
}

// StartEmbedded starts the server and waits until it accepts connections.
func StartEmbedded(o EmbeddedOptions) (*Embedded, error) {
	if err := os.MkdirAll(o.StoreDir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded nats: store: %w", err)
	}
	so := &server.Options{
		ServerName: o.Name, JetStream: true, StoreDir: o.StoreDir,
		NoSigs: true, DontListen: o.Listen == "", Username: o.User, Password: o.Password,
		// A ban value is a few hundred bytes: bounds far below the defaults.
		JetStreamMaxMemory: 64 << 20, JetStreamMaxStore: 1 << 30,
	}
	if o.Listen != "" {
		host, port, err := splitHostPort(o.Listen)
		if err != nil {
			return nil, fmt.Errorf("embedded nats: listen: %w", err)
		}
		so.Host, so.Port = host, port
	}
	if o.ClusterListen != "" || len(o.Routes) > 0 {
		host, port, err := splitHostPort(o.ClusterListen)
		if err != nil {
			return nil, fmt.Errorf("embedded nats: cluster_listen: %w", err)
		}
		so.Cluster = server.ClusterOpts{Name: o.ClusterName, Host: host, Port: port}
		if so.DontListen {
			// Routing starts once a client listener is up: listen on a
			// random loopback port the fleet does not use.
			so.DontListen, so.Host, so.Port = false, "127.0.0.1", server.RANDOM_PORT
		}
		for _, r := range o.Routes {
			u, err := url.Parse(r)
			if err != nil {
				return nil, fmt.Errorf("embedded nats: route %q: %w", r, err)
			}
			so.Routes = append(so.Routes, u)
		}
	}
	srv, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	srv.SetLoggerV2(slogLogger{}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded nats: not ready within 10s")
	}
	return &Embedded{srv: srv}, nil
}

// ConnectOption makes a client connect to this server in-process.
func (e *Embedded) ConnectOption() nats.Option { return nats.InProcessServer(e.srv) }

// ClientURL is the address other nodes connect to ("" without a listener).
func (e *Embedded) ClientURL() string {
	if a := e.srv.Addr(); a != nil {
		return "nats://" + a.String()
	}
	return ""
}

// Shutdown stops the server (the store stays on disk).
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

func splitHostPort(hp string) (string, int, error) {
	host, p, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return host, port, nil
}

// slogLogger is the server's log, at slog's levels (notices as debug:
// the server is chatty at start).
type slogLogger struct{}

func (slogLogger) Noticef(format string, v ...any) {
	slog.Debug("embedded nats: " + fmt.Sprintf(format, v...))
}
func (slogLogger) Warnf(format string, v ...any) {
	slog.Warn("embedded nats: " + fmt.Sprintf(format, v...))
}
func (slogLogger) Fatalf(format string, v ...any) {
	slog.Error("embedded nats: " + fmt.Sprintf(format, v...))
}
func (slogLogger) Errorf(format string, v ...any) {
	slog.Error("embedded nats: " + fmt.Sprintf(format, v...))
}
func (slogLogger) Debugf(format string, v ...any) {}
func (slogLogger) Tracef(format string, v ...any) {}
