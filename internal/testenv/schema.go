package testenv

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// suricata8Fields are the fields Suricata 8 writes that the stored schema
// (testdata/suricata/schema.json, an older Suricata's, kept byte for byte)
// does not list, laid over it in memory: the DNS version 3 format
// ("queries", "opcode", "tc", "soa" in answers; Suricata's
// 8.0-dns-logging-changes) and the tls "ja4", "client_alpns" and
// "server_alpns". The schema forbids keys it does not list; nothing else
// is changed.
func suricata8Fields(doc any) {
	props := doc.(map[string]any)["properties"].(map[string]any)
	obj := func(m map[string]any, k string) map[string]any { return m[k].(map[string]any) }
	dns := obj(obj(props, "dns"), "properties")
	str := map[string]any{"type": "string"}
	dns["queries"] = map[string]any{"type": "array", "items": map[string]any{
		"type": "object", "additionalProperties": false,
		"properties": map[string]any{"rrname": str, "rrtype": str},
	}}
	dns["opcode"] = map[string]any{"type": "integer"}
	dns["tc"] = map[string]any{"type": "boolean"}
	ans := obj(obj(obj(dns, "answers"), "items"), "properties")
	ans["soa"] = obj(obj(obj(dns, "authorities"), "items"), "properties")["soa"]
	// Alerts: "direction", and the flow's client and server in "flow"
	// (the stored schema has the flow event's fields only).
	props["direction"] = str
	flow := obj(obj(props, "flow"), "properties")
	for _, k := range []string{"src_ip", "dest_ip"} {
		flow[k] = str
	}
	for _, k := range []string{"src_port", "dest_port"} {
		flow[k] = map[string]any{"type": "integer"}
	}
	tls := obj(obj(props, "tls"), "properties")
	tls["ja4"] = str
	tls["client_alpns"] = map[string]any{"type": "array", "items": str}
	tls["server_alpns"] = map[string]any{"type": "array", "items": str}
}

// EVESchema compiles Suricata's EVE schema (testdata/suricata/schema.json)
// with the Suricata 8 fields above. It names no $schema and is read as
// draft 2019-09: it uses $defs (2019-09 on) and an array "items"
// (stats.detect.engines), which 2020-12 no longer allows.
func EVESchema(t testing.TB) *jsonschema.Schema { return compileSchema(t, true) }

// EVESchemaAsStored is the stored schema without the Suricata 8 fields.
func EVESchemaAsStored(t testing.TB) *jsonschema.Schema { return compileSchema(t, false) }

func compileSchema(t testing.TB, newer bool) *jsonschema.Schema {
	t.Helper()
	path := RootPath(t, "testdata", "suricata", "schema.json")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("schema %s: %v", path, err)
	}
	if newer {
		suricata8Fields(doc)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2019)
	if err := c.AddResource(path, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(path)
	if err != nil {
		t.Fatalf("compile schema %s: %v", path, err)
	}
	return sch
}

// ValidateEVE marshals an EVE event and validates it against sch,
// returning the JSON (for the failure message) and the validation error.
func ValidateEVE(t testing.TB, sch *jsonschema.Schema, event any) ([]byte, error) {
	t.Helper()
	b, err := json.Marshal(event)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return b, sch.Validate(v)
}
