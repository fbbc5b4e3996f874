package apphttp

import (
	"fmt"
	"github.com/xdpids/xdpids/internal/testenv"
	"math/rand/v2"
	"strings"
	"testing"
)

// checkBounds fails when any buffer of c grew past its limit.
func checkBounds(t *testing.T, c *Conn) {
	t.Helper()
	l := c.lim
	if len(c.q) > l.MaxTx {
		t.Fatalf("%d pending transactions, limit %d", len(c.q), l.MaxTx)
	}
	for i := range c.dirs {
		d := &c.dirs[i]
		if len(d.line) > l.MaxLineBytes || len(d.hdr) > l.MaxLineBytes {
			t.Fatalf("line %d / header %d bytes, limit %d", len(d.line), len(d.hdr), l.MaxLineBytes)
		}
	}
	for _, tx := range c.q {
		for _, m := range []*message{&tx.req, &tx.resp} {
			if len(m.raw) > l.MaxHeaderBytes {
				t.Fatalf("raw headers %d bytes", len(m.raw))
			}
			if len(m.arena) > l.MaxHeaderBytes+l.MaxLineBytes {
				t.Fatalf("arena %d bytes", len(m.arena))
			}
			if len(m.fields) > l.MaxHeaders {
				t.Fatalf("%d fields", len(m.fields))
			}
			lim := l.ResponseBodyInspect
			if m == &tx.req {
				lim = l.RequestBodyInspect
			}
			if len(m.body) > lim || len(m.enc) > encodedCap(lim) {
				t.Fatalf("body %d / encoded %d bytes, limit %d", len(m.body), len(m.enc), lim)
			}
		}
	}
}

// FuzzConn feeds a request stream and a response stream with small limits:
// whole, then in random pieces (the buffers must not change), then in random
// interleaved pieces with gaps; nothing may panic and no buffer may grow
// past its limit.
func FuzzConn(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), []byte(ka), uint64(1))
	f.Add([]byte("POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), []byte("HTTP/1.1 200 OK\r\nContent-Encoding: gzip, deflate\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n\x1f\x8b\r\n0\r\n\r\n"), uint64(2))
	// Seeds from the project's own capture, and from the corpus where it
	// is (never copied into testdata/).
	for _, p := range testenv.CorpusPayloads(f, "suricata-verify-app", testenv.Golden("app_http.pcap"), testenv.TCPOnly()) {
		if p.ToServer {
			f.Add(p.Data, p.Peer, uint64(1))
		}
	}
	lim := Limits{MaxLineBytes: 256, MaxHeaderBytes: 1024, MaxHeaders: 16, RequestBodyInspect: 512, ResponseBodyInspect: 512, MaxDecompressed: 4096, MaxEncodingLayers: 3, MaxTx: 4}
	c := NewConn(lim)
	f.Fuzz(func(t *testing.T, req, resp []byte, seed uint64) {
		var log strings.Builder
		logging := true
		emit := func(tx *Tx, p Progress) {
			if logging {
				fmt.Fprintf(&log, "tx %d p %d\n", tx.ID, p)
			}
			for _, b := range Buffers {
				v := tx.Buffer(b.Buf, b.ToServer)
				if logging && v != nil && b.ToServer == (p <= ReqBody) {
					fmt.Fprintf(&log, " %s %q\n", b.Name, v)
				}
			}
			var rec Record
			tx.Record(&rec)
		}
		// Whole: the request stream, then the response stream.
		c.Reset()
		c.Feed(true, req, 0, emit)
		c.Feed(false, resp, 0, emit)
		c.End(true, emit)
		c.End(false, emit)
		whole := log.String()
		// Split: the same streams in random pieces, directions in the same
		// order, must give the same buffers.
		log.Reset()
		c.Reset()
		r := rand.New(rand.NewPCG(seed, seed>>7))
		for i, s := range [2][]byte{req, resp} {
			for len(s) > 0 {
				n := 1 + r.IntN(min(len(s), 64))
				c.Feed(i == 0, append([]byte(nil), s[:n]...), 0, emit)
				s = s[n:]
				checkBounds(t, c)
			}
		}
		c.End(true, emit)
		c.End(false, emit)
		if log.String() != whole {
			t.Fatalf("split changes the result:\nwhole:\n%s\nsplit:\n%s", whole, log.String())
		}
		// Interleaved with gaps: no panic, no growth.
		logging = false
		c.Reset()
		streams := [2][]byte{req, resp}
		for len(streams[0])+len(streams[1]) > 0 {
			i := r.IntN(2)
			if len(streams[i]) == 0 {
				i = 1 - i
			}
			n := 1 + r.IntN(len(streams[i]))
			switch r.IntN(16) {
			case 0:
				c.Gap(i == 0, n)
			default:
				piece := append([]byte(nil), streams[i][:n]...)
				c.Feed(i == 0, piece, 0, emit)
			}
			streams[i] = streams[i][n:]
			checkBounds(t, c)
		}
		c.End(true, emit)
		c.End(false, emit)
		checkBounds(t, c)
	})
}
