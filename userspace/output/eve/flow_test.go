package eve

import (
	"bytes"
	"encoding/json"
	"github.com/xdpids/xdpids/internal/testenv"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

func testFlows() []*flows.Flow {
	a4, b4 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.2")
	a6, b6 := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	tcp := &flows.Flow{Key: flows.Key{A: a4, B: b4, APort: 40000, BPort: 443, Proto: 6}, ID: 0x7ffffffffffff, OrigIsA: true,
		State: flows.StateClosed, FirstNs: ts, LastNs: ts + 2_500_000_000, Pkts: [2]uint64{7, 5}, Bytes: [2]uint64{900, 4000},
		Flags: [2]uint8{0x1b, 0x1b}, EndReason: flows.EndTimeout, EndNs: ts + 12e9, Alerted: true, InspectGaps: 3}
	udp := &flows.Flow{Key: flows.Key{A: a6, B: b6, APort: 53, BPort: 5353, Proto: 17, VLAN: 42}, ID: 77, OrigIsA: false,
		State: flows.StateEstablished, FirstNs: ts, LastNs: ts + 1, Pkts: [2]uint64{1, 1}, Bytes: [2]uint64{80, 200},
		EndReason: flows.EndShutdown, Bypass: [2]uint8{flows.BypassStreamDepth, 0}}
	icmp := &flows.Flow{Key: flows.Key{A: a4, B: b4, APort: 9, BPort: 9, Proto: 1}, ID: 5, OrigIsA: true,
		State: flows.StateNew, FirstNs: ts, LastNs: ts, Pkts: [2]uint64{1, 0}, Bytes: [2]uint64{98, 0}, EndReason: flows.EndForced}
	drop := &flows.Flow{Key: flows.Key{A: a4, B: b4, APort: 1, BPort: 80, Proto: 6}, ID: 6, OrigIsA: true,
		State: flows.StateSynSent, FirstNs: ts, LastNs: ts + 3, Pkts: [2]uint64{3, 1}, Flags: [2]uint8{0xc2, 0x12}, Dropped: true, Alerted: true}
	gre := &flows.Flow{Key: flows.Key{A: a4, B: b4, Proto: 47}, ID: 8, OrigIsA: true, FirstNs: ts, LastNs: ts, EndReason: flows.EndTimeout}
	return []*flows.Flow{tcp, udp, icmp, drop, gre}
}

// The hand-written flow line is what encoding/json writes of FlowRecordOf.
func TestAppendFlow(t *testing.T) {
	loc := time.FixedZone("CET", 3600)
	for i, f := range testFlows() {
		for _, iface := range []string{"", "eth0", `we"ird<>`} {
			want, err := json.Marshal(FlowRecordOf(f, iface, loc))
			if err != nil {
				t.Fatal(err)
			}
			if got := appendFlow(nil, f, iface, loc); !bytes.Equal(got, want) {
				t.Errorf("flow %d iface %q:\n got %s\nwant %s", i, iface, got, want)
			}
		}
	}
}

func TestWriteFlowAllocs(t *testing.T) {
	w := NewWriter(io.Discard, time.UTC)
	f := testFlows()[0]
	_ = w.WriteFlow(f, "eth0")
	if n := testing.AllocsPerRun(100, func() { _ = w.WriteFlow(f, "eth0") }); n != 0 {
		t.Errorf("WriteFlow: %v allocations, want 0", n)
	}
	w.NoFlows = true
	before := w.Count()
	_ = w.WriteFlow(f, "eth0")
	if w.Count() != before {
		t.Error("NoFlows: a flow event was written")
	}
}

func BenchmarkWriteFlow(b *testing.B) {
	w := NewWriter(io.Discard, time.UTC)
	f := testFlows()[0]
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = w.WriteFlow(f, "eth0")
	}
}

// Every kind of event this package writes validates against Suricata's
// EVE schema (testdata/suricata/schema.json; read as draft 2019-09, see
// userspace/run/offline's schema test). The events carry no in_iface: the
// stored schema does not list the field Suricata writes live (read
// writes it only with --iface).
func TestSchemaEveryEvent(t *testing.T) {
	sch := testenv.EVESchema(t)
	var buf bytes.Buffer
	w := NewWriter(&buf, time.UTC)
	a := baseAlert()
	a.RuleMetadata = map[string][]string{"tag": {"x"}, "created_at": {"2020_01_01"}}
	a.PcapCnt = 3
	a.Iface = ""
	_ = w.Write(a)
	for _, f := range testFlows() {
		_ = w.WriteFlow(f, "")
	}
	p := &decode.Packet{TsNs: ts, PcapCnt: 9, Family: 4, Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("198.51.100.2"),
		Proto: 6, HasL4: true, SrcPort: 1, DstPort: 80, TCPFlags: decode.FlagACK | decode.FlagPSH, Seq: 1, Ack: 2, Window: 3, TTL: 64, IPID: 7, IPLen: 60}
	f := testFlows()[3]
	_ = w.WriteAnomaly(&Anomaly{P: p, F: f, TsNs: ts, Type: "decode", Event: "decoder.tcp.pkt_too_small"}, "")
	_ = w.WriteAnomaly(&Anomaly{F: f, TsNs: ts, Type: "stream", Event: "stream.reassembly_seq_gap"}, "")
	_ = w.WriteDrop(p, f, "rules", "")
	icmp := *p
	icmp.Proto, icmp.ICMPType, icmp.ICMPID, icmp.ICMPSeq = 1, 8, 5, 6
	_ = w.WriteDrop(&icmp, nil, "rules", "")
	_ = w.WriteStats(&Stats{TsNs: ts, Stats: StatsRecord{Uptime: 5, Decoder: DecoderStats{Pkts: 1}},
		Extra: map[string]uint64{"capture.kernel_packets": 10, "xdpids.samples": 1}})
	_ = w.Close()
	n := 0
	for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		n++
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(line))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(v); err != nil {
			t.Errorf("line %d does not validate: %v\n%s", n, err, line)
		}
	}
	if n != 11 {
		t.Errorf("%d lines, want 11", n)
	}
}
