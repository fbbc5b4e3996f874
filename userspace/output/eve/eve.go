// Package eve writes Suricata EVE JSON lines, the format Filebeat, EveBox
// and SIEM pipelines read: alert, flow, anomaly, drop and stats events,
// valid against Suricata's EVE schema (testdata/suricata/schema.json), to
// a file that can be reopened for log rotation (SIGHUP) or to stdout.
//
// The schema forbids keys it does not list at the top level and in
// alert, flow and stats. xdpids' own facts therefore travel as the
// engine's flow variables, where the schema takes any name: strings in
// metadata.flowvars ([{"xdpids.detector": "port_scan"}]), integers in
// metadata.flowints ({"xdpids.inspect_gaps": 0}). The subject a response
// acts on is alert.source.ip (an attacker) or alert.target.ip (a flood's
// target), Suricata's own fields for it.
package eve

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

// Record is one EVE line. Field names and order follow Suricata.
type Record struct {
	Timestamp   string   `json:"timestamp"`
	FlowID      uint64   `json:"flow_id,omitempty"`
	InIface     string   `json:"in_iface,omitempty"`
	PcapCnt     uint64   `json:"pcap_cnt,omitempty"`
	EventType   string   `json:"event_type"`
	VLAN        []uint16 `json:"vlan,omitempty"`
	SrcIP       string   `json:"src_ip,omitempty"`
	SrcPort     *uint16  `json:"src_port,omitempty"`
	DestIP      string   `json:"dest_ip,omitempty"`
	DestPort    *uint16  `json:"dest_port,omitempty"`
	Proto       string   `json:"proto,omitempty"`
	ICMPType    *uint16  `json:"icmp_type,omitempty"`
	ICMPCode    *uint16  `json:"icmp_code,omitempty"`
	CommunityID string   `json:"community_id,omitempty"`
	// TxID is the app-layer transaction of an app event (http, dns...).
	TxID *uint64 `json:"tx_id,omitempty"`
	// Direction is an alert's: to_server (from the flow's client) or
	// to_client.
	Direction string       `json:"direction,omitempty"`
	Alert     *AlertRecord `json:"alert,omitempty"`
	AppProto  string       `json:"app_proto,omitempty"`
	// The app-layer record of an app event, or of the transaction an
	// alert matched (app.go).
	HTTP    json.RawMessage `json:"http,omitempty"`
	DNS     json.RawMessage `json:"dns,omitempty"`
	TLS     json.RawMessage `json:"tls,omitempty"`
	SSH     json.RawMessage `json:"ssh,omitempty"`
	Anomaly *AnomalyRecord  `json:"anomaly,omitempty"`
	Drop    *DropRecord     `json:"drop,omitempty"`
	// Flow is a flow event's *FlowRecord, or an alert's *AlertFlowRecord
	// (nil: none; never a typed nil).
	Flow     any          `json:"flow,omitempty"`
	TCP      *TCPRecord   `json:"tcp,omitempty"`
	Stats    *StatsRecord `json:"stats,omitempty"`
	Payload  string       `json:"payload,omitempty"`
	Metadata *Metadata    `json:"metadata,omitempty"`
}

// AlertRecord is the "alert" object.
type AlertRecord struct {
	Action      string              `json:"action"`
	GID         uint32              `json:"gid"`
	SignatureID uint32              `json:"signature_id"`
	Rev         uint32              `json:"rev"`
	Signature   string              `json:"signature"`
	Category    string              `json:"category"`
	Severity    int                 `json:"severity"`
	Source      *Endpoint           `json:"source,omitempty"`
	Target      *Endpoint           `json:"target,omitempty"`
	Metadata    map[string][]string `json:"metadata,omitempty"`
}

// Endpoint is alert.source or alert.target.
type Endpoint struct {
	IP string `json:"ip"`
}

