package config

import (
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
)

// Fleet configures ban sharing between nodes.
type Fleet struct {
	NATS FleetNATS `yaml:"nats"`
}

// FleetNATS is the NATS JetStream connection (userspace/fleet/natsbans).
type FleetNATS struct {
	URL         string `yaml:"url"` // "" off; "embedded"; nats://host:4222[,nats://...]
	Bucket      string `yaml:"bucket"`
	Node        string `yaml:"node"` // "" = the hostname
	ReceiveOnly bool   `yaml:"receive_only"`
	Creds       string `yaml:"creds"`
	User        string `yaml:"user"`
	Password    string `yaml:"password"`
	TLS         struct {
		CA   string `yaml:"ca"`
		Cert string `yaml:"cert"`
		Key  string `yaml:"key"`
	} `yaml:"tls"`
	Replicas      int      `yaml:"replicas"`
	StoreDir      string   `yaml:"store_dir"`
	Listen        string   `yaml:"listen"`
	ClusterListen string   `yaml:"cluster_listen"`
	ClusterName   string   `yaml:"cluster_name"`
	Routes        []string `yaml:"routes"`
}

// Enabled reports whether the fleet is configured.
func (n *FleetNATS) Enabled() bool { return n.URL != "" }

// Embedded reports whether the daemon runs its own NATS server.
func (n *FleetNATS) Embedded() bool { return n.URL == "embedded" }

var (
	bucketName = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
	nodeName   = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,64}$`)
)

func (f *File) validateFleet() error {
	n := &f.Fleet.NATS
	if !n.Enabled() {
		return nil
	}
	const k = "fleet.nats."
	if !n.Embedded() {
		for _, s := range strings.Split(n.URL, ",") {
			u, err := url.Parse(strings.TrimSpace(s))
			if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
				return f.errAt(k+"url", "%q is not embedded nor nats://host:port (tls://, or a comma-separated list)", s)
			}
		}
		for key, v := range map[string]string{"listen": n.Listen, "cluster_listen": n.ClusterListen} {
			if v != "" {
				return f.errAt(k+key, "only for url: embedded")
			}
		}
		if len(n.Routes) > 0 {
			return f.errAt(k+"routes", "only for url: embedded")
		}
	} else {
		if n.Creds != "" || n.TLS.CA != "" || n.TLS.Cert != "" {
			return f.errAt(k+"url", "embedded connects in-process: creds and tls are for an existing server")
		}
		if n.StoreDir == "" || !strings.HasPrefix(n.StoreDir, "/") {
			return f.errAt(k+"store_dir", "%q must be an absolute path", n.StoreDir)
		}
		for key, v := range map[string]string{"listen": n.Listen, "cluster_listen": n.ClusterListen} {
			if v == "" {
				continue
			}
			if _, _, err := net.SplitHostPort(v); err != nil {
				return f.errAt(k+key, "%q is not host:port", v)
			}
		}
		if len(n.Routes) > 0 && n.ClusterListen == "" {
			return f.errAt(k+"routes", "need cluster_listen (the address the other nodes' routes reach)")
		}
		if n.ClusterListen != "" && !bucketName.MatchString(n.ClusterName) {
			return f.errAt(k+"cluster_name", "%q: letters, digits, - and _ only", n.ClusterName)
		}
		for i, r := range n.Routes {
			u, err := url.Parse(r)
			if err != nil || u.Scheme != "nats" || u.Host == "" {
				return f.errAt(k+"routes", "entry %d: %q is not nats://host:port", i+1, r)
			}
		}
	}
	if !bucketName.MatchString(n.Bucket) {
		return f.errAt(k+"bucket", "%q: letters, digits, - and _ only", n.Bucket)
	}
	if n.Node != "" && !nodeName.MatchString(n.Node) {
		return f.errAt(k+"node", "%q: 1 to 64 letters, digits, '.', '-' or '_'", n.Node)
	}
	if (n.User == "") != (n.Password == "") {
		return f.errAt(k+"user", "user and password go together")
	}
	if (n.TLS.Cert == "") != (n.TLS.Key == "") {
		return f.errAt(k+"tls", "cert and key go together")
	}
	for key, path := range map[string]string{"creds": n.Creds, "tls.ca": n.TLS.CA, "tls.cert": n.TLS.Cert, "tls.key": n.TLS.Key} {
		if path == "" {
			continue
		}
		if _, err := os.Stat(path); err != nil {
			return f.errAt(k+key, "%v", err)
		}
	}
	if n.Replicas < 0 || n.Replicas > 5 {
		return f.errAt(k+"replicas", "%d is out of range (0: automatic, 1 to 5)", n.Replicas)
	}
	return nil
}
