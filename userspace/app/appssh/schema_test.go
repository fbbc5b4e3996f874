package appssh

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestSchema validates ssh events and alerts carrying this package's
// records against the repository's Suricata EVE schema
// (testdata/suricata/schema.json), unchanged: its ssh object is the one
// Suricata still writes.
func TestSchema(t *testing.T) {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no module root")
		}
		dir = parent
	}
	path := filepath.Join(dir, "testdata", "suricata", "schema.json")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2019)
	if err := c.AddResource(path, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(path)
	if err != nil {
		t.Fatal(err)
	}
	var conns []*Conn
	full := new(Conn)
	full.Feed(true, clientStream())
	full.Feed(false, serverStream())
	bannerOnly := new(Conn)
	bannerOnly.Feed(false, []byte("SSH-2.0-\xffodd\r\n"))
	conns = append(conns, full, bannerOnly)
	for i, conn := range conns {
		var r Record
		if !conn.Record(&r) {
			t.Fatalf("conn %d: no record", i)
		}
		for _, ev := range []string{"ssh", "alert"} {
			e := map[string]any{
				"timestamp": "2026-12-01T21:00:00.000000+0000", "event_type": ev, "src_ip": "192.0.2.1", "src_port": 40000,
				"dest_ip": "198.51.100.2", "dest_port": 22, "proto": "TCP", "app_proto": "ssh", "ssh": &r,
			}
			if ev == "alert" {
				e["alert"] = map[string]any{"action": "allowed", "gid": 1, "signature_id": 1, "rev": 1, "signature": "t", "category": "", "severity": 3}
			}
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			v, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(v); err != nil {
				t.Errorf("conn %d %s: %v\n%s", i, ev, err, b)
			}
		}
	}
}
