package apphttp

// requestLine parses a request line as htp_parse_request_line_generic_ex
// does with Suricata's allow-space-uri on: the method ends at the first
// whitespace, the URI at the last space, the protocol is the rest.
func (c *Conn) requestLine(d *direction, line []byte, cut bool, emit func(*Tx, Progress)) {
	if isEmptyLine(line) {
		return // ignorable line between requests
	}
	t := c.newTx()
	d.tx = t
	m := &t.req
	m.started = true
	if cut {
		t.Flags |= FlagLineTooLong
	}
	l := chomp(line)
	m.line = m.put(l)
	l = m.get(m.line)
	pos := 0
	for pos < len(l) && isSpace(l[pos]) {
		pos++
	}
	if pos > 0 {
		t.Flags |= FlagLeadingWhitespace
	}
	ms := pos
	for pos < len(l) && !isSpace(l[pos]) {
		pos++
	}
	t.Method = l[ms:pos]
	bad := false
	for pos < len(l) && isSpace(l[pos]) {
		if l[pos] != ' ' {
			bad = true
		}
		pos++
	}
	if pos == len(l) {
		c.requestLineDone(d, t, true, emit)
		return
	}
	start := pos
	// allow-space-uri: the URI ends at the last space.
	p := len(l) - 1
	for p > start && isSpace(l[p]) {
		p--
	}
	for p > start && l[p] != ' ' {
		if isSpace(l[p]) {
			bad = true
		}
		p--
	}
	if p == start {
		p = len(l)
	}
	if bad && p == len(l) {
		p = start
		for p < len(l) && !isSpace(l[p]) {
			p++
		}
	}
	if bad {
		t.Flags |= FlagURIDelimiter
	}
	t.URIRaw = l[start:p]
	for p < len(l) && isSpace(l[p]) {
		p++
	}
	if p == len(l) {
		c.requestLineDone(d, t, true, emit)
		return
	}
	m.proto = span{m.line.off + int32(p), int32(len(l) - p)}
	t.Protocol = m.get(m.proto)
	c.requestLineDone(d, t, false, emit)
}

func (c *Conn) requestLineDone(d *direction, t *Tx, is09 bool, emit func(*Tx, Progress)) {
	t.connect = string(t.Method) == "CONNECT"
	t.head = string(t.Method) == "HEAD"
	raw := t.URIRaw
	if t.connect {
		// CONNECT carries an authority.
		h, port, hasPort, invalid := splitHostPort(raw)
		if invalid {
			t.Flags |= FlagHostInvalid
		}
		if h != nil {
			t.hostRaw = h
			t.hostBuf = appendHostNorm(t.hostBuf[:0], h)
			t.Host = t.hostBuf
		}
		if hasPort {
			t.Port, _ = parsePort(port)
		}
	} else if len(raw) > 0 {
		u := parseURI(raw)
		t.uriBuf = normalizeURI(t.uriBuf[:0], raw, u, &t.Flags)
		t.URINorm = t.uriBuf
		if u.host[0] >= 0 {
			h := raw[u.host[0]:u.host[1]]
			t.hostRaw = h
			s := len(t.hostBuf)
			t.hostBuf = urlDecode(t.hostBuf, h)
			dec := t.hostBuf[s:]
			t.hostBuf = appendHostNorm(t.hostBuf[:0], dec)
			t.Host = t.hostBuf
			if !validHostname(t.Host) {
				t.Flags |= FlagHostInvalid
			}
		}
		if u.port[0] >= 0 {
			if p, ok := parsePort(raw[u.port[0]:u.port[1]]); ok {
				t.Port = p
			} else {
				t.Flags |= FlagHostInvalid
			}
		}
	}
	if !is09 {
		d.st = stHeaders
		return
	}
	t.is09 = true
	d.st = stProbe09
}

// finish09 completes an HTTP/0.9 request: no headers, no body.
func (c *Conn) finish09(d *direction, emit func(*Tx, Progress)) {
	t := d.tx
	d.st = stLine
	if t == nil {
		return
	}
	t.Flags |= FlagMissingProtocol
	t.req.headersOK = true
	c.emit(t, ReqHeaders, emit)
	c.requestDone(d, emit)
}

func (c *Conn) emit(t *Tx, p Progress, emit func(*Tx, Progress)) {
	if emit != nil {
		emit(t, p)
	}
}

