package appproto

import (
	"github.com/xdpids/xdpids/internal/testenv"
	"testing"
)

// dnsQuery is a real query for example.com A (id 0x1234, RD).
var dnsQuery = []byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01")

// dnsResponse answers it with 192.0.2.1 through a compression pointer.
var dnsResponse = []byte("\x12\x34\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01" +
	"\xc0\x0c\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04\xc0\x00\x02\x01")

func tcpDNS(m []byte) []byte { return append([]byte{byte(len(m) >> 8), byte(len(m))}, m...) }

func TestDetectTCP(t *testing.T) {
	for _, tc := range []struct {
		name     string
		toServer bool
		data     string
		want     Proto
		more     bool
	}{
		{"get", true, "GET / HTTP/1.1\r\n", HTTP1, false},
		{"post tab", true, "POST\t/x HTTP/1.0\r\n", HTTP1, false},
		{"propfind", true, "PROPFIND /dav HTTP/1.1\r\n", HTTP1, false},
		{"partial method", true, "PO", Unknown, true},
		{"method without space", true, "GETX / HTTP/1.1", Unknown, false},
		{"lower-case method", true, "get / HTTP/1.1", HTTP1, false},
		{"lower-case response", false, "http/1.0 200 OK", HTTP1, false},
		{"response", false, "HTTP/1.1 200 OK\r\n", HTTP1, false},
		{"partial response", false, "HTT", Unknown, true},
		{"response line to server", true, "HTTP/1.1 200 OK\r\n", Unknown, false},
		{"ssh client", true, "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3\r\n", SSH, false},
		{"ssh server", false, "SSH-1.99-Cisco-1.25\r\n", SSH, false},
		{"ssh partial", false, "SS", Unknown, true},
		{"tls client hello", true, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", TLS, false},
		{"tls server hello", false, "\x16\x03\x03\x00\x5a\x02\x00\x00\x56", TLS, false},
		{"tls short", true, "\x16\x03\x01", Unknown, true},
		{"tls bad version", true, "\x16\x04\x01\x02\x00\x01\xff\xff\xff\xff\xff\xff\xff\xff", Unknown, false},
		{"tls zero length", true, "\x16\x03\x01\x00\x00\x01\xff\xff\xff\xff\xff\xff\xff\xff", Unknown, false},
		{"sslv2 client hello", true, "\x80\x2e\x01\x00\x02\x00\x15", TLS, false},
		{"tls bad version short", true, "\x16\x04\x01\x02\x00\x01", Unknown, true}, // could be DNS over TCP
		{"tls app data first", true, "\x17\x03\x03\x00\x20\x01\xff\xff\xff\xff\xff\xff\xff\xff", Unknown, false},
		{"sslv2 hello", true, "\x80\x2e\x01\x03\x01\x00\x15", TLS, false},
		{"dns query", true, string(tcpDNS(dnsQuery)), DNS, false},
		{"dns response", false, string(tcpDNS(dnsResponse)), DNS, false},
		{"dns query to client", false, string(tcpDNS(dnsQuery)), Unknown, false},
		{"dns split in header", true, string(tcpDNS(dnsQuery)[:8]), Unknown, true},
		{"dns split in name", true, string(tcpDNS(dnsQuery)[:20]), Unknown, true},
		{"dns split after question", false, string(tcpDNS(dnsResponse)[:2+len(dnsQuery)]), DNS, false},
		{"empty", true, "", Unknown, true},
		{"smtp banner", false, "220 mail.example ESMTP\r\n", Unknown, false},
		{"random", true, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f", Unknown, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, more := DetectTCP(tc.toServer, []byte(tc.data))
			if p != tc.want || more != tc.more {
				t.Errorf("DetectTCP = %v, more %v; want %v, more %v", p, more, tc.want, tc.more)
			}
		})
	}
}

