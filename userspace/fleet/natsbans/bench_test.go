package natsbans

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/loader"
)

// BenchmarkFleetBanLatency: from a ban written to node A's kernel block
// list (as the responder does, which then kicks A's fleet loop) to the
// entry appearing in node B's kernel block list, through a real
// nats-server on 127.0.0.1; B's map is polled every ~20 µs. Reported: p50
// and p99 over the b.N bans, and the same percentiles of the baseline
// measured in the same run, a bare JetStream KV put on one connection
// to its delivery to a watcher on another, so the ratio is what xdpids
// adds to NATS (a map read and write on each side, JSON, the diff).
func BenchmarkFleetBanLatency(b *testing.B) {
	if !testenv.HaveBPF() {
		b.Skip("needs root and BPF")
	}
	if _, err := exec.LookPath("nats-server"); err != nil {
		b.Skip("needs nats-server")
	}
	// The fleet logs each ban it applies: not into the benchmark's lines.
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler))
	b.Cleanup(func() { slog.SetDefault(prev) })
	srv := testenv.StartNATS(b, nil, "127.0.0.1")
	base := kvBaseline(b, srv.URL(), max(b.N, 50))
	a := startNode(b, srv.URL(), "a", nil)
	r := startNode(b, srv.URL(), "b", nil)
	waitFor(b, 5*time.Second, "catch-up", func() bool { return a.synced() && r.synced() })
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), 32)
		start := time.Now()
		if err := a.m.Block(p, loader.BlockOptions{TTL: time.Hour, Origin: bpf.OriginDetector, Comment: "bench"}); err != nil {
			b.Fatal(err)
		}
		a.f.Kick()
		for {
			if _, ok := r.entry(p); ok {
				break
			}
			if time.Since(start) > 5*time.Second {
				b.Fatalf("ban %d never reached b", i)
			}
			time.Sleep(20 * time.Microsecond)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	p50, p99 := percentiles(lat)
	k50, k99 := percentiles(base)
	b.ReportMetric(ms(p50), "p50-ms")
	b.ReportMetric(ms(p99), "p99-ms")
	b.ReportMetric(ms(k50), "kv-p50-ms")
	b.ReportMetric(ms(k99), "kv-p99-ms")
	b.ReportMetric(float64(p50)/float64(k50), "p50/kv-p50")
}

// kvBaseline times n bare KV puts to their delivery to a watcher on a
// second connection.
func kvBaseline(b *testing.B, url string, n int) []time.Duration {
	ctx := context.Background()
	pub, err := nats.Connect(url)
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	sub, err := nats.Connect(url)
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	jp, _ := jetstream.New(pub)
	js, _ := jetstream.New(sub)
	kvp, err := jp.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "baseline", Storage: jetstream.FileStorage})
	if err != nil {
		b.Fatal(err)
	}
	kvs, err := js.KeyValue(ctx, "baseline")
	if err != nil {
		b.Fatal(err)
	}
	w, err := kvs.WatchAll(ctx, jetstream.UpdatesOnly())
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	out := make([]time.Duration, 0, n)
	for i := range n {
		start := time.Now()
		if _, err := kvp.Put(ctx, fmt.Sprintf("k%d", i), []byte(`{"prefix":"198.18.0.1/32"}`)); err != nil {
			b.Fatal(err)
		}
		select {
		case <-w.Updates():
		case <-time.After(5 * time.Second):
			b.Fatal("baseline put never delivered")
		}
		out = append(out, time.Since(start))
	}
	return out
}

func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2], s[min(len(s)-1, len(s)*99/100)]
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }
