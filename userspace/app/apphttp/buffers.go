package apphttp

// Buf names one Suricata HTTP sticky buffer. Tx.Buffer takes the direction:
// buffers that exist for both requests and responses (http.header,
// http.cookie, file.data, ...) have one Buf and two Buffers entries.
type Buf uint8

// Sticky buffers.
const (
	BufURI          Buf = iota // http.uri (http_uri): normalised path, decoded query
	BufURIRaw                  // http.uri.raw (http_raw_uri): URI as sent
	BufMethod                  // http.method
	BufRequestLine             // http.request_line
	BufProtocol                // http.protocol: "HTTP/1.1" of the request or response
	BufHeader                  // http.header: "Name: Value\r\n" per field, Cookie/Set-Cookie left out
	BufHeaderRaw               // http.header.raw: header block as received
	BufHeaderNames             // http.header_names: "\r\n" + "Name\r\n" per field + "\r\n"
	BufHost                    // http.host: normalised host
	BufHostRaw                 // http.host.raw: URI host or Host header as sent
	BufUserAgent               // http.user_agent
	BufCookie                  // http.cookie: Cookie (request) or Set-Cookie (response)
	BufContentType             // http.content_type
	BufContentLen              // http.content_len
	BufAccept                  // http.accept
	BufAcceptEnc               // http.accept_enc
	BufAcceptLang              // http.accept_lang
	BufReferer                 // http.referer
	BufConnection              // http.connection
	BufStart                   // http.start: start line + "\r\n" + "Name: Value\r\n"... + "\r\n"
	BufRequestBody             // http.request_body (http_client_body)
	BufStatCode                // http.stat_code
	BufStatMsg                 // http.stat_msg
	BufResponseLine            // http.response_line
	BufResponseBody            // http.response_body
	BufServer                  // http.server
	BufLocation                // http.location
	BufFileData                // file.data (file_data): response body to_client, request body to_server
	numBuf
)

// Buffers lists every sticky buffer by its Suricata name with the direction
// it is read in. Names valid in both directions appear twice.
var Buffers = []struct {
	Name     string
	Buf      Buf
	ToServer bool
}{
	{"http.uri", BufURI, true},
	{"http.uri.raw", BufURIRaw, true},
	{"http.method", BufMethod, true},
	{"http.request_line", BufRequestLine, true},
	{"http.protocol", BufProtocol, true},
	{"http.protocol", BufProtocol, false},
	{"http.header", BufHeader, true},
	{"http.header", BufHeader, false},
	{"http.header.raw", BufHeaderRaw, true},
	{"http.header.raw", BufHeaderRaw, false},
	{"http.header_names", BufHeaderNames, true},
	{"http.header_names", BufHeaderNames, false},
	{"http.host", BufHost, true},
	{"http.host.raw", BufHostRaw, true},
	{"http.user_agent", BufUserAgent, true},
	{"http.cookie", BufCookie, true},
	{"http.cookie", BufCookie, false},
	{"http.content_type", BufContentType, true},
	{"http.content_type", BufContentType, false},
	{"http.content_len", BufContentLen, true},
	{"http.content_len", BufContentLen, false},
	{"http.accept", BufAccept, true},
	{"http.accept_enc", BufAcceptEnc, true},
	{"http.accept_lang", BufAcceptLang, true},
	{"http.referer", BufReferer, true},
	{"http.connection", BufConnection, true},
	{"http.connection", BufConnection, false},
	{"http.start", BufStart, true},
	{"http.start", BufStart, false},
	{"http.request_body", BufRequestBody, true},
	{"http.stat_code", BufStatCode, false},
	{"http.stat_msg", BufStatMsg, false},
	{"http.response_line", BufResponseLine, false},
	{"http.response_body", BufResponseBody, false},
	{"http.server", BufServer, false},
	{"http.location", BufLocation, false},
	{"file.data", BufFileData, true},
	{"file.data", BufFileData, false},
}

// BufferByName returns the Buf of a sticky buffer name, and whether the
// name is valid in each direction.
func BufferByName(name string) (b Buf, toServer, toClient, ok bool) {
	for _, e := range Buffers {
		if e.Name == name {
			b, ok = e.Buf, true
			if e.ToServer {
				toServer = true
			} else {
				toClient = true
			}
		}
	}
	return b, toServer, toClient, ok
}

