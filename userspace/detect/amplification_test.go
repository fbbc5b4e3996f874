package detect

import (
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

func TestAmplification(t *testing.T) {
	cfg := DefaultConfig()
	for _, svc := range []struct {
		port uint16
		sig  alert.Signature
	}{
		{53, alert.AmpDNS}, {123, alert.AmpNTP}, {161, alert.AmpSNMP}, {389, alert.AmpCLDAP},
		{1900, alert.AmpSSDP}, {11211, alert.AmpMemcached},
	} {
		t.Run(strconv.Itoa(int(svc.port)), func(t *testing.T) {
			gen := func(reflectors, i int) *decode.Packet {
				return udp(nthAddr(100, i%reflectors), victim, svc.port, uint16(30000+i%7), t0+int64(i)*1e7, 1400)
			}
			// Unsolicited responses from enough reflectors: at the threshold.
			h := newHarness(t, cfg)
			for i := 0; i < cfg.AmpPackets-1; i++ {
				h.feed(gen(cfg.AmpReflectors, i))
			}
			if len(h.alerts) != 0 {
				t.Fatalf("alert at %d responses: %s", cfg.AmpPackets-1, h.sids())
			}
			h.feed(gen(cfg.AmpReflectors, cfg.AmpPackets-1))
			h.only(svc.sig)
			a := h.find(svc.sig)
			checkAlert(t, a, svc.sig, victim, true, 0, "amplification")
			if a.Metadata["responses"] != strconv.Itoa(cfg.AmpPackets) || a.Metadata["reflectors_at_least"] != "5" ||
				a.Metadata["payload_bytes"] != strconv.Itoa(1400*cfg.AmpPackets) {
				t.Errorf("metadata %v", a.Metadata)
			}
			for i := cfg.AmpPackets; i < 3*cfg.AmpPackets; i++ {
				h.feed(gen(cfg.AmpReflectors, i))
			}
			if h.count(svc.sig) != 1 {
				t.Errorf("%d alerts for one attack", h.count(svc.sig))
			}

			// Too few reflectors.
			h = newHarness(t, cfg)
			for i := range 3 * cfg.AmpPackets {
				h.feed(gen(cfg.AmpReflectors-1, i))
			}
			if len(h.alerts) != 0 {
				t.Fatalf("alert with %d reflectors: %s", cfg.AmpReflectors-1, h.sids())
			}

			// Solicited: the target asked every reflector first.
			h = newHarness(t, cfg)
			for r := range cfg.AmpReflectors * 2 {
				for q := range 7 {
					h.feed(udp(victim, nthAddr(100, r), uint16(30000+q), svc.port, t0-1e6, 40))
				}
			}
			for i := range 3 * cfg.AmpPackets {
				h.feed(gen(cfg.AmpReflectors*2, i))
			}
			if len(h.alerts) != 0 {
				t.Fatalf("alert for solicited responses: %s", h.sids())
			}
		})
	}
	// Another service port (mDNS reflection): the generic alert.
	h := newHarness(t, cfg)
	for i := range 3 * cfg.AmpPackets {
		h.feed(udp(nthAddr(100, i%10), victim, 5353, 30000, t0+int64(i)*1e7, 1400))
	}
	if h.count(alert.AmpOther) != 1 {
		t.Fatalf("alerts for reflection from port 5353: %s", h.sids())
	}
	h.only(alert.AmpOther)
}

func TestAmplificationIgnoresServiceRequests(t *testing.T) {
	cfg := DefaultConfig()
	dnsQuery := []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	dnsResponse := []byte{0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0}
	ntpClient := append([]byte{0x23, 0}, make([]byte, 46)...) // v4, mode 3
	ntpServer := append([]byte{0x24, 1}, make([]byte, 46)...) // v4, mode 4
	ntpMonlistReq := []byte{0x17, 0x00, 0x03, 0x2a}           // mode 7, R clear
	ntpMonlistResp := []byte{0x97, 0x00, 0x03, 0x2a}          // mode 7, R set
	for _, tc := range []struct {
		name    string
		port    uint16
		payload []byte
		sig     *alert.Signature
	}{
		{"dns queries from port 53", 53, dnsQuery, nil},
		{"dns responses", 53, dnsResponse, &alert.AmpDNS},
		{"ntp servers polled from port 123", 123, ntpClient, nil},
		{"ntp server replies", 123, ntpServer, &alert.AmpNTP},
		{"ntp monlist requests", 123, ntpMonlistReq, nil},
		{"ntp monlist responses", 123, ntpMonlistResp, &alert.AmpNTP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, cfg)
			for i := range 2 * cfg.AmpPackets {
				p := udp(nthAddr(100, i%(2*cfg.AmpReflectors)), victim, tc.port, tc.port, t0+int64(i)*1e7, len(tc.payload))
				p.Payload = tc.payload
				h.feed(p)
			}
			if tc.sig == nil {
				if len(h.alerts) != 0 {
					t.Fatalf("alerts: %s", h.sids())
				}
				return
			}
			if h.count(*tc.sig) != 1 {
				t.Fatalf("alerts: %s", h.sids())
			}
		})
	}
}

