package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/xdpids/xdpids/internal/testenv"
)

// seg is one TCP segment of a generated capture.
type seg struct {
	toServer bool
	flags    string // S, A, P, F
	seq, ack uint32
	data     string
}

const (
	rdClient = "203.0.113.7"
	rdServer = "198.51.100.10"
)

// writeCapture writes the segments of one connection (client port 40000
// to server port 8080) as a pcap, 1 ms apart.
func writeCapture(t *testing.T, segs []seg) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	c, s := netip.MustParseAddr(rdClient), netip.MustParseAddr(rdServer)
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, sg := range segs {
		src, dst, sport, dport := c, s, layers.TCPPort(40000), layers.TCPPort(8080)
		if !sg.toServer {
			src, dst, sport, dport = s, c, dport, sport
		}
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		tcp := &layers.TCP{SrcPort: sport, DstPort: dport, Seq: sg.seq, Ack: sg.ack, Window: 64240,
			SYN: strings.Contains(sg.flags, "S"), ACK: strings.Contains(sg.flags, "A"),
			PSH: strings.Contains(sg.flags, "P"), FIN: strings.Contains(sg.flags, "F")}
		if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		buf := gopacket.NewSerializeBuffer()
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{0, 0, 0x5e, 0, 0x53, 1}, DstMAC: net.HardwareAddr{0, 0, 0x5e, 0, 0x53, 2},
			EthernetType: layers.EthernetTypeIPv4}
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			eth, ip, tcp, gopacket.Payload(sg.data)); err != nil {
			t.Fatal(err)
		}
		at = at.Add(time.Millisecond)
		d := buf.Bytes()
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: at, CaptureLength: len(d), Length: len(d)}, d); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

type readAlert struct {
	EventType string `json:"event_type"`
	PcapCnt   int    `json:"pcap_cnt"`
	Alert     struct {
		Action      string `json:"action"`
		SignatureID uint32 `json:"signature_id"`
	} `json:"alert"`
}

// runRead runs `xdpids read` in process with the test's rules alone and
// returns its alerts and its summary.
func runRead(t *testing.T, mode, pcap, ruleText string, extra ...string) ([]readAlert, string) {
	t.Helper()
	dir := t.TempDir()
	rules, cfg, eve := filepath.Join(dir, "t.rules"), filepath.Join(dir, "c.yaml"), filepath.Join(dir, "eve.json")
	if err := os.WriteFile(rules, []byte(ruleText), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte("signatures: {builtin: false}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := newRootCommand()
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(append([]string{"read", pcap, "--config", cfg, "--rules", rules, "--mode", mode, "--eve", eve}, extra...))
	if err := cmd.Execute(); err != nil {
		t.Fatalf("read %v: %v\n%s", extra, err, out.String())
	}
	data, err := os.ReadFile(eve)
	if err != nil {
		t.Fatal(err)
	}
	var alerts []readAlert
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if l == "" {
			continue
		}
		var a readAlert
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("eve line %q: %v", l, err)
		}
		if a.EventType == "alert" {
			alerts = append(alerts, a)
		}
	}
	return alerts, out.String()
}

// handshake opens the connection: client ISN 100, server ISN 500.
var handshake = []seg{
	{true, "S", 100, 0, ""},
	{false, "SA", 500, 101, ""},
	{true, "A", 101, 501, ""},
}

func readModes(t *testing.T, fn func(t *testing.T, mode string)) {
	for _, mode := range []string{"userspace", "xdp"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "xdp" {
				testenv.RequireBPF(t)
			}
			fn(t, mode)
		})
	}
}

