package apphttp

import (
	"testing"
)

var (
	benchReq  = []byte("GET /index.php?id=1&x=%41 HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: text/html,*/*\r\nAccept-Encoding: gzip, deflate\r\nCookie: sid=abcdef\r\nConnection: keep-alive\r\n\r\n")
	benchResp = []byte("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n10\r\n<html><body>hi</\r\n7\r\nbody>\r\n\r\n0\r\n\r\n")
)

// benchEmit reads the buffers a signature engine would.
func benchEmit(tx *Tx, p Progress) {
	switch p {
	case ReqHeaders:
		_ = tx.Buffer(BufURI, true)
		_ = tx.Buffer(BufHeader, true)
		_ = tx.Buffer(BufHeaderNames, true)
		_ = tx.Buffer(BufHost, true)
		_ = tx.Buffer(BufUserAgent, true)
	case RespBody:
		_ = tx.Buffer(BufFileData, false)
		_ = tx.Buffer(BufHeader, false)
		_ = tx.Buffer(BufStatCode, false)
	}
}

// BenchmarkConn measures one keep-alive request/response exchange.
func BenchmarkConn(b *testing.B) {
	c := NewConn(DefaultLimits())
	for range 4 {
		c.Feed(true, benchReq, 0, benchEmit)
		c.Feed(false, benchResp, 0, benchEmit)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchReq) + len(benchResp)))
	b.ResetTimer()
	for range b.N {
		c.Feed(true, benchReq, 0, benchEmit)
		c.Feed(false, benchResp, 0, benchEmit)
	}
}

// BenchmarkConnGzip adds a gzip-encoded response body.
func BenchmarkConnGzip(b *testing.B) {
	body := gz(b, []byte("<html><body>"+string(make([]byte, 2000))+"</body></html>"))
	resp := append([]byte("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: "+itoa(len(body))+"\r\n\r\n"), body...)
	c := NewConn(DefaultLimits())
	for range 4 {
		c.Feed(true, benchReq, 0, benchEmit)
		c.Feed(false, resp, 0, benchEmit)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchReq) + len(resp)))
	b.ResetTimer()
	for range b.N {
		c.Feed(true, benchReq, 0, benchEmit)
		c.Feed(false, resp, 0, benchEmit)
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

// TestSteadyStateAllocs asserts the keep-alive loop allocates nothing once
// warm, plain and gzip-encoded.
func TestSteadyStateAllocs(t *testing.T) {
	body := gz(t, []byte("<html><body>"+string(make([]byte, 2000))+"</body></html>"))
	gzResp := append([]byte("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: "+itoa(len(body))+"\r\n\r\n"), body...)
	for _, resp := range [][]byte{benchResp, gzResp} {
		c := NewConn(DefaultLimits())
		for range 4 {
			c.Feed(true, benchReq, 0, benchEmit)
			c.Feed(false, resp, 0, benchEmit)
		}
		n := testing.AllocsPerRun(200, func() {
			c.Feed(true, benchReq, 0, benchEmit)
			c.Feed(false, resp, 0, benchEmit)
		})
		if n != 0 {
			t.Errorf("%.1f allocations per exchange, want 0", n)
		}
	}
}
