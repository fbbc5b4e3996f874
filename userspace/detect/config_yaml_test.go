package detect

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// legacyKeys are the detectors: keys of the one flat Config before
// detectors had sections of their own: each still works, at the same
// place.
var legacyKeys = []string{
	"suppress", "scan_window", "scan_vertical_ports", "scan_horizontal_hosts", "scan_ip_protocols", "arp_sweep_hosts",
	"scan_ban_ttl", "flags_ban_ttl", "flood_window", "syn_flood_source", "syn_flood_destination", "syn_flood_destination_window",
	"syn_flood_min_sources", "syn_completed_ratio", "udp_flood_source", "udp_flood_destination", "icmp_flood_source",
	"icmp_flood_destination", "flood_destination_min_sources", "synack_reflection", "dhcp_flood", "dhcp_window", "flood_ban_ttl",
	"amplification_window", "amplification_packets", "amplification_reflectors", "amplification_fragments",
	"amplification_any_port", "brute_force_window", "brute_force_connections", "brute_force_ports", "brute_force_ban_ttl",
	"max_keys", "max_probe_keys", "probe_idle",
}

func TestConfigYAMLKeysFlat(t *testing.T) {
	out, err := yaml.Marshal(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := slices.Clone(legacyKeys)
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("keys\n%v\nwant\n%v", keys, want)
	}
	// Round trip: the defaults come back as they were.
	var c Config
	if err := yaml.Unmarshal(out, &c); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, DefaultConfig()) {
		t.Errorf("round trip\n%+v\nwant\n%+v", c, DefaultConfig())
	}
}

// A flat detectors: section sets the fields of every detector's section,
// and leaves the others at their defaults; an unknown key is an error
// under KnownFields, as the config loader decodes.
func TestConfigYAMLDecode(t *testing.T) {
	c := DefaultConfig()
	src := "scan_vertical_ports: 7\nbrute_force_connections: 3\nflood_window: 2s\nmax_keys: 5000\namplification_any_port: false\n"
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if c.ScanVerticalPorts != 7 || c.BruteConnections != 3 || c.FloodWindow != 2*time.Second || c.MaxKeys != 5000 || c.AmpAnyPort {
		t.Errorf("decoded %+v", c)
	}
	if c.ScanHorizontalHosts != 25 || c.BrutePorts[22] != "ssh" || c.SynFloodSrc != 200 {
		t.Errorf("defaults lost: %+v", c)
	}
	dec = yaml.NewDecoder(strings.NewReader("scan_vertical_portz: 7\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err == nil {
		t.Error("unknown key accepted")
	}
}