// Metadata is the top-level "metadata" object: the engine's flow
// variables, where xdpids puts its own facts (see the package comment).
type Metadata struct {
	Flowvars []map[string]string `json:"flowvars,omitempty"`
	Flowints map[string]uint64   `json:"flowints,omitempty"`
}

func (m *Metadata) addVar(k, v string) {
	if v != "" {
		m.Flowvars = append(m.Flowvars, map[string]string{k: v})
	}
}

func (m *Metadata) addInt(k string, v uint64) {
	if m.Flowints == nil {
		m.Flowints = map[string]uint64{}
	}
	m.Flowints[k] = v
}

// TimeFormat is Suricata's EVE timestamp layout.
const TimeFormat = "2006-01-02T15:04:05.000000-0700"

// ProtoName is the EVE "proto" value for an IP protocol number.
func ProtoName(p uint8) string {
	switch p {
	case 1:
		return "ICMP"
	case 6:
		return "TCP"
	case 17:
		return "UDP"
	case 58:
		return "IPv6-ICMP"
	case 132:
		return "SCTP"
	}
	return fmt.Sprintf("%03d", p)
}

func isICMP(p uint8) bool   { return p == 1 || p == 58 }
func hasPorts(p uint8) bool { return p == 6 || p == 17 || p == 132 }

// tuple fills the addresses, ports (or ICMP type and code) and protocol.
func (r *Record) tuple(src, dst netip.Addr, sp, dp uint16, proto uint8, vlan uint16) {
	r.SrcIP, r.DestIP, r.Proto = src.String(), dst.String(), ProtoName(proto)
	if vlan != 0 {
		r.VLAN = []uint16{vlan}
	}
	if isICMP(proto) {
		r.ICMPType, r.ICMPCode = &sp, &dp
	} else if hasPorts(proto) {
		r.SrcPort, r.DestPort = &sp, &dp
	}
}

func stamp(ns int64, loc *time.Location) string { return time.Unix(0, ns).In(loc).Format(TimeFormat) }

// RecordOf converts an alert.
func RecordOf(a *alert.Alert, loc *time.Location) Record {
	r := Record{
		Timestamp: stamp(a.TsNs, loc), FlowID: a.FlowID, InIface: a.Iface, PcapCnt: a.PcapCnt, EventType: "alert",
		CommunityID: a.Community,
		Alert: &AlertRecord{Action: a.Action, GID: a.GID, SignatureID: a.SID, Rev: a.Rev, Signature: a.Signature,
			Category: a.Category, Severity: a.Severity, Metadata: a.RuleMetadata},
	}
	r.tuple(a.Src, a.Dst, a.SrcPort, a.DstPort, a.Proto, a.VLAN)
	if a.Subject.IsValid() {
		// The subject a response acts on: the attacker (source; the
		// other end is the target), or the target of a flood.
		if a.SubjectIsTarget {
			r.Alert.Target = &Endpoint{a.Subject.String()}
		} else {
			r.Alert.Source = &Endpoint{a.Subject.String()}
			if other := a.Dst; a.Subject == a.Dst {
				r.Alert.Target = &Endpoint{a.Src.String()}
			} else if other.IsValid() {
				r.Alert.Target = &Endpoint{other.String()}
			}
		}
	}
	if fl := &a.Flow; fl.Valid {
		r.Direction = "to_client"
		if fl.ToServer {
			r.Direction = "to_server"
		}
		r.Flow = &AlertFlowRecord{PktsToServer: fl.Pkts[0], PktsToClient: fl.Pkts[1], BytesToServer: fl.Bytes[0], BytesToClient: fl.Bytes[1],
			Start: stamp(fl.StartNs, loc), SrcIP: fl.Client.Addr().String(), DestIP: fl.Server.Addr().String(),
			SrcPort: fl.Client.Port(), DestPort: fl.Server.Port()}
	}
	r.AppProto = a.AppProto
	r.setApp(a.AppProto, a.App)
	if len(a.Payload) > 0 {
		r.Payload = base64.StdEncoding.EncodeToString(a.Payload)
	}
	m := &Metadata{}
	m.addVar("xdpids.detector", a.Detector)
	// The trust level of the evidence (and so of the ban it led to):
	// forgeable evidence bans only as a short challenge ban, and never a
	// verified source.
	m.addVar("xdpids.trust", a.Trust)
	if a.SourceVerified {
		m.addVar("xdpids.source_verified", "true")
	}
	m.addVar("xdpids.spoof_suspected", a.SpoofSuspected)
	m.addVar("xdpids.ban_prefix", a.BanPrefix)
	if a.BanPrefix != "" && a.Forgeable() {
		m.addVar("xdpids.ban_kind", "challenge")
	}
	if a.BanTTL > 0 {
		m.addInt("xdpids.ban_ttl_seconds", uint64(a.BanTTL/1e9))
	}
	keys := make([]string, 0, len(a.Metadata))
	for k := range a.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		m.addVar("xdpids."+k, a.Metadata[k])
	}
	if len(m.Flowvars) > 0 || len(m.Flowints) > 0 {
		r.Metadata = m
	}
	return r
}

