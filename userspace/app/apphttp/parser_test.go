package apphttp

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

const ka = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/html; charset=utf-8\r\nServer: nginx\r\n\r\nhello"

func TestRequestBuffers(t *testing.T) {
	req := "GET /a/./b/../c%2Fd?q=%41+b#frag HTTP/1.1\r\nHost: Example.COM:8080\r\nUser-Agent: curl/8\r\nCookie: s=1\r\nAccept: */*\r\nAccept-Encoding: gzip\r\nAccept-Language: en\r\nReferer: http://r/\r\nConnection: keep-alive\r\n\r\n"
	for _, step := range []int{0, 1, 3, 7} {
		col := run(t, DefaultLimits(), req, ka, step)
		if len(col.txs) != 1 {
			t.Fatalf("step %d: %d transactions", step, len(col.txs))
		}
		b := col.txs[0].bufs
		want := map[string]string{
			"http.uri>":           "/a/c/d?q=A+b#frag",
			"http.uri.raw>":       "/a/./b/../c%2Fd?q=%41+b#frag",
			"http.method>":        "GET",
			"http.protocol>":      "HTTP/1.1",
			"http.request_line>":  "GET /a/./b/../c%2Fd?q=%41+b#frag HTTP/1.1",
			"http.host>":          "example.com",
			"http.host.raw>":      "Example.COM:8080",
			"http.user_agent>":    "curl/8",
			"http.cookie>":        "s=1",
			"http.accept>":        "*/*",
			"http.accept_enc>":    "gzip",
			"http.accept_lang>":   "en",
			"http.referer>":       "http://r/",
			"http.connection>":    "keep-alive",
			"http.header>":        "Host: Example.COM:8080\r\nUser-Agent: curl/8\r\nAccept: */*\r\nAccept-Encoding: gzip\r\nAccept-Language: en\r\nReferer: http://r/\r\nConnection: keep-alive\r\n",
			"http.header_names>":  "\r\nHost\r\nUser-Agent\r\nCookie\r\nAccept\r\nAccept-Encoding\r\nAccept-Language\r\nReferer\r\nConnection\r\n\r\n",
			"http.header.raw>":    req[strings.Index(req, "\r\n")+2:],
			"http.stat_code<":     "200",
			"http.stat_msg<":      "OK",
			"http.response_line<": "HTTP/1.1 200 OK",
			"http.server<":        "nginx",
			"http.content_type<":  "text/html; charset=utf-8",
			"http.content_len<":   "5",
			"file.data<":          "hello",
			"http.response_body<": "hello",
			"http.start<":         "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/html; charset=utf-8\r\nServer: nginx\r\n\r\n",
		}
		for k, v := range want {
			if b[k] != v {
				t.Errorf("step %d: %s = %q, want %q", step, k, b[k], v)
			}
		}
		if col.txs[0].port != 8080 {
			t.Errorf("port %d", col.txs[0].port)
		}
		if got := fmt.Sprint(col.txs[0].progress); got != "[1 2 3 4]" {
			t.Errorf("progress %s", got)
		}
	}
}

func TestURINormalisation(t *testing.T) {
	cases := []struct{ raw, norm, host string }{
		{"/", "/", ""},
		{"/a//b///c", "/a/b/c", ""},
		{"/a\\b\\..\\c", "/a/c", ""},
		{"/%u0041%U0062", "/Ab", ""},
		{"/%uff41%uFF42", "/ab", ""},
		{"/%zz%4", "/%zz%4", ""},
		{"/a/%2e%2e/b", "/b", ""},
		{"/a/b/..", "/a", ""},
		{"/x?a=%2F%20+b&c", "/x?a=/ +b&c", ""},
		{"/caf%C3%A9", "/caf\xe9", ""},
		{"http://User:pw@WWW.Example.com.:81/p?q", "/p?q", "www.example.com"},
		{"HTTP://example.org", "", "example.org"},
		{"/UPPER/Case", "/UPPER/Case", ""},
	}
	for _, c := range cases {
		req := "GET " + c.raw + " HTTP/1.1\r\nHost: h\r\n\r\n"
		col := run(t, DefaultLimits(), req, "", 0)
		if len(col.txs) == 0 {
			t.Fatalf("%s: no transaction", c.raw)
		}
		s := col.txs[0]
		if s.bufs["http.uri>"] != c.norm {
			t.Errorf("%q: http.uri %q, want %q", c.raw, s.bufs["http.uri>"], c.norm)
		}
		wantHost := c.host
		if wantHost == "" {
			wantHost = "h"
		}
		if s.host != wantHost {
			t.Errorf("%q: host %q, want %q", c.raw, s.host, wantHost)
		}
	}
}

