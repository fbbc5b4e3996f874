package testgen

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// The application-layer captures carry real protocol messages, byte for
// byte as clients and servers write them (no random stand-ins), so the
// parsers, the sticky buffers and the EVE http, dns, tls and ssh records
// have something true to read. Every message is built here from fixed
// values, so the captures are the same on every run.

// appCaptures are golden captures of the application layer.
var appCaptures = []Capture{
	{"app_http", "HTTP/1.1: a keep-alive connection of three requests (a GET with a percent-encoded query answered " +
		"with a gzip body in chunks, a form POST answered 302, a conditional GET answered 304), HTTP on port 8081 " +
		"(found by content, not port), and a path traversal for /etc/passwd from another client", appHTTP},
	{"app_dns", "DNS over UDP (A through a CNAME, AAAA, an NXDOMAIN) and over TCP (TXT), from one client to its resolver", appDNS},
	{"app_tls", "TLS 1.2 to 443 (ClientHello with GREASE, SNI and ALPN; ServerHello, a certificate in clear, " +
		"then encrypted records), TLS 1.2 to port 4443, and TLS 1.3 (certificate encrypted)", appTLS},
	{"app_ssh", "SSH: banners, both KEXINITs in clear, ECDH key exchange, NEWKEYS, then encrypted packets", appSSH},
}

var (
	appClient  = netip.MustParseAddr("192.0.2.30")
	appClient2 = netip.MustParseAddr("203.0.113.44")
	appWeb     = netip.MustParseAddr("198.51.100.80")
	appDNSSrv  = netip.MustParseAddr("198.51.100.53")
	appSSHSrv  = netip.MustParseAddr("198.51.100.22")
)

func gzipped(data []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	_, _ = w.Write(data)
	_ = w.Close()
	return buf.Bytes()
}

// chunked is data in HTTP/1.1 chunks of at most n bytes.
func chunked(data []byte, n int) []byte {
	var out []byte
	for len(data) > 0 {
		k := min(n, len(data))
		out = fmt.Appendf(out, "%x\r\n", k)
		out = append(out, data[:k]...)
		out = append(out, "\r\n"...)
		data = data[k:]
	}
	return append(out, "0\r\n\r\n"...)
}

