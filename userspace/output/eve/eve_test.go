package eve

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xdpids/xdpids/userspace/detect/alert"
)

// 2023-11-14 22:13:20.123456789 UTC
const ts = int64(1_700_000_000_123_456_789)

func baseAlert() *alert.Alert {
	a := &alert.Alert{
		TsNs: ts, Iface: "eth0", FlowID: 1234567890123,
		Src: netip.MustParseAddr("203.0.113.66"), Dst: netip.MustParseAddr("192.0.2.10"),
		SrcPort: 40000, DstPort: 22, Proto: 6, Community: "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
		Action: "blocked", Subject: netip.MustParseAddr("203.0.113.66"), BanPrefix: "203.0.113.66/32", BanTTL: int64(10 * time.Minute),
		Detector: "brute_force", Metadata: map[string]string{"connections": "10", "service": "ssh"},
		Payload: []byte("SSH-2.0-libssh\r\n"),
	}
	alert.BruteSSH.Fill(a)
	return a
}

// fields marshals r and decodes it into a generic map, as a consumer of
// the EVE log would see it.
func fields(t *testing.T, r Record) map[string]any {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// keyOrder returns the top-level keys of a JSON object in order.
func keyOrder(t *testing.T, line []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %v %v", tok, err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestRecordOfTCP(t *testing.T) {
	a := baseAlert()
	a.VLAN = 100
	m := fields(t, RecordOf(a, time.UTC))
	want := map[string]any{
		"timestamp":    "2023-11-14T22:13:20.123456+0000",
		"flow_id":      float64(1234567890123),
		"in_iface":     "eth0",
		"event_type":   "alert",
		"vlan":         []any{float64(100)},
		"src_ip":       "203.0.113.66",
		"src_port":     float64(40000),
		"dest_ip":      "192.0.2.10",
		"dest_port":    float64(22),
		"proto":        "TCP",
		"community_id": "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
		"alert": map[string]any{
			"action": "blocked", "gid": float64(1), "signature_id": float64(8400022), "rev": float64(1),
			"signature": alert.BruteSSH.Msg, "category": "Unsuccessful User Privilege Gain", "severity": float64(1),
			"source": map[string]any{"ip": "203.0.113.66"}, "target": map[string]any{"ip": "192.0.2.10"},
		},
		"payload": base64.StdEncoding.EncodeToString([]byte("SSH-2.0-libssh\r\n")),
		"metadata": map[string]any{
			"flowvars": []any{
				map[string]any{"xdpids.detector": "brute_force"}, map[string]any{"xdpids.ban_prefix": "203.0.113.66/32"},
				map[string]any{"xdpids.connections": "10"}, map[string]any{"xdpids.service": "ssh"},
			},
			"flowints": map[string]any{"xdpids.ban_ttl_seconds": float64(600)},
		},
	}
	if !reflect.DeepEqual(m, want) {
		gotJSON, _ := json.MarshalIndent(m, "", " ")
		wantJSON, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("record:\n%s\nwant:\n%s", gotJSON, wantJSON)
	}
	line, _ := json.Marshal(RecordOf(a, time.UTC))
	// Suricata's key order.
	got := strings.Join(keyOrder(t, line), ",")
	if got != "timestamp,flow_id,in_iface,event_type,vlan,src_ip,src_port,dest_ip,dest_port,proto,community_id,alert,payload,metadata" {
		t.Errorf("key order %s", got)
	}
}

func TestRecordOfProtocols(t *testing.T) {
	for _, tc := range []struct {
		name      string
		proto     uint8
		src, dst  string
		sp, dp    uint16
		wantProto string
		ports     bool // src_port/dest_port
		icmp      bool // icmp_type/icmp_code
	}{
		{"tcp", 6, "10.0.0.1", "10.0.0.2", 1, 2, "TCP", true, false},
		{"udp", 17, "10.0.0.1", "10.0.0.2", 53, 5353, "UDP", true, false},
		{"sctp", 132, "10.0.0.1", "10.0.0.2", 7, 7, "SCTP", true, false},
		{"icmp", 1, "10.0.0.1", "10.0.0.2", 8, 0, "ICMP", false, true},
		{"icmp unreachable", 1, "10.0.0.1", "10.0.0.2", 3, 13, "ICMP", false, true},
		{"icmpv6", 58, "2001:db8::1", "2001:db8::2", 128, 0, "IPv6-ICMP", false, true},
		{"gre", 47, "10.0.0.1", "10.0.0.2", 0, 0, "047", false, false},
		{"ipv6 no next header", 59, "2001:db8::1", "2001:db8::2", 0, 0, "059", false, false},
		{"proto 0", 0, "10.0.0.1", "10.0.0.2", 0, 0, "000", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &alert.Alert{TsNs: ts, Src: netip.MustParseAddr(tc.src), Dst: netip.MustParseAddr(tc.dst),
				SrcPort: tc.sp, DstPort: tc.dp, Proto: tc.proto, Action: "allowed"}
			m := fields(t, RecordOf(a, time.UTC))
			if m["proto"] != tc.wantProto || ProtoName(tc.proto) != tc.wantProto {
				t.Errorf("proto %v, want %s", m["proto"], tc.wantProto)
			}
			if m["src_ip"] != tc.src || m["dest_ip"] != tc.dst {
				t.Errorf("addresses %v %v", m["src_ip"], m["dest_ip"])
			}
			_, sp := m["src_port"]
			_, dp := m["dest_port"]
			if sp != tc.ports || dp != tc.ports {
				t.Errorf("src_port/dest_port present %v %v, want %v", sp, dp, tc.ports)
			}
			if tc.ports && (m["src_port"] != float64(tc.sp) || m["dest_port"] != float64(tc.dp)) {
				t.Errorf("ports %v %v", m["src_port"], m["dest_port"])
			}
			it, hasType := m["icmp_type"]
			ic, hasCode := m["icmp_code"]
			if hasType != tc.icmp || hasCode != tc.icmp {
				t.Errorf("icmp_type/icmp_code present %v %v, want %v", hasType, hasCode, tc.icmp)
			}
			if tc.icmp && (it != float64(tc.sp) || ic != float64(tc.dp)) {
				t.Errorf("icmp type %v code %v", it, ic)
			}
			// Port 0 is a port: present for TCP/UDP even when zero.
			if tc.ports {
				a.SrcPort, a.DstPort = 0, 0
				if m := fields(t, RecordOf(a, time.UTC)); m["src_port"] != float64(0) || m["dest_port"] != float64(0) {
					t.Errorf("zero ports dropped: %v", m)
				}
			}
			// Nothing optional sneaks in.
			for _, k := range []string{"flow_id", "in_iface", "vlan", "community_id", "payload", "xdpids"} {
				if _, ok := m[k]; ok {
					t.Errorf("%s present for a bare alert", k)
				}
			}
			if _, ok := m["alert"].(map[string]any)["metadata"]; ok {
				t.Error("metadata present without any")
			}
		})
	}
}