func TestRequestLineForms(t *testing.T) {
	cases := []struct {
		name, req, method, uri, proto string
		flag                          Flag
	}{
		{"space in uri", "GET /a b HTTP/1.1\r\n\r\n", "GET", "/a b", "HTTP/1.1", 0},
		{"leading ws", "  GET / HTTP/1.0\r\n\r\n", "GET", "/", "HTTP/1.0", FlagLeadingWhitespace},
		{"tab delim", "GET\t/x\tHTTP/1.1\r\n\r\n", "GET", "/x", "HTTP/1.1", FlagURIDelimiter},
		{"lf only", "GET /lf HTTP/1.1\nHost: a\n\n", "GET", "/lf", "HTTP/1.1", 0},
		{"0.9", "GET /old\r\n", "GET", "/old", "", FlagMissingProtocol},
		{"missing proto with headers", "GET /m\r\nHost: a\r\n\r\n", "GET", "/m", "", FlagMissingProtocol},
		{"blank lines first", "\r\n\r\nPOST /p HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "POST", "/p", "HTTP/1.1", 0},
	}
	for _, c := range cases {
		col := run(t, DefaultLimits(), c.req, "", 0)
		if len(col.txs) != 1 {
			t.Errorf("%s: %d transactions", c.name, len(col.txs))
			continue
		}
		s := col.txs[0]
		if s.bufs["http.method>"] != c.method || s.bufs["http.uri.raw>"] != c.uri || s.bufs["http.protocol>"] != c.proto {
			t.Errorf("%s: method %q uri %q proto %q", c.name, s.bufs["http.method>"], s.bufs["http.uri.raw>"], s.bufs["http.protocol>"])
		}
		if c.flag != 0 && !s.flags.Has(c.flag) {
			t.Errorf("%s: flags %s lack %s", c.name, s.flags, c.flag)
		}
	}
}

func TestHeaderForms(t *testing.T) {
	req := "GET / HTTP/1.1\r\nHost:nospace\r\nX-Fold: a\r\n  b\r\n\tc\r\nX-Dup: 1\r\nx-dup: 2\r\nNoColonHere\r\nName : v\r\n\r\n"
	col := run(t, DefaultLimits(), req, "", 1)
	s := col.txs[0]
	want := "Host: nospace\r\nX-Fold: a  b\tc\r\nX-Dup: 1, 2\r\n: NoColonHere\r\nName: v\r\n"
	if s.bufs["http.header>"] != want {
		t.Errorf("http.header %q, want %q", s.bufs["http.header>"], want)
	}
	if s.host != "nospace" {
		t.Errorf("host %q", s.host)
	}
	for _, f := range []Flag{FlagMissingColon, FlagHeaderRepetition, FlagInvalidHeaderName} {
		if !s.flags.Has(f) {
			t.Errorf("flags %s lack %s", s.flags, f)
		}
	}
}

func TestResponseBodies(t *testing.T) {
	eicar := "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
	g := string(gz(t, []byte(eicar)))
	d := string(deflateRaw(t, []byte(eicar)))
	cases := []struct {
		name, resp, body string
		flag             Flag
	}{
		{"identity", "HTTP/1.1 200 OK\r\nContent-Length: 68\r\n\r\n" + eicar, eicar, 0},
		{"close", "HTTP/1.0 200 OK\r\n\r\n" + eicar, eicar, 0},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nX5O!\r\n40\r\n" + eicar[4:] + "\r\n0\r\nTrailer: x\r\n\r\n", eicar, FlagChunkExtension},
		{"chunked not chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + eicar, eicar, FlagInvalidChunk},
		{"gzip", "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " + fmt.Sprint(len(g)) + "\r\n\r\n" + g, eicar, 0},
		{"deflate raw", "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\n\r\n" + d, eicar, 0},
		{"gzip named deflate", "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\n\r\n" + g, eicar, 0},
		{"gzip not compressed", "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n" + eicar, eicar, FlagDecompressFailed},
		{"gzip gzip", "HTTP/1.1 200 OK\r\nContent-Encoding: gzip, gzip\r\n\r\n" + string(gz(t, gz(t, []byte(eicar)))), eicar, 0},
		{"no status line", eicar, eicar, FlagResponseAsBody},
		{"junk then status", "foo\r\nHTTP/1.1 200 ok\r\nContent-Length: 68\r\n\r\n" + eicar, eicar, FlagLeadingJunk},
		{"status without reason", "HTTP/1.1 200\r\nContent-Length: 68\r\n\r\n" + eicar, eicar, 0},
		{"cr only header end", "HTTP/1.1 200 ok\r\nX: y\rContent-Length: 68\r\n\r\n" + eicar, eicar, 0},
		{"cr cr lf is a header line", "HTTP/1.1 200 ok\r\nConnection: close\r\n\r\r\nContent-Length: 68\r\n\r\n" + eicar, eicar, FlagMissingColon},
		{"space line ends headers", "HTTP/1.1 200 ok\r\nContent-Length: 68\n \n" + eicar, eicar, 0},
		{"space crlf line folds", "HTTP/1.1 200 ok\r\nContent-Length: 68\r\n \r\n\r\n" + eicar, eicar, 0},
		{"folded content-length", "HTTP/1.1 200 ok\r\nConnection: close\r\nContent-Length: 34\r\n 68\r\n\r\n" + eicar, eicar, FlagInvalidCL},
	}
	for _, c := range cases {
		for _, step := range []int{0, 1, 5} {
			col := run(t, DefaultLimits(), "GET / HTTP/1.1\r\nHost: h\r\n\r\n", c.resp, step)
			if len(col.txs) != 1 {
				t.Errorf("%s/%d: %d transactions", c.name, step, len(col.txs))
				continue
			}
			s := col.txs[0]
			if s.respBody != c.body {
				t.Errorf("%s/%d: body %q, want %q", c.name, step, s.respBody, c.body)
			}
			if c.flag != 0 && !s.flags.Has(c.flag) {
				t.Errorf("%s/%d: flags %s lack %s", c.name, step, s.flags, c.flag)
			}
		}
	}
}

func TestNoBodyResponses(t *testing.T) {
	cases := []struct{ name, req, resp string }{
		{"HEAD", "HEAD / HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"},
		{"304", "GET / HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 304 Not Modified\r\n\r\n"},
		{"204", "GET / HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 204 No Content\r\n\r\n"},
	}
	for _, c := range cases {
		col := run(t, DefaultLimits(), c.req, c.resp+ka, 0)
		if len(col.txs) != 2 {
			t.Fatalf("%s: %d transactions", c.name, len(col.txs))
		}
		if col.txs[0].respBody != "" || col.txs[1].respBody != "hello" {
			t.Errorf("%s: bodies %q %q", c.name, col.txs[0].respBody, col.txs[1].respBody)
		}
		if col.txs[1].bufs["http.uri>"] != "/2" {
			t.Errorf("%s: second uri %q", c.name, col.txs[1].bufs["http.uri>"])
		}
	}
}

func TestContinueAndPipelining(t *testing.T) {
	req := "POST /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbodyGET /next HTTP/1.1\r\nHost: h\r\n\r\n"
	resp := "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
	for _, step := range []int{0, 1, 2} {
		col := run(t, DefaultLimits(), req, resp, step)
		if len(col.txs) != 2 {
			t.Fatalf("%d transactions", len(col.txs))
		}
		a, b := col.txs[0], col.txs[1]
		if a.status != 201 || a.reqBody != "body" || a.respBody != "ok" {
			t.Errorf("step %d first: %d %q %q", step, a.status, a.reqBody, a.respBody)
		}
		if b.status != 200 || b.respBody != "hello" || b.bufs["http.uri>"] != "/next" {
			t.Errorf("step %d second: %d %q %q", step, b.status, b.respBody, b.bufs["http.uri>"])
		}
	}
}

func TestChunkedRequestBody(t *testing.T) {
	req := "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
	col := run(t, DefaultLimits(), req, ka, 1)
	if col.txs[0].reqBody != "abcde" {
		t.Errorf("request body %q", col.txs[0].reqBody)
	}
	if col.txs[0].bufs["file.data>"] != "abcde" {
		t.Errorf("file.data to server %q", col.txs[0].bufs["file.data>"])
	}
}

func TestLimits(t *testing.T) {
	lim := DefaultLimits()
	lim.ResponseBodyInspect = 10
	lim.MaxHeaders = 2
	lim.MaxLineBytes = 64
	big := strings.Repeat("A", 1000)
	col := run(t, lim, "GET /"+big+" HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"+big, 0)
	s := col.txs[0]
	if len(s.respBody) != 10 || !s.flags.Has(FlagBodyTruncated) {
		t.Errorf("body %d bytes, flags %s", len(s.respBody), s.flags)
	}
	if !s.flags.Has(FlagHeaderLimit) || !s.flags.Has(FlagLineTooLong) {
		t.Errorf("flags %s", s.flags)
	}
	if len(s.bufs["http.request_line>"]) > 64 {
		t.Errorf("request line %d bytes", len(s.bufs["http.request_line>"]))
	}
}

func TestDecompressionBomb(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxDecompressed = 64 << 10
	lim.ResponseBodyInspect = 1 << 20
	bomb := gz(t, make([]byte, 8<<20))
	resp := "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " + fmt.Sprint(len(bomb)) + "\r\n\r\n" + string(bomb)
	col := run(t, lim, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", resp, 0)
	s := col.txs[0]
	if !s.flags.Has(FlagDecompressionCut) {
		t.Errorf("flags %s", s.flags)
	}
	if len(s.respBody) != 64<<10 {
		t.Errorf("body %d bytes", len(s.respBody))
	}
}

func TestGapRecovery(t *testing.T) {
	col := newCollector()
	c := NewConn(DefaultLimits())
	c.Feed(true, []byte("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHo"), 0, col.emit)
	c.Gap(true, 10)
	c.Feed(true, []byte("junk\r\nGET /c HTTP/1.1\r\nHost: h\r\n\r\n"), 0, col.emit)
	c.Feed(false, []byte("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab"), 0, col.emit)
	c.Gap(false, 5)
	c.Feed(false, []byte("cde"+ka+ka), 0, col.emit)
	c.End(true, col.emit)
	c.End(false, col.emit)
	var uris []string
	for _, s := range col.txs {
		uris = append(uris, s.bufs["http.uri>"])
	}
	if got := strings.Join(uris, ","); got != "/a,/b,/c" {
		t.Fatalf("uris %s", got)
	}
	if !col.txs[1].flags.Has(FlagGap) || !col.txs[0].flags.Has(FlagGap) {
		t.Errorf("flags %s / %s", col.txs[0].flags, col.txs[1].flags)
	}
	if col.txs[0].respBody != "abcde" {
		t.Errorf("body with gap %q", col.txs[0].respBody)
	}
	if col.txs[2].respBody != "hello" {
		t.Errorf("third body %q", col.txs[2].respBody)
	}
}

func TestMaxTx(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxTx = 4
	c := NewConn(lim)
	var req strings.Builder
	for i := range 20 {
		fmt.Fprintf(&req, "GET /%d HTTP/1.1\r\nHost: h\r\n\r\n", i)
	}
	evicted := 0
	c.Feed(true, []byte(req.String()), 0, func(tx *Tx, p Progress) {
		if p == ReqHeaders && tx.Flags.Has(FlagTxEvicted) {
			evicted++
		}
	})
	if c.Pending() > 4 || evicted != 16 {
		t.Errorf("pending %d, evicted %d", c.Pending(), evicted)
	}
}

func TestConnectTunnel(t *testing.T) {
	col := run(t, DefaultLimits(), "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01junk", "HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03more", 0)
	if len(col.txs) != 1 || !col.txs[0].flags.Has(FlagTunnel) || col.txs[0].host != "example.com" {
		t.Fatalf("%d transactions, %+v", len(col.txs), col.txs)
	}
}

func TestRecordJSON(t *testing.T) {
	c := NewConn(DefaultLimits())
	var got []byte
	c.Feed(true, []byte("GET /x?y HTTP/1.1\r\nHost: a.example:8080\r\nUser-Agent: ua\r\nReferer: r\r\n\r\n"), 0, nil)
	c.Feed(false, []byte("HTTP/1.1 302 Found\r\nLocation: /z\r\nContent-Type: text/html; charset=x\r\nContent-Length: 3\r\n\r\nabc"), 0, func(tx *Tx, p Progress) {
		if p != RespBody {
			return
		}
		r := Record{RequestHeaders: []NameValue{}}
		tx.Record(&r)
		var err error
		got, err = json.Marshal(&r)
		if err != nil {
			t.Fatal(err)
		}
	})
	want := `{"hostname":"a.example","http_port":8080,"url":"/x?y","http_user_agent":"ua","http_content_type":"text/html","http_refer":"r","http_method":"GET","protocol":"HTTP/1.1","status":302,"redirect":"/z","length":3,"request_headers":[{"name":"Host","value":"a.example:8080"},{"name":"User-Agent","value":"ua"},{"name":"Referer","value":"r"}]}`
	if string(got) != want {
		t.Errorf("record\n got %s\nwant %s", got, want)
	}
}

func TestBuffersTable(t *testing.T) {
	seen := map[Buf]bool{}
	for _, b := range Buffers {
		seen[b.Buf] = true
		if _, _, _, ok := BufferByName(b.Name); !ok {
			t.Errorf("%s not found by name", b.Name)
		}
	}
	for b := Buf(0); b < numBuf; b++ {
		if !seen[b] {
			t.Errorf("buffer %d not in Buffers", b)
		}
	}
}
