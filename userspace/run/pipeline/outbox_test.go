package pipeline

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/capture/samples"
	"github.com/xdpids/xdpids/userspace/detect/alert"
)

// TestOutboxOverflow: an alert callback that blocks (a slow EVE disk, a
// responder stuck in a syscall) does not stop the workers. They process
// every sample; the alerts past the outbox's bound are dropped and
// counted, and the rest arrive in order once the callback returns.
func TestOutboxOverflow(t *testing.T) {
	testenv.RequireBPF(t)
	dp, err := loader.Load(loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dp.Close()
	cfg := loader.DefaultConfig()
	cfg.SampleRate, cfg.SampleOneIn, cfg.FlowSamples = 0, 1, 0 // sample everything
	cfg.SYN, cfg.UDP, cfg.ICMP = loader.Bucket{}, loader.Bucket{}, loader.Bucket{}
	cfg.Snaplen = 128
	if err := dp.Maps().SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	// A content rule: it alerts on every packet (an address-only rule
	// alerts once per flow direction).
	res := loadRules(t, false, `alert udp any any -> any any (msg:"zeros"; content:"|00 00 00 00|"; sid:1; rev:1;)`+"\n")
	release := make(chan struct{})
	var mu sync.Mutex
	var got []uint64 // PcapCnt is 0 live: order is checked by timestamps
	var prevTs int64
	ordered := true
	pc := testConfig()
	pc.QueueLen, pc.OutboxLen = 4096, 8
	p := New(pc, func(a *alert.Alert) {
		mu.Lock()
		first := len(got) == 0
		got = append(got, uint64(a.TsNs))
		if a.TsNs < prevTs {
			ordered = false
		}
		prevTs = a.TsNs
		mu.Unlock()
		if first {
			<-release
		}
	})
	p.SetRules(res.Engine)
	rd, err := samples.NewReader(dp.SamplesMap())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = p.Run(rd) }()
	var released atomic.Bool
	defer func() {
		if !released.Swap(true) {
			close(release)
		}
		rd.Close()
		wg.Wait()
	}()

	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{203, 0, 113, 7}, DstIP: net.IP{198, 51, 100, 10}}
	udp := &layers.UDP{SrcPort: 40000, DstPort: 53}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	pkt := serialize(t, &layers.Ethernet{SrcMAC: tMacA, DstMAC: tMacB, EthernetType: layers.EthernetTypeIPv4}, ip, udp, gopacket.Payload(make([]byte, 32)))
	const sent = 500
	if _, err := dp.Program().Run(&ebpf.RunOptions{Data: pkt, Repeat: sent}); err != nil {
		t.Fatal(err)
	}
	// The worker goes on while the callback is stuck: every sample is
	// processed and every alert made.
	deadline := time.Now().Add(10 * time.Second)
	for p.Stats().Alerts < sent && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	st := p.Stats()
	if st.Alerts < sent {
		t.Fatalf("alerts made %d while the callback was stuck, want %d (the worker waited for it)", st.Alerts, sent)
	}
	released.Store(true)
	close(release)
	rd.Close()
	wg.Wait()
	end := p.Stats()
	mu.Lock()
	delivered := uint64(len(got))
	mu.Unlock()
	t.Logf("alerts %d delivered %d dropped %d", end.Alerts, delivered, end.AlertsDropped)
	if delivered+end.AlertsDropped != end.Alerts {
		t.Errorf("delivered %d + dropped %d != %d made", delivered, end.AlertsDropped, end.Alerts)
	}
	if delivered > uint64(pc.OutboxLen)+1 || end.AlertsDropped == 0 {
		t.Errorf("delivered %d dropped %d: want at most the outbox (%d) and the one in the callback", delivered, end.AlertsDropped, pc.OutboxLen)
	}
	if !ordered {
		t.Error("alerts delivered out of order")
	}
}
