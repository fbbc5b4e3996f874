package apptls

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// newerTLSFields are the tls fields Suricata 8 writes that the stored
// schema (an older Suricata's etc/schema.json) does not list.
var newerTLSFields = map[string]any{
	"ja4":          map[string]any{"type": "string"},
	"client_alpns": map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
	"server_alpns": map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
}

// eveSchema compiles testdata/suricata/schema.json (draft 2019-09, as
// userspace/offline reads it); extend adds newerTLSFields to "tls".
func eveSchema(t *testing.T, extend bool) *jsonschema.Schema {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("..", "..", "..", "testdata", "suricata", "schema.json"))
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
	if extend {
		props := doc.(map[string]any)["properties"].(map[string]any)["tls"].(map[string]any)["properties"].(map[string]any)
		for k, v := range newerTLSFields {
			props[k] = v
		}
	}
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

// TestRecordSchema validates EVE tls events built from Record against
// Suricata's schema: as is once the Suricata 8 fields are left out, and
// whole against the schema with those fields added.
func TestRecordSchema(t *testing.T) {
	pristine, extended := eveSchema(t, false), eveSchema(t, true)
	var conns []*Conn
	for _, s := range []stream{handshake(t, tls.VersionTLS12, []string{"h2"}), handshake(t, tls.VersionTLS13, nil),
		{{true, v2ClientHelloRecord()}}, crafted13()} {
		c := &Conn{}
		s.feed(c)
		conns = append(conns, c)
	}
	if d := corpusDirIfPresent("suricata-verify-app"); d != "" {
		paths, _ := filepath.Glob(filepath.Join(d, "*tls*", "*.pcap"))
		for _, p := range paths {
			conns = append(conns, corpusTLS(t, p)...)
		}
	}
	for i, c := range conns {
		var r Record
		c.Record(&r)
		ev := map[string]any{"timestamp": "2026-01-01T00:00:00.000000+0000", "event_type": "tls",
			"src_ip": "192.0.2.1", "src_port": 40000, "dest_ip": "192.0.2.2", "dest_port": 443, "proto": "TCP", "tls": r}
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if err := extended.Validate(v); err != nil {
			t.Errorf("record %d does not validate: %v\n%s", i, err, b)
		}
		for k := range newerTLSFields {
			delete(v.(map[string]any)["tls"].(map[string]any), k)
		}
		if err := pristine.Validate(v); err != nil {
			t.Errorf("record %d without the Suricata 8 fields does not validate: %v\n%s", i, err, b)
		}
	}
	t.Logf("%d tls records validated", len(conns))
}

// corpusDirIfPresent is corpusDir without the skip.
func corpusDirIfPresent(sub string) string {
	base := os.Getenv("XDPIDS_CORPUS")
	if base == "" {
		base = filepath.Join("..", "..", "..", "..", "shared", "corpus")
	}
	d := filepath.Join(base, sub)
	if st, err := os.Stat(d); err == nil && st.IsDir() {
		return d
	}
	return ""
}