func appHTTP(b *builder) {
	page := []byte(strings.Repeat("<li>café results: lorem ipsum dolor sit amet</li>\n", 60))
	c, t := b.dial(time.Second, netip.AddrPortFrom(appClient, 40001), netip.AddrPortFrom(appWeb, 80), 20*ms)
	t = c.client(t+ms, []byte("GET /search?q=caf%C3%A9&lang=en HTTP/1.1\r\nHost: www.example.com\r\n"+
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"+
		"Accept: text/html,application/xhtml+xml\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate\r\n"+
		"Referer: https://www.example.com/\r\nCookie: session=4f2a9c; theme=dark\r\nConnection: keep-alive\r\n\r\n"))
	t = c.server(t+2*ms, 20*ms, append([]byte("HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nDate: Mon, 02 Mar 2026 09:00:01 GMT\r\n"+
		"Content-Type: text/html; charset=utf-8\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"),
		chunked(gzipped(page), 200)...))
	form := "user=alice&password=correct+horse"
	t = c.client(t+300*ms, []byte(fmt.Sprintf("POST /login HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"+
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\nCookie: session=4f2a9c; theme=dark\r\n\r\n%s", len(form), form)))
	t = c.server(t+5*ms, 20*ms, []byte("HTTP/1.1 302 Found\r\nServer: nginx/1.24.0\r\nLocation: /home\r\nContent-Length: 0\r\n\r\n"))
	t = c.client(t+200*ms, []byte("GET /static/app.js HTTP/1.1\r\nHost: www.example.com\r\nIf-None-Match: \"5e1f-abc\"\r\n\r\n"))
	t = c.server(t+ms, 20*ms, []byte("HTTP/1.1 304 Not Modified\r\nServer: nginx/1.24.0\r\nETag: \"5e1f-abc\"\r\n\r\n"))
	c.closeByClient(t+2*time.Second, 20*ms)

	// HTTP on a port no parser is configured for: found by content.
	c, t = b.dial(2*time.Second, netip.AddrPortFrom(appClient, 40002), netip.AddrPortFrom(appWeb, 8081), 20*ms)
	t = c.client(t+ms, []byte("GET /api/v1/status HTTP/1.1\r\nHost: api.example.com:8081\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n"))
	body := `{"status":"ok","uptime":86400}`
	t = c.server(t+ms, 20*ms, []byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)))
	c.closeByServer(t+ms, 20*ms)

	// A path traversal from another client.
	c, t = b.dial(3*time.Second, netip.AddrPortFrom(appClient2, 50003), netip.AddrPortFrom(appWeb, 80), wanRTT)
	t = c.client(t+ms, []byte("GET /index.php?page=../../../../etc/passwd HTTP/1.1\r\nHost: 198.51.100.80\r\nUser-Agent: python-requests/2.31.0\r\nAccept: */*\r\n\r\n"))
	t = c.server(t+ms, wanRTT, []byte("HTTP/1.1 404 Not Found\r\nServer: nginx/1.24.0\r\nContent-Type: text/html\r\nContent-Length: 9\r\n\r\nnot found"))
	c.closeByClient(t+ms, wanRTT)
}

func dnsMsg(d *layers.DNS) []byte {
	out, err := serialize(d)
	if err != nil {
		panic(err)
	}
	return out
}

func appDNS(b *builder) {
	cl := netip.AddrPortFrom(appClient, 41000)
	srv := netip.AddrPortFrom(appDNSSrv, 53)
	q := func(id uint16, name string, typ layers.DNSType) *layers.DNS {
		return &layers.DNS{ID: id, RD: true, OpCode: layers.DNSOpCodeQuery,
			Questions: []layers.DNSQuestion{{Name: []byte(name), Type: typ, Class: layers.DNSClassIN}}}
	}
	answer := func(d *layers.DNS, rcode layers.DNSResponseCode, rrs ...layers.DNSResourceRecord) *layers.DNS {
		r := *d
		r.QR, r.RA, r.ResponseCode, r.Answers = true, true, rcode, rrs
		return &r
	}
	t := time.Second
	a := q(0x1a01, "www.example.com", layers.DNSTypeA)
	b.udp(t, cl, srv, dnsMsg(a))
	b.udp(t+2*ms, srv, cl, dnsMsg(answer(a, layers.DNSResponseCodeNoErr,
		layers.DNSResourceRecord{Name: []byte("www.example.com"), Type: layers.DNSTypeCNAME, Class: layers.DNSClassIN, TTL: 3600, CNAME: []byte("web.example.net")},
		layers.DNSResourceRecord{Name: []byte("web.example.net"), Type: layers.DNSTypeA, Class: layers.DNSClassIN, TTL: 300, IP: appWeb.AsSlice()})))
	t += 10 * ms
	aaaa := q(0x1a02, "www.example.com", layers.DNSTypeAAAA)
	cl2 := netip.AddrPortFrom(appClient, 41001)
	b.udp(t, cl2, srv, dnsMsg(aaaa))
	b.udp(t+2*ms, srv, cl2, dnsMsg(answer(aaaa, layers.DNSResponseCodeNoErr,
		layers.DNSResourceRecord{Name: []byte("www.example.com"), Type: layers.DNSTypeAAAA, Class: layers.DNSClassIN, TTL: 300,
			IP: netip.MustParseAddr("2001:db8:1::80").AsSlice()})))
	t += 10 * ms
	nx := q(0x1a03, "nosuchhost.example.com", layers.DNSTypeA)
	cl3 := netip.AddrPortFrom(appClient, 41002)
	b.udp(t, cl3, srv, dnsMsg(nx))
	b.udp(t+3*ms, srv, cl3, dnsMsg(answer(nx, layers.DNSResponseCodeNXDomain)))

	// DNS over TCP: each message after its 2-byte length.
	c, t := b.dial(t+100*ms, netip.AddrPortFrom(appClient, 41003), srv, 2*ms)
	txt := q(0x1a04, "example.com", layers.DNSTypeTXT)
	m := dnsMsg(txt)
	t = c.client(t+ms, append(binary.BigEndian.AppendUint16(nil, uint16(len(m))), m...))
	m = dnsMsg(answer(txt, layers.DNSResponseCodeNoErr,
		layers.DNSResourceRecord{Name: []byte("example.com"), Type: layers.DNSTypeTXT, Class: layers.DNSClassIN, TTL: 300,
			TXTs: [][]byte{[]byte("v=spf1 -all")}}))
	t = c.server(t+ms, 2*ms, append(binary.BigEndian.AppendUint16(nil, uint16(len(m))), m...))
	c.closeByClient(t+ms, 2*ms)
}

// appCertDER is a self-signed ECDSA P-256 certificate, made once with
// openssl (subject and issuer C=US, O=xdpids test, CN=www.example.com;
// serial 1A:2B:3C:4D:5E:6F; SANs www.example.com, example.com; valid
// 2026-12-01 to 2036-11-28). Its key is not kept: nothing here signs.
var appCertDER, _ = base64.StdEncoding.DecodeString("" +
	"MIIB6zCCAZCgAwIBAgIGGis8TV5vMAoGCCqGSM49BAMCMD0xCzAJBgNVBAYTAlVTMRQwEgYDVQQK" +
	"DAt4ZHBpZHMgdGVzdDEYMBYGA1UEAwwPd3d3LmV4YW1wbGUuY29tMB4XDTI2MTIwMTIxMTIzOVoX" +
	"DTM2MTEyODIxMTIzOVowPTELMAkGA1UEBhMCVVMxFDASBgNVBAoMC3hkcGlkcyB0ZXN0MRgwFgYD" +
	"VQQDDA93d3cuZXhhbXBsZS5jb20wWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQdRyXRQljM5Y7h" +
	"KWyyHyhsTJErHtyAwFfwDJFkrvfIcvf3ZNlIbhS7iba8KPodJG+GfRRsu2sxVMwOAbpNFV6Uo3ww" +
	"ejAdBgNVHQ4EFgQUgZnzsBfxS14zWWsKwMcDy7iFRecwHwYDVR0jBBgwFoAUgZnzsBfxS14zWWsK" +
	"wMcDy7iFRecwDwYDVR0TAQH/BAUwAwEB/zAnBgNVHREEIDAegg93d3cuZXhhbXBsZS5jb22CC2V4" +
	"YW1wbGUuY29tMAoGCCqGSM49BAMCA0kAMEYCIQDR2TdMDzkoI+EpzGbK5oJlrKFV8FcYIwKAMk1g" +
	"9Gfy8wIhAKOaea/a9myNHdw6EkKLy9xJfM5lZ9oBvPPOuOv9rxty")

// u8v, u16v and u24v are TLS vectors with a 1-, 2- or 3-byte length.
func u8v(b ...[]byte) []byte { c := cat(b...); return append([]byte{byte(len(c))}, c...) }
func u16v(b ...[]byte) []byte {
	c := cat(b...)
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(c))), c...)
}
func u24v(b ...[]byte) []byte {
	c := cat(b...)
	return append([]byte{byte(len(c) >> 16), byte(len(c) >> 8), byte(len(c))}, c...)
}