// FlowRecord is the "flow" object of a flow event.
type FlowRecord struct {
	PktsToServer  uint64 `json:"pkts_toserver"`
	PktsToClient  uint64 `json:"pkts_toclient"`
	BytesToServer uint64 `json:"bytes_toserver"`
	BytesToClient uint64 `json:"bytes_toclient"`
	Start         string `json:"start"`
	End           string `json:"end"`
	Age           int64  `json:"age"`
	Bypass        string `json:"bypass,omitempty"`
	State         string `json:"state"`
	Reason        string `json:"reason"`
	Alerted       bool   `json:"alerted"`
	Action        string `json:"action,omitempty"`
}

// AlertFlowRecord is the "flow" object of an alert: the flow's counters
// at the alert and its start, and its client and server (so the side an
// app record's fields belong to is known whichever way the alerting
// packet went).
type AlertFlowRecord struct {
	PktsToServer  uint64 `json:"pkts_toserver"`
	PktsToClient  uint64 `json:"pkts_toclient"`
	BytesToServer uint64 `json:"bytes_toserver"`
	BytesToClient uint64 `json:"bytes_toclient"`
	Start         string `json:"start"`
	SrcIP         string `json:"src_ip,omitempty"`
	DestIP        string `json:"dest_ip,omitempty"`
	SrcPort       uint16 `json:"src_port,omitempty"`
	DestPort      uint16 `json:"dest_port,omitempty"`
}

// TCPRecord is the "tcp" object of a flow event.
type TCPRecord struct {
	TCPFlags   string `json:"tcp_flags"`
	TCPFlagsTS string `json:"tcp_flags_ts"`
	TCPFlagsTC string `json:"tcp_flags_tc"`
	SYN        bool   `json:"syn,omitempty"`
	FIN        bool   `json:"fin,omitempty"`
	RST        bool   `json:"rst,omitempty"`
	PSH        bool   `json:"psh,omitempty"`
	ACK        bool   `json:"ack,omitempty"`
	URG        bool   `json:"urg,omitempty"`
	ECN        bool   `json:"ecn,omitempty"`
	CWR        bool   `json:"cwr,omitempty"`
	State      string `json:"state"`
}

// flowState is Suricata's flow.state: new until both sides spoke (TCP:
// until the handshake), established, closed; capture_bypassed when the
// kernel stopped handing the flow to userspace.
func flowState(f *flows.Flow) string {
	switch {
	case f.IsBypassed():
		return "capture_bypassed"
	case f.State == flows.StateEstablished || f.State == flows.StateClosing:
		return "established"
	case f.State == flows.StateClosed || f.State == flows.StateReset:
		return "closed"
	}
	return "new"
}

// tcpState is Suricata's tcp.state name for ours.
func tcpState(s flows.State) string {
	switch s {
	case flows.StateNew:
		return "none"
	case flows.StateReset:
		return "closed"
	}
	return s.String()
}

