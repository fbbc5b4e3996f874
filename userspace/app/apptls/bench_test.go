package apptls

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// crafted13 is a TLS 1.3 connection as the wire shows it: Chrome's
// ClientHello, a ServerHello choosing TLS 1.3, then encrypted records.
func crafted13() stream {
	sh := serverHelloMsg(0x0303, make([]byte, 32), 0x1301, []ext{{extSupportedVersions, []byte{3, 4}}, {0x0033, make([]byte, 36)}})
	return stream{
		{true, records(recHandshake, 0x0301, chromeHello(), 1<<14)},
		{false, append(records(recHandshake, 0x0303, sh, 1<<14), records(recChangeCipherSpec, 0x0303, []byte{1}, 1)...)},
		{false, records(recApplicationData, 0x0303, make([]byte, 3000), 1<<14)},
		{true, records(recChangeCipherSpec, 0x0303, []byte{1}, 1)},
		{true, records(recApplicationData, 0x0303, make([]byte, 100), 1<<14)},
	}
}

// TestSteadyStateAllocs: Reset and a new handshake without certificates
// allocate nothing once the buffers have grown.
func TestSteadyStateAllocs(t *testing.T) {
	s := crafted13()
	var c Conn
	s.feed(&c)
	n := testing.AllocsPerRun(100, func() {
		c.Reset()
		for _, ch := range s {
			c.Feed(ch.toServer, ch.data, nil)
		}
	})
	if n != 0 {
		t.Errorf("%.1f allocations per TLS 1.3 handshake, want 0", n)
	}
	if !c.Encrypted(true) || !c.Encrypted(false) {
		t.Fatalf("handshake did not complete")
	}
	// Byte by byte too (the reassembly path).
	n = testing.AllocsPerRun(20, func() {
		c.Reset()
		for _, ch := range s {
			for i := range ch.data {
				c.Feed(ch.toServer, ch.data[i:i+1], nil)
			}
		}
	})
	if n != 0 {
		t.Errorf("%.1f allocations per handshake fed byte by byte, want 0", n)
	}
}

// BenchmarkConn measures a connection's handshake: TLS 1.3 (no clear
// certificate: the steady state), TLS 1.2 with a two-certificate chain
// (x509 parsing allocates), and the same fed in 100-byte pieces.
func BenchmarkConn(b *testing.B) {
	cases := []struct {
		name string
		s    stream
	}{
		{"tls13", crafted13()},
		{"tls12-certs", handshake(b, tls.VersionTLS12, []string{"h2"})},
	}
	for _, tc := range cases {
		var bytes int64
		for _, ch := range tc.s {
			bytes += int64(len(ch.data))
		}
		for _, piece := range []int{0, 100} {
			b.Run(fmt.Sprintf("%s/piece=%d", tc.name, piece), func(b *testing.B) {
				var c Conn
				b.ReportAllocs()
				b.SetBytes(bytes)
				for b.Loop() {
					c.Reset()
					for _, ch := range tc.s {
						d := ch.data
						for len(d) > 0 {
							n := len(d)
							if piece > 0 {
								n = min(piece, n)
							}
							c.Feed(ch.toServer, d[:n], nil)
							d = d[n:]
						}
					}
				}
			})
		}
	}
}

// TestWriteFuzzSeeds writes the stored seeds of FuzzConn (generated
// handshakes, no corpus material) when XDPIDS_WRITE_SEEDS=1.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("XDPIDS_WRITE_SEEDS") != "1" {
		t.Skip("set XDPIDS_WRITE_SEEDS=1 to rewrite testdata/fuzz/FuzzConn")
	}
	p := getPKI(t)
	sslv3 := stream{
		{true, records(recHandshake, 0x0300, clientHelloMsg(0x0300, nil, []uint16{0x000a, 0x0005}, nil), 1<<14)},
		{false, records(recHandshake, 0x0300, append(serverHelloMsg(0x0300, []byte{1}, 0x000a, nil), certificateMsg(p.leafDER, p.caDER)...), 1000)},
	}
	seeds := map[string]stream{
		"tls12":   handshake(t, tls.VersionTLS12, []string{"h2", "http/1.1"}),
		"tls13":   crafted13(),
		"sslv2":   {{true, v2ClientHelloRecord()}},
		"sslv3":   sslv3,
		"chrome7": {{true, records(recHandshake, 0x0301, chromeHello(), 7)}},
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzConn")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, s := range seeds {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nuint16(%d)\n", encodeStream(s), 50)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
