package testgen

import (
	"fmt"
	"net/netip"
	"time"
)

// tlsCCS is a TLS ChangeCipherSpec record.
var tlsCCS = []byte{20, 3, 3, 0, 1, 1}

// tlsRecords is n bytes of random content in TLS records of type typ (at
// most 16 KiB each, with their 5-byte headers).
func tlsRecords(b *builder, typ byte, n int) []byte {
	var out []byte
	for n > 0 {
		k := min(n, 1<<14)
		out = append(out, typ, 3, 3, byte(k>>8), byte(k))
		out = append(out, b.rnd.bytes(k)...)
		n -= k
	}
	return out
}

// Mix is a realistic server-side traffic mix for benchmarks, of about
// 40*conns packets: conns web connections over five minutes from clients
// all over 198.18.0.0/15, each after a DNS lookup, to a web server (HTTP
// on 80 with responses of 2-60 kB, TLS on 443 with a handshake and
// 5-40 kB of application data, three in four TLS as on today's web),
// plus pings and NTP polls. Not a golden capture: it is as large as the
// benchmark asks.
func Mix(conns int) Capture {
	return Capture{Name: fmt.Sprintf("mix%d", conns), Doc: "web/DNS/TLS benchmark mix", build: func(b *builder) { mix(b, conns) }}
}

func mix(b *builder, conns int) {
	web := netip.MustParseAddr("198.51.100.80")
	resolver := netip.MustParseAddr("198.51.100.53")
	span := 300 * time.Second
	page := []byte("<p>lorem ipsum dolor sit amet, consectetur adipiscing elit</p>\n")
	for i := 0; i < conns; i++ {
		t := time.Duration(i) * span / time.Duration(conns)
		cl := b.rnd.addrIn(benchNet)
		id := b.rnd.u16()
		q := netip.AddrPortFrom(cl, b.rnd.ephemeral())
		r := netip.AddrPortFrom(resolver, 53)
		name := fmt.Sprintf("www%d.example.com", i%50)
		b.udp(t, q, r, dnsQuery(id, name))
		b.udp(t+400*us, r, q, dnsAnswer(id, name, web))
		t += ms
		rtt := time.Duration(5+b.rnd.intn(80)) * ms
		if b.rnd.intn(4) == 0 {
			c, t := b.dial(t, netip.AddrPortFrom(cl, b.rnd.ephemeral()), netip.AddrPortFrom(web, 80), rtt)
			t = c.client(t+ms, []byte(fmt.Sprintf("GET /article/%d.html HTTP/1.1\r\nHost: %s\r\nUser-Agent: Mozilla/5.0\r\nAccept: text/html\r\n\r\n", i, name)))
			body := make([]byte, 2000+b.rnd.intn(58000))
			for k := range body {
				body[k] = page[k%len(page)]
			}
			resp := append([]byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n", len(body))), body...)
			t = c.server(t+2*ms, rtt, resp)
			c.closeByClient(t+time.Second, rtt)
			continue
		}
		// TLS 1.3: a browser's ClientHello; ServerHello, ChangeCipherSpec
		// and the encrypted rest of the handshake; the client's
		// ChangeCipherSpec and Finished; then application data.
		c, t := b.dial(t, netip.AddrPortFrom(cl, b.rnd.ephemeral()), netip.AddrPortFrom(web, 443), rtt)
		t = c.client(t+ms, clientHello(b, name, []string{"h2", "http/1.1"}, true))
		sh := serverHello(b, 0x1301, tlsExt(43, be16(0x0304)), tlsExt(51, be16(0x001d), u16v(b.rnd.bytes(32))))
		t = c.server(t+2*ms, rtt, cat(record(22, 0x0303, sh), tlsCCS, tlsRecords(b, 23, 2800)))
		t = c.client(t+ms, append(append([]byte{}, tlsCCS...), tlsRecords(b, 23, 53)...))
		t = c.client(t+ms, tlsRecords(b, 23, 300+b.rnd.intn(500)))
		t = c.server(t+3*ms, rtt, tlsRecords(b, 23, 5000+b.rnd.intn(35000)))
		c.closeByClient(t+2*time.Second, rtt)
	}
	// A monitoring ping at 1/s and ntpd polls every 64 s.
	src, dst := netip.MustParseAddr("192.0.2.30"), netip.MustParseAddr("198.51.100.1")
	pid := b.rnd.u16()
	for i := 0; i < int(span/time.Second); i++ {
		t := time.Duration(i) * time.Second
		data := pingData(Start.Add(t))
		b.icmp4(t, src, dst, 8, 0, pid, uint16(i+1), data)
		b.icmp4(t+200*us, dst, src, 0, 0, pid, uint16(i+1), data)
	}
	cli := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.40"), 123)
	srv := netip.AddrPortFrom(netip.MustParseAddr("198.51.100.123"), 123)
	for t := time.Duration(0); t < span; t += 64 * time.Second {
		b.udp(t, cli, srv, ntpPacket(0x23, 0, b.rnd.u64()))
		b.udp(t+150*us, srv, cli, ntpPacket(0x24, 2, b.rnd.u64()))
	}
}
