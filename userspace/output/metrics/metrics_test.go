package metrics_test

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/capture/samples"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/output/metrics"
	"github.com/xdpids/xdpids/userspace/run/pipeline"
	"github.com/xdpids/xdpids/userspace/signature"
)

var (
	macA    = net.HardwareAddr{2, 0, 0, 0, 0, 1}
	macB    = net.HardwareAddr{2, 0, 0, 0, 0, 2}
	client  = net.IP{203, 0, 113, 7}
	server  = net.IP{198, 51, 100, 10}
	blocked = netip.MustParsePrefix("192.0.2.66/32")
)

func serialize(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return slices.Clone(buf.Bytes())
}

func eth(et layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: et}
}

func tcpSYN(t *testing.T) []byte {
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: client, DstIP: server}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 443, SYN: true, Seq: 1, Window: 64240}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	return serialize(t, eth(layers.EthernetTypeIPv4), ip, tcp)
}

func udpFrom(t *testing.T, src net.IP) []byte {
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src, DstIP: server}
	udp := &layers.UDP{SrcPort: 40001, DstPort: 53}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	return serialize(t, eth(layers.EthernetTypeIPv4), ip, udp, gopacket.Payload(make([]byte, 40)))
}

func arpRequest(t *testing.T) []byte {
	return serialize(t, eth(layers.EthernetTypeARP), &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
		HwAddressSize: 6, ProtAddressSize: 4, Operation: layers.ARPRequest, SourceHwAddress: macA, SourceProtAddress: client.To4(),
		DstHwAddress: make([]byte, 6), DstProtAddress: server.To4()})
}

// setup loads an unpinned datapath with the default configuration, runs
// a TCP SYN, a UDP datagram, an ARP request and a UDP datagram from a
// blocked source through it, and returns it with the frame lengths.
func setup(t *testing.T) (*loader.Datapath, map[string]int) {
	t.Helper()
	testenv.RequireBPF(t)
	dp, err := loader.Load(loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dp.Close() })
	if err := dp.Maps().SetConfig(loader.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	if err := dp.Maps().Block(blocked, loader.BlockOptions{TTL: time.Hour, Comment: "test"}); err != nil {
		t.Fatal(err)
	}
	// An entry that expired a second ago (not swept yet).
	if err := dp.Maps().Block(netip.MustParsePrefix("192.0.2.67/32"), loader.BlockOptions{TTL: time.Second, Now: loader.KernelNow() - 2e9}); err != nil {
		t.Fatal(err)
	}
	if err := dp.Maps().Allow(netip.MustParsePrefix("10.0.0.0/8")); err != nil {
		t.Fatal(err)
	}
	frames := map[string][]byte{
		"syn": tcpSYN(t), "udp": udpFrom(t, client), "arp": arpRequest(t), "blocked": udpFrom(t, blocked.Addr().AsSlice()),
	}
	lens := map[string]int{}
	for _, name := range []string{"syn", "udp", "arp", "blocked"} {
		if _, err := dp.Program().Run(&ebpf.RunOptions{Data: frames[name]}); err != nil {
			t.Fatalf("run %s: %v", name, err)
		}
		lens[name] = len(frames[name])
	}
	return dp, lens
}

// scrape gathers c through a pedantic registry (which checks every
// metric against its description), lints the result with promlint, and
// returns each series as "name{label=value,...}" (labels sorted) -> value.
func scrape(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(labels)
			key := mf.GetName() + "{" + strings.Join(labels, ",") + "}"
			if _, dup := out[key]; dup {
				t.Errorf("series %s twice", key)
			}
			switch {
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				out[key] = float64(m.GetHistogram().GetSampleCount())
			default:
				t.Errorf("%s: neither counter nor gauge", key)
			}
		}
	}
	return out
}

// check compares the series of want; each must exist with that value.
func check(t *testing.T, got, want map[string]float64) {
	t.Helper()
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, ok := got[k]
		switch {
		case !ok:
			t.Errorf("%s missing", k)
		case v != want[k]:
			t.Errorf("%s = %v, want %v", k, v, want[k])
		}
	}
}

