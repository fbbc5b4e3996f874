package apphttp

// chunkLine parses a chunk-size line as libhtp does: leading control bytes
// and empty lines skipped, the hex prefix taken, anything after it (an
// extension, junk) ignored. A line with no hex digits means the body is not
// chunked after all: it and the rest of the stream are body
// (htp_connp_RES_BODY_CHUNKED_LENGTH).
func (c *Conn) chunkLine(d *direction, line []byte, cut bool, emit func(*Tx, Progress)) {
	t := d.tx
	m := t.msg(d.toServer)
	m.messageLen += int64(len(line))
	l := line
	for len(l) > 0 && isChunkCtl(l[0]) {
		l = l[1:]
	}
	if len(l) == 0 && !cut {
		return // empty line: keep looking
	}
	i := 0
	var n int64
	for i < len(l) && isHex(l[i]) {
		n = n<<4 | int64(unhex(l[i]))
		if n > 1<<31-1 {
			n = -1
			break
		}
		i++
	}
	if n >= 0 {
		for j := i; j < len(l); j++ {
			if l[j] == ';' {
				t.Flags |= FlagChunkExtension
				break
			}
		}
		// htp_parse_positive_integer_whitespace on the hex prefix.
		if i == 0 || cut {
			n = -1
		}
	}
	if n < 0 {
		t.Flags |= FlagInvalidChunk
		m.chunked = false
		d.st = stBodyClose
		c.bodyData(d, line, 0)
		return
	}
	if n == 0 {
		d.st = stTrailers
		return
	}
	d.left = n
	d.st = stChunkData
}

func isChunkCtl(c byte) bool {
	return c == '\r' || c == '\n' || c == ' ' || c == '\t' || c == 0x0b || c == 0x0c
}

// bodyData takes dechunked body bytes: kept up to the inspection limit, or
// when encoded up to what decoding to that limit may need. wire is the
// count of bytes on the wire for the EVE length.
func (c *Conn) bodyData(d *direction, p []byte, wire int64) {
	t := d.tx
	if t == nil {
		return
	}
	m := t.msg(d.toServer)
	m.bodyLen += int64(len(p))
	m.messageLen += wire
	limit := c.limitFor(d.toServer)
	if m.nencs > 0 {
		capEnc := encodedCap(limit)
		if room := capEnc - len(m.enc); room > 0 {
			if len(p) > room {
				p = p[:room]
			}
			m.enc = append(m.enc, p...)
		}
		return
	}
	room := limit - len(m.body)
	if len(p) > room {
		t.Flags |= FlagBodyTruncated
		p = p[:max(room, 0)]
	}
	m.body = append(m.body, p...)
}

func (c *Conn) limitFor(toServer bool) int {
	if toServer {
		return c.lim.RequestBodyInspect
	}
	return c.lim.ResponseBodyInspect
}

// encodedCap bounds the encoded bytes kept for a body whose decoded form is
// kept up to limit: deflate never expands by more than 5 bytes a 64 KiB
// stored block, plus headers.
func encodedCap(limit int) int { return limit + limit/64 + 4096 }

// bodyDone completes the body of the direction's message.
func (c *Conn) bodyDone(d *direction, emit func(*Tx, Progress)) {
	if d.toServer {
		c.requestDone(d, emit)
	} else {
		c.responseDone(d, emit)
	}
}

// finishBody decodes an encoded body once it is complete.
func (c *Conn) finishBody(t *Tx, m *message, limit int) {
	if m.nencs == 0 || m.done {
		return
	}
	if len(m.enc) >= encodedCap(limit) && m.bodyLen > int64(len(m.enc)) {
		t.Flags |= FlagBodyTruncated
	}
	m.body = c.dec.decode(m.body[:0], m.enc, m.encs[:m.nencs], limit, c.lim.MaxDecompressed, &t.Flags)
}

// setupEncoding reads Content-Encoding as libhtp's
// htp_tx_state_response_headers does: "gzip", "x-gzip", "deflate",
// "x-deflate" (case and NUL bytes ignored), else a list of tokens each
// matched by substring, at most MaxEncodingLayers of them; unknown tokens
// ("br", "lzma", ...) leave the body as sent.
func (c *Conn) setupEncoding(t *Tx, m *message) {
	m.nencs = 0
	f := m.lookup("content-encoding")
	if f == nil {
		return
	}
	v := m.get(f.value)
	switch {
	case equalFoldNoZero(v, "gzip"), equalFoldNoZero(v, "x-gzip"):
		m.encs[0], m.nencs = encGzip, 1
	case equalFoldNoZero(v, "deflate"), equalFoldNoZero(v, "x-deflate"):
		m.encs[0], m.nencs = encDeflate, 1
	case equalFoldNoZero(v, "inflate"), equalFoldNoZero(v, "none"), equalFoldNoZero(v, "lzma"):
	default:
		layers := 0
		for len(v) > 0 {
			for len(v) > 0 && (v[0] == ',' || v[0] == ' ') {
				v = v[1:]
			}
			i := 0
			for i < len(v) && v[i] != ',' && v[i] != ' ' {
				i++
			}
			tok := v[:i]
			v = v[i:]
			if len(tok) == 0 {
				continue
			}
			layers++
			if layers > c.lim.MaxEncodingLayers || m.nencs == len(m.encs) {
				t.Flags |= FlagTooManyEncodings
				break
			}
			switch {
			case containsFoldNoZero(tok, "gzip"):
				m.encs[m.nencs] = encGzip
				m.nencs++
			case containsFoldNoZero(tok, "deflate"):
				m.encs[m.nencs] = encDeflate
				m.nencs++
			}
		}
	}
	if m.nencs > 0 && c.lim.MaxEncodingLayers == 0 {
		m.nencs = 0
	}
}

