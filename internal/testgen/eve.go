package testgen

import (
	"net/netip"
	"time"
)

// EVECaptures are the captures of the EVE event golden tests (flow,
// anomaly and drop events, and the application-layer captures):
// small, each showing one kind of event. They
// are not in All(): the detector golden cases do not cover them.
func EVECaptures() []Capture { return append(append([]Capture(nil), eveCaptures...), appCaptures...) }

// LookupEVE returns the EVE capture called name.
func LookupEVE(name string) (Capture, bool) {
	for _, c := range EVECaptures() {
		if c.Name == name {
			return c, true
		}
	}
	return Capture{}, false
}

// EVEDropRule is the rule the eve_drop capture is read with: a drop rule
// on the request, with metadata.
const EVEDropRule = `drop tcp any any -> any 80 (msg:"XDPIDS TEST evil request"; flow:to_server,established; ` +
	`content:"GET /evil"; metadata:affected_product Web_Server, tag test; classtype:web-application-attack; sid:9000001; rev:2;)`

var eveCaptures = []Capture{
	{"eve_flows", "flows ending every way: a TCP connection closed then replaced by a new one on the same tuple " +
		"(forced), the second one closed and idle past 10 s (timeout), an unanswered UDP datagram idle past 30 s " +
		"(timeout), a DNS exchange, a ping and a late NTP poll open at the end of the capture (shutdown)", eveFlows},
	{"eve_anomaly", "decode anomalies (frames cut in the Ethernet, IPv4, TCP and UDP headers) and a TCP stream " +
		"with a segment never seen (a reassembly gap)", eveAnomaly},
	{"eve_drop", "an HTTP connection whose request matches EVEDropRule: in prevent mode the rest of the " +
		"connection is dropped; a second connection passes", eveDrop},
}

var (
	eveClient = netip.MustParseAddr("203.0.113.20")
	eveServer = netip.MustParseAddr("198.51.100.80")
)

func eveFlows(b *builder) {
	cli := netip.AddrPortFrom(eveClient, 40100)
	web := netip.AddrPortFrom(eveServer, 80)
	c, t := b.dial(0, cli, web, wanRTT)
	t = c.client(t+ms, []byte("GET / HTTP/1.1\r\nHost: example.net\r\n\r\n"))
	t = c.server(t+ms, wanRTT, []byte("HTTP/1.1 204 No Content\r\n\r\n"))
	c.closeByClient(t+ms, wanRTT)
	// The client reuses its port 2 s later: a new connection.
	c, t = b.dial(2*time.Second, cli, web, wanRTT)
	t = c.client(t+ms, []byte("GET /again HTTP/1.1\r\nHost: example.net\r\n\r\n"))
	t = c.server(t+ms, wanRTT, []byte("HTTP/1.1 204 No Content\r\n\r\n"))
	c.closeByServer(t+ms, wanRTT)
	// A datagram nobody answers.
	b.udp(3*time.Second, netip.AddrPortFrom(eveClient, 40200), netip.AddrPortFrom(eveServer, 9999), []byte("hello?"))
	// DNS, answered.
	q := netip.AddrPortFrom(eveClient, 40300)
	dns := netip.AddrPortFrom(eveServer, 53)
	b.udp(4*time.Second, q, dns, dnsQuery(0x1234, "example.net"))
	b.udp(4*time.Second+wanRTT, dns, q, dnsAnswer(0x1234, "example.net", eveServer))
	// A ping, answered, late in the capture.
	b.icmp4(40*time.Second, eveClient, eveServer, 8, 0, 7, 1, []byte("ping"))
	b.icmp4(40*time.Second+wanRTT, eveServer, eveClient, 0, 0, 7, 1, []byte("ping"))
	// An NTP poll at 45 s: its packet time expires the idle flows above.
	ntp := make([]byte, 48)
	ntp[0] = 0x23
	b.udp(45*time.Second, netip.AddrPortFrom(eveClient, 123), netip.AddrPortFrom(eveServer, 123), ntp)
}

func eveAnomaly(b *builder) {
	cli := netip.AddrPortFrom(eveClient, 40400)
	web := netip.AddrPortFrom(eveServer, 80)
	// Whole frames first, cut copies after: each cut frame is a copy of
	// a good one up to the layer it stops in.
	tcpFrame := append([]byte(nil), b.tcp(0, cli, web, seg{flags: syn, seq: 1000, win: 64240, opts: linuxSYN})...)
	udpFrame := append([]byte(nil), b.udp(ms, netip.AddrPortFrom(eveClient, 40401), netip.AddrPortFrom(eveServer, 53), dnsQuery(1, "example.net"))...)
	eth := b.frames[0].data[:14]
	cut := func(at time.Duration, ip []byte, n int) {
		f := append(append([]byte(nil), eth...), ip[:n]...)
		b.frames = append(b.frames, frame{at: at, data: f})
	}
	b.frames = append(b.frames, frame{at: 10 * ms, data: append([]byte(nil), eth[:10]...)}) // Ethernet header cut
	cut(11*ms, tcpFrame, 12)                                                                // IPv4 header cut
	cut(12*ms, tcpFrame, 20+10)                                                             // TCP header cut
	cut(13*ms, udpFrame, 20+4)                                                              // UDP header cut
	// A connection missing one client segment: the server acknowledges
	// past it; the stream skips the hole.
	c, t := b.dial(100*ms, netip.AddrPortFrom(eveClient, 40402), web, wanRTT)
	t = c.client(t+ms, []byte("GET /a HTTP/1.1\r\n"))
	c.cseq += 100 // 100 bytes lost before the sensor
	t = c.client(t+ms, []byte("Host: example.net\r\n\r\n"))
	t = c.server(t+ms, wanRTT, []byte("HTTP/1.1 204 No Content\r\n\r\n"))
	c.closeByClient(t+ms, wanRTT)
}

func eveDrop(b *builder) {
	web := netip.AddrPortFrom(eveServer, 80)
	c, t := b.dial(0, netip.AddrPortFrom(eveClient, 40500), web, wanRTT)
	t = c.client(t+ms, []byte("GET /evil HTTP/1.1\r\nHost: example.net\r\n\r\n"))
	t = c.server(t+ms, wanRTT, []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	c.closeByClient(t+ms, wanRTT)
	c, t = b.dial(time.Second, netip.AddrPortFrom(eveClient, 40501), web, wanRTT)
	t = c.client(t+ms, []byte("GET /fine HTTP/1.1\r\nHost: example.net\r\n\r\n"))
	t = c.server(t+ms, wanRTT, []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	c.closeByClient(t+ms, wanRTT)
}