func TestCollectorKernel(t *testing.T) {
	dp, lens := setup(t)
	got := scrape(t, metrics.NewCollector(dp.Maps(), nil))
	const u = `iface=unassigned,`
	check(t, got, map[string]float64{
		`xdpids_packets_total{` + u + `reason=none,verdict=pass}`:       2,
		`xdpids_packets_total{` + u + `reason=not_ip,verdict=pass}`:     1,
		`xdpids_packets_total{` + u + `reason=block_list,verdict=drop}`: 1,
		`xdpids_packets_total{` + u + `reason=none,verdict=drop}`:       0,
		`xdpids_packets_total{` + u + `reason=none,verdict=would_drop}`: 0,
		`xdpids_bytes_total{` + u + `reason=none,verdict=pass}`:         float64(lens["syn"] + lens["udp"]),
		`xdpids_bytes_total{` + u + `reason=not_ip,verdict=pass}`:       float64(lens["arp"]),
		`xdpids_bytes_total{` + u + `reason=block_list,verdict=drop}`:   float64(lens["blocked"]),
		`xdpids_protocol_packets_total{` + u + `proto=tcp}`:             1,
		`xdpids_protocol_packets_total{` + u + `proto=other}`:           1,
		`xdpids_block_entries{state=active}`:                            1,
		`xdpids_block_entries{state=expired}`:                           1,
		`xdpids_allow_entries{}`:                                        1,
		`xdpids_scrape_errors_total{}`:                                  0,
	})
	// Reasons that counted nothing are left out, "none" never.
	if _, ok := got[`xdpids_packets_total{`+u+`reason=rate_limit_syn,verdict=pass}`]; ok {
		t.Error("an empty reason series was exported")
	}
	if got[`xdpids_protocol_packets_total{`+u+`proto=udp}`] < 1 || got[`xdpids_protocol_packets_total{`+u+`proto=ipv4}`] < 2 {
		t.Errorf("udp %v ipv4 %v: want the UDP datagram and the IPv4 packets counted",
			got[`xdpids_protocol_packets_total{`+u+`proto=udp}`], got[`xdpids_protocol_packets_total{`+u+`proto=ipv4}`])
	}
	if v := got[`xdpids_samples_total{`+u+`outcome=sent}`]; v < 3 {
		t.Errorf("samples sent %v, want the SYN, the UDP and the ARP at least", v)
	}
	if v := got[`xdpids_flows_new_total{`+u[:len(u)-1]+`}`]; v < 2 {
		t.Errorf("flows new %v, want the TCP and UDP flows", v)
	}
	for k := range got {
		if strings.HasPrefix(k, "xdpids_samples_read_total") || strings.HasPrefix(k, "xdpids_flows_active") || strings.HasPrefix(k, "xdpids_rules_loaded") {
			t.Errorf("%s exported without a daemon", k)
		}
	}
}

func TestCollectorDaemon(t *testing.T) {
	dp, _ := setup(t)
	p := pipeline.New(pipeline.DefaultConfig(), func(*alert.Alert) {})
	c := metrics.NewCollector(dp.Maps(), &metrics.Daemon{Pipeline: p})
	if v := scrape(t, c)["xdpids_rules_loaded{}"]; v != 0 {
		t.Errorf("rules loaded %v with no engine", v)
	}
	// The samples the program wrote go through the pipeline, then one
	// malformed record.
	rd, err := samples.NewReader(dp.SamplesMap())
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	n := 0
	for {
		rd.SetDeadline(time.Now().Add(100 * time.Millisecond))
		raw, err := rd.ReadRaw()
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal(err)
			}
			break
		}
		if !p.Worker(0).Process(raw) {
			t.Errorf("record %d malformed", n)
		}
		n++
	}
	if n < 3 {
		t.Fatalf("%d samples in the ring, want at least 3", n)
	}
	p.Worker(0).Process(make([]byte, 10))
	res, err := signature.Load(signature.Spec{Builtin: true})
	if err != nil {
		t.Fatal(err)
	}
	p.SetRules(res.Engine)
	p.Flush()
	st := p.Stats()
	got := scrape(t, c)
	check(t, got, map[string]float64{
		"xdpids_samples_read_total{}":                float64(n),
		"xdpids_samples_malformed_total{}":           1,
		"xdpids_samples_overflow_total{}":            0,
		"xdpids_decode_errors_total{kind=not_ip}":    1, // the ARP
		"xdpids_decode_errors_total{kind=truncated}": 0,
		"xdpids_flows_active{}":                      float64(st.FlowsActive),
		"xdpids_rules_loaded{}":                      float64(res.Loaded),
		"xdpids_rule_matches_total{}":                0,
		"xdpids_block_entries{state=active}":         1,
	})
	if st.FlowsActive < 2 {
		t.Errorf("flows active %d, want the TCP and UDP flows", st.FlowsActive)
	}
}
