package apptls

import (
	"crypto/tls"
	"reflect"
	"testing"
)

// encodeStream packs a stream into the fuzzer's input: per chunk, one
// byte (bit 0: to server) and a two-byte length, then the bytes.
func encodeStream(s stream) []byte {
	var b []byte
	for _, c := range s {
		for d := c.data; len(d) > 0; {
			n := min(len(d), 0xffff)
			dir := byte(0)
			if c.toServer {
				dir = 1
			}
			b = append(b, dir, byte(n>>8), byte(n))
			b = append(b, d[:n]...)
			d = d[n:]
		}
	}
	return b
}

// decodeStream is encodeStream's inverse; a short tail is one chunk.
func decodeStream(b []byte) stream {
	var s stream
	for len(b) >= 3 {
		n := min(int(b[1])<<8|int(b[2]), len(b)-3)
		s = append(s, chunk{b[0]&1 == 1, b[3 : 3+n]})
		b = b[3+n:]
	}
	return s
}

// FuzzConn feeds arbitrary two-direction streams, split where the input
// says and again at split, and checks the parser neither panics, grows
// past its limits, nor depends on how the bytes were split. Seeds: the
// stored files of testdata/fuzz/FuzzConn (generated handshakes) and, where
// the corpus is present, its TLS captures' streams.
func FuzzConn(f *testing.F) {
	f.Add(encodeStream(handshake(f, tls.VersionTLS12, []string{"h2"})), uint16(100))
	f.Add(encodeStream(handshake(f, tls.VersionTLS13, nil)), uint16(7))
	f.Add(encodeStream(stream{{true, v2ClientHelloRecord()}}), uint16(3))
	for _, s := range corpusStreams(f) {
		f.Add(encodeStream(s), uint16(1000))
	}
	lim := Limits{MaxHandshakeBytes: 4096, MaxCerts: 3}
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		s := decodeStream(data)
		a := NewConn(lim)
		s.feed(a)
		// The same stream, each chunk split in two at split.
		b := NewConn(lim)
		for _, ch := range s {
			k := min(int(split), len(ch.data))
			b.Feed(ch.toServer, ch.data[:k], nil)
			b.Feed(ch.toServer, ch.data[k:], nil)
		}
		var ra, rb Record
		a.Record(&ra)
		b.Record(&rb)
		if !reflect.DeepEqual(ra, rb) || a.State(true) != b.State(true) || a.State(false) != b.State(false) {
			t.Fatalf("split at %d changes the result:\n%+v %d %d\n%+v %d %d", split,
				ra, a.State(true), a.State(false), rb, b.State(true), b.State(false))
		}
		for _, d := range []*dir{&a.cli, &a.srv} {
			if cap(d.hs) > 2*lim.MaxHandshakeBytes+8 || d.certs.Len() > lim.MaxCerts {
				t.Fatalf("buffer %d bytes, %d certificates kept", cap(d.hs), d.certs.Len())
			}
		}
		for i := range Buffers {
			for j := 0; j < 20; j++ {
				if _, ok := a.BufferDir(Buffers[i].Buf, Buffers[i].ToServer, j); !ok {
					break
				}
			}
		}
		a.Gap(true, int(split))
		a.Feed(true, data, nil)
		a.Reset()
		s.feed(a)
	})
}