// FlowRecordOf converts a flow that left the table (f.EndReason set).
func FlowRecordOf(f *flows.Flow, iface string, loc *time.Location) Record {
	end := f.EndNs
	if end == 0 {
		end = f.LastNs
	}
	r := Record{Timestamp: stamp(end, loc), FlowID: f.ID, InIface: iface, EventType: "flow"}
	src, sp := f.Orig()
	dst, dp := f.Resp()
	if isICMP(f.Proto) {
		// The key holds the echo id (or type and code), not what
		// icmp_type/icmp_code mean: leave them out.
		r.SrcIP, r.DestIP, r.Proto = src.String(), dst.String(), ProtoName(f.Proto)
		if f.VLAN != 0 {
			r.VLAN = []uint16{f.VLAN}
		}
	} else {
		r.tuple(src, dst, sp, dp, f.Proto, f.VLAN)
		r.CommunityID = flows.CommunityID(src, dst, sp, dp, f.Proto)
	}
	r.AppProto = appProtoName(f.App)
	fr := &FlowRecord{
		PktsToServer: f.Pkts[0], PktsToClient: f.Pkts[1], BytesToServer: f.Bytes[0], BytesToClient: f.Bytes[1],
		Start: stamp(f.FirstNs, loc), End: stamp(f.LastNs, loc),
		Age:   f.LastNs/1e9 - f.FirstNs/1e9, // whole seconds, as Suricata counts them
		State: flowState(f), Reason: f.EndReason.String(), Alerted: f.Alerted,
	}
	if fr.Reason == "" {
		fr.Reason = "timeout"
	}
	if f.IsBypassed() {
		fr.Bypass = "capture"
	}
	if f.Dropped {
		fr.Action = "drop"
	}
	r.Flow = fr
	if f.Proto == decode.ProtoTCP {
		all := f.Flags[0] | f.Flags[1]
		r.TCP = &TCPRecord{
			TCPFlags: fmt.Sprintf("%02x", all), TCPFlagsTS: fmt.Sprintf("%02x", f.Flags[0]), TCPFlagsTC: fmt.Sprintf("%02x", f.Flags[1]),
			SYN: all&decode.FlagSYN != 0, FIN: all&decode.FlagFIN != 0, RST: all&decode.FlagRST != 0,
			PSH: all&decode.FlagPSH != 0, ACK: all&decode.FlagACK != 0, URG: all&decode.FlagURG != 0,
			ECN: all&0x40 != 0, CWR: all&0x80 != 0, State: tcpState(f.State),
		}
	}
	r.Metadata = &Metadata{Flowints: map[string]uint64{"xdpids.inspect_gaps": f.InspectGaps}}
	for d, key := range bypassKeys {
		if why := f.Bypass[d]; int(why) < len(flows.BypassNames) {
			r.Metadata.addVar(key, flows.BypassNames[why])
		}
	}
	return r
}

// bypassKeys name the flow variables saying why each direction was
// bypassed (flows.Bypass*).
var bypassKeys = [2]string{"xdpids.bypass_toserver", "xdpids.bypass_toclient"}

// AnomalyRecord is the "anomaly" object.
type AnomalyRecord struct {
	Type  string `json:"type"`
	Event string `json:"event"`
	Layer string `json:"layer,omitempty"`
}

// Anomaly is a decode or stream event: of packet P (nil for a stream
// event found when a flow ended: then of flow F), named as Suricata
// names it.
type Anomaly struct {
	P     *decode.Packet
	F     *flows.Flow
	TsNs  int64  // when (packet time)
	Type  string // "decode" or "stream"
	Event string // "decoder.ipv4.trunc_pkt", "stream.reassembly_seq_gap", ...
}