// quicShort and quicInitial are the first bytes of a QUIC 1-RTT (short
// header) packet and of an Initial (long header); dtlsHello starts a DTLS
// handshake record.
var (
	quicShort   = []byte{0x43, 0xde, 0xad, 0xbe, 0xef}
	quicInitial = []byte{0xc3, 0, 0, 0, 1}
	dtlsHello   = []byte{0x16, 0xfe, 0xfd, 0, 0}
)

// TestReflectionAnyPort drives the behavioural amplification detector:
// unsolicited responses grouped by UDP source port, for ports without a
// named detector, and the traffic it must leave alone.
func TestReflectionAnyPort(t *testing.T) {
	cfg := DefaultConfig()
	// flood is n unsolicited responses from port, round-robin over
	// reflectors in 198.18.0.0/15 terms (nthAddr 100), to random-looking
	// victim ports, 10 ms apart.
	flood := func(h *harness, port uint16, reflectors, n int, start int64, payload []byte) {
		for i := range n {
			p := udp(nthAddr(100, i%reflectors), victim, port, uint16(1024+(i*7919)%60000), start+int64(i)*1e7, 400)
			p.Payload = payload
			h.feed(p)
		}
	}
	for _, tc := range []struct {
		name string
		run  func(h *harness)
		want []alert.Signature // in order; nil: no amplification alert
		port string            // source_port of the first alert
	}{
		{"chargen 19 from 10 reflectors", func(h *harness) { flood(h, 19, 10, 3*cfg.AmpPackets, t0, nil) },
			[]alert.Signature{alert.AmpOther}, "19"},
		{"qotd 17", func(h *harness) { flood(h, 17, 20, 3*cfg.AmpPackets, t0, nil) }, []alert.Signature{alert.AmpOther}, "17"},
		{"portmap 111", func(h *harness) { flood(h, 111, 20, 3*cfg.AmpPackets, t0, nil) }, []alert.Signature{alert.AmpOther}, "111"},
		{"netbios 137 to a client port", func(h *harness) { flood(h, 137, 20, 3*cfg.AmpPackets, t0, nil) },
			[]alert.Signature{alert.AmpOther}, "137"},
		{"ripv1 520", func(h *harness) { flood(h, 520, 20, 3*cfg.AmpPackets, t0, nil) }, []alert.Signature{alert.AmpOther}, "520"},
		{"ws-discovery 3702", func(h *harness) { flood(h, 3702, 20, 3*cfg.AmpPackets, t0, nil) }, []alert.Signature{alert.AmpOther}, "3702"},
		{"coap 5683", func(h *harness) { flood(h, 5683, 20, 3*cfg.AmpPackets, t0, nil) }, []alert.Signature{alert.AmpOther}, "5683"},
		// High ports count: reflectors live there too, and many hosts
		// sharing one high source port is no accident.
		{"jenkins 33848", func(h *harness) { flood(h, 33848, 20, 3*cfg.AmpPackets, t0, nil) }, []alert.Signature{alert.AmpOther}, "33848"},
		{"unusual high port 40000", func(h *harness) { flood(h, 40000, 20, 3*cfg.AmpPackets, t0, nil) },
			[]alert.Signature{alert.AmpOther}, "40000"},
		{"dtls on 443", func(h *harness) { flood(h, 443, 20, 3*cfg.AmpPackets, t0, dtlsHello) }, []alert.Signature{alert.AmpOther}, "443"},
		{"quic initials on 443", func(h *harness) { flood(h, 443, 20, 3*cfg.AmpPackets, t0, quicInitial) },
			[]alert.Signature{alert.AmpOther}, "443"},
		// The named services keep their own sids, and only those.
		{"dns 53 keeps its sid", func(h *harness) { flood(h, 53, 20, 3*cfg.AmpPackets, t0, nil) }, []alert.Signature{alert.AmpDNS}, ""},
		{"ntp 123 keeps its sid", func(h *harness) { flood(h, 123, 20, 3*cfg.AmpPackets, t0, nil) }, []alert.Signature{alert.AmpNTP}, ""},
		{"memcached 11211 keeps its sid", func(h *harness) { flood(h, 11211, 20, 3*cfg.AmpPackets, t0, nil) },
			[]alert.Signature{alert.AmpMemcached}, ""},
		// Two vectors at once: an alert each (suppression is per port).
		{"chargen and coap at once", func(h *harness) {
			for i := range 4 * cfg.AmpPackets {
				port := uint16(19)
				if i%2 == 1 {
					port = 5683
				}
				h.feed(udp(nthAddr(100, i%20), victim, port, uint16(1024+i), t0+int64(i)*5e6, 400))
			}
		}, []alert.Signature{alert.AmpOther, alert.AmpOther}, "19"},
		{"a flood amid a busy server's clients", func(h *harness) {
			for i := range 8 * cfg.AmpPackets {
				ts := t0 + int64(i)*2e6
				h.feed(udp(nthAddr(60, i), victim, uint16(32768+i), 443, ts, 1200)) // a client each
				if i%3 == 0 {
					h.feed(udp(nthAddr(100, i%20), victim, 19, uint16(1024+i), ts+1e5, 400))
				}
			}
		}, []alert.Signature{alert.AmpOther}, "19"},

		{"one reflector", func(h *harness) { flood(h, 19, 1, 10*cfg.AmpPackets, t0, nil) }, nil, ""},
		{"too few reflectors", func(h *harness) { flood(h, 19, cfg.AmpReflectors-1, 10*cfg.AmpPackets, t0, nil) }, nil, ""},
		{"too few responses", func(h *harness) { flood(h, 19, 20, cfg.AmpPackets-1, t0, nil) }, nil, ""},
		{"responses spread over windows", func(h *harness) {
			for i := range 3 * cfg.AmpPackets {
				h.feed(udp(nthAddr(100, i%20), victim, 19, uint16(1024+i), t0+int64(i)*int64(cfg.AmpWindow)/int64(cfg.AmpPackets/2), 400))
			}
		}, nil, ""},
		{"solicited: the target asked each reflector", func(h *harness) {
			for r := range 20 {
				for q := range 20 {
					h.feed(udp(victim, nthAddr(100, r), uint16(1024+r*20+q), 5683, t0-1e6, 20))
				}
			}
			for i := range 400 {
				r := i % 20
				h.feed(udp(nthAddr(100, r), victim, 5683, uint16(1024+r*20+(i/20)%20), t0+int64(i)*1e7, 400))
			}
		}, nil, ""},
		{"dns client with three resolvers", func(h *harness) {
			// 300 lookups in 10 s, each query to one of three resolvers
			// and its answer, from a new ephemeral port each.
			for i := range 300 {
				res, ts, port := nthAddr(100, i%3), t0+int64(i)*3e7, uint16(32768+i*13)
				h.feed(udp(victim, res, port, 53, ts, 40))
				h.feed(udp(res, victim, 53, port, ts+1e6, 120))
			}
		}, nil, ""},
		{"dns client with three resolvers, answers only (ingress)", func(h *harness) {
			for i := range 300 {
				h.feed(udp(nthAddr(100, i%3), victim, 53, uint16(32768+i*13), t0+int64(i)*3e7, 120))
			}
		}, nil, ""},
		{"syslog collector: devices send from 514 to 514", func(h *harness) {
			for i := range 10 * cfg.AmpPackets {
				h.feed(udp(nthAddr(100, i%50), victim, 514, 514, t0+int64(i)*5e6, 200))
			}
		}, nil, ""},
		{"discovery answers to a multicast group", func(h *harness) {
			for i := range 10 * cfg.AmpPackets {
				h.feed(udp(nthAddr(100, i%50), netip.MustParseAddr("239.255.255.250"), 3702, 40000, t0+int64(i)*5e6, 900))
			}
		}, nil, ""},
		{"http/3 client, servers' 1-rtt packets (ingress)", func(h *harness) {
			// Live, a host's downloads over QUIC from 10 servers arrive on
			// flows it did not visibly open.
			for i := range 20 * cfg.AmpPackets {
				p := udp(nthAddr(100, i%10), victim, 443, uint16(40000+i%10), t0+int64(i)*1e6, 1200)
				p.Payload = quicShort
				h.feed(p)
			}
		}, nil, ""},
		{"disabled", func(h *harness) {
			h.e.cfg.AmpAnyPort = false
			flood(h, 19, 20, 3*cfg.AmpPackets, t0, nil)
		}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, cfg)
			tc.run(h)
			var got []alert.Alert
			for _, a := range h.alerts {
				if a.Detector == "amplification" {
					got = append(got, a)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("amplification alerts: %s, want %d", h.sids(), len(tc.want))
			}
			for i, sig := range tc.want {
				checkAlert(t, &got[i], sig, victim, true, 0, "amplification")
			}
			if tc.port != "" {
				m := got[0].Metadata
				if m["source_port"] != tc.port || got[0].SrcPort != uint16(atoi(t, tc.port)) {
					t.Errorf("source_port %q src_port %d, want %s", m["source_port"], got[0].SrcPort, tc.port)
				}
				for _, k := range []string{"responses", "payload_bytes", "reflectors_at_least", "share_percent", "window"} {
					if m[k] == "" {
						t.Errorf("metadata %v lacks %s", m, k)
					}
				}
			}
			if len(tc.want) == 2 && got[0].Metadata["source_port"] == got[1].Metadata["source_port"] {
				t.Errorf("two alerts for one port: %v %v", got[0].Metadata, got[1].Metadata)
			}
			// Packets of a recognised reflection are no scan by the
			// reflectors (unrecognised, one source sending to many ports
			// of a host is what a UDP scan looks like).
			for _, a := range h.alerts {
				if len(tc.want) > 0 && a.SID == alert.ScanVerticalUDP.SID {
					t.Errorf("reflector %v reported as a UDP scanner", a.Subject)
				}
			}
		})
	}
}

