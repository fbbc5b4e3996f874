package natsbans

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/loader"
)

func freeLocalPort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestEmbeddedCluster: three embedded servers clustered through routes
// (fleet.nats.routes), each node's fleet connected in-process to its
// own, share a bucket with three replicas: a ban made on one node
// reaches the other two. (With one of the three servers stopped the
// other two keep the bucket; how long the watches of the nodes whose
// consumer lived there take to recover is nats.go's ordered consumer
// reset, 8 ms to 20 s in five runs here, so it is not asserted.)
func TestEmbeddedCluster(t *testing.T) {
	testenv.RequireBPF(t)
	var cport [3]int
	for i := range cport {
		cport[i] = freeLocalPort(t)
	}
	var embs [3]*Embedded
	var nodes [3]*node
	for i := range 3 {
		var routes []string
		for j := range 3 {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", cport[j]))
			}
		}
		emb, err := StartEmbedded(EmbeddedOptions{Name: fmt.Sprintf("n%d", i), StoreDir: filepath.Join(t.TempDir(), "js"),
			ClusterListen: fmt.Sprintf("127.0.0.1:%d", cport[i]), Routes: routes, ClusterName: "xdpids-test"})
		if err != nil {
			t.Fatal(err)
		}
		embs[i] = emb
		t.Cleanup(emb.Shutdown)
	}
	for i := range 3 {
		nodes[i] = startNode(t, "", fmt.Sprintf("n%d", i), func(o *Options) {
			o.NATSOptions = []nats.Option{embs[i].ConnectOption()}
			o.Replicas = 3
		})
	}
	// The JetStream meta group elects a leader once the routes are up.
	waitFor(t, 30*time.Second, "every node bound the replicated bucket", func() bool {
		return nodes[0].synced() && nodes[1].synced() && nodes[2].synced()
	})
	p := netip.MustParsePrefix("198.51.100.9/32")
	must(t, nodes[0].m.Block(p, loader.BlockOptions{TTL: time.Hour, Origin: bpf.OriginDetector, Comment: "scan"}))
	nodes[0].f.Kick()
	for _, n := range nodes[1:] {
		waitFor(t, 3*time.Second, n.name+" has n0's ban", func() bool { _, ok := n.entry(p); return ok })
	}
}