// packetRecord fills the header of an event about packet p of flow f
// (either may be nil).
func packetRecord(p *decode.Packet, f *flows.Flow, tsNs int64, event, iface string, loc *time.Location) Record {
	r := Record{Timestamp: stamp(tsNs, loc), InIface: iface, EventType: event}
	if f != nil {
		r.FlowID = f.ID
	}
	switch {
	case p != nil:
		r.PcapCnt = p.PcapCnt
		if p.Family != 0 {
			r.tuple(p.Src, p.Dst, p.SrcPort, p.DstPort, p.Proto, p.VLAN)
			if p.HasL4 {
				r.CommunityID = flows.CommunityID(p.Src, p.Dst, p.SrcPort, p.DstPort, p.Proto)
			} else {
				// Cut before its ports (or a later fragment): none to show.
				r.SrcPort, r.DestPort, r.ICMPType, r.ICMPCode = nil, nil, nil, nil
			}
		}
	case f != nil:
		src, sp := f.Orig()
		dst, dp := f.Resp()
		r.tuple(src, dst, sp, dp, f.Proto, f.VLAN)
	}
	return r
}

// AnomalyRecordOf converts an anomaly.
func AnomalyRecordOf(a *Anomaly, iface string, loc *time.Location) Record {
	r := packetRecord(a.P, a.F, a.TsNs, "anomaly", iface, loc)
	r.Anomaly = &AnomalyRecord{Type: a.Type, Event: a.Event}
	return r
}

// DropRecord is the "drop" object: the dropped packet's IP and TCP
// header fields, and why.
type DropRecord struct {
	Len     uint32  `json:"len"`
	TTL     uint8   `json:"ttl"`
	IPID    uint16  `json:"ipid"`
	TCPSeq  *uint32 `json:"tcpseq,omitempty"`
	TCPAck  *uint32 `json:"tcpack,omitempty"`
	TCPWin  *uint16 `json:"tcpwin,omitempty"`
	SYN     *bool   `json:"syn,omitempty"`
	ACK     *bool   `json:"ack,omitempty"`
	PSH     *bool   `json:"psh,omitempty"`
	RST     *bool   `json:"rst,omitempty"`
	URG     *bool   `json:"urg,omitempty"`
	FIN     *bool   `json:"fin,omitempty"`
	ICMPID  *uint16 `json:"icmp_id,omitempty"`
	ICMPSeq *uint16 `json:"icmp_seq,omitempty"`
	Reason  string  `json:"reason"`
}

// DropRecordOf converts a dropped packet p of flow f (f may be nil);
// reason is Suricata's drop.reason ("rules" for a drop rule's verdict).
func DropRecordOf(p *decode.Packet, f *flows.Flow, reason, iface string, loc *time.Location) Record {
	r := packetRecord(p, f, p.TsNs, "drop", iface, loc)
	d := &DropRecord{Len: p.IPLen, TTL: p.TTL, IPID: p.IPID, Reason: reason}
	if p.Proto == decode.ProtoTCP && p.HasL4 {
		seq, ack, win := p.Seq, p.Ack, p.Window
		fl := p.TCPFlags
		b := func(m uint8) *bool { v := fl&m != 0; return &v }
		d.TCPSeq, d.TCPAck, d.TCPWin = &seq, &ack, &win
		d.SYN, d.ACK, d.PSH, d.RST, d.URG, d.FIN = b(decode.FlagSYN), b(decode.FlagACK), b(decode.FlagPSH), b(decode.FlagRST), b(decode.FlagURG), b(decode.FlagFIN)
	}
	if isICMP(p.Proto) && p.HasL4 {
		id, sq := p.ICMPID, p.ICMPSeq
		d.ICMPID, d.ICMPSeq = &id, &sq
	}
	r.Drop = d
	return r
}

// StatsRecord is the "stats" object, in Suricata's layout where a
// counter has a Suricata name the schema lists.
type StatsRecord struct {
	Uptime  int64        `json:"uptime"`
	Decoder DecoderStats `json:"decoder"`
	Flow    FlowStats    `json:"flow"`
	TCP     TCPStats     `json:"tcp"`
	Detect  DetectStats  `json:"detect"`
}

