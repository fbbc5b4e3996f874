package appssh

import (
	"testing"

	"github.com/xdpids/xdpids/internal/testenv"
)

// TestSchema validates ssh events and alerts carrying this package's
// records against the repository's Suricata EVE schema
// (testdata/suricata/schema.json), unchanged: its ssh object is the one
// Suricata still writes.
func TestSchema(t *testing.T) {
	sch := testenv.EVESchemaAsStored(t)
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
			if b, err := testenv.ValidateEVE(t, sch, e); err != nil {
				t.Errorf("conn %d %s: %v\n%s", i, ev, err, b)
			}
		}
	}
}
