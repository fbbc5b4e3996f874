package detect

import (
	"time"

	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/flow/flows"
)

// BruteForceConfig is brute_force's section: 10 connections from one
// source to one authentication port within 2 minutes, as Zeek's SSH
// password-guessing limit (10) and fail2ban's default (maxretry 5 in 10
// min, counted per login); a ban of an hour.
type BruteForceConfig struct {
	BruteWindow      time.Duration     `yaml:"brute_force_window"`
	BruteConnections int               `yaml:"brute_force_connections"`
	BrutePorts       map[uint16]string `yaml:"brute_force_ports"`
	BruteBanTTL      time.Duration     `yaml:"brute_force_ban_ttl"`
}

func (c *BruteForceConfig) setDefaults() {
	*c = BruteForceConfig{
		BruteWindow:      2 * time.Minute,
		BruteConnections: 10,
		BrutePorts: map[uint16]string{
			21: "ftp", 22: "ssh", 23: "telnet", 110: "pop3", 143: "imap", 445: "smb",
			1433: "mssql", 3306: "mysql", 3389: "rdp", 5432: "postgresql", 5900: "vnc",
		},
		BruteBanTTL: time.Hour,
	}
}

var bruteSigs = map[string]alert.Signature{"ssh": alert.BruteSSH, "ftp": alert.BruteFTP, "telnet": alert.BruteTelnet, "rdp": alert.BruteRDP}

// bruteForce counts new connections (SYNs) per source, destination and
// authentication port.
type bruteForce struct {
	cfg   *Config
	conns *countTable
}

func newBruteForce(st *state, cfg *Config) Detector {
	return &bruteForce{cfg: cfg, conns: newCountTable(st)}
}

func (d *bruteForce) Name() string   { return "brute_force" }
func (d *bruteForce) Classes() Class { return ClassTCPHandshake }

func (d *bruteForce) Describe() Description {
	return Description{Name: d.Name(), Config: &d.cfg.BruteForceConfig,
		Signatures: []alert.Signature{alert.BruteFTP, alert.BruteSSH, alert.BruteTelnet, alert.BruteRDP, alert.BruteOther}}
}

func (d *bruteForce) Observe(in *Input, c *Ctx) {
	p := in.P
	if in.Ev&flows.EvNew == 0 || !isSyn(p.TCPFlags) {
		return
	}
	service, ok := d.cfg.BrutePorts[p.DstPort]
	if !ok {
		return
	}
	w, ok := d.conns.count(key{a: p.Src, b: p.Dst, port: p.DstPort}, p.TsNs, int64(d.cfg.BruteWindow))
	if !ok || w.n < d.cfg.BruteConnections {
		return
	}
	sig, ok := bruteSigs[service]
	if !ok {
		sig = alert.BruteOther
	}
	c.fire(in, sig, p.Src, false, int64(d.cfg.BruteBanTTL),
		func() map[string]string {
			return map[string]string{"connections": itoa(w.n), "service": service, "window": d.cfg.BruteWindow.String()}
		})
}

func (d *bruteForce) Expire(now int64) { d.conns.expire(now, int64(d.cfg.BruteWindow)) }
