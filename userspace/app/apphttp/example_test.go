package apphttp_test

import (
	"fmt"

	"github.com/xdpids/xdpids/userspace/app/apphttp"
)

func Example() {
	c := apphttp.NewConn(apphttp.DefaultLimits())
	emit := func(tx *apphttp.Tx, p apphttp.Progress) {
		switch p {
		case apphttp.ReqHeaders:
			fmt.Printf("http.uri %q http.host %q\n", tx.Buffer(apphttp.BufURI, true), tx.Buffer(apphttp.BufHost, true))
		case apphttp.RespBody:
			fmt.Printf("status %d file.data %q\n", tx.Status, tx.Buffer(apphttp.BufFileData, false))
		}
	}
	c.Feed(true, []byte("GET /a/../b%2Fc HTTP/1.1\r\nHost: WWW.Example.com:80\r\n\r\n"), 0, emit)
	c.Feed(false, []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"), 0, emit)
	// Output:
	// http.uri "/b/c" http.host "www.example.com"
	// status 200 file.data "hi"
}