// tlsExt is one extension: type, then its data as a 2-byte vector.
func tlsExt(typ uint16, data ...[]byte) []byte { return cat(be16(typ), u16v(data...)) }

// handshake is one handshake message; record wraps messages in a record.
func handshake(typ byte, body ...[]byte) []byte { return cat([]byte{typ}, u24v(body...)) }
func record(typ byte, version uint16, body ...[]byte) []byte {
	return cat([]byte{typ}, be16(version), u16v(body...))
}

// clientHello is a browser-like ClientHello: GREASE values (RFC 8701) in
// the cipher suites, extensions and groups, as Chrome sends them.
func clientHello(b *builder, sni string, alpn []string, tls13 bool) []byte {
	suites := cat(be16(0x0a0a), be16(0x1301), be16(0x1302), be16(0x1303), be16(0xc02b), be16(0xc02f),
		be16(0xc02c), be16(0xc030), be16(0xcca9), be16(0xcca8), be16(0xc013), be16(0xc014), be16(0x009c), be16(0x009d),
		be16(0x002f), be16(0x0035))
	var protos [][]byte
	for _, p := range alpn {
		protos = append(protos, u8v([]byte(p)))
	}
	exts := cat(
		tlsExt(0x1a1a),
		tlsExt(0, u16v([]byte{0}, u16v([]byte(sni)))), // server_name: host_name
		tlsExt(23),                // extended_master_secret
		tlsExt(0xff01, []byte{0}), // renegotiation_info
		tlsExt(10, u16v(be16(0x2a2a), be16(0x001d), be16(0x0017), be16(0x0018))), // supported_groups
		tlsExt(11, u8v([]byte{0})),       // ec_point_formats
		tlsExt(35),                       // session_ticket
		tlsExt(16, u16v(protos...)),      // ALPN
		tlsExt(5, []byte{1, 0, 0, 0, 0}), // status_request
		tlsExt(13, u16v(be16(0x0403), be16(0x0804), be16(0x0401), be16(0x0503), be16(0x0805), be16(0x0501), be16(0x0806), be16(0x0601))),
	)
	if tls13 {
		exts = cat(exts,
			tlsExt(51, u16v(be16(0x001d), u16v(b.rnd.bytes(32)))), // key_share x25519
			tlsExt(45, u8v([]byte{1})),                            // psk_key_exchange_modes
			tlsExt(43, u8v(be16(0x3a3a), be16(0x0304), be16(0x0303))),
		)
	}
	exts = cat(exts, tlsExt(0x2a2a, []byte{0}))
	body := cat(be16(0x0303), b.rnd.bytes(32), u8v(b.rnd.bytes(32)), u16v(suites), u8v([]byte{0}), u16v(exts))
	return record(22, 0x0301, handshake(1, body))
}

