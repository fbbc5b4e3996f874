package loader

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/cilium/ebpf/link"

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
	var base xbpf.BaselineObjects
	if err := xbpf.LoadBaselineObjects(&base, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { base.Close() })
	if err := l.client.Do(func() error {
		ifi, err := net.InterfaceByName("c0")
		if err != nil {
			return err
		}
		lk, err := link.AttachXDP(link.XDPOptions{Program: base.BarePass, Interface: ifi.Index, Flags: link.XDPDriverMode})
		if err != nil {
			return err
		}
		t.Cleanup(func() { lk.Close() })
		return nil
	}); err != nil {
		t.Fatalf("attach the client's XDP_PASS: %v", err)
	}
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
	t.Helper()
	err := l.client.Do(func() error {
		for i := range n {
			c, err := net.DialTimeout("tcp4", fmt.Sprintf("%s:%d", l.s.IP(), port), 2*time.Second)
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
