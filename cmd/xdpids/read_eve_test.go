package main

import (
	"bytes"
	"encoding/json"
	"github.com/xdpids/xdpids/internal/testenv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xdpids/xdpids/internal/testgen"
)

// read writes every EVE event kind: the drop rule's alert and drop, the
// flows as they end, one stats event last; eve.flows: false leaves the
// flow events out.
func TestReadEVEEvents(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "drop.rules")
	if err := os.WriteFile(rules, []byte(testgen.EVEDropRule+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	noFlows := filepath.Join(dir, "noflows.yaml")
	if err := os.WriteFile(noFlows, []byte("eve:\n  flows: false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	capture := testenv.RootPath(t, "testdata", "golden", "eve_drop.pcap")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "alert drop http flow flow stats"},
		{[]string{"--config", noFlows}, "alert drop http stats"},
	} {
		var out bytes.Buffer
		cmd := newRootCommand()
		cmd.SetOut(&out)
		cmd.SetErr(&bytes.Buffer{})
		cmd.SetArgs(append([]string{"read", "-q", "--mode", "userspace", "--simulate-ips", "--rules", rules, capture}, tc.args...))
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			var e struct {
				EventType string `json:"event_type"`
				PcapCnt   uint64 `json:"pcap_cnt"`
			}
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("%v: %s", err, line)
			}
			if (e.EventType == "alert" || e.EventType == "drop") && e.PcapCnt != 4 {
				t.Errorf("%s: pcap_cnt %d, want 4 (the request)", e.EventType, e.PcapCnt)
			}
			types = append(types, e.EventType)
		}
		if got := strings.Join(types, " "); got != tc.want {
			t.Errorf("%v: events %q, want %q", tc.args, got, tc.want)
		}
	}
}