// DecoderStats is stats.decoder.
type DecoderStats struct {
	Pkts     uint64 `json:"pkts"`
	Bytes    uint64 `json:"bytes"`
	Invalid  uint64 `json:"invalid"`
	IPv4     uint64 `json:"ipv4"`
	IPv6     uint64 `json:"ipv6"`
	Ethernet uint64 `json:"ethernet"`
	VLAN     uint64 `json:"vlan"`
	TCP      uint64 `json:"tcp"`
	UDP      uint64 `json:"udp"`
	ICMPv4   uint64 `json:"icmpv4"`
	ICMPv6   uint64 `json:"icmpv6"`
	VXLAN    uint64 `json:"vxlan"`
}

// FlowStats is stats.flow: flows created by protocol.
type FlowStats struct {
	TCP    uint64 `json:"tcp"`
	UDP    uint64 `json:"udp"`
	ICMPv4 uint64 `json:"icmpv4"`
	ICMPv6 uint64 `json:"icmpv6"`
}

// TCPStats is stats.tcp: sessions and reassembly.
type TCPStats struct {
	Sessions           uint64 `json:"sessions"`
	Syn                uint64 `json:"syn"`
	SynAck             uint64 `json:"synack"`
	Rst                uint64 `json:"rst"`
	MidstreamPickups   uint64 `json:"midstream_pickups"`
	Overlap            uint64 `json:"overlap"`
	ReassemblyGap      uint64 `json:"reassembly_gap"`
	StreamDepthReached uint64 `json:"stream_depth_reached"`
}

// DetectStats is stats.detect.
type DetectStats struct {
	Alert uint64 `json:"alert"`
}

// Stats is one stats event: Suricata's counters and, where the schema
// has no name for a counter (capture.kernel_packets and kernel_drops,
// and xdpids' own), Extra, written as metadata.flowints.
type Stats struct {
	TsNs  int64
	Stats StatsRecord
	Extra map[string]uint64
}

// StatsRecordOf converts a stats event.
func StatsRecordOf(s *Stats, loc *time.Location) Record {
	st := s.Stats
	r := Record{Timestamp: stamp(s.TsNs, loc), EventType: "stats", Stats: &st}
	if len(s.Extra) > 0 {
		r.Metadata = &Metadata{Flowints: s.Extra}
	}
	return r
}

// Writer writes EVE lines to a file or stream. Safe for concurrent use.
type Writer struct {
	mu   sync.Mutex
	path string // "" or "-": stdout / the given stream
	f    *os.File
	out  io.Writer
	bw   *bufio.Writer
	loc  *time.Location
	n    uint64

	// NoFlows, set before the first write, leaves flow events out
	// (config eve.flows: false).
	NoFlows bool

	scratch []byte // the flow line being built (under mu)
}

