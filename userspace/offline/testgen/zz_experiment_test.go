package testgen

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xdpids/xdpids/userspace/alert"
	"github.com/xdpids/xdpids/userspace/config"
	"github.com/xdpids/xdpids/userspace/offline"
)

func runExp(t *testing.T, name string, build func(b *builder)) {
	c := Capture{Name: name, build: build}
	dir := t.TempDir()
	data, err := c.Pcap()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".pcap")
	os.WriteFile(path, data, 0o644)
	frames, _ := c.Frames()
	for _, mode := range []offline.Mode{offline.ModeXDP, offline.ModeUserspace} {
		cfg := config.Default()
		var got []string
		sum, err := offline.Run(offline.Options{Path: path, Mode: mode, Datapath: cfg.DatapathConfig(), Pipeline: cfg.PipelineConfig(), Respond: cfg.ResponseConfig(),
			OnAlert: func(a *alert.Alert) {
				got = append(got, fmt.Sprintf("%s %d subj=%s %s %v", time.Unix(0, a.TsNs).UTC().Format("05.000000"), a.SID, a.Subject, a.Action, a.Metadata))
			}})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("%-22s %-9s frames=%d samples=%d drop=%d alerts=%v\n", name, mode, len(frames), sum.Samples, sum.Verdicts[2], got)
	}
}

func TestExperiments(t *testing.T) {
	// A: UDP flood on one fixed 5-tuple, 10k pps for 1.2 s.
	runExp(t, "udpflood_fixed_tuple", func(b *builder) {
		src, dst := netip.AddrPortFrom(Attacker, 40000), netip.AddrPortFrom(Victim, 27015)
		for i := 0; i < 12000; i++ {
			b.udp(time.Duration(i)*100*us, src, dst, make([]byte, 18))
		}
	})
	// B: NTP monlist, one request per reflector (20 x 100 packets).
	runExp(t, "amp_ntp_one_request", func(b *builder) {
		refl := reflectors(b, 20)
		for k, a := range refl {
			t := time.Duration(k) * 10 * ms
			src, dst := netip.AddrPortFrom(a, 123), netip.AddrPortFrom(Victim, uint16(1024+b.rnd.intn(60000)))
			for j := 0; j < 100; j++ {
				b.udp(t+time.Duration(j)*100*us, src, dst, monlist(&b.rnd, j < 99, j))
			}
		}
	})
	// G: DNS amplification aimed at one victim port (80): 20 resolvers, 600 responses in 3 s.
	runExp(t, "amp_dns_fixed_port", func(b *builder) {
		res := reflectors(b, 20)
		for i := 0; i < 600; i++ {
			src := netip.AddrPortFrom(res[b.rnd.intn(len(res))], 53)
			b.udp(time.Duration(i)*5*ms, src, netip.AddrPortFrom(Victim, 80), dnsANYResponse(&b.rnd))
		}
	})
	// C: SYN flood from one source with the victim's SYN-ACKs in the capture.
	runExp(t, "synflood_with_synacks", func(b *builder) {
		sport := uint16(2000)
		dst := netip.AddrPortFrom(Victim, 80)
		for i := 0; i < 20000; i++ {
			t := time.Duration(i) * 100 * us
			src := netip.AddrPortFrom(Attacker, sport+uint16(i))
			s := b.rnd.u32()
			b.tcp(t, src, dst, seg{flags: syn, seq: s, win: 512})
			b.tcp(t+20*us, dst, src, seg{flags: syn | ack, seq: b.rnd.u32(), ack: s + 1, win: 64240, opts: nmapSYN})
		}
	})
	// D: ping -f with the victim's echo replies in the capture.
	runExp(t, "icmpflood_with_replies", func(b *builder) {
		for i := 0; i < 5000; i++ {
			t := time.Duration(i) * 200 * us
			d := pingData(Start.Add(t))
			b.icmp4(t, Attacker, Victim, 8, 0, 7, uint16(i+1), d)
			b.icmp4(t+20*us, Victim, Attacker, 0, 0, 7, uint16(i+1), d)
		}
	})
	// E: a busy NTP server: 200 ntpd clients (source port 123) poll it within 10 s.
	runExp(t, "ntp_server_busy", func(b *builder) {
		srv := netip.AddrPortFrom(netip.MustParseAddr("198.51.100.123"), 123)
		for i := 0; i < 200; i++ {
			t := time.Duration(i) * 50 * ms
			cli := netip.AddrPortFrom(b.rnd.addrIn(benchNet), 123)
			b.udp(t, cli, srv, ntpPacket(0x23, 0, b.rnd.u64()))
			b.udp(t+100*us, srv, cli, ntpPacket(0x24, 2, b.rnd.u64()))
		}
	})
	// E2: same with chrony clients (random source ports).
	runExp(t, "ntp_server_busy_chrony", func(b *builder) {
		srv := netip.AddrPortFrom(netip.MustParseAddr("198.51.100.123"), 123)
		for i := 0; i < 200; i++ {
			t := time.Duration(i) * 50 * ms
			cli := netip.AddrPortFrom(b.rnd.addrIn(benchNet), b.rnd.ephemeral())
			b.udp(t, cli, srv, ntpPacket(0x23, 0, b.rnd.u64()))
			b.udp(t+100*us, srv, cli, ntpPacket(0x24, 2, b.rnd.u64()))
		}
	})
	// F: a busy HTTPS server: 3000 complete connections in 5 s from 300 clients.
	runExp(t, "web_server_busy", func(b *builder) {
		cls := reflectors(b, 300)
		for i := 0; i < 3000; i++ {
			t := time.Duration(i) * 1666 * us
			c, t2 := b.dial(t, netip.AddrPortFrom(cls[i%300], b.rnd.ephemeral()), netip.AddrPortFrom(Victim, 443), 20*ms)
			t2 = c.client(t2+1*ms, b.rnd.bytes(300))
			t2 = c.server(t2+1*ms, 20*ms, b.rnd.bytes(2000))
			c.closeByClient(t2+5*ms, 20*ms)
		}
	})
}
