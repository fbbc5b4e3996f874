package detect

import "time"

// Config holds every detector's thresholds. The defaults and why:
//
//   - Scans follow Zeek's scan policy (policy/misc/scan.zeek): 15 distinct
//     ports on one host, or 25 hosts on one port, within 5 minutes, counting
//     attempts that did not complete a handshake. Nmap's default scan
//     probes 1000 ports; a legitimate client touches a handful.
//   - ARP sweeps: one sender asking for 50 distinct addresses within the
//     scan window (nmap -sn on a LAN ARPs every address; a host asks for
//     its gateway and a few peers).
//   - Illegal TCP flag sets (NULL, XMAS, SYN+FIN, FIN without ACK, SYN+RST)
//     are never sent by a real TCP stack (RFC 9293), so one packet is
//     enough; one alert per source and kind per suppression window.
//   - SYN flood from one source: 200 SYNs to one ip:port within 1 s with
//     fewer than 20% completing the handshake. Per destination (spoofed,
//     distributed): 2500 SYNs in 5 s (500/s, Linux's default
//     tcp_max_syn_backlog is 512-4096) from at least 100 sources, <20%
//     completed. A busy web server completes most of its handshakes.
//   - UDP and ICMP floods: per source 5000 UDP or 500 ICMP packets per
//     second (ping -f sends ~10k/s, a normal ping 1/s); per destination
//     10000 UDP or 2000 ICMP per second from at least 50 sources. A kernel
//     rate-limit sample (the source emptied its token bucket in the XDP
//     program) is itself proof of a flood from that source.
//   - Amplification: responses from a reflection-prone UDP service port
//     (DNS 53, NTP 123, SNMP 161, CLDAP 389, SSDP 1900, memcached 11211)
//     that the target did not ask for, 100 in 10 s from at least 5
//     reflectors (a resolver client talks to 1-3 resolvers). Fragment
//     floods: 200 later fragments in 10 s from at least 5 sources.
//   - Reflection over any other UDP service (Chargen 19, QOTD 17, Portmap
//     111, NetBIOS 137, RIPv1 520, WS-Discovery 3702, CoAP 5683, Jenkins
//     33848, ...; amplification_any_port): the same thresholds per
//     destination and UDP source port, and the port must carry at least
//     1/8 of the destination's unsolicited UDP packets in the window (see
//     reflection in detect.go for why, and what is not counted).
//   - Brute force: 10 connections from one source to one authentication
//     port within 2 minutes, as Zeek's SSH password-guessing limit (10)
//     and fail2ban's default (maxretry 5 in 10 min, counted per login).
//   - Suppression: a subject alerts once per signature per 5 minutes, so a
//     1000-probe scan is one alert.
//   - State: at most 100,000 entries in all, in three partitions. Probe
//     entries (scan and brute force state created by one forgeable packet:
//     one port, one host, one protocol, one SYN) are at most 25,000, live
//     30 s without a second probe and are evicted oldest first. The 1-s
//     flood windows get a quarter of MaxKeys, an ended or the smallest
//     window of a sample evicted first. The rest (entries with evidence)
//     evict the least evidence of a sample for a richer entry. Forged ACK
//     probes from 14,000 sources then churn the probe partition and cannot
//     crowd out real scanners. See "State bounds" in detect.go.
type Config struct {
	Suppress time.Duration `yaml:"suppress"`

	ScanWindow          time.Duration `yaml:"scan_window"`
	ScanVerticalPorts   int           `yaml:"scan_vertical_ports"`
	ScanHorizontalHosts int           `yaml:"scan_horizontal_hosts"`
	ScanIPProtos        int           `yaml:"scan_ip_protocols"`
	ARPSweepHosts       int           `yaml:"arp_sweep_hosts"`
	ScanBanTTL          time.Duration `yaml:"scan_ban_ttl"`
	FlagsBanTTL         time.Duration `yaml:"flags_ban_ttl"`

	FloodWindow       time.Duration `yaml:"flood_window"`
	SynFloodSrc       int           `yaml:"syn_flood_source"`
	SynFloodDst       int           `yaml:"syn_flood_destination"`
	SynFloodDstWindow time.Duration `yaml:"syn_flood_destination_window"`
	SynFloodSources   int           `yaml:"syn_flood_min_sources"`
	SynCompletedRatio float64       `yaml:"syn_completed_ratio"`
	UDPFloodSrc       int           `yaml:"udp_flood_source"`
	UDPFloodDst       int           `yaml:"udp_flood_destination"`
	ICMPFloodSrc      int           `yaml:"icmp_flood_source"`
	ICMPFloodDst      int           `yaml:"icmp_flood_destination"`
	FloodDstSources   int           `yaml:"flood_destination_min_sources"`
	SynAckReflect     int           `yaml:"synack_reflection"`
	DHCPFlood         int           `yaml:"dhcp_flood"`
	DHCPWindow        time.Duration `yaml:"dhcp_window"`
	FloodBanTTL       time.Duration `yaml:"flood_ban_ttl"`

	AmpWindow     time.Duration `yaml:"amplification_window"`
	AmpPackets    int           `yaml:"amplification_packets"`
	AmpReflectors int           `yaml:"amplification_reflectors"`
	AmpFragments  int           `yaml:"amplification_fragments"`
	AmpAnyPort    bool          `yaml:"amplification_any_port"`

	BruteWindow      time.Duration     `yaml:"brute_force_window"`
	BruteConnections int               `yaml:"brute_force_connections"`
	BrutePorts       map[uint16]string `yaml:"brute_force_ports"`
	BruteBanTTL      time.Duration     `yaml:"brute_force_ban_ttl"`

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

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Suppress:            5 * time.Minute,
		ScanWindow:          5 * time.Minute,
		ScanVerticalPorts:   15,
		ScanHorizontalHosts: 25,
		ScanIPProtos:        10,
		ARPSweepHosts:       50,
		ScanBanTTL:          10 * time.Minute,
		FlagsBanTTL:         10 * time.Minute,
		FloodWindow:         time.Second,
		SynFloodSrc:         200,
		SynFloodDst:         2500,
		SynFloodDstWindow:   5 * time.Second,
		SynFloodSources:     100,
		SynCompletedRatio:   0.2,
		UDPFloodSrc:         5000,
		UDPFloodDst:         10000,
		ICMPFloodSrc:        500,
		ICMPFloodDst:        2000,
		FloodDstSources:     50,
		SynAckReflect:       500,
		DHCPFlood:           100,
		DHCPWindow:          10 * time.Second,
		FloodBanTTL:         10 * time.Minute,
		AmpWindow:           10 * time.Second,
		AmpPackets:          100,
		AmpReflectors:       5,
		AmpFragments:        200,
		AmpAnyPort:          true,
		BruteWindow:         2 * time.Minute,
		BruteConnections:    10,
		BrutePorts: map[uint16]string{
			21: "ftp", 22: "ssh", 23: "telnet", 110: "pop3", 143: "imap", 445: "smb",
			1433: "mssql", 3306: "mysql", 3389: "rdp", 5432: "postgresql", 5900: "vnc",
		},
		BruteBanTTL:  time.Hour,
		MaxKeys:      100000,
		MaxProbeKeys: 25000,
		ProbeIdle:    30 * time.Second,
	}
}
