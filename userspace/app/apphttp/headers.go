package apphttp

// headerLine handles one line of a header block or of chunked trailers:
// folding as libhtp does (a line starting with SP, HT or NUL continues the
// previous one, appended without its line end), the empty line ends the
// block.
func (c *Conn) headerLine(d *direction, line []byte, cut bool, emit func(*Tx, Progress)) {
	t := d.tx
	m := t.msg(d.toServer)
	if cut {
		t.Flags |= FlagLineTooLong
	}
	if len(m.raw)+len(line) <= c.lim.MaxHeaderBytes {
		m.raw = append(m.raw, line...)
	} else {
		t.Flags |= FlagHeaderLimit
	}
	if isEmptyLine(line) || !d.toServer && isEmptyLineCR(line) {
		c.endHeaders(d, emit)
		return
	}
	if isWSLine(line) && d.bareLF {
		// libhtp's next_no_lf rule: after a line ended by a bare LF, a line
		// of one space (or a stray CR) ends the headers unless an empty
		// line follows right away. After CRLF it is folding or junk, which
		// is what the HTTP Evader captures show Suricata doing.
		d.wsPending = true
		return
	}
	d.bareLF = endsBareLF(line)
	l := chomp(line)
	if !d.toServer {
		l = chompCR(line)
	}
	if len(l) > 0 && (isLWS(l[0]) || l[0] == 0) {
		switch {
		case !d.haveHdr:
			if t.Flags&FlagInvalidFolding == 0 {
				t.Flags |= FlagInvalidFolding
			}
			d.hdr = append(d.hdr[:0], l...)
			d.haveHdr = true
		case !d.toServer && indexByte(l, ':') >= 0 && indexByte(d.hdr, ':') >= 0 && parseProtocol(t.RespProto) == 11:
			// libhtp: in an HTTP/1.1 response a "folded" line with a colon
			// is a new header whose first byte is dropped.
			t.Flags |= FlagInvalidFolding
			c.flushHeader(d)
			d.hdr = append(d.hdr[:0], l[1:]...)
			d.haveHdr = true
		default:
			if len(d.hdr)+len(l) <= c.lim.MaxLineBytes {
				d.hdr = append(d.hdr, l...)
			} else {
				t.Flags |= FlagLineTooLong
			}
		}
		return
	}
	c.flushHeader(d)
	d.hdr = append(d.hdr[:0], l...)
	d.haveHdr = true
}

// flushHeader parses the pending header line, if any.
func (c *Conn) flushHeader(d *direction) {
	if !d.haveHdr {
		return
	}
	d.haveHdr = false
	t := d.tx
	name, value, fl := splitHeader(d.hdr, d.toServer)
	t.Flags |= fl
	c.addField(t, t.msg(d.toServer), name, value)
	d.hdr = d.hdr[:0]
}

// splitHeader splits one unfolded header line into name and value
// (htp_parse_request_header_generic and htp_parse_response_header_generic).
// A line without a colon is a field with an empty name and the whole line
// as value, so its content is still inspected.
func splitHeader(l []byte, request bool) (name, value []byte, fl Flag) {
	colon := -1
	for i, c := range l {
		if c == ':' {
			colon = i
			break
		}
		if request && c == 0 {
			break
		}
	}
	if colon < 0 {
		fl |= FlagMissingColon
		if request {
			return nil, l, fl
		}
		value = l
		for len(value) > 0 && isLWS(value[0]) {
			value = value[1:]
		}
		for len(value) > 1 && isLWS(value[len(value)-1]) {
			value = value[:len(value)-1]
		}
		return nil, value, fl
	}
	if colon == 0 {
		fl |= FlagInvalidHeaderName
	}
	name = l[:colon]
	for len(name) > 0 {
		c := name[len(name)-1]
		if request && isLWS(c) || !request && c <= 0x20 {
			name = name[:len(name)-1]
			fl |= FlagInvalidHeaderName
			continue
		}
		break
	}
	for _, c := range name {
		if !isToken(c) {
			fl |= FlagInvalidHeaderName
			break
		}
	}
	value = l[colon+1:]
	for len(value) > 0 && isLWS(value[0]) {
		value = value[1:]
	}
	for len(value) > 1 && isLWS(value[len(value)-1]) {
		value = value[:len(value)-1]
	}
	return name, value, fl
}

func isToken(c byte) bool {
	if c < 32 || c > 126 {
		return false
	}
	switch c {
	case '(', ')', '<', '>', '@', ',', ';', ':', '\\', '"', '/', '[', ']', '?', '=', '{', '}', ' ', '\t':
		return false
	}
	return true
}

// addField stores a header field; a repeated name is merged into the first
// occurrence with ", " (a repeated Content-Length is not merged), as libhtp
// does. Limits: MaxHeaders fields and MaxHeaderBytes of names and values.
func (c *Conn) addField(t *Tx, m *message, name, value []byte) {
	t.built = [numBuf * 2]bool{}
	for i := range m.fields {
		f := &m.fields[i]
		if !equalFoldBytes(m.get(f.name), name) {
			continue
		}
		f.repeated = true
		t.Flags |= FlagHeaderRepetition
		if equalFold(name, "content-length") {
			a, okA := parseContentLength(m.get(f.value))
			b, okB := parseContentLength(value)
			if !okA || !okB || a != b {
				t.Flags |= FlagSmuggling
			}
			return
		}
		old := m.get(f.value)
		if len(m.arena)+len(old)+2+len(value) > c.lim.MaxHeaderBytes {
			t.Flags |= FlagHeaderLimit
			return
		}
		s := int32(len(m.arena))
		m.arena = append(m.arena, old...)
		m.arena = append(m.arena, ',', ' ')
		m.arena = append(m.arena, value...)
		f.value = span{s, int32(len(m.arena)) - s}
		return
	}
	if len(m.fields) >= c.lim.MaxHeaders || len(m.arena)+len(name)+len(value) > c.lim.MaxHeaderBytes {
		t.Flags |= FlagHeaderLimit
		return
	}
	m.fields = append(m.fields, field{name: m.put(name), value: m.put(value)})
}

// endHeaders completes a header block or the trailers.
func (c *Conn) endHeaders(d *direction, emit func(*Tx, Progress)) {
	d.wsPending = false
	c.flushHeader(d)
	if d.st == stTrailers {
		c.bodyDone(d, emit)
		return
	}
	if d.toServer {
		c.reqHeadersDone(d, emit)
	} else {
		c.respHeadersDone(d, emit)
	}
}

// isWSLine reports a line that is one SP, HT or CR before its line end.
func isWSLine(line []byte) bool {
	l := chomp(line)
	return len(l) == 1 && (l[0] == ' ' || l[0] == '\t' || l[0] == '\r') && len(line) > 1
}

func endsBareLF(line []byte) bool {
	n := len(line)
	return n >= 2 && line[n-1] == '\n' && line[n-2] != '\r'
}