// TestReadSimulateIPS: without --simulate-ips a drop rule only alerts
// ("allowed", as Suricata reading a capture); with it the alert says
// "blocked" and the rest of the flow is dropped, uninspected, in both
// modes. Alerts carry pcap_cnt.
func TestReadSimulateIPS(t *testing.T) {
	pcap := writeCapture(t, append(append([]seg(nil), handshake...),
		seg{true, "PA", 101, 501, "attack one"},      // packet 4
		seg{false, "A", 501, 111, ""},                // 5
		seg{true, "PA", 111, 501, " and attack two"}, // 6
		seg{false, "A", 501, 126, ""},                // 7
	))
	const rule = `drop tcp any any -> any any (msg:"attack"; content:"attack"; sid:2;)` + "\n"
	readModes(t, func(t *testing.T, mode string) {
		alerts, _ := runRead(t, mode, pcap, rule)
		if len(alerts) != 2 || alerts[0].Alert.Action != "allowed" || alerts[0].PcapCnt != 4 || alerts[1].PcapCnt != 6 {
			t.Errorf("monitoring: alerts %+v, want 2 allowed on packets 4 and 6", alerts)
		}
		alerts, sum := runRead(t, mode, pcap, rule, "--simulate-ips")
		if len(alerts) != 1 || alerts[0].Alert.Action != "blocked" || alerts[0].PcapCnt != 4 {
			t.Errorf("--simulate-ips: alerts %+v, want 1 blocked on packet 4", alerts)
		}
		if !strings.Contains(sum, "drop=3") {
			t.Errorf("--simulate-ips: the 3 packets after the verdict are not dropped:\n%s", sum)
		}
	})
}

// TestReadMidstream: flow:established holds for a session picked up
// without its handshake only with --midstream.
func TestReadMidstream(t *testing.T) {
	pcap := writeCapture(t, []seg{
		{true, "PA", 101, 501, "attack"},
		{false, "A", 501, 107, ""},
		{false, "PA", 501, 107, "reply"},
		{true, "A", 107, 506, ""},
	})
	const rule = `alert tcp any any -> any any (msg:"est"; flow:established,to_server; content:"attack"; sid:3;)` + "\n"
	readModes(t, func(t *testing.T, mode string) {
		if alerts, _ := runRead(t, mode, pcap, rule); len(alerts) != 0 {
			t.Errorf("without --midstream: alerts %+v, want none", alerts)
		}
		if alerts, _ := runRead(t, mode, pcap, rule, "--midstream"); len(alerts) != 1 || alerts[0].Alert.SignatureID != 3 {
			t.Errorf("--midstream: alerts %+v, want sid 3 once", alerts)
		}
	})
}

// TestReadVars: --vars lays a suricata.yaml vars: block over the
// variables; a bad file is one error naming file and line.
func TestReadVars(t *testing.T) {
	pcap := writeCapture(t, append(append([]seg(nil), handshake...), seg{true, "PA", 101, 501, "attack"}))
	const rule = `alert tcp $HOME_NET any -> any any (msg:"home"; content:"attack"; sid:1;)` + "\n"
	dir := t.TempDir()
	vars := filepath.Join(dir, "suricata.yaml")
	os.WriteFile(vars, []byte("%YAML 1.1\n---\nvars:\n  address-groups:\n    HOME_NET: \"[203.0.113.0/24]\"\n  port-groups:\n    SSH_PORTS: 22\noutputs: []\n"), 0o644)
	if alerts, _ := runRead(t, "userspace", pcap, rule); len(alerts) != 0 {
		t.Errorf("default HOME_NET: alerts %+v, want none", alerts)
	}
	if alerts, _ := runRead(t, "userspace", pcap, rule, "--vars", vars); len(alerts) != 1 {
		t.Errorf("--vars: alerts %+v, want 1", alerts)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("vars:\n  address-groups:\n    HOME_NET: [1, 2]\n"), 0o644)
	cmd := newRootCommand()
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs([]string{"read", pcap, "--vars", bad, "--mode", "userspace", "--eve", filepath.Join(dir, "e.json")})
	if err := cmd.Execute(); err == nil || !strings.HasPrefix(err.Error(), bad+":3: ") {
		t.Errorf("bad vars file: error %v, want %s:3: ...", err, bad)
	}
}
