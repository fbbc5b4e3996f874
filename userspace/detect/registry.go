package detect

// Config holds every detector's section, each inline: the YAML keeps one
// flat detectors: map (scan_vertical_ports, brute_force_connections, ...)
// and Go code reads the keys as fields of Config (cfg.ScanVerticalPorts).
// A section is a struct in its detector's file, with its yaml tags, its
// defaults (setDefaults) and the reasons for them; SharedConfig holds the
// keys several detectors and the state bounds read.
type Config struct {
	SharedConfig        `yaml:",inline"`
	TCPFlagsConfig      `yaml:",inline"`
	SynAckConfig        `yaml:",inline"`
	AmplificationConfig `yaml:",inline"`
	DHCPFloodConfig     `yaml:",inline"`
	PortScanConfig      `yaml:",inline"`
	BruteForceConfig    `yaml:",inline"`
	SynFloodConfig      `yaml:",inline"`
	UDPFloodConfig      `yaml:",inline"`
	ICMPFloodConfig     `yaml:",inline"`
	ProtocolScanConfig  `yaml:",inline"`
	ARPSweepConfig      `yaml:",inline"`
}

// registry is the built-in detectors, in the order they see a packet.
//
// An explicit list rather than Register calls from init functions (as
// node_exporter's collectors): the order is part of the behaviour. A
// detector may publish facts in Ctx for the ones after it (amplification
// marks unsolicited service responses, which dhcp_flood and port_scan then
// leave alone), and the order is the order of a packet's alerts. init
// functions run in file name order, which would make a file's name decide
// that; here one line per detector shows it.
var registry = []func(*state, *Config) Detector{
	newTCPFlags,      // tcp
	newSynAck,        // tcp
	newAmplification, // udp, fragments: publishes Response and NotProbe
	newDHCPFlood,     // udp: reads Response, publishes NotProbe
	newPortScan,      // tcp, udp: reads Response, NotProbe
	newBruteForce,    // tcp
	newSynFlood,      // rate limit, tcp
	newUDPFlood,      // rate limit, udp
	newICMPRecon,     // icmp
	newICMPFlood,     // rate limit, icmp
	newProtocolScan,  // other IP protocols
	newARPSweep,      // arp
}
