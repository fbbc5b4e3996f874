package crowdsec

// BenchmarkApply100k: the time to apply a LAPI startup stream of 100 000
// decisions, and the XDP program's packet rate while they are applied,
// against the same run without them. Run with -bench only:
//
//	go test -run '^$' -bench Apply100k ./userspace/fleet/crowdsec/

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/loader"
)

const (
	benchDecisions = 100_000
	// benchRepeat packets per BPF_PROG_TEST_RUN call; the kernel times
	// the repeat loop alone.
	benchRepeat = 20_000
	// benchQuiet test-run calls measured before and after each apply.
	benchQuiet = 15
)

// benchStream is a startup stream of n decisions: IPv4 addresses in
// 198.18.2.0-198.19.255.255 (95%), IPv6 addresses and /48 ranges in
// 2001:db8::/32, and with v4Ranges 32 IPv4 /28 ranges in 198.51.100.0/24
// and 192.0.2.0/24, with durations the LAPI would write.
func benchStream(n int, v4Ranges bool) []byte {
	s := Stream{New: make([]Decision, 0, n)}
	add := func(scope, v string) {
		s.New = append(s.New, Decision{ID: int64(len(s.New) + 1), Duration: "3h59m58.123456789s", Origin: "CAPI",
			Scenario: "crowdsecurity/ssh-bf", Scope: scope, Type: "ban", Value: v})
	}
	base := netip.MustParseAddr("198.18.2.0").As4()
	v4 := n * 95 / 100
	for i := range v4 {
		a := base
		x := uint32(a[2])<<8 | uint32(a[3]) + uint32(i)
		a[1] += byte(x >> 16)
		a[2], a[3] = byte(x>>8), byte(x)
		add("Ip", netip.AddrFrom4(a).String())
	}
	for i := range 16 {
		if !v4Ranges {
			break
		}
		add("Range", fmt.Sprintf("198.51.100.%d/28", i*16))
		add("Range", fmt.Sprintf("192.0.2.%d/28", i*16))
	}
	for i := 0; len(s.New) < n; i++ {
		if i%2 == 0 {
			add("Ip", fmt.Sprintf("2001:db8::%x:%x", i>>16, i&0xffff))
		} else {
			add("Range", fmt.Sprintf("2001:db8:%x::/48", i))
		}
	}
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return b
}

// benchFrame is a 60-byte TCP ACK from a source on no list (198.18.1.1)
// to 198.18.0.2: the lookups of every list miss, and it passes.
func benchFrame(b *testing.B) []byte {
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IP{198, 18, 1, 1}, DstIP: net.IP{198, 18, 0, 2}}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: 1, Ack: 1, ACK: true, Window: 512}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		b.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, tcp, gopacket.Payload(make([]byte, 6))); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// testRuns runs the program on pkt, benchRepeat times per call, on one
// locked OS thread, until stop is closed (or, with stop nil, count
// calls), and returns the kernel's ns per packet of each call.
func testRuns(b *testing.B, prog *ebpf.Program, pkt []byte, count int, stop <-chan struct{}) []float64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var out []float64
	for i := 0; stop != nil || i < count; i++ {
		if stop != nil {
			select {
			case <-stop:
				return out
			default:
			}
		}
		ret, per, err := prog.Benchmark(pkt, benchRepeat, nil)
		if err != nil || ret != 2 { // XDP_PASS
			b.Errorf("test run: %d, %v", ret, err)
			return out
		}
		out = append(out, float64(per.Nanoseconds()))
	}
	return out
}

func median(s []float64) float64 {
	if len(s) == 0 {
		return 0
	}
	c := slices.Clone(s)
	slices.Sort(c)
	if len(c)%2 == 0 {
		return (c[len(c)/2-1] + c[len(c)/2]) / 2
	}
	return c[len(c)/2]
}

// BenchmarkApply100k: one op is one startup poll of 100 000 decisions
// from an httptest LAPI (fetch, decode, BlockBatch in batches of 4096)
// into an empty block list. A goroutine keeps running the XDP program
// (BPF_PROG_TEST_RUN, a passing TCP ACK) meanwhile; the same is measured
// before each apply (empty list) and after it (full list, no writes).
// pps-ratio-during = packet rate during the apply / before it;
// pps-ratio-after = after / before. Two streams: mixed has 32 IPv4
// ranges among the addresses (so the IPv4 prefix trie, skipped while
// empty, is searched for every IPv4 packet from then on); hosts has
// IPv4 addresses only (and IPv6 ones and ranges), so IPv4 packets meet
// the host hash map alone.
func BenchmarkApply100k(b *testing.B) {
	testenv.RequireBPF(b)
	// The info line per apply would split the benchmark's result line.
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.DiscardHandler))
	b.Run("mixed", func(b *testing.B) { benchApply(b, benchStream(benchDecisions, true)) })
	b.Run("hosts", func(b *testing.B) { benchApply(b, benchStream(benchDecisions, false)) })
}

func benchApply(b *testing.B, body []byte) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != "bench" {
			http.Error(w, `{"message":"access forbidden"}`, http.StatusForbidden)
			return
		}
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	dp, err := loader.Load(loader.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer dp.Close()
	m := dp.Maps()
	pkt := benchFrame(b)
	prog := dp.Program()
	if _, err := prog.Run(&ebpf.RunOptions{Data: pkt, Repeat: 100}); err != nil { // the flow exists from now on
		b.Fatal(err)
	}
	var before, during, after []float64
	var applyNs []float64
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		if err := clearLists(m); err != nil {
			b.Fatal(err)
		}
		before = append(before, testRuns(b, prog, pkt, benchQuiet, nil)...)
		bo, err := New(Config{URL: srv.URL, APIKey: "bench"}, m)
		if err != nil {
			b.Fatal(err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var got []float64
		wg.Add(1)
		go func() { defer wg.Done(); got = testRuns(b, prog, pkt, 0, stop) }()
		b.StartTimer()
		start := time.Now()
		err = bo.Poll(context.Background(), true)
		took := time.Since(start)
		b.StopTimer()
		close(stop)
		wg.Wait()
		if err != nil {
			b.Fatal(err)
		}
		if st := bo.Stats(); st.Active != benchDecisions || st.Applied != benchDecisions {
			b.Fatalf("applied %d of %d decisions (%d held)", st.Applied, benchDecisions, st.Active)
		}
		applyNs = append(applyNs, float64(took))
		during = append(during, got...)
		after = append(after, testRuns(b, prog, pkt, benchQuiet, nil)...)
		b.StartTimer()
	}
	b.StopTimer()
	if len(during) == 0 {
		b.Fatal("no test run completed during the apply")
	}
	nb, nd, na := median(before), median(during), median(after)
	b.ReportMetric(median(applyNs)/1e6, "ms/100k")
	b.ReportMetric(benchDecisions/(median(applyNs)/1e9), "decisions/s")
	b.ReportMetric(1e3/nb, "Mpps-before")
	b.ReportMetric(1e3/nd, "Mpps-during")
	b.ReportMetric(1e3/na, "Mpps-after")
	b.ReportMetric(nb/nd, "pps-ratio-during")
	b.ReportMetric(nb/na, "pps-ratio-after")
	b.ReportMetric(float64(len(during))/float64(b.N), "runs-during/op")
}

// clearLists empties the block lists (between rounds, off the clock).
func clearLists(m *loader.Maps) error {
	entries, err := m.Blocks()
	if err != nil {
		return err
	}
	ps := make([]netip.Prefix, len(entries))
	for i, e := range entries {
		ps[i] = e.Prefix
	}
	_, err = m.UnblockBatch(ps)
	return err
}
