package apptls

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/xdpids/xdpids/internal/testenv"
)

// TestRecordSchema validates EVE tls events built from Record against
// Suricata's schema: as is once the Suricata 8 fields are left out, and
// whole against the schema with those fields added.
func TestRecordSchema(t *testing.T) {
	pristine, extended := testenv.EVESchemaAsStored(t), testenv.EVESchema(t)
	var conns []*Conn
	for _, s := range []stream{handshake(t, tls.VersionTLS12, []string{"h2"}), handshake(t, tls.VersionTLS13, nil),
		{{true, v2ClientHelloRecord()}}, crafted13()} {
		c := &Conn{}
		s.feed(c)
		conns = append(conns, c)
	}
	if d := testenv.CorpusDir("suricata-verify-app"); d != "" {
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
		for _, k := range []string{"ja4", "client_alpns", "server_alpns"} {
			delete(v.(map[string]any)["tls"].(map[string]any), k)
		}
		if err := pristine.Validate(v); err != nil {
			t.Errorf("record %d without the Suricata 8 fields does not validate: %v\n%s", i, err, b)
		}
	}
	t.Logf("%d tls records validated", len(conns))
}