// End tells that one direction is closed: a body delimited by the close is
// complete, anything else in progress is completed as incomplete.
func (c *Conn) End(toServer bool, emit func(*Tx, Progress)) {
	d := c.dir(toServer)
	if d.deferred {
		c.finishDeferred(d, emit)
	}
	if d.closed {
		return
	}
	d.closed = true
	if d.wsPending && (d.st == stHeaders || d.st == stTrailers) {
		c.endHeaders(d, emit)
	}
	if d.st == stJunk {
		if len(d.line) > 0 && looksLikeStatusLine(d.line) {
			d.st = stLine
			d.tx.Flags |= FlagLeadingJunk
		} else {
			c.responseAsBody(d, emit)
			c.bodyData(d, d.line, int64(len(d.line)))
			d.line = d.line[:0]
		}
	}
	switch d.st {
	case stLine:
		if len(d.line) > 0 {
			line := d.line
			d.line = nil
			c.onLine(d, line, d.lineCut, emit)
			d.line = line[:0]
			d.lineCut = false
			switch d.st {
			case stHeaders:
				c.End2(d, emit)
			case stJunk:
				c.responseAsBody(d, emit)
				c.bodyDone(d, emit)
			case stBodyClose:
				c.bodyDone(d, emit)
			}
		}
	case stProbe09:
		c.finish09(d, emit)
	case stHeaders, stTrailers:
		c.End2(d, emit)
	case stBodyClose:
		c.bodyDone(d, emit)
	case stBodyCL, stChunkLen, stChunkData, stChunkEnd:
		if d.tx != nil {
			d.tx.Flags |= FlagIncomplete
		}
		c.bodyDone(d, emit)
	}
}

// End2 completes a header block cut by the close.
func (c *Conn) End2(d *direction, emit func(*Tx, Progress)) {
	if len(d.line) > 0 {
		c.headerLine(d, d.line, d.lineCut, emit)
		d.line = d.line[:0]
	}
	if d.tx == nil || (d.st != stHeaders && d.st != stTrailers) {
		return
	}
	if d.st == stTrailers {
		c.flushHeader(d)
		c.bodyDone(d, emit)
		return
	}
	if d.toServer {
		d.tx.Flags |= FlagIncomplete
	}
	c.headerLine(d, []byte{'\n'}, false, emit)
	if d.st == stBodyClose || d.st == stBodyCL || d.st == stChunkLen {
		c.bodyDone(d, emit)
	}
}

// Gap tells that n bytes are missing in one direction. Inside a body of
// known length (or a chunk) the bytes are skipped; elsewhere the message is
// completed as it is and parsing resumes at the next request or status
// line.
func (c *Conn) Gap(toServer bool, n int) {
	d := c.dir(toServer)
	if d.tx != nil {
		d.tx.Flags |= FlagGap
	}
	switch d.st {
	case stTunnel:
		return
	case stBodyCL, stChunkData:
		if int64(n) < d.left {
			d.left -= int64(n)
			m := d.tx.msg(toServer)
			m.bodyLen += int64(n)
			m.messageLen += int64(n)
			d.tx.Flags |= FlagBodyTruncated
			return
		}
	case stBodyClose:
		m := d.tx.msg(toServer)
		m.bodyLen += int64(n)
		m.messageLen += int64(n)
		d.tx.Flags |= FlagBodyTruncated
		return
	}
	d.line = d.line[:0]
	d.lineCut = false
	d.haveHdr = false
	if d.tx != nil {
		d.deferred = true
		return
	}
	d.st = stResync
}

// finishDeferred completes the message a Gap interrupted.
func (c *Conn) finishDeferred(d *direction, emit func(*Tx, Progress)) {
	d.deferred = false
	t := d.tx
	if t == nil {
		d.st = stResync
		return
	}
	t.Flags |= FlagIncomplete
	m := t.msg(d.toServer)
	if !m.headersOK {
		m.headersOK = true
		if d.toServer {
			c.emit(t, ReqHeaders, emit)
		} else {
			c.emit(t, RespHeaders, emit)
		}
	}
	d.st = stResync
	if d.toServer {
		c.requestDone(d, emit)
	} else {
		c.responseDone(d, emit)
	}
	d.st = stResync
}