// Buffer returns the content of sticky buffer b for the request (toServer)
// or the response, exactly as Suricata fills it; nil when absent. Composite
// buffers are built on first use into buffers the Tx reuses.
func (t *Tx) Buffer(b Buf, toServer bool) []byte {
	if b >= numBuf {
		return nil
	}
	m := t.msg(toServer)
	switch b {
	case BufURI:
		if !toServer || !t.req.started {
			return nil
		}
		return t.URINorm
	case BufURIRaw:
		if !toServer {
			return nil
		}
		return t.URIRaw
	case BufMethod:
		if !toServer {
			return nil
		}
		return t.Method
	case BufRequestLine:
		if !toServer || !t.req.started {
			return nil
		}
		return t.req.get(t.req.line)
	case BufResponseLine:
		if toServer || !t.resp.started {
			return nil
		}
		return t.resp.get(t.resp.line)
	case BufProtocol:
		if toServer {
			return t.Protocol
		}
		return t.RespProto
	case BufStatCode:
		if toServer {
			return nil
		}
		return t.StatusText
	case BufStatMsg:
		if toServer {
			return nil
		}
		return t.StatusMsg
	case BufHost:
		if !toServer {
			return nil
		}
		return t.Host
	case BufHostRaw:
		if !toServer {
			return nil
		}
		if t.hostRaw != nil {
			return t.hostRaw
		}
		v, _ := t.Header("Host", true)
		return v
	case BufHeaderRaw:
		if !m.started || len(m.raw) == 0 {
			return nil
		}
		return m.raw
	case BufRequestBody:
		if !toServer || len(t.req.body) == 0 {
			return nil
		}
		return t.req.body
	case BufResponseBody:
		if toServer || len(t.resp.body) == 0 {
			return nil
		}
		return t.resp.body
	case BufFileData:
		if len(m.body) == 0 {
			return nil
		}
		return m.body
	case BufUserAgent:
		return t.hdr(toServer, true, "User-Agent")
	case BufCookie:
		if toServer {
			return t.hdr(true, true, "Cookie")
		}
		return t.hdr(false, false, "Set-Cookie")
	case BufContentType:
		return t.hdr(toServer, toServer, "Content-Type")
	case BufContentLen:
		return t.hdr(toServer, toServer, "Content-Length")
	case BufAccept:
		return t.hdr(toServer, true, "Accept")
	case BufAcceptEnc:
		return t.hdr(toServer, true, "Accept-Encoding")
	case BufAcceptLang:
		return t.hdr(toServer, true, "Accept-Language")
	case BufReferer:
		return t.hdr(toServer, true, "Referer")
	case BufConnection:
		return t.hdr(toServer, toServer, "Connection")
	case BufServer:
		return t.hdr(toServer, false, "Server")
	case BufLocation:
		return t.hdr(toServer, false, "Location")
	}
	// Composite buffers, built once per transaction and direction.
	i := int(b) * 2
	if !toServer {
		i++
	}
	if !m.headersOK && !m.started {
		return nil
	}
	if !t.built[i] {
		t.bufs[i] = t.compose(b, m, t.bufs[i][:0])
		t.built[i] = true
	}
	if len(t.bufs[i]) == 0 {
		return nil
	}
	return t.bufs[i]
}

// hdr returns a header value when the buffer exists in that direction.
func (t *Tx) hdr(toServer, want bool, name string) []byte {
	if toServer != want {
		return nil
	}
	v, ok := t.Header(name, toServer)
	if !ok || len(v) == 0 {
		return nil
	}
	return v
}

func (t *Tx) compose(b Buf, m *message, out []byte) []byte {
	toServer := m == &t.req
	switch b {
	case BufHeader:
		// Suricata leaves Cookie (requests) and Set-Cookie (responses) out of
		// http.header: they have their own buffer.
		for i := range m.fields {
			n := m.get(m.fields[i].name)
			if toServer && equalFold(n, "cookie") || !toServer && equalFold(n, "set-cookie") {
				continue
			}
			out = append(out, n...)
			out = append(out, ':', ' ')
			out = append(out, m.get(m.fields[i].value)...)
			out = append(out, '\r', '\n')
		}
	case BufHeaderNames:
		if len(m.fields) == 0 {
			return out
		}
		out = append(out, '\r', '\n')
		for i := range m.fields {
			out = append(out, m.get(m.fields[i].name)...)
			out = append(out, '\r', '\n')
		}
		out = append(out, '\r', '\n')
	case BufStart:
		if !m.started || m.line.n == 0 {
			return out
		}
		out = append(out, m.get(m.line)...)
		out = append(out, '\r', '\n')
		for i := range m.fields {
			out = append(out, m.get(m.fields[i].name)...)
			out = append(out, ':', ' ')
			out = append(out, m.get(m.fields[i].value)...)
			out = append(out, '\r', '\n')
		}
		out = append(out, '\r', '\n')
	}
	return out
}