func TestDetectUDP(t *testing.T) {
	trailing := append(append([]byte{}, dnsQuery...), 0xff)
	noQuestion := append([]byte{}, dnsQuery[:12]...)
	noQuestion[5] = 0
	for _, tc := range []struct {
		name     string
		src, dst uint16
		data     []byte
		want     Proto
	}{
		{"query 53", 40000, 53, dnsQuery, DNS},
		{"response 53", 53, 40000, dnsResponse, DNS},
		{"query other port", 40000, 8053, dnsQuery, DNS},
		{"response other port", 8053, 40000, dnsResponse, DNS},
		{"trailing byte on 53", 40000, 53, trailing, DNS},
		{"trailing byte elsewhere", 40000, 8053, trailing, Unknown},
		{"no question", 40000, 53, noQuestion, Unknown},
		{"short", 40000, 53, dnsQuery[:11], Unknown},
		{"truncated question", 40000, 53, dnsQuery[:20], Unknown},
		{"ntp", 123, 123, []byte("\x1b\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), Unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := DetectUDP(tc.src, tc.dst, tc.data); got != tc.want {
				t.Errorf("DetectUDP = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestDetectTCPPrefixes feeds every prefix of real streams: needMore never
// turns into a different decision than the full stream gives.
func TestDetectTCPPrefixes(t *testing.T) {
	for _, s := range []struct {
		toServer bool
		data     []byte
		want     Proto
	}{
		{true, []byte("GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP1},
		{false, []byte("SSH-2.0-OpenSSH_7.4\r\n"), SSH},
		{true, tcpDNS(dnsQuery), DNS},
		{true, []byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), TLS},
	} {
		for i := 0; i <= len(s.data); i++ {
			p, more := DetectTCP(s.toServer, s.data[:i])
			if p != Unknown && p != s.want {
				t.Fatalf("prefix %d of %q: %v, want %v", i, s.data, p, s.want)
			}
			if p == Unknown && !more {
				t.Fatalf("prefix %d of %q: gave up", i, s.data)
			}
			if p == s.want {
				break
			}
		}
	}
}

func FuzzDetectTCP(f *testing.F) {
	f.Add(true, []byte("GET / HTTP/1.1\r\n"))
	f.Add(true, tcpDNS(dnsQuery))
	for _, p := range testenv.CorpusPayloads(f, "suricata-verify-app", testenv.Golden("app_http.pcap", "app_tls.pcap", "app_ssh.pcap", "app_dns.pcap"), testenv.TCPOnly(), testenv.MaxLen(512)) {
		f.Add(p.ToServer, p.Data)
	}
	f.Fuzz(func(t *testing.T, toServer bool, data []byte) {
		p, more := DetectTCP(toServer, data)
		if p != Unknown && more {
			t.Fatalf("decided %v yet asks for more", p)
		}
		if !p.Decided() && p != Unknown {
			t.Fatalf("out of range %d", p)
		}
	})
}

func FuzzDetectUDP(f *testing.F) {
	f.Add(uint16(40000), uint16(53), dnsQuery)
	f.Add(uint16(53), uint16(40000), dnsResponse)
	for _, p := range testenv.CorpusPayloads(f, "suricata-verify-app", testenv.Golden("app_dns.pcap", "dns_three_resolvers.pcap"), testenv.UDPOnly()) {
		f.Add(p.SrcPort, p.DstPort, p.Data)
	}
	f.Fuzz(func(t *testing.T, src, dst uint16, data []byte) {
		p := DetectUDP(src, dst, data)
		if p != Unknown && p != DNS {
			t.Fatalf("DetectUDP gave %v", p)
		}
		// Off the DNS ports the strict check implies the lenient one.
		if p == DNS && !isDNSPort(src) && !isDNSPort(dst) {
			if DetectUDP(40000, 53, data) != DNS && DetectUDP(53, 40000, data) != DNS {
				t.Fatal("strict accepted what lenient refused")
			}
		}
	})
}

func BenchmarkDetectTCP(b *testing.B) {
	inputs := [][]byte{
		[]byte("GET / HTTP/1.1\r\n"),
		[]byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
		tcpDNS(dnsQuery),
		[]byte("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"),
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		DetectTCP(true, inputs[i%len(inputs)])
	}
}

func BenchmarkDetectUDP(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		DetectUDP(40000, 8053, dnsResponse)
	}
}

func TestDetectAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() {
		DetectTCP(true, tcpDNS(dnsQuery)[:30])
		DetectUDP(1, 2, dnsResponse)
	}); n > 1 { // tcpDNS itself allocates once
		t.Errorf("%v allocs per run", n)
	}
}