func serverHello(b *builder, suite uint16, exts ...[]byte) []byte {
	return handshake(2, be16(0x0303), b.rnd.bytes(32), u8v(b.rnd.bytes(32)), be16(suite), []byte{0}, u16v(exts...))
}

// tls12 is a full TLS 1.2 handshake with the certificate in clear, then
// encrypted application data both ways.
func tls12(b *builder, c *conn, t time.Duration, rtt time.Duration, sni string) time.Duration {
	t = c.client(t+ms, clientHello(b, sni, []string{"h2", "http/1.1"}, false))
	sh := serverHello(b, 0xc02f, tlsExt(0xff01, []byte{0}), tlsExt(23), tlsExt(11, u8v([]byte{0})), tlsExt(16, u16v(u8v([]byte("http/1.1")))))
	cert := handshake(11, u24v(u24v(appCertDER)))
	ske := handshake(12, []byte{3}, be16(0x001d), u8v(b.rnd.bytes(32)), be16(0x0403), u16v(b.rnd.bytes(71)))
	t = c.server(t+2*ms, rtt, record(22, 0x0303, sh, cert, ske, handshake(14)))
	t = c.client(t+ms, cat(record(22, 0x0303, handshake(16, u8v(b.rnd.bytes(32)))), tlsCCS, record(22, 0x0303, b.rnd.bytes(40))))
	t = c.server(t+ms, rtt, cat(tlsCCS, record(22, 0x0303, b.rnd.bytes(40))))
	t = c.client(t+ms, record(23, 0x0303, b.rnd.bytes(380)))
	return c.server(t+5*ms, rtt, tlsRecords(b, 23, 9000))
}

