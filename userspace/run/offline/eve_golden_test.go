package offline_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"github.com/xdpids/xdpids/internal/testenv"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/internal/testgen"
	"github.com/xdpids/xdpids/userspace/config"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/output/eve"
	"github.com/xdpids/xdpids/userspace/run/offline"
	"github.com/xdpids/xdpids/userspace/signature"
)

// readRun runs path as `xdpids read` does with the built-in default
// configuration and rules (plus the rule files given), writing every EVE
// event to the returned bytes.
func readRun(t *testing.T, path string, mode offline.Mode, ruleFiles ...string) (*offline.Summary, []byte, error) {
	t.Helper()
	cfg := config.Default()
	cfg.Signatures.Files = append(cfg.Signatures.Files, ruleFiles...)
	var opts offline.Options
	if spec := cfg.RuleSpec(); spec.Active() {
		res, err := signature.Load(spec)
		if err != nil {
			t.Fatal(err)
		}
		opts.Rules = res.Engine
	}
	var out bytes.Buffer
	w := eve.NewWriter(&out, time.UTC)
	w.NoFlows = !cfg.EVE.Flows
	pc := cfg.PipelineConfig()
	pc.AnomalyRate = 0
	opts.Path, opts.Mode, opts.Datapath, opts.Pipeline, opts.Respond, opts.EVE = path, mode, cfg.DatapathConfig(), pc, cfg.ResponseConfig(), w
	opts.OnAlert = func(a *alert.Alert) {
		if !cfg.EVE.Payload {
			a.Payload = nil
		}
		if err := w.Write(a); err != nil {
			t.Errorf("eve: %v", err)
		}
	}
	sum, err := offline.Run(opts)
	if cerr := w.Close(); cerr != nil {
		t.Errorf("eve: %v", cerr)
	}
	return sum, out.Bytes(), err
}

// eveSchema compiles Suricata's EVE schema (testdata/suricata at the
// repository top). It names no $schema. It is read as draft 2019-09: it
// uses $defs (2019-09 on) and an array "items" (stats.detect.engines),
// which 2020-12 no longer allows.
func eveSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	path, err := filepath.Abs(testenv.RootPath(t, "testdata", "suricata", "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("schema: %v", err)
	}
	addSuricata8Fields(doc)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2019)
	if err := c.AddResource(path, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(path)
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	return sch
}

// addSuricata8Fields adds to the stored schema (Suricata 7's, which
// forbids keys it does not list) the app-layer fields Suricata 8 writes
// and xdpids does: DNS version 3's "queries" ({rrname, rrtype}),
// "opcode", "tc" and "soa" in answers (8.0-dns-logging-changes.rst), and
// TLS's "ja4", "client_alpns" and "server_alpns". In memory only, as the
// appdns and apptls schema tests do.
func addSuricata8Fields(doc any) {
	props := doc.(map[string]any)["properties"].(map[string]any)
	dns := props["dns"].(map[string]any)["properties"].(map[string]any)
	str := map[string]any{"type": "string"}
	if _, ok := dns["queries"]; !ok {
		dns["queries"] = map[string]any{"type": "array", "items": map[string]any{
			"type": "object", "additionalProperties": false,
			"properties": map[string]any{"rrname": str, "rrtype": str},
		}}
	}
	if _, ok := dns["opcode"]; !ok {
		dns["opcode"] = map[string]any{"type": "integer"}
	}
	if _, ok := dns["tc"]; !ok {
		dns["tc"] = map[string]any{"type": "boolean"}
	}
	ans := dns["answers"].(map[string]any)["items"].(map[string]any)["properties"].(map[string]any)
	if _, ok := ans["soa"]; !ok {
		ans["soa"] = dns["authorities"].(map[string]any)["items"].(map[string]any)["properties"].(map[string]any)["soa"]
	}
	tls := props["tls"].(map[string]any)["properties"].(map[string]any)
	strs := map[string]any{"type": "array", "items": str}
	for k, v := range map[string]any{"ja4": str, "client_alpns": strs, "server_alpns": strs} {
		if _, ok := tls[k]; !ok {
			tls[k] = v
		}
	}
}

// validateEVE checks every line of out against the schema and returns
// the events by type.
func validateEVE(t *testing.T, sch *jsonschema.Schema, name string, out []byte) map[string]int {
	t.Helper()
	types := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n, bad := 0, 0
	for sc.Scan() {
		n++
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(sc.Bytes()))
		if err != nil {
			t.Errorf("%s line %d: not JSON: %v", name, n, err)
			continue
		}
		if m, ok := v.(map[string]any); ok {
			et, _ := m["event_type"].(string)
			types[et]++
		}
		if err := sch.Validate(v); err != nil {
			if bad++; bad <= 3 {
				t.Errorf("%s line %d does not validate against Suricata's EVE schema: %v\n%s", name, n, err, sc.Text())
			}
		}
	}
	if bad > 3 {
		t.Errorf("%s: %d of %d lines do not validate", name, bad, n)
	}
	return types
}