// reqHeadersDone determines the request body as libhtp does: chunked when
// Transfer-Encoding contains "chunked", else Content-Length, else none.
func (c *Conn) reqHeadersDone(d *direction, emit func(*Tx, Progress)) {
	t := d.tx
	m := &t.req
	m.headersOK = true
	c.resolveHost(t)
	c.setupEncoding(t, m)
	te := m.lookup("transfer-encoding")
	cl := m.lookup("content-length")
	proto := parseProtocol(t.Protocol)
	switch {
	case te != nil && containsFoldNoZero(m.get(te.value), "chunked"):
		if proto < 11 {
			t.Flags |= FlagInvalidTE | FlagSmuggling
		}
		if cl != nil {
			t.Flags |= FlagSmuggling
		}
		m.chunked = true
		d.st = stChunkLen
	case te != nil:
		t.Flags |= FlagInvalidTE
		d.st = stLine
	case cl != nil:
		if cl.repeated {
			t.Flags |= FlagSmuggling
		}
		n, ok := parseContentLength(m.get(cl.value))
		if !ok {
			t.Flags |= FlagInvalidCL
			d.st = stLine
			break
		}
		m.clen = n
		if n == 0 {
			d.st = stLine
			break
		}
		d.left = n
		d.st = stBodyCL
	default:
		d.st = stLine
	}
	c.emit(t, ReqHeaders, emit)
	if d.st == stLine {
		c.requestDone(d, emit)
	}
}

// requestDone emits ReqBody and lets the request direction move on.
func (c *Conn) requestDone(d *direction, emit func(*Tx, Progress)) {
	t := d.tx
	if t == nil {
		return
	}
	m := &t.req
	c.finishBody(t, m, c.lim.RequestBodyInspect)
	m.done = true
	t.reqDone = true
	d.tx = nil
	if d.st != stTunnel && d.st != stResync {
		d.st = stLine
	}
	c.emit(t, ReqBody, emit)
	c.maybeFree(t)
}

// resolveHost sets Host and Port: the URI's host first, else the Host
// header's (htp_tx_state_request_headers).
func (c *Conn) resolveHost(t *Tx) {
	m := &t.req
	h := m.lookup("host")
	if h == nil {
		if parseProtocol(t.Protocol) >= 11 {
			t.Flags |= FlagHostMissing
		}
		return
	}
	host, port, hasPort, invalid := splitHostPort(m.get(h.value))
	if invalid {
		t.Flags |= FlagHostInvalid
	}
	if host == nil {
		if t.Host != nil {
			t.Flags |= FlagHostAmbiguous
		}
		return
	}
	if t.Host == nil {
		s := len(t.hostBuf)
		t.hostBuf = append(t.hostBuf, host...)
		for i := s; i < len(t.hostBuf); i++ {
			t.hostBuf[i] = lower(t.hostBuf[i])
		}
		t.Host = t.hostBuf[s:]
		if hasPort {
			p, ok := parsePort(port)
			if ok {
				t.Port = p
			} else {
				t.Flags |= FlagHostInvalid
			}
		}
		if !validHostname(t.Host) {
			t.Flags |= FlagHostInvalid
		}
		return
	}
	if !equalFoldBytes(host, t.Host) {
		t.Flags |= FlagHostAmbiguous
	}
}

func equalFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// parseProtocol returns 9, 10 or 11 for HTTP/0.9, 1.0, 1.1, -1 otherwise
// (htp_parse_protocol is as strict).
func parseProtocol(b []byte) int {
	if len(b) == 8 && string(b[:5]) == "HTTP/" && b[6] == '.' {
		switch {
		case b[5] == '0' && b[7] == '9':
			return 9
		case b[5] == '1' && b[7] == '0':
			return 10
		case b[5] == '1' && b[7] == '1':
			return 11
		}
	}
	return -1
}

// parseContentLength parses Content-Length: junk before the digits is
// skipped as libhtp's htp_parse_content_length does, but only LWS may
// follow them: "34 68" (a folded second value) is invalid, and a response
// with it is read to the close, which is what lets Suricata see such a
// body whole.
func parseContentLength(b []byte) (int64, bool) {
	i := 0
	for i < len(b) && (b[i] < '0' || b[i] > '9') {
		i++
	}
	if i == len(b) {
		return 0, false
	}
	var v int64
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		v = v*10 + int64(b[i]-'0')
		if v > 1<<50 {
			return 0, false
		}
	}
	for ; i < len(b); i++ {
		if !isLWS(b[i]) && b[i] != '\r' {
			return 0, false
		}
	}
	return v, true
}

// containsFoldNoZero reports whether s occurs in b ignoring case and NUL
// bytes (bstr_index_of_c_nocasenorzero).
func containsFoldNoZero(b []byte, s string) bool {
	for i := range b {
		j, k := i, 0
		for j < len(b) && k < len(s) {
			if b[j] == 0 {
				j++
				continue
			}
			if lower(b[j]) != lower(s[k]) {
				break
			}
			j++
			k++
		}
		if k == len(s) {
			return true
		}
	}
	return false
}

// equalFoldNoZero compares b to s ignoring case and NUL bytes in b
// (bstr_cmp_c_nocasenorzero).
func equalFoldNoZero(b []byte, s string) bool {
	k := 0
	for _, c := range b {
		if c == 0 {
			continue
		}
		if k >= len(s) || lower(c) != lower(s[k]) {
			return false
		}
		k++
	}
	return k == len(s)
}
