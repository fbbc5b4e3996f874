package config

import (
	"strings"
	"testing"
)

// TestFleetConfig: the fleet section parses, and each bad value is one
// error naming its key and line.
func TestFleetConfig(t *testing.T) {
	f, err := Parse([]byte("fleet:\n  nats:\n    url: nats://192.0.2.1:4222,nats://192.0.2.2:4222\n    node: web-1\n    receive_only: true\n"), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if n := f.Fleet.NATS; !n.Enabled() || n.Embedded() || n.Node != "web-1" || !n.ReceiveOnly || n.Bucket != "xdpids-bans" {
		t.Errorf("parsed %+v", n)
	}
	if Default().Fleet.NATS.Enabled() {
		t.Error("the fleet is on by default")
	}
	if _, err := Parse([]byte("fleet:\n  nats:\n    url: embedded\n    listen: 192.0.2.1:4222\n    cluster_listen: 192.0.2.1:6222\n    routes: [nats://192.0.2.2:6222]\n"), "x.yaml"); err != nil {
		t.Errorf("embedded cluster: %v", err)
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"bad url", "fleet:\n  nats:\n    url: http://x\n", "x.yaml:3: fleet.nats.url: \"http://x\" is not embedded nor nats://host:port"},
		{"bad bucket", "fleet:\n  nats:\n    url: embedded\n    bucket: a.b\n", "x.yaml:4: fleet.nats.bucket: \"a.b\""},
		{"bad node", "fleet:\n  nats:\n    url: embedded\n    node: \"web 1\"\n", "x.yaml:4: fleet.nats.node: \"web 1\""},
		{"listen not embedded", "fleet:\n  nats:\n    url: nats://192.0.2.1:4222\n    listen: 192.0.2.1:4222\n", "x.yaml:4: fleet.nats.listen: only for url: embedded"},
		{"routes without cluster_listen", "fleet:\n  nats:\n    url: embedded\n    routes: [nats://192.0.2.2:6222]\n", "x.yaml:4: fleet.nats.routes: need cluster_listen"},
		{"bad route", "fleet:\n  nats:\n    url: embedded\n    cluster_listen: 192.0.2.1:6222\n    routes: [\"192.0.2.2\"]\n", "x.yaml:5: fleet.nats.routes: entry 1"},
		{"bad listen", "fleet:\n  nats:\n    url: embedded\n    listen: nowhere\n", "x.yaml:4: fleet.nats.listen: \"nowhere\" is not host:port"},
		{"user alone", "fleet:\n  nats:\n    url: embedded\n    user: x\n", "x.yaml:4: fleet.nats.user: user and password go together"},
		{"missing creds", "fleet:\n  nats:\n    url: nats://192.0.2.1:4222\n    creds: /nonexistent/x.creds\n", "x.yaml:4: fleet.nats.creds: stat /nonexistent/x.creds"},
		{"creds embedded", "fleet:\n  nats:\n    url: embedded\n    creds: /etc/hostname\n", "x.yaml:3: fleet.nats.url: embedded connects in-process"},
		{"replicas", "fleet:\n  nats:\n    url: embedded\n    replicas: 9\n", "x.yaml:4: fleet.nats.replicas: 9 is out of range"},
		{"relative store", "fleet:\n  nats:\n    url: embedded\n    store_dir: nats\n", "x.yaml:4: fleet.nats.store_dir: \"nats\" must be an absolute path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "x.yaml")
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to start %q", err, tc.want)
			}
		})
	}
}
