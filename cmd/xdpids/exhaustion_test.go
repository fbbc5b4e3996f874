package main

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/internal/testgen"
	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/config"
	"github.com/xdpids/xdpids/userspace/detect/alert"
)

// exhaustionConfig is the defaults (detectors, budgets, state bounds)
// without the built-in rules, which the exhaustion attacks do not need.
const exhaustionConfig = `
signatures:
  builtin: false
`

// forgedLive is where the live forged loads come from: inside
// 198.18.0.0/15, apart from the lab's 198.18.1-3.0/24.
var forgedLive = netip.MustParsePrefix("198.19.0.0/16")

// TestExhaustionEndToEnd replays the forged load of each exhaustion attack
// (the testgen captures' frames, rewritten for the lab: from B's link, to
// S's address on it, sources in 198.19.0.0/16) with tcpreplay into a
// running daemon while host C runs a real nmap -sS: C is banned within
// 2 s; the forged ACK probers are never banned, the forged scanners get
// challenge bans only, within what the forgeable share gives evidence at
// the threshold.
func TestExhaustionEndToEnd(t *testing.T) {
	testenv.Short(t)
	for _, tool := range []string{"nmap", "tcpreplay", "timeout"} {
		testenv.RequireTool(t, tool)
	}
	share := func() float64 {
		r := config.Default().ResponseConfig()
		return r.ForgeableShare * float64(r.MaxBansPerMin)
	}()
	for _, tc := range []struct {
		name string
		span time.Duration // the forged load's length
		// the share of the load replayed before nmap starts: where the
		// capture's real scan starts (20 s of 25, 8 s of 12)
		lead float64
		// bans the forged sources may get: none, or half the share at
		// once and its refill while the load runs
		forgedBans func(d time.Duration) int
	}{
		{"exhaust_ack_scan", 3 * time.Second, 20.0 / 25, func(time.Duration) int { return 0 }},
		{"exhaust_forged_scanners", 3 * time.Second, 8.0 / 12, func(d time.Duration) int {
			return int(share/2 + share*d.Seconds()/60 + 1)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			se, ce := l.serverEnds["b"], l.clientEnds["b"]
			smac, _ := net.ParseMAC(se.MAC)
			cmac, _ := net.ParseMAC(ce.MAC)
			frames, err := testgen.LiveLoad(tc.name, testgen.Live{Victim: netip.MustParseAddr(se.IP()), SrcMAC: cmac, DstMAC: smac,
				Sources: forgedLive, Span: tc.span})
			if err != nil {
				t.Fatal(err)
			}
			pcap := filepath.Join(t.TempDir(), tc.name+".pcap")
			writeFrames(t, pcap, frames)
			d := l.start(t, exhaustionConfig)
			m, err := loader.OpenPinned(l.pin)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()

			loadStart := time.Now()
			replay := l.clients["b"].Cmd("tcpreplay", "-q", "-i", ce.Name, pcap)
			var replayOut strings.Builder
			replay.Stdout, replay.Stderr = &replayOut, &replayOut
			if err := replay.Start(); err != nil {
				t.Fatal(err)
			}
			replayWait := sync.OnceValue(replay.Wait)
			defer func() {
				if replay.ProcessState == nil {
					_ = replay.Process.Kill()
				}
				_ = replayWait()
			}()
			// nmap starts when S has seen the frames before the lead
			// point (tcpreplay keeps the timing only as well as the
			// machine lets it).
			first, last := frames[0].Time, frames[len(frames)-1].Time
			cut := first.Add(time.Duration(tc.lead * float64(last.Sub(first))))
			lead := 0
			for lead < len(frames) && frames[lead].Time.Before(cut) {
				lead++
			}
			for deadline := time.Now().Add(30 * time.Second); l.stats(t)[se.Name].Packets < uint64(lead); {
				if time.Now().After(deadline) {
					t.Fatalf("S saw %d packets of the load in 30 s, want %d", l.stats(t)[se.Name].Packets, lead)
				}
				time.Sleep(50 * time.Millisecond)
			}
			leadTook := time.Since(loadStart)

			c := l.clientEnds["c"].IP()
			start := time.Now()
			nmap := l.clients["c"].Cmd("nmap", "-sS", "-p", "1-500", "-n", "-Pn", "--max-retries", "0", "--host-timeout", "5s",
				l.serverEnds["c"].IP())
			if err := nmap.Start(); err != nil {
				t.Fatal(err)
			}
			took := l.waitBanned(t, c, start, 2*time.Second)
			_ = nmap.Process.Kill()
			_ = nmap.Wait()
			if err := replayWait(); err != nil {
				t.Fatalf("tcpreplay: %v\n%s", err, replayOut.String())
			}
			loadTook := time.Since(loadStart)

			blocks, err := m.Blocks()
			if err != nil {
				t.Fatal(err)
			}
			forged, cBanned := 0, false
			for _, b := range blocks {
				switch {
				case forgedLive.Contains(b.Prefix.Addr()):
					forged++
					if !b.Challenge || b.Level != 0 {
						t.Errorf("forged source %s: a ban that is not a challenge ban (%+v)", b.Prefix, b)
					}
				case b.Prefix == netip.MustParsePrefix(c+"/32"):
					cBanned = true
				default:
					t.Errorf("unexpected ban %+v", b)
				}
			}
			if !cBanned {
				t.Error("C's ban is gone")
			}
			if max := tc.forgedBans(loadTook); forged > max {
				t.Errorf("%d forged sources banned, want at most %d", forged, max)
			}
			st := l.stats(t)
			d.stop(t)
			var cAlerts, forgedAlerts int
			for _, e := range readEVE(t, d.eve) {
				if e.Subject == c && e.Alert.SignatureID == alert.ScanVerticalTCP.SID {
					cAlerts++
				}
				if a, err := netip.ParseAddr(e.Subject); err == nil && forgedLive.Contains(a) {
					forgedAlerts++
				}
			}
			var pkts, sent, lost uint64
			for _, s := range st {
				pkts += s.Packets
				sent += s.Samples["sent"]
				lost += s.Samples["lost"] + s.Samples["over_budget"]
			}
			t.Logf("%d forged frames replayed in %s, nmap started after %d of them (%s); nmap -sS from C banned %s after it started (%d scan alerts); "+
				"forged sources: %d alerts, %d challenge bans (%d packets seen, %d samples sent, %d lost or over budget)",
				len(frames), loadTook.Round(time.Millisecond), lead, leadTook.Round(time.Millisecond), took, cAlerts, forgedAlerts, forged, pkts, sent, lost)
			if cAlerts == 0 {
				t.Error("no scan alert about C in EVE")
			}
			// A forged load past the threshold hits the share's reserve:
			// logged (once a minute per cap).
			if n := strings.Count(d.log.String(), "forgeable_reserve"); (forgedAlerts > 0) != (n > 0) || n > 1 {
				t.Errorf("%d log lines for the forgeable reserve, %d forged alerts:\n%s", n, forgedAlerts, d.log)
			}
		})
	}
}

// writeFrames writes frames as a pcap (microsecond timestamps) for
// tcpreplay, which keeps their timing.
func writeFrames(t *testing.T, path string, frames []testgen.Frame) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(testgen.Snaplen, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for _, fr := range frames {
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: fr.Time, CaptureLength: len(fr.Data), Length: len(fr.Data)}, fr.Data); err != nil {
			t.Fatal(err)
		}
	}
}
