package loader

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	xbpf "github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/internal/testenv"
)

// The SYN cookie handshake end to end, between two network namespaces: a
// client's connections to a listener behind the program in cookie mode.
// The program answers the SYNs (XDP_TX on the server's veth), the client's
// ACK is checked and passes, and the server's stack, with
// net.ipv4.tcp_syncookies=2, accepts the connection from it.

type cookieLab struct {
	server, client *testenv.Netns
	s, c           *testenv.VethEnd
	d              *Datapath
	att            *Attachment
}

func newCookieLab(t *testing.T, cfg Config) *cookieLab {
	testenv.RequireBPF(t)
	testenv.RequireTool(t, "ethtool")
	testenv.RequireTool(t, "sysctl")
	id := testenv.UniqueID()
	l := &cookieLab{server: testenv.NewNetns(t, "xck-"+id+"-s"), client: testenv.NewNetns(t, "xck-"+id+"-c")}
	l.s = &testenv.VethEnd{NS: l.server, Name: "s0", Addr: "198.18.100.1/24"}
	l.c = &testenv.VethEnd{NS: l.client, Name: "c0", Addr: "198.18.100.2/24"}
	testenv.Veth(t, l.s, l.c)
	l.server.Run(t, "sysctl", "-qw", "net.ipv4.tcp_syncookies=2")
	// The client's SYNs with their checksums whole (veth offloads leave
	// them partial, which the program would take for bad ones).
	l.client.Run(t, "ethtool", "-K", "c0", "tx", "off")
	l.d = loadDatapath(t, cfg)
	if err := l.server.Do(func() error {
		a, err := l.d.Attach("s0", ModeDriver)
		l.att = a
		return err
	}); err != nil {
		t.Fatalf("attach: %v", err)
	}
	// XDP_TX on a veth reaches the peer only when the peer runs XDP too.
	l.client.AttachBarePass(t, "c0")
	return l
}

// echoServer listens on the server's address and echoes each connection's
// first line back.
func (l *cookieLab) echoServer(t *testing.T, port int) {
	var ln net.Listener
	if err := l.server.Do(func() error {
		var err error
		ln, err = net.Listen("tcp4", fmt.Sprintf("%s:%d", l.s.IP(), port))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64)
				_ = c.SetDeadline(time.Now().Add(3 * time.Second))
				n, err := c.Read(buf)
				if err == nil {
					_, _ = c.Write(buf[:n])
				}
			}()
		}
	}()
}

// connect opens n connections from the client, one after another, and
// returns how many completed a round trip.
func (l *cookieLab) connect(t *testing.T, port, n int) (ok int, lastErr error) {
	return l.connectWithin(t, port, n, 2*time.Second)
}