func TestTimestampLayout(t *testing.T) {
	for _, tc := range []struct {
		tsNs int64
		loc  *time.Location
		want string
	}{
		{ts, time.UTC, "2023-11-14T22:13:20.123456+0000"},
		{ts, time.FixedZone("CEST", 2*3600), "2023-11-15T00:13:20.123456+0200"},
		{ts, time.FixedZone("", -(5*3600 + 30*60)), "2023-11-14T16:43:20.123456-0530"},
		{1_700_000_000_000_000_000, time.UTC, "2023-11-14T22:13:20.000000+0000"},
		{1_700_000_000_999_999_999, time.UTC, "2023-11-14T22:13:20.999999+0000"}, // truncated, as Suricata
	} {
		if got := RecordOf(&alert.Alert{TsNs: tc.tsNs, Proto: 6}, tc.loc).Timestamp; got != tc.want {
			t.Errorf("%d in %v: %s, want %s", tc.tsNs, tc.loc, got, tc.want)
		}
		if _, err := time.Parse(TimeFormat, tc.want); err != nil {
			t.Errorf("layout does not parse its own output: %v", err)
		}
	}
}

func TestRecordOfExtra(t *testing.T) {
	// A flood to a destination: the subject is the target, no ban.
	a := &alert.Alert{TsNs: ts, Src: netip.MustParseAddr("198.51.100.1"), Dst: netip.MustParseAddr("192.0.2.10"),
		Proto: 17, SrcPort: 53, DstPort: 4444, Subject: netip.MustParseAddr("192.0.2.10"), SubjectIsTarget: true,
		Detector: "amplification", Action: "allowed"}
	m := fields(t, RecordOf(a, time.UTC))
	al := m["alert"].(map[string]any)
	if _, ok := al["source"]; ok || !reflect.DeepEqual(al["target"], map[string]any{"ip": "192.0.2.10"}) {
		t.Errorf("alert %v", al)
	}
	if md := m["metadata"]; !reflect.DeepEqual(md, map[string]any{"flowvars": []any{map[string]any{"xdpids.detector": "amplification"}}}) {
		t.Errorf("metadata %v", md)
	}
	// DHCP flood: no subject address.
	a = &alert.Alert{TsNs: ts, Src: netip.IPv4Unspecified(), Dst: netip.MustParseAddr("255.255.255.255"), Proto: 17,
		SrcPort: 68, DstPort: 67, SubjectIsTarget: true, Detector: "dhcp_flood"}
	al = fields(t, RecordOf(a, time.UTC))["alert"].(map[string]any)
	if _, ok := al["target"]; ok {
		t.Errorf("alert %v", al)
	}
	// Detector facts are xdpids flow variables, in key order; a rule's
	// metadata is alert.metadata, arrays of strings as Suricata writes it.
	a.Metadata = map[string]string{"window": "10s", "messages": "100"}
	a.RuleMetadata = map[string][]string{"tag": {"a", "b"}}
	m = fields(t, RecordOf(a, time.UTC))
	want := []any{map[string]any{"xdpids.detector": "dhcp_flood"}, map[string]any{"xdpids.messages": "100"}, map[string]any{"xdpids.window": "10s"}}
	if fv := m["metadata"].(map[string]any)["flowvars"]; !reflect.DeepEqual(fv, want) {
		t.Errorf("flowvars %v", fv)
	}
	if md := m["alert"].(map[string]any)["metadata"]; !reflect.DeepEqual(md, map[string]any{"tag": []any{"a", "b"}}) {
		t.Errorf("alert.metadata %v", md)
	}
	// pcap_cnt: offline only.
	a.PcapCnt = 7
	if line, _ := json.Marshal(RecordOf(a, time.UTC)); !strings.Contains(string(line), `"pcap_cnt":7,"event_type"`) {
		t.Errorf("pcap_cnt: %s", line)
	}
}

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, time.UTC)
	for i := range 3 {
		a := baseAlert()
		a.FlowID = uint64(i + 1)
		if err := w.Write(a); err != nil {
			t.Fatal(err)
		}
		// Flushed at once: the line is out before the next Write.
		if n := bytes.Count(buf.Bytes(), []byte("\n")); n != i+1 {
			t.Fatalf("after write %d: %d lines", i+1, n)
		}
	}
	if w.Count() != 3 {
		t.Errorf("Count %d", w.Count())
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	for i, l := range lines {
		var r Record
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if r.FlowID != uint64(i+1) || r.EventType != "alert" || r.Alert.SignatureID != alert.BruteSSH.SID {
			t.Errorf("line %d: %+v", i, r)
		}
	}
	if err := w.Reopen(); err != nil {
		t.Errorf("Reopen of a stream: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestWriterConcurrent(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, time.UTC)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				a := baseAlert()
				a.FlowID = uint64(g*1000 + i)
				if err := w.Write(a); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	sc := bufio.NewScanner(&buf)
	n := 0
	for sc.Scan() {
		if !json.Valid(sc.Bytes()) {
			t.Fatalf("interleaved line %q", sc.Text())
		}
		n++
	}
	if n != 400 || w.Count() != 400 {
		t.Fatalf("%d lines, Count %d", n, w.Count())
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriterError(t *testing.T) {
	w := NewWriter(failWriter{}, time.UTC)
	if err := w.Write(baseAlert()); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Write to a failing writer: %v", err)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestOpenReopenAfterRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "eve.json")
	// An existing log is appended to.
	if err := os.WriteFile(path, []byte("{\"old\":1}\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	w, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	write := func(id uint64) {
		a := baseAlert()
		a.FlowID = id
		if err := w.Write(a); err != nil {
			t.Fatal(err)
		}
	}
	write(1)
	if got := readLines(t, path); len(got) != 2 || got[0] != "{\"old\":1}" {
		t.Fatalf("appended log: %q", got)
	}
	// logrotate renames the file; the writer still holds the old one.
	rotated := path + ".1"
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	write(2)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a write before Reopen created the path: %v", err)
	}
	if err := w.Reopen(); err != nil {
		t.Fatal(err)
	}
	write(3)
	write(4)
	if got := readLines(t, rotated); len(got) != 3 {
		t.Fatalf("rotated file: %d lines, want 3", len(got))
	}
	got := readLines(t, path)
	if len(got) != 2 {
		t.Fatalf("new file: %d lines, want 2", len(got))
	}
	for i, l := range got {
		var r Record
		if err := json.Unmarshal([]byte(l), &r); err != nil || r.FlowID != uint64(3+i) {
			t.Errorf("new file line %d: %q %v", i, l, err)
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm&0o007 != 0 {
		t.Errorf("new log mode %v readable by others", perm)
	}
	if w.Count() != 4 {
		t.Errorf("Count %d", w.Count())
	}
	if err := w.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "missing", "eve.json")); err == nil {
		t.Fatal("Open in a missing directory succeeded")
	}
	for _, p := range []string{"", "-"} {
		w, err := Open(p)
		if err != nil {
			t.Fatalf("Open(%q): %v", p, err)
		}
		if err := w.Reopen(); err != nil {
			t.Errorf("Reopen of stdout: %v", err)
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	w := NewWriter(&bytes.Buffer{}, time.UTC)
	a := baseAlert()
	b.ReportAllocs()
	for b.Loop() {
		_ = w.Write(a)
	}
}

// TestRecordOfTrust: the trust level of the evidence, the kernel's
// verdict on the source and the spoof reason are xdpids flow variables;
// a ban on forgeable evidence says it is a challenge ban.
func TestRecordOfTrust(t *testing.T) {
	a := baseAlert()
	a.Metadata, a.Payload = nil, nil
	a.Trust = alert.TrustForgeable
	fv := fields(t, RecordOf(a, time.UTC))["metadata"].(map[string]any)["flowvars"]
	want := []any{
		map[string]any{"xdpids.detector": "brute_force"}, map[string]any{"xdpids.trust": "forgeable"},
		map[string]any{"xdpids.ban_prefix": "203.0.113.66/32"}, map[string]any{"xdpids.ban_kind": "challenge"},
	}
	if !reflect.DeepEqual(fv, want) {
		t.Errorf("forgeable ban: flowvars %v", fv)
	}
	a.Action, a.BanPrefix, a.BanTTL = "allowed", "", 0
	a.SourceVerified, a.SpoofSuspected = true, "hop count 52 vs 64 of the verified source"
	fv = fields(t, RecordOf(a, time.UTC))["metadata"].(map[string]any)["flowvars"]
	want = []any{
		map[string]any{"xdpids.detector": "brute_force"}, map[string]any{"xdpids.trust": "forgeable"},
		map[string]any{"xdpids.source_verified": "true"},
		map[string]any{"xdpids.spoof_suspected": "hop count 52 vs 64 of the verified source"},
	}
	if !reflect.DeepEqual(fv, want) {
		t.Errorf("spoof suspected: flowvars %v", fv)
	}
	a.Trust, a.SourceVerified, a.SpoofSuspected = alert.TrustVerified, false, ""
	a.Action, a.BanPrefix = "blocked", "203.0.113.66/32"
	fv = fields(t, RecordOf(a, time.UTC))["metadata"].(map[string]any)["flowvars"]
	want = []any{
		map[string]any{"xdpids.detector": "brute_force"}, map[string]any{"xdpids.trust": "verified"},
		map[string]any{"xdpids.ban_prefix": "203.0.113.66/32"},
	}
	if !reflect.DeepEqual(fv, want) {
		t.Errorf("verified ban: flowvars %v", fv)
	}
}