// eveEvent is the part of an EVE line the expectations below judge.
type eveEvent struct {
	EventType string `json:"event_type"`
	FlowID    uint64 `json:"flow_id"`
	PcapCnt   uint64 `json:"pcap_cnt"`
	SrcPort   uint16 `json:"src_port"`
	DestPort  uint16 `json:"dest_port"`
	Proto     string `json:"proto"`
	Alert     *struct {
		Action      string              `json:"action"`
		SignatureID uint32              `json:"signature_id"`
		Metadata    map[string][]string `json:"metadata"`
	} `json:"alert"`
	Flow *struct {
		PktsToServer uint64 `json:"pkts_toserver"`
		PktsToClient uint64 `json:"pkts_toclient"`
		State        string `json:"state"`
		Reason       string `json:"reason"`
		Alerted      bool   `json:"alerted"`
		Action       string `json:"action"`
	} `json:"flow"`
	Anomaly *struct {
		Type  string `json:"type"`
		Event string `json:"event"`
	} `json:"anomaly"`
	Drop *struct {
		Reason string `json:"reason"`
	} `json:"drop"`
	Stats *struct {
		Decoder struct {
			Pkts    uint64 `json:"pkts"`
			Invalid uint64 `json:"invalid"`
		} `json:"decoder"`
		Detect struct {
			Alert uint64 `json:"alert"`
		} `json:"detect"`
	} `json:"stats"`
	Metadata *struct {
		Flowints map[string]uint64 `json:"flowints"`
	} `json:"metadata"`
}

func parseEVE(t *testing.T, out []byte) []eveEvent {
	t.Helper()
	var evs []eveEvent
	for i, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		var e eveEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		evs = append(evs, e)
	}
	return evs
}

func ofType(evs []eveEvent, typ string) []eveEvent {
	var out []eveEvent
	for _, e := range evs {
		if e.EventType == typ {
			out = append(out, e)
		}
	}
	return out
}

