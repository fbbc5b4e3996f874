package apptls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
)

// chunk is what one side wrote in one Write.
type chunk struct {
	toServer bool
	data     []byte
}

// stream is a connection's bytes in the order they were written.
type stream []chunk

// dirBytes concatenates one direction.
func (s stream) dirBytes(toServer bool) []byte {
	var b []byte
	for _, c := range s {
		if c.toServer == toServer {
			b = append(b, c.data...)
		}
	}
	return b
}

// feed gives every chunk to c and returns the events.
func (s stream) feed(c *Conn) []Event {
	var evs []Event
	for _, ch := range s {
		c.Feed(ch.toServer, ch.data, func(ev Event) { evs = append(evs, ev) })
	}
	return evs
}

// recorder is a net.Conn that records what its side writes.
type recorder struct {
	net.Conn
	toServer bool
	mu       *sync.Mutex
	out      *stream
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	*r.out = append(*r.out, chunk{r.toServer, append([]byte(nil), p...)})
	r.mu.Unlock()
	return r.Conn.Write(p)
}

// testPKI is a CA and a leaf it signed, made once per test binary.
type testPKI struct {
	caDER, leafDER []byte
	leaf           tls.Certificate
}

var (
	pkiOnce sync.Once
	pki     testPKI
)

// certTimes are the leaf's validity.
var certNotBefore, certNotAfter = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(2030, 6, 7, 8, 9, 10, 0, time.UTC)

func getPKI(t testing.TB) testPKI {
	t.Helper()
	pkiOnce.Do(func() {
		caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		ca := &x509.Certificate{
			SerialNumber:          big.NewInt(0x55),
			Subject:               pkix.Name{Country: []string{"FR"}, Organization: []string{"Test CA"}, CommonName: "Test Root"},
			NotBefore:             certNotBefore,
			NotAfter:              certNotAfter.AddDate(1, 0, 0),
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign,
		}
		caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
		if err != nil {
			panic(err)
		}
		caCert, _ := x509.ParseCertificate(caDER)
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		leaf := &x509.Certificate{
			SerialNumber: new(big.Int).SetBytes([]byte{0xab, 0xcd, 0x01}), // high bit: DER adds 00
			Subject: pkix.Name{Country: []string{"US"}, Province: []string{"CA"},
				Organization: []string{"Example, Inc."}, CommonName: "www.example.test"},
			NotBefore:   certNotBefore,
			NotAfter:    certNotAfter,
			DNSNames:    []string{"www.example.test", "example.test"},
			IPAddresses: []net.IP{net.ParseIP("192.0.2.7")},
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
		if err != nil {
			panic(err)
		}
		pki = testPKI{caDER: caDER, leafDER: leafDER,
			leaf: tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: key}}
	})
	return pki
}

// handshake runs a real crypto/tls client and server over an in-memory
// pipe (no network), exchanges one message each way and returns what
// each side wrote.
func handshake(t testing.TB, maxVersion uint16, alpn []string) stream {
	t.Helper()
	p := getPKI(t)
	var mu sync.Mutex
	var out stream
	a, b := net.Pipe()
	cc := tls.Client(&recorder{a, true, &mu, &out}, &tls.Config{
		ServerName: "www.example.test", InsecureSkipVerify: true, MaxVersion: maxVersion, NextProtos: alpn,
		SessionTicketsDisabled: true,
	})
	sc := tls.Server(&recorder{b, false, &mu, &out}, &tls.Config{
		Certificates: []tls.Certificate{p.leaf}, MaxVersion: maxVersion, NextProtos: alpn,
		SessionTicketsDisabled: true,
	})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 5)
		if _, err := io.ReadFull(sc, buf); err == nil {
			_, _ = sc.Write([]byte("world"))
		}
		_ = sc.Close()
	}()
	if _, err := cc.Write([]byte("hello")); err != nil {
		t.Fatalf("tls client: %v", err)
	}
	_, _ = io.ReadAll(cc)
	_ = cc.Close()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return append(stream(nil), out...)
}

// ext is one hello extension.
type ext struct {
	typ  uint16
	data []byte
}

func build(f func(b *cryptobyte.Builder)) []byte {
	var b cryptobyte.Builder
	f(&b)
	return b.BytesOrPanic()
}

func u16list(vs ...uint16) []byte {
	return build(func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, v := range vs {
				b.AddUint16(v)
			}
		})
	})
}

func sniExt(name string) ext {
	return ext{extServerName, build(func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint8(0)
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(name)) })
		})
	})}
}

func alpnExt(protos ...string) ext {
	return ext{extALPN, build(func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, p := range protos {
				b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(p)) })
			}
		})
	})}
}

func pointFormatsExt(fs ...uint8) ext {
	return ext{extECPointFormats, build(func(b *cryptobyte.Builder) {
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(fs) })
	})}
}

func versionsExt(vs ...uint16) ext {
	return ext{extSupportedVersions, build(func(b *cryptobyte.Builder) {
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, v := range vs {
				b.AddUint16(v)
			}
		})
	})}
}

// clientHelloMsg is a ClientHello handshake message (with its header).
func clientHelloMsg(ver uint16, sid []byte, ciphers []uint16, exts []ext) []byte {
	return build(func(b *cryptobyte.Builder) {
		b.AddUint8(hsClientHello)
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint16(ver)
			b.AddBytes(make([]byte, 32))
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(sid) })
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				for _, c := range ciphers {
					b.AddUint16(c)
				}
			})
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint8(0) })
			if exts != nil {
				addExts(b, exts)
			}
		})
	})
}

func addExts(b *cryptobyte.Builder, exts []ext) {
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, e := range exts {
			b.AddUint16(e.typ)
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(e.data) })
		}
	})
}

// serverHelloMsg is a ServerHello handshake message.
func serverHelloMsg(ver uint16, sid []byte, cipher uint16, exts []ext) []byte {
	return build(func(b *cryptobyte.Builder) {
		b.AddUint8(hsServerHello)
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint16(ver)
			b.AddBytes(make([]byte, 32))
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(sid) })
			b.AddUint16(cipher)
			b.AddUint8(0)
			if exts != nil {
				addExts(b, exts)
			}
		})
	})
}

// certificateMsg is a TLS 1.2 Certificate message.
func certificateMsg(ders ...[]byte) []byte {
	return build(func(b *cryptobyte.Builder) {
		b.AddUint8(hsCertificate)
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
				for _, d := range ders {
					b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(d) })
				}
			})
		})
	})
}

// records frames payload as records of type typ, at most size bytes each.
func records(typ uint8, ver uint16, payload []byte, size int) []byte {
	var out []byte
	for len(payload) > 0 {
		n := min(size, len(payload))
		out = append(out, typ, byte(ver>>8), byte(ver), byte(n>>8), byte(n))
		out = append(out, payload[:n]...)
		payload = payload[n:]
	}
	return out
}