func appTLS(b *builder) {
	c, t := b.dial(time.Second, netip.AddrPortFrom(appClient, 42001), netip.AddrPortFrom(appWeb, 443), 20*ms)
	t = tls12(b, c, t, 20*ms, "www.example.com")
	c.closeByClient(t+ms, 20*ms)

	c, t = b.dial(2*time.Second, netip.AddrPortFrom(appClient, 42002), netip.AddrPortFrom(appWeb, 4443), 20*ms)
	t = tls12(b, c, t, 20*ms, "admin.example.com")
	c.closeByClient(t+ms, 20*ms)

	// TLS 1.3: after the ServerHello everything is encrypted.
	c, t = b.dial(3*time.Second, netip.AddrPortFrom(appClient, 42003), netip.AddrPortFrom(appWeb, 443), 20*ms)
	t = c.client(t+ms, clientHello(b, "www.example.com", []string{"h2"}, true))
	sh := serverHello(b, 0x1301, tlsExt(43, be16(0x0304)), tlsExt(51, be16(0x001d), u16v(b.rnd.bytes(32))))
	t = c.server(t+2*ms, 20*ms, cat(record(22, 0x0303, sh), tlsCCS, tlsRecords(b, 23, 2400)))
	t = c.client(t+ms, cat(tlsCCS, record(23, 0x0303, b.rnd.bytes(53)), record(23, 0x0303, b.rnd.bytes(300))))
	t = c.server(t+5*ms, 20*ms, tlsRecords(b, 23, 7000))
	c.closeByClient(t+ms, 20*ms)
}

// sshPacket is one SSH binary packet in clear (RFC 4253 section 6): length,
// padding length, payload, padding to a multiple of 8 (at least 4 bytes).
func sshPacket(b *builder, payload []byte) []byte {
	pad := 8 - (5+len(payload))%8
	if pad < 4 {
		pad += 8
	}
	return cat(be32(uint32(1+len(payload)+pad)), []byte{byte(pad)}, payload, b.rnd.bytes(pad))
}

func sshString(s string) []byte { return cat(be32(uint32(len(s))), []byte(s)) }

// kexinit is SSH_MSG_KEXINIT with OpenSSH 9.6's algorithm lists.
func kexinit(b *builder, server bool) []byte {
	kex := "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,diffie-hellman-group16-sha512,ext-info-c,kex-strict-c-v00@openssh.com"
	hostkey := "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256,ssh-ed25519,rsa-sha2-512,rsa-sha2-256"
	if server {
		kex = "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,diffie-hellman-group16-sha512,kex-strict-s-v00@openssh.com"
		hostkey = "rsa-sha2-512,rsa-sha2-256,ecdsa-sha2-nistp256,ssh-ed25519"
	}
	enc := "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com"
	mac := "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com"
	comp := "none,zlib@openssh.com"
	payload := cat([]byte{20}, b.rnd.bytes(16), sshString(kex), sshString(hostkey), sshString(enc), sshString(enc),
		sshString(mac), sshString(mac), sshString(comp), sshString(comp), sshString(""), sshString(""), []byte{0}, be32(0))
	return sshPacket(b, payload)
}

func appSSH(b *builder) {
	c, t := b.dial(time.Second, netip.AddrPortFrom(appClient, 43001), netip.AddrPortFrom(appSSHSrv, 22), wanRTT)
	t = c.server(t+2*ms, wanRTT, []byte("SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5\r\n"))
	t = c.client(t+ms, []byte("SSH-2.0-OpenSSH_9.6\r\n"))
	t = c.client(t+ms, kexinit(b, false))
	t = c.server(t+ms, wanRTT, kexinit(b, true))
	t = c.client(t+ms, sshPacket(b, cat([]byte{30}, sshString(string(b.rnd.bytes(32)))))) // KEX_ECDH_INIT
	reply := cat([]byte{31}, sshString(string(b.rnd.bytes(51))), sshString(string(b.rnd.bytes(32))), sshString(string(b.rnd.bytes(83))))
	t = c.server(t+2*ms, wanRTT, cat(sshPacket(b, reply), sshPacket(b, []byte{21}))) // KEX_ECDH_REPLY, NEWKEYS
	t = c.client(t+ms, cat(sshPacket(b, []byte{21}), b.rnd.bytes(64)))
	t = c.server(t+ms, wanRTT, b.rnd.bytes(96))
	for k := 0; k < 5; k++ {
		t = c.client(t+200*ms, b.rnd.bytes(36))
		t = c.server(t+ms, wanRTT, b.rnd.bytes(36))
	}
	c.closeByClient(t+ms, wanRTT)
}