// Open writes to path (appending), or to stdout for "-".
func Open(path string) (*Writer, error) {
	w := &Writer{path: path, loc: time.Local}
	if path == "" || path == "-" {
		w.out = os.Stdout
		w.bw = bufio.NewWriter(os.Stdout)
		return w, nil
	}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

// NewWriter writes to out (tests, pipes).
func NewWriter(out io.Writer, loc *time.Location) *Writer {
	return &Writer{out: out, bw: bufio.NewWriter(out), loc: loc}
}

func (w *Writer) open() error {
	f, err := os.OpenFile(w.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("open eve log: %w", err)
	}
	w.f, w.out = f, f
	w.bw = bufio.NewWriter(f)
	return nil
}

// Write appends one alert line and flushes it (alerts are rare and must
// not sit in a buffer when the daemon dies).
func (w *Writer) Write(a *alert.Alert) error { return w.put(RecordOf(a, w.loc), true) }

// WriteFlow appends the flow event of f, which just left its table.
//
// A flood ends a flow per packet: the line is appended by hand, without
// reflection or allocation, and is byte for byte what encoding/json makes
// of FlowRecordOf (TestAppendFlow).
func (w *Writer) WriteFlow(f *flows.Flow, iface string) error {
	if w.NoFlows {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.scratch = appendFlow(w.scratch[:0], f, iface, w.loc)
	w.scratch = append(w.scratch, '\n')
	w.n++
	if _, err := w.bw.Write(w.scratch); err != nil {
		return fmt.Errorf("write eve log: %w", err)
	}
	return nil
}

// WriteAnomaly appends an anomaly event.
func (w *Writer) WriteAnomaly(a *Anomaly, iface string) error {
	return w.put(AnomalyRecordOf(a, iface, w.loc), false)
}

// WriteDrop appends the drop event of packet p (flow f, may be nil) and
// flushes it, as alerts are.
func (w *Writer) WriteDrop(p *decode.Packet, f *flows.Flow, reason, iface string) error {
	return w.put(DropRecordOf(p, f, reason, iface, w.loc), true)
}

// WriteStats appends a stats event and flushes.
func (w *Writer) WriteStats(s *Stats) error { return w.put(StatsRecordOf(s, w.loc), true) }

// Flush writes out buffered lines (flow and anomaly events are buffered:
// a flood ends many flows at once).
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("write eve log: %w", err)
	}
	return nil
}

func (w *Writer) put(r Record, flush bool) error {
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode eve: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.bw.Write(line)
	w.bw.WriteByte('\n')
	w.n++
	if flush {
		if err := w.bw.Flush(); err != nil {
			return fmt.Errorf("write eve log: %w", err)
		}
	}
	return nil
}

// Count is the number of lines written.
func (w *Writer) Count() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// Reopen closes and reopens the file (after logrotate moved it).
func (w *Writer) Reopen() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	_ = w.bw.Flush()
	_ = w.f.Close()
	return w.open()
}

