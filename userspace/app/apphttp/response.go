package apphttp

// respBegin picks the transaction a new response belongs to: the oldest
// whose response has not started; one is made when none is pending. An
// HTTP/0.9 request gets a response that is all body. It reports true when
// the direction changed state and the caller should loop.
func (c *Conn) respBegin(d *direction, emit func(*Tx, Progress)) bool {
	var t *Tx
	for _, x := range c.q {
		if !x.resp.started {
			t = x
			break
		}
	}
	if t == nil {
		t = c.newTx()
		t.Flags |= FlagResponseWithoutRequest
		t.reqDone = true
	}
	rd := &c.dirs[0]
	if rd.tx == t && rd.st == stProbe09 {
		c.finish09(rd, emit)
	}
	d.tx = t
	return false
}

// statusLine handles a line where a status line is expected
// (htp_connp_RES_LINE): empty lines are skipped; a line that does not start
// with "HTTP" (after whitespace) makes the rest of the stream body, as
// browsers do.
func (c *Conn) statusLine(d *direction, line []byte, cut bool, emit func(*Tx, Progress)) {
	t := d.tx
	if t == nil {
		c.respBegin(d, emit)
		t = d.tx
		if d.st != stLine {
			c.bodyData(d, line, int64(len(line)))
			return
		}
	}
	if len(trimSpace(line)) == 0 {
		return // empty or whitespace-only lines before a status line are skipped
	}
	m := &t.resp
	if cut {
		t.Flags |= FlagLineTooLong
	}
	l := chompCR(line)
	if !looksLikeHTTP(l) && t.is09 {
		// The answer to an HTTP/0.9 request is all body; one that starts
		// with a status line (the request was junk) is parsed as usual.
		d.hdr = append(d.hdr[:0], line[:min(len(line), c.lim.MaxLineBytes)]...)
		c.responseAsBody(d, emit)
		return
	}
	if !looksLikeHTTP(l) {
		// Browsers take such a response as all body (libhtp's
		// htp_treat_response_line_as_body), but a junk line right before a
		// real status line is skipped, as Suricata does for the HTTP
		// Evader captures: wait for the next line to decide.
		d.hdr = append(d.hdr[:0], line[:min(len(line), c.lim.MaxLineBytes)]...)
		d.st = stJunk
		return
	}
	m.started = true
	m.line = m.put(l)
	l = m.get(m.line)
	t.RespProto, t.StatusText, t.StatusMsg, t.Status = nil, nil, nil, 0
	pos := 0
	for pos < len(l) && isSpace(l[pos]) {
		pos++
	}
	s := pos
	for pos < len(l) && !isSpace(l[pos]) {
		pos++
	}
	if pos > s {
		t.RespProto = l[s:pos]
	}
	if parseProtocol(t.RespProto) < 0 {
		t.Flags |= FlagInvalidProtocol
	}
	for pos < len(l) && isSpace(l[pos]) {
		pos++
	}
	s = pos
	for pos < len(l) && !isSpace(l[pos]) {
		pos++
	}
	if pos > s {
		t.StatusText = l[s:pos]
		t.Status = parseStatus(t.StatusText)
	}
	if t.Status == 0 {
		t.Flags |= FlagInvalidStatus
	}
	for pos < len(l) && isSpace(l[pos]) {
		pos++
	}
	if pos < len(l) {
		t.StatusMsg = l[pos:]
	}
	d.st = stHeaders
}

// looksLikeHTTP is htp_treat_response_line_as_body inverted: whitespace or
// NUL, then "http" in any case.
func looksLikeHTTP(l []byte) bool {
	pos := 0
	for pos < len(l) && (isSpace(l[pos]) || l[pos] == 0) {
		pos++
	}
	if len(l) < pos+4 {
		return false
	}
	return lower(l[pos]) == 'h' && lower(l[pos+1]) == 't' && lower(l[pos+2]) == 't' && lower(l[pos+3]) == 'p'
}