// TestGoldenEVE reads the EVE captures as `xdpids read --mode userspace`
// does (every frame inspected; no BPF needed, so the files are the same
// on every machine), compares the whole EVE output (alerts, flow,
// anomaly, drop events and the closing stats event) with
// testdata/<name>.eve.json (-update rewrites both), checks every line
// against Suricata's schema, and judges the events against expectations
// written independently of the golden files.
func TestGoldenEVE(t *testing.T) {
	sch := eveSchema(t)
	rules := filepath.Join(t.TempDir(), "drop.rules")
	if err := os.WriteFile(rules, []byte(testgen.EVEDropRule+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range testgen.EVECaptures() {
		t.Run(c.Name, func(t *testing.T) {
			path := filepath.Join(goldenDir(t), c.Name+".pcap")
			checkGeneratedCapture(t, c, path)
			var extra []string
			if c.Name == "eve_drop" {
				extra = []string{rules}
			}
			sum, out, err := readRun(t, path, offline.ModeUserspace, extra...)
			if err != nil {
				t.Fatalf("offline.Run: %v", err)
			}
			validateEVE(t, sch, c.Name, out)
			checkGolden(t, filepath.Join(goldenDir(t), c.Name+".eve.json"), out)
			evs := parseEVE(t, out)
			stats := ofType(evs, "stats")
			if len(stats) != 1 || evs[len(evs)-1].Stats == nil {
				t.Fatalf("want one stats event, last: %d stats events", len(stats))
			}
			// decoder.pkts: the packets inspected; those of a dropped flow
			// after its verdict never reach the pipeline.
			if st := stats[0].Stats; st.Decoder.Pkts != sum.Packets-sum.Verdicts[bpf.VerdictDrop] || st.Detect.Alert != uint64(sum.AlertTotal) {
				t.Errorf("stats decoder.pkts %d detect.alert %d, want %d and %d", st.Decoder.Pkts, st.Detect.Alert, sum.Packets-sum.Verdicts[bpf.VerdictDrop], sum.AlertTotal)
			}
			for _, e := range evs {
				if (e.EventType == "alert" || e.EventType == "anomaly" || e.EventType == "drop") && e.PcapCnt == 0 && e.EventType != "anomaly" {
					t.Errorf("%s event without pcap_cnt", e.EventType)
				}
				if e.FlowID > 0x7ffffffffffff {
					t.Errorf("flow_id %d wider than 51 bits", e.FlowID)
				}
			}
			switch c.Name {
			case "eve_flows":
				checkEVEFlows(t, evs)
			case "eve_anomaly":
				checkEVEAnomaly(t, evs, stats[0])
			case "eve_drop":
				checkEVEDrop(t, evs)
			}
		})
	}
}

func checkEVEFlows(t *testing.T, evs []eveEvent) {
	var got []string
	ids := map[uint64]bool{}
	for _, e := range ofType(evs, "flow") {
		f := e.Flow
		got = append(got, strings.Join([]string{e.Proto, itoa(int(e.SrcPort)), f.Reason, f.State, itoa(int(f.PktsToServer)), itoa(int(f.PktsToClient))}, " "))
		if ids[e.FlowID] {
			t.Errorf("flow_id %d twice", e.FlowID)
		}
		ids[e.FlowID] = true
		if e.Metadata == nil || e.Metadata.Flowints == nil {
			t.Errorf("flow without metadata.flowints (xdpids.inspect_gaps)")
		} else if g, ok := e.Metadata.Flowints["xdpids.inspect_gaps"]; !ok || g != 0 {
			t.Errorf("inspect_gaps %d %v, want 0 (every packet inspected offline)", g, ok)
		}
	}
	sort.Strings(got)
	// Port 40100 twice: the first connection ends when the second one
	// opens on its tuple (forced); the second, closed, times out 10 s
	// after its last packet. The unanswered datagram times out after
	// 30 s; what is open at the end ends with the capture.
	want := []string{
		"ICMP 0 shutdown established 1 1",
		"TCP 40100 forced closed 6 4",  // closed by the client: its FIN and last ACK
		"TCP 40100 timeout closed 5 5", // closed by the server
		"UDP 123 shutdown new 1 0",
		"UDP 40200 timeout new 1 0",
		"UDP 40300 shutdown established 1 1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("flow events (proto sport reason state pkts):\ngot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func checkEVEAnomaly(t *testing.T, evs []eveEvent, stats eveEvent) {
	var got []string
	for _, e := range ofType(evs, "anomaly") {
		got = append(got, e.Anomaly.Type+" "+e.Anomaly.Event)
		if e.Anomaly.Type == "decode" && e.PcapCnt == 0 {
			t.Errorf("decode anomaly without pcap_cnt")
		}
	}
	want := []string{
		"decode decoder.ethernet.pkt_too_small",
		"decode decoder.ipv4.pkt_too_small",
		"decode decoder.tcp.pkt_too_small",
		"decode decoder.udp.pkt_too_small",
		"stream stream.reassembly_seq_gap",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("anomalies:\ngot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if stats.Stats.Decoder.Invalid != 4 {
		t.Errorf("decoder.invalid %d, want 4", stats.Stats.Decoder.Invalid)
	}
}

func checkEVEDrop(t *testing.T, evs []eveEvent) {
	alerts, drops := ofType(evs, "alert"), ofType(evs, "drop")
	if len(alerts) != 1 || len(drops) != 1 {
		t.Fatalf("%d alerts, %d drops: want one of each", len(alerts), len(drops))
	}
	a, d := alerts[0], drops[0]
	if a.Alert.SignatureID != 9000001 || a.Alert.Action != "blocked" {
		t.Errorf("alert sid %d action %s", a.Alert.SignatureID, a.Alert.Action)
	}
	if want := map[string][]string{"affected_product": {"Web_Server"}, "tag": {"test"}}; !equalMeta(a.Alert.Metadata, want) {
		t.Errorf("alert.metadata %v, want %v", a.Alert.Metadata, want)
	}
	if d.FlowID != a.FlowID || d.PcapCnt != a.PcapCnt || d.Drop.Reason != "rules" || d.SrcPort != 40500 {
		t.Errorf("drop flow %d pcap_cnt %d reason %s port %d; alert flow %d pcap_cnt %d", d.FlowID, d.PcapCnt, d.Drop.Reason, d.SrcPort, a.FlowID, a.PcapCnt)
	}
	for _, f := range ofType(evs, "flow") {
		dropped := f.FlowID == a.FlowID
		if dropped != (f.Flow.Action == "drop") || dropped != f.Flow.Alerted {
			t.Errorf("flow %d (port %d): action %q alerted %v", f.FlowID, f.SrcPort, f.Flow.Action, f.Flow.Alerted)
		}
		if dropped && f.Flow.PktsToServer != 3 {
			// SYN, ACK, the request, then nothing: the rest is dropped.
			t.Errorf("dropped flow: %d packets to server, want 3", f.Flow.PktsToServer)
		}
	}
}

func equalMeta(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, ",") != strings.Join(b[k], ",") {
			return false
		}
	}
	return true
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