// Close flushes and closes the file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.bw.Flush()
	if w.f != nil {
		if cerr := w.f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// appendFlow appends FlowRecordOf(f, iface, loc) as encoding/json writes
// it.
func appendFlow(b []byte, f *flows.Flow, iface string, loc *time.Location) []byte {
	end := f.EndNs
	if end == 0 {
		end = f.LastNs
	}
	b = append(b, `{"timestamp":"`...)
	b = appendStamp(b, end, loc)
	b = append(b, '"')
	if f.ID != 0 {
		b = append(b, `,"flow_id":`...)
		b = strconv.AppendUint(b, f.ID, 10)
	}
	if iface != "" {
		b = append(b, `,"in_iface":`...)
		b = appendString(b, iface)
	}
	b = append(b, `,"event_type":"flow"`...)
	if f.VLAN != 0 {
		b = append(b, `,"vlan":[`...)
		b = strconv.AppendUint(b, uint64(f.VLAN), 10)
		b = append(b, ']')
	}
	src, sp := f.Orig()
	dst, dp := f.Resp()
	b = append(b, `,"src_ip":"`...)
	b = src.AppendTo(b)
	b = append(b, '"')
	ports := !isICMP(f.Proto) && hasPorts(f.Proto)
	if ports {
		b = append(b, `,"src_port":`...)
		b = strconv.AppendUint(b, uint64(sp), 10)
	}
	b = append(b, `,"dest_ip":"`...)
	b = dst.AppendTo(b)
	b = append(b, '"')
	if ports {
		b = append(b, `,"dest_port":`...)
		b = strconv.AppendUint(b, uint64(dp), 10)
	}
	b = append(b, `,"proto":`...)
	b = appendString(b, ProtoName(f.Proto))
	if !isICMP(f.Proto) {
		b = append(b, `,"community_id":"`...)
		b = flows.AppendCommunityID(b, src, dst, sp, dp, f.Proto)
		b = append(b, '"')
	}
	if n := appProtoName(f.App); n != "" {
		b = append(b, `,"app_proto":"`...)
		b = append(b, n...)
		b = append(b, '"')
	}
	b = append(b, `,"flow":{"pkts_toserver":`...)
	b = strconv.AppendUint(b, f.Pkts[0], 10)
	b = append(b, `,"pkts_toclient":`...)
	b = strconv.AppendUint(b, f.Pkts[1], 10)
	b = append(b, `,"bytes_toserver":`...)
	b = strconv.AppendUint(b, f.Bytes[0], 10)
	b = append(b, `,"bytes_toclient":`...)
	b = strconv.AppendUint(b, f.Bytes[1], 10)
	b = append(b, `,"start":"`...)
	b = appendStamp(b, f.FirstNs, loc)
	b = append(b, `","end":"`...)
	b = appendStamp(b, f.LastNs, loc)
	b = append(b, `","age":`...)
	b = strconv.AppendInt(b, f.LastNs/1e9-f.FirstNs/1e9, 10)
	if f.IsBypassed() {
		b = append(b, `,"bypass":"capture"`...)
	}
	b = append(b, `,"state":"`...)
	b = append(b, flowState(f)...)
	reason := f.EndReason.String()
	if reason == "" {
		reason = "timeout"
	}
	b = append(b, `","reason":"`...)
	b = append(b, reason...)
	b = append(b, `","alerted":`...)
	b = strconv.AppendBool(b, f.Alerted)
	if f.Dropped {
		b = append(b, `,"action":"drop"`...)
	}
	b = append(b, '}')
	if f.Proto == decode.ProtoTCP {
		all := f.Flags[0] | f.Flags[1]
		b = append(b, `,"tcp":{"tcp_flags":"`...)
		b = appendHex2(b, all)
		b = append(b, `","tcp_flags_ts":"`...)
		b = appendHex2(b, f.Flags[0])
		b = append(b, `","tcp_flags_tc":"`...)
		b = appendHex2(b, f.Flags[1])
		b = append(b, '"')
		for _, fl := range tcpFlagNames {
			if all&fl.bit != 0 {
				b = append(b, fl.key...)
			}
		}
		b = append(b, `,"state":"`...)
		b = append(b, tcpState(f.State)...)
		b = append(b, `"}`...)
	}
	b = append(b, `,"metadata":{`...)
	sep := false
	for d, key := range bypassKeys {
		why := f.Bypass[d]
		if why == flows.BypassNone || int(why) >= len(flows.BypassNames) {
			continue
		}
		if !sep {
			b = append(b, `"flowvars":[`...)
		} else {
			b = append(b, ',')
		}
		sep = true
		b = append(b, `{"`...)
		b = append(b, key...)
		b = append(b, `":"`...)
		b = append(b, flows.BypassNames[why]...)
		b = append(b, `"}`...)
	}
	if sep {
		b = append(b, "],"...)
	}
	b = append(b, `"flowints":{"xdpids.inspect_gaps":`...)
	b = strconv.AppendUint(b, f.InspectGaps, 10)
	return append(b, "}}}"...)
}

// tcpFlagNames are TCPRecord's flag fields, in its order.
var tcpFlagNames = [...]struct {
	bit uint8
	key string
}{
	{decode.FlagSYN, `,"syn":true`}, {decode.FlagFIN, `,"fin":true`}, {decode.FlagRST, `,"rst":true`},
	{decode.FlagPSH, `,"psh":true`}, {decode.FlagACK, `,"ack":true`}, {decode.FlagURG, `,"urg":true`},
	{0x40, `,"ecn":true`}, {0x80, `,"cwr":true`},
}

func appendStamp(b []byte, ns int64, loc *time.Location) []byte {
	return time.Unix(0, ns).In(loc).AppendFormat(b, TimeFormat)
}

func appendHex2(b []byte, v uint8) []byte {
	const hex = "0123456789abcdef"
	return append(b, hex[v>>4], hex[v&15])
}

// appendString appends s as a JSON string: by hand when it holds only
// characters encoding/json writes as they are, through it otherwise.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