// TestReflectionThreshold checks the generic alert fires at exactly
// AmpPackets responses from AmpReflectors reflectors, once per attack.
func TestReflectionThreshold(t *testing.T) {
	cfg := DefaultConfig()
	h := newHarness(t, cfg)
	gen := func(i int) *decode.Packet {
		return udp(nthAddr(100, i%cfg.AmpReflectors), victim, 5683, uint16(30000+i%7), t0+int64(i)*1e7, 1000)
	}
	for i := 0; i < cfg.AmpPackets-1; i++ {
		h.feed(gen(i))
	}
	if len(h.alerts) != 0 {
		t.Fatalf("alert at %d responses: %s", cfg.AmpPackets-1, h.sids())
	}
	h.feed(gen(cfg.AmpPackets - 1))
	a := h.find(alert.AmpOther)
	checkAlert(t, a, alert.AmpOther, victim, true, 0, "amplification")
	want := map[string]string{"source_port": "5683", "responses": strconv.Itoa(cfg.AmpPackets),
		"payload_bytes": strconv.Itoa(1000 * cfg.AmpPackets), "reflectors_at_least": "5", "share_percent": "100", "window": "10s"}
	for k, v := range want {
		if a.Metadata[k] != v {
			t.Errorf("metadata %s = %q, want %q (%v)", k, a.Metadata[k], v, a.Metadata)
		}
	}
	for i := cfg.AmpPackets; i < 5*cfg.AmpPackets; i++ {
		h.feed(gen(i))
	}
	if h.count(alert.AmpOther) != 1 || len(h.alerts) != 1 {
		t.Errorf("alerts for one attack: %s", h.sids())
	}
}