// connectWithin is connect with a timeout for each connection's set-up.
func (l *cookieLab) connectWithin(t *testing.T, port, n int, timeout time.Duration) (ok int, lastErr error) {
	t.Helper()
	err := l.client.Do(func() error {
		for i := range n {
			c, err := net.DialTimeout("tcp4", fmt.Sprintf("%s:%d", l.s.IP(), port), timeout)
			if err != nil {
				lastErr = err
				continue
			}
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			msg := fmt.Sprintf("hello %d\n", i)
			buf := make([]byte, len(msg))
			if _, err := c.Write([]byte(msg)); err != nil {
				lastErr = err
			} else if _, err := io.ReadFull(c, buf); err != nil {
				lastErr = err
			} else if string(buf) != msg {
				lastErr = errors.New("echo mismatch")
			} else {
				ok++
			}
			c.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ok, lastErr
}

// TestSynCookieStackAccepts: with tcp_syncookies=2 the server's listener
// accepts the connections the program's SYN cookies open, once one SYN
// (the refresh SYN) has reached it so that it counts as recently flooded.
func TestSynCookieStackAccepts(t *testing.T) {
	cfg := testConfig()
	cfg.CookieAlways, cfg.CookieRefresh, cfg.HopTolerance = true, time.Minute, 2
	l := newCookieLab(t, cfg)
	l.echoServer(t, 8080)
	const n = 20
	ok, err := l.connect(t, 8080, n)
	st, serr := l.d.Maps().SlotStats(l.att.Slot)
	if serr != nil {
		t.Fatal(serr)
	}
	tx := st.Verdicts[xbpf.VerdictTX][xbpf.ReasonSYNCookie].Packets
	t.Logf("%d of %d connections completed (last error %v); %d SYNs answered with cookies, %d verified ACKs, %d bad cookies",
		ok, n, err, tx, st.VerifiedNew, st.Verdicts[xbpf.VerdictDrop][xbpf.ReasonBadCookie].Packets)
	if ok != n {
		t.Errorf("%d of %d connections completed; last error: %v", ok, n, err)
	}
	// the first SYN went to the stack (the refresh), the others got cookies
	if tx != n-1 || st.VerifiedNew != n-1 {
		t.Errorf("%d SYNs answered with cookies and %d sources verified, want %d", tx, st.VerifiedNew, n-1)
	}
	v, verr := l.d.Maps().LookupVerified(netip.MustParseAddr(l.c.IP()))
	if verr != nil || v.TTL != 64 || v.Spoofed != 0 {
		t.Errorf("client's verified entry %+v (%v), want TTL 64", v, verr)
	}
}

// TestSynCookieStackNeedsRefresh documents why the refresh SYN is there: a
// listener that never sent a cookie itself (no SYN reached it) refuses the
// program's cookies, tcp_syncookies=2 or not (tcp_synq_no_recent_overflow).
func TestSynCookieStackNeedsRefresh(t *testing.T) {
	cfg := testConfig()
	cfg.CookieAlways, cfg.CookieRefresh = true, 0
	l := newCookieLab(t, cfg)
	l.echoServer(t, 8081)
	ok, err := l.connect(t, 8081, 3)
	t.Logf("%d of 3 connections completed without a refresh SYN (last error %v)", ok, err)
	if ok != 0 {
		t.Errorf("%d of 3 connections completed: the stack accepted cookies it had no recent overflow for", ok)
	}
}

// writeSYNFlood writes n SYNs to dst:port from random forged sources in
// 198.18.0.0/15 (outside the lab's 198.18.100.0/24), with good checksums,
// as a pcap for tcpreplay.
func writeSYNFlood(t *testing.T, path string, srcMAC, dstMAC net.HardwareAddr, dst netip.Addr, port uint16, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(128, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	buf := gopacket.NewSerializeBuffer()
	for i := 0; i < n; {
		v := 198<<24 | 18<<16 | rng.Uint32N(1<<17)
		src := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		if netip.MustParsePrefix("198.18.100.0/24").Contains(src) {
			continue
		}
		i++
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, Id: uint16(i), SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		th := &layers.TCP{SrcPort: layers.TCPPort(1024 + rng.IntN(60000)), DstPort: layers.TCPPort(port), Seq: rng.Uint32(), SYN: true, Window: 64240,
			Options: []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}}}}
		must(th.SetNetworkLayerForChecksum(ip))
		must(gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			&layers.Ethernet{SrcMAC: srcMAC, DstMAC: dstMAC, EthernetType: layers.EthernetTypeIPv4}, ip, th))
		b := buf.Bytes()
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(0, int64(i)*1000), CaptureLength: len(b), Length: len(b)}, b); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSynFloodCookies replays a SYN flood from forged sources against a
// listener while a client opens connections, and reports the share of the
// client's connections that complete: the stack without SYN cookies
// (tcp_syncookies=0), the stack's own cookies (tcp_syncookies=2), and the
// program's cookie mode (default threshold, with tcp_syncookies=2).
func TestSynFloodCookies(t *testing.T) {
	testenv.Short(t)
	testenv.RequireTool(t, "tcpreplay")
	xdpOn := testConfig()
	xdpOn.CookieThreshold, xdpOn.CookieRefresh = DefaultConfig().CookieThreshold, DefaultConfig().CookieRefresh
	for _, mode := range []struct {
		name       string
		syncookies int
		cfg        Config
		min, max   float64 // share of the client's connections that complete
	}{
		// the baseline: the flood must be one that hurts
		{"stack without cookies", 0, testConfig(), 0, 0.5},
		{"stack cookies", 2, testConfig(), 0, 1},
		{"xdp cookies", 2, xdpOn, 0.95, 1},
	} {
		t.Run(mode.name, func(t *testing.T) {
			l := newCookieLab(t, mode.cfg)
			l.server.Run(t, "sysctl", "-qw", fmt.Sprintf("net.ipv4.tcp_syncookies=%d", mode.syncookies))
			// The SYN-ACKs to forged sources go back over the veth (the
			// client's stack drops them): a route, so the stack queues the
			// requests as it would on the Internet.
			l.server.Run(t, "ip", "route", "add", "198.18.0.0/15", "via", l.c.IP())
			l.echoServer(t, 8080)
			pcap := filepath.Join(t.TempDir(), "flood.pcap")
			smac, _ := net.ParseMAC(l.s.MAC)
			cmac, _ := net.ParseMAC(l.c.MAC)
			writeSYNFlood(t, pcap, cmac, smac, netip.MustParseAddr(l.s.IP()), 8080, 50_000)

			flood := l.client.Cmd("tcpreplay", "-q", "-i", "c0", "--pps=100000", "--loop=100", pcap)
			if err := flood.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = flood.Process.Kill(); _ = flood.Wait() }()
			time.Sleep(time.Second) // the flood fills the SYN queue first
			const n = 10
			start := time.Now()
			ok, err := l.connectWithin(t, 8080, n, time.Second) // the first SYN and no retry
			elapsed := time.Since(start)
			st, serr := l.d.Maps().SlotStats(l.att.Slot)
			if serr != nil {
				t.Fatal(serr)
			}
			ext := tcpExt(t, l.server)
			t.Logf("%s: server stack: %d SYN cookies sent, %d requests dropped with a full SYN queue, %d listen drops",
				mode.name, ext["SyncookiesSent"], ext["TCPReqQFullDrop"], ext["ListenDrops"])
			share := float64(ok) / n
			t.Logf("%s: %d of %d connections (%.0f%%) in %s during the flood (last error %v); xdp saw %d packets, %d SYNs answered with cookies, %d sources verified",
				mode.name, ok, n, 100*share, elapsed.Round(time.Millisecond), err, st.Total().Packets,
				st.Verdicts[xbpf.VerdictTX][xbpf.ReasonSYNCookie].Packets, st.VerifiedNew)
			if share < mode.min || share > mode.max {
				t.Errorf("%.0f%% of the client's connections completed, want %.0f%%..%.0f%%", 100*share, 100*mode.min, 100*mode.max)
			}
			// forged sources never answer: only the client is verified
			var verified []netip.Addr
			if err := l.d.Maps().EachVerified(func(v VerifiedSource) bool { verified = append(verified, v.Addr); return true }); err != nil {
				t.Fatal(err)
			}
			if mode.cfg.CookieThreshold > 0 && (len(verified) != 1 || verified[0] != netip.MustParseAddr(l.c.IP())) {
				t.Errorf("verified sources %v, want the client only", verified)
			}
			// in cookie mode the flood reaches the stack only until its
			// rate is over the threshold, and then for the refresh SYNs
			// (one per 10 s)
			if th := uint64(mode.cfg.CookieThreshold); th > 0 && ext["SyncookiesSent"] > th+2 {
				t.Errorf("the server's stack sent %d SYN cookies itself, want at most the threshold's %d and 2 refresh SYNs", ext["SyncookiesSent"], th)
			}
			if flood.ProcessState != nil {
				t.Fatalf("the flood ended early: %v", flood.ProcessState)
			}
		})
	}
}

// tcpExt reads the TcpExt counters of a namespace's stack (/proc/net is
// the reading process's network namespace).
func tcpExt(t *testing.T, ns *testenv.Netns) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	lines := strings.Split(ns.Run(t, "cat", "/proc/net/netstat"), "\n")
	for i := 0; i+1 < len(lines); i++ {
		names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(names) == 0 || names[0] != "TcpExt:" || len(values) != len(names) || values[0] != "TcpExt:" {
			continue
		}
		for j := 1; j < len(names); j++ {
			v, _ := strconv.ParseUint(values[j], 10, 64)
			out[names[j]] = v
		}
	}
	return out
}