// parseStatus parses a status code (LWS allowed around it), 100..999,
// 0 when invalid.
func parseStatus(b []byte) int {
	b = trimLWS(b)
	if len(b) == 0 || len(b) > 6 {
		return 0
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0
		}
		v = v*10 + int(c-'0')
	}
	if v < 100 || v > 999 {
		return 0
	}
	return v
}

// respHeadersDone determines the response body as htp_connp_RES_BODY_DETERMINE
// does.
func (c *Conn) respHeadersDone(d *direction, emit func(*Tx, Progress)) {
	t := d.tx
	m := &t.resp
	te := m.lookup("transfer-encoding")
	cl := m.lookup("content-length")
	if t.connect && t.Status >= 200 && t.Status <= 299 {
		c.tunnel(t)
		m.headersOK = true
		c.emit(t, RespHeaders, emit)
		c.responseDone(d, emit)
		return
	}
	if t.Status == 101 && te == nil && cl == nil {
		c.tunnel(t)
		m.headersOK = true
		c.emit(t, RespHeaders, emit)
		c.responseDone(d, emit)
		return
	}
	if t.Status == 100 && te == nil {
		n := int64(0)
		if cl != nil {
			n, _ = parseContentLength(m.get(cl.value))
		}
		if n <= 0 {
			// Interim response: forget its headers, expect the real one.
			m.fields = m.fields[:0]
			m.raw = m.raw[:0]
			t.seen100 = true
			d.st = stLine
			return
		}
	}
	m.headersOK = true
	c.setupEncoding(t, m)
	noBody := false
	switch {
	case t.head:
		noBody = true
	case t.Status >= 100 && t.Status <= 199 || t.Status == 204 || t.Status == 304:
		if te == nil && cl == nil {
			noBody = true
		} else {
			t.Flags |= FlagUnexpectedBody
		}
	}
	switch {
	case noBody:
		d.st = stLine
	case te != nil && containsFoldNoZero(m.get(te.value), "chunked"):
		if !equalFold(m.get(te.value), "chunked") || parseProtocol(t.RespProto) < 11 {
			t.Flags |= FlagInvalidTE
		}
		if cl != nil {
			t.Flags |= FlagSmuggling
		}
		m.chunked = true
		d.st = stChunkLen
	case cl != nil:
		if cl.repeated {
			t.Flags |= FlagSmuggling
		}
		n, ok := parseContentLength(m.get(cl.value))
		switch {
		case !ok:
			t.Flags |= FlagInvalidCL
			d.st = stBodyClose
		case n == 0:
			d.st = stLine
		default:
			m.clen = n
			d.left = n
			d.st = stBodyCL
		}
	default:
		d.st = stBodyClose
	}
	c.emit(t, RespHeaders, emit)
	if d.st == stLine {
		c.responseDone(d, emit)
	}
}

// tunnel stops parsing both directions: what follows is not HTTP.
func (c *Conn) tunnel(t *Tx) {
	t.Flags |= FlagTunnel
	c.dirs[1].st = stTunnel
	rd := &c.dirs[0]
	if rd.tx == nil || rd.tx == t {
		rd.st = stTunnel
	}
}

// responseDone emits RespBody and frees the transaction when its request
// is complete too.
func (c *Conn) responseDone(d *direction, emit func(*Tx, Progress)) {
	t := d.tx
	if t == nil {
		return
	}
	m := &t.resp
	c.finishBody(t, m, c.lim.ResponseBodyInspect)
	m.done = true
	t.respDone = true
	d.tx = nil
	if d.st != stTunnel && d.st != stResync {
		d.st = stLine
	}
	c.emit(t, RespBody, emit)
	c.maybeFree(t)
}

// responseAsBody makes the saved junk line and the rest of the stream the
// body of a response without status line.
func (c *Conn) responseAsBody(d *direction, emit func(*Tx, Progress)) {
	t := d.tx
	t.Flags |= FlagResponseAsBody
	t.resp.started = true
	t.resp.headersOK = true
	c.emit(t, RespHeaders, emit)
	d.st = stBodyClose
	c.bodyData(d, d.hdr, int64(len(d.hdr)))
	d.hdr = d.hdr[:0]
}