// TestReflectionQUICServer: a QUIC server's clients each send from an
// ephemeral port of their own. With 20000 clients in 10 s some ports are
// shared by five clients or more by chance, and carry 100 packets: only
// the share condition tells them from a reflection, and no alert comes.
func TestReflectionQUICServer(t *testing.T) {
	cfg := DefaultConfig()
	h := newHarness(t, cfg)
	var r uint64 = 1
	rnd := func(n int) int { r = r*6364136223846793005 + 1442695040888963407; return int((r >> 33) % uint64(n)) }
	type client struct {
		addr netip.Addr
		port uint16
	}
	const clients, perClient = 20000, 25
	cl := make([]client, clients)
	sources := map[uint16]map[netip.Addr]bool{}
	packets := map[uint16]int{}
	for i := range cl {
		cl[i] = client{nthAddr(60, i), uint16(32768 + rnd(60999-32768+1))}
		if sources[cl[i].port] == nil {
			sources[cl[i].port] = map[netip.Addr]bool{}
		}
		sources[cl[i].port][cl[i].addr] = true
		packets[cl[i].port] += perClient
	}
	crowded := 0
	for port, s := range sources {
		if len(s) >= cfg.AmpReflectors && packets[port] >= cfg.AmpPackets {
			crowded++
		}
	}
	if crowded == 0 {
		t.Fatal("no source port shared by enough clients: the test proves nothing")
	}
	// Each client sends perClient packets, interleaved, over 9 s.
	n := clients * perClient
	for i := range n {
		c := cl[(i*7)%clients]
		p := udp(c.addr, victim, c.port, 443, t0+int64(i)*int64(9*time.Second)/int64(n), 1200)
		p.Payload = quicInitial
		h.feed(p)
	}
	for _, a := range h.alerts {
		if a.Detector == "amplification" {
			t.Fatalf("amplification alert for a QUIC server (%d crowded ports): %d %v", crowded, a.SID, a.Metadata)
		}
	}
	t.Logf("%d ports with >= %d clients and >= %d packets; alerts %s", crowded, cfg.AmpReflectors, cfg.AmpPackets, h.sids())
}

