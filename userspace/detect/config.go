package detect

import (
	"reflect"
	"time"
)

// SharedConfig holds the keys several detectors read, and the bounds of
// the state they share. The defaults and why:
//
//   - Suppression: a subject alerts once per signature per 5 minutes, so a
//     1000-probe scan is one alert.
//   - Scans (port_scan, protocol_scan, arp_sweep) count within 5 minutes,
//     as Zeek's scan policy (policy/misc/scan.zeek), and ban for 10.
//   - Floods (syn_flood, udp_flood, icmp_flood, synack_reflection) count
//     per second; per destination they need at least 50 sources (one
//     host's flood is the per-source detectors' to see); bans last 10
//     minutes.
//   - State: at most 100,000 entries in all, in three partitions. Probe
//     entries (scan and brute force state created by one forgeable packet:
//     one port, one host, one protocol, one SYN) are at most 25,000, live
//     30 s without a second probe and are evicted oldest first. The 1-s
//     flood windows get a quarter of MaxKeys, an ended or the smallest
//     window of a sample evicted first. The rest (entries with evidence)
//     evict the least evidence of a sample for a richer entry. Forged ACK
//     probes from 14,000 sources then churn the probe partition and cannot
//     crowd out real scanners. See "State bounds" in state_probe.go.
type SharedConfig struct {
	Suppress time.Duration `yaml:"suppress"`

	ScanWindow time.Duration `yaml:"scan_window"`
	ScanBanTTL time.Duration `yaml:"scan_ban_ttl"`

	FloodWindow     time.Duration `yaml:"flood_window"`
	FloodDstSources int           `yaml:"flood_destination_min_sources"`
	FloodBanTTL     time.Duration `yaml:"flood_ban_ttl"`

	// MaxKeys bounds all detector state; when a partition is full and no
	// entry can make room, new subjects are not tracked (counted in
	// Stats.StateRefused).
	MaxKeys int `yaml:"max_keys"`
	// MaxProbeKeys bounds the probe partition, inside MaxKeys (at most half
	// of it): scan entries holding a single probe, evicted oldest first.
	MaxProbeKeys int `yaml:"max_probe_keys"`
	// ProbeIdle is how long a probe entry lives without a second probe.
	ProbeIdle time.Duration `yaml:"probe_idle"`
}

func (c *SharedConfig) setDefaults() {
	*c = SharedConfig{
		Suppress:   5 * time.Minute,
		ScanWindow: 5 * time.Minute, ScanBanTTL: 10 * time.Minute,
		FloodWindow: time.Second, FloodDstSources: 50, FloodBanTTL: 10 * time.Minute,
		MaxKeys: 100000, MaxProbeKeys: 25000, ProbeIdle: 30 * time.Second,
	}
}

// section is a detector's part of Config.
type section interface{ setDefaults() }

// DefaultConfig returns the documented defaults: every section's.
func DefaultConfig() Config {
	var c Config
	v := reflect.ValueOf(&c).Elem()
	for i := range v.NumField() {
		v.Field(i).Addr().Interface().(section).setDefaults()
	}
	return c
}