// TestReflectionStateBounded: one destination's tracker has a fixed size
// whatever the number of source ports, and adding destinations stops at
// MaxKeys.
func TestReflectionStateBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxKeys = 50
	h := newHarness(t, cfg)
	for i := range 5000 {
		h.feed(udp(nthAddr(100, i), nthAddr(10, i%200), uint16(1024+i), 9999, t0+int64(i)*1e5, 10))
	}
	if k := h.e.Stats().Keys; k > cfg.MaxKeys {
		t.Errorf("%d keys > MaxKeys %d", k, cfg.MaxKeys)
	}
	if got := unitOf[*amplification](h.e).refl.len(); got == 0 || got > cfg.MaxKeys {
		t.Errorf("%d reflection targets", got)
	}
}

// TestReflectionNoAllocs: the per-packet path of a tracked destination
// allocates nothing, below and past the threshold (suppressed alerts).
func TestReflectionNoAllocs(t *testing.T) {
	cfg := DefaultConfig()
	e := New(cfg, func(*alert.Alert) {})
	tb := flows.NewTable(1<<16, flows.DefaultTimeouts)
	var pkts []*decode.Packet
	for i := range 256 {
		pkts = append(pkts, udp(nthAddr(100, i%20), victim, 19, uint16(1024+i), 0, 400), udp(nthAddr(60, i), victim, uint16(32768+i), 443, 0, 1200))
	}
	i := 0
	step := func() {
		p := pkts[i%len(pkts)]
		p.TsNs = t0 + int64(i)*1e6
		i++
		in := Input{P: p}
		in.F, in.FromOrig, in.Ev = tb.Track(p)
		e.Observe(&in)
	}
	for range 2 * len(pkts) { // warm up: flows, the target, the first alert
		step()
	}
	if n := testing.AllocsPerRun(1000, step); n != 0 {
		t.Errorf("%v allocations per packet", n)
	}
	if e.Stats().Alerts != 1 {
		t.Errorf("alerts %d, want the one reflection", e.Stats().Alerts)
	}
}

// TestReflectionIPv6: the same over IPv6 (CoAP reflection to a host).
func TestReflectionIPv6(t *testing.T) {
	cfg := DefaultConfig()
	h := newHarness(t, cfg)
	v6 := netip.MustParseAddr("2001:db8::10")
	for i := range 2 * cfg.AmpPackets {
		refl := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0xba, 0xd0, 15: byte(i % 10)})
		h.feed(udp(refl, v6, 5683, uint16(1024+i), t0+int64(i)*1e7, 900))
	}
	a := h.find(alert.AmpOther)
	checkAlert(t, a, alert.AmpOther, v6, true, 0, "amplification")
	if h.count(alert.AmpOther) != 1 || a.Metadata["source_port"] != "5683" {
		t.Errorf("alerts %s, metadata %v", h.sids(), a.Metadata)
	}
}

// fragmentFloods is amplification (fragments)'s flood table.
func fragmentFloods(cfg Config) []flood {
	ms := int64(time.Millisecond)
	return []flood{
		{name: "fragment flood", n: cfg.AmpFragments,
			gen: func(i int) *decode.Packet {
				return laterFrag(nthAddr(100, i%cfg.AmpReflectors), victim, t0+int64(i)*10*ms)
			},
			sig: alert.AmpFragments, subject: victim, isTarget: true, ttl: 0, detector: "amplification", meta: "fragments"},
	}
}

func TestFragmentFlood(t *testing.T) {
	cfg := DefaultConfig()
	testFloods(t, cfg, fragmentFloods(cfg))
}
