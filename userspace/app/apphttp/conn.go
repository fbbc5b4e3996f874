package apphttp

import "bytes"

// state is where one direction of a connection is in its current message.
type state uint8

const (
	stLine      state = iota // waiting for a request or status line
	stProbe09                // request line without protocol: is the next line a header?
	stHeaders                // header lines
	stBodyCL                 // body of known length
	stChunkLen               // chunk-size line
	stChunkData              // chunk data
	stChunkEnd               // bytes after chunk data up to LF
	stTrailers               // trailer lines after the last chunk
	stBodyClose              // body delimited by the end of the stream
	stTunnel                 // not HTTP any more (CONNECT, 101)
	stResync                 // after a gap: skip to the next start line
	stJunk                   // a non-HTTP line where a status line belongs: is the next one?
)

// direction is the parse state of one direction.
type direction struct {
	st       state
	toServer bool
	line     []byte // partial line across Feed calls
	lineCut  bool
	hdr      []byte // header line awaiting a possible folded continuation
	haveHdr  bool
	left     int64 // bytes left in the body or chunk
	tx       *Tx
	deferred bool // Gap left work that needs an emit: done at next Feed/End
	// wsPending: a whitespace-only header line was seen; it ends the
	// headers unless the next byte starts an empty line.
	wsPending bool
	crWait    bool  // response header line: d.line ends with a CR, next byte unseen
	lfWait    bool  // response header line: d.line ends with a bare LF, next byte unseen
	swallow   uint8 // response header line complete; 1: a CR LF may follow to drop, 2: its LF
	lfcr      bool  // response header line ended with "LF CR"
	closed    bool
}

// Conn parses the two directions of one TCP connection. It is not safe for
// concurrent use; Reset makes it reusable for another connection without
// freeing its buffers.
type Conn struct {
	lim    Limits
	dirs   [2]direction // 0: to server, 1: to client
	q      []*Tx        // pending transactions, oldest first
	pool   []*Tx
	nextID uint64
	dec    decoder
	ts     int64
}

// keepWarm is how many recycled transactions Reset keeps.
const keepWarm = 4

// NewConn returns a Conn bounded by l (zero fields take the defaults).
func NewConn(l Limits) *Conn {
	c := &Conn{lim: l.sane()}
	c.Reset()
	return c
}

// Reset forgets the connection, keeping the buffers for reuse.
func (c *Conn) Reset() {
	c.pool = append(c.pool, c.q...)
	clear(c.q)
	c.q = c.q[:0]
	// Keep a few transactions warm; let the rest (and what they grew) go.
	if len(c.pool) > keepWarm {
		clear(c.pool[keepWarm:])
		c.pool = c.pool[:keepWarm]
	}
	for i := range c.dirs {
		d := &c.dirs[i]
		*d = direction{line: d.line[:0], hdr: d.hdr[:0], toServer: i == 0}
	}
	c.nextID = 0
}

// Limits returns the limits in force.
func (c *Conn) Limits() Limits { return c.lim }

// Pending returns the number of transactions not yet complete in both
// directions.
func (c *Conn) Pending() int { return len(c.q) }

func (c *Conn) dir(toServer bool) *direction {
	if toServer {
		return &c.dirs[0]
	}
	return &c.dirs[1]
}

// newTx starts a transaction at the end of the queue, dropping the oldest
// one past MaxTx.
func (c *Conn) newTx() *Tx {
	var evicted bool
	if len(c.q) >= c.lim.MaxTx {
		for i, t := range c.q {
			if t != c.dirs[0].tx && t != c.dirs[1].tx {
				c.release(i)
				evicted = true
				break
			}
		}
	}
	var t *Tx
	if n := len(c.pool); n > 0 {
		t = c.pool[n-1]
		c.pool = c.pool[:n-1]
	} else {
		t = new(Tx)
	}
	t.reset(c.nextID)
	c.nextID++
	t.StartNs = c.ts
	if evicted {
		t.Flags |= FlagTxEvicted
	}
	c.q = append(c.q, t)
	return t
}

func (c *Conn) release(i int) {
	t := c.q[i]
	copy(c.q[i:], c.q[i+1:])
	c.q[len(c.q)-1] = nil
	c.q = c.q[:len(c.q)-1]
	for j := range c.dirs {
		if c.dirs[j].tx == t {
			c.dirs[j].tx = nil
		}
	}
	c.pool = append(c.pool, t)
}

// maybeFree recycles t once both of its sides are complete.
func (c *Conn) maybeFree(t *Tx) {
	if !t.reqDone || !t.respDone {
		return
	}
	for i := range c.q {
		if c.q[i] == t {
			c.release(i)
			return
		}
	}
}

// Feed parses the next in-order bytes of one direction. emit is called for
// each progress point reached; the Tx is valid only during the call.
func (c *Conn) Feed(toServer bool, data []byte, tsNs int64, emit func(tx *Tx, p Progress)) {
	d := c.dir(toServer)
	c.ts = tsNs
	if d.deferred {
		c.finishDeferred(d, emit)
	}
	for len(data) > 0 {
		if d.tx != nil {
			d.tx.EndNs = tsNs
		}
		if d.wsPending {
			d.wsPending = false
			if data[0] != '\n' && (d.st == stHeaders || d.st == stTrailers) {
				c.endHeaders(d, emit)
				continue
			}
		}
		switch d.st {
		case stTunnel:
			return
		case stBodyCL, stChunkData:
			n := int64(len(data))
			if n > d.left {
				n = d.left
			}
			c.bodyData(d, data[:n], n)
			d.left -= n
			data = data[n:]
			if d.left == 0 {
				if d.st == stBodyCL {
					c.bodyDone(d, emit)
				} else {
					d.st = stChunkEnd
				}
			}
		case stChunkEnd:
			i := indexByte(data, '\n')
			if i < 0 {
				d.tx.msg(d.toServer).messageLen += int64(len(data))
				return
			}
			d.tx.msg(d.toServer).messageLen += int64(i + 1)
			data = data[i+1:]
			d.st = stChunkLen
		case stBodyClose:
			c.bodyData(d, data, int64(len(data)))
			data = nil
		default:
			if !toServer && d.st == stLine && d.tx == nil {
				if len(d.line) == 0 && !c.next09() {
					// Blank bytes between responses start no transaction.
					for len(data) > 0 && isSpace(data[0]) {
						data = data[1:]
					}
					if len(data) == 0 {
						return
					}
				}
				c.respBegin(d, emit)
			}
			if d.st == stChunkLen && chunkJunk(d.line, data) {
				// Not chunked after all (libhtp's data_probe_chunk_length):
				// the rest of the stream is body.
				d.tx.Flags |= FlagInvalidChunk
				d.tx.msg(toServer).chunked = false
				d.st = stBodyClose
				c.bodyData(d, d.line, int64(len(d.line)))
				d.line = d.line[:0]
				d.lineCut = false
				continue
			}
			var line, rest []byte
			var ok bool
			if !toServer && (d.st == stHeaders || d.st == stTrailers) {
				line, rest, ok = c.respHeaderLine(d, data)
			} else {
				line, rest, ok = c.nextLine(d, data, !toServer && (d.st == stLine || d.st == stJunk))
			}
			data = rest
			if !ok {
				return
			}
			cut := d.lineCut
			c.onLine(d, line, cut, emit)
			d.line = d.line[:0]
			d.lineCut = false
		}
	}
}

// nextLine returns a whole line, LF included, from the saved partial line
// and data; without an LF it saves data (bounded) and reports false. With
// crEnds (where a status line is expected) a CR followed by neither LF nor
// CR ends a line too, as libhtp has it for headers; "\r\r\n" is one line.
func (c *Conn) nextLine(d *direction, data []byte, crEnds bool) (line, rest []byte, ok bool) {
	if crEnds && !d.lineCut && len(d.line) > 0 && d.line[len(d.line)-1] == '\r' {
		switch data[0] {
		case '\n':
			c.saveLine(d, data[:1])
			return d.line, data[1:], true
		case '\r':
		default:
			return d.line, data, true
		}
	}
	i := bytes.IndexByte(data, '\n')
	if crEnds {
		i = crLineEnd(data, i)
	}
	if i < 0 {
		c.saveLine(d, data)
		return nil, nil, false
	}
	if len(d.line) == 0 && !d.lineCut {
		if i+1 > c.lim.MaxLineBytes {
			d.lineCut = true
			return data[:c.lim.MaxLineBytes], data[i+1:], true
		}
		return data[:i+1], data[i+1:], true
	}
	c.saveLine(d, data[:i+1])
	return d.line, data[i+1:], true
}

func (c *Conn) saveLine(d *direction, p []byte) {
	room := c.lim.MaxLineBytes - len(d.line)
	if len(p) > room {
		if room > 0 {
			d.line = append(d.line, p[:room]...)
		}
		d.lineCut = true
		return
	}
	d.line = append(d.line, p...)
}

// onLine handles one complete line in a line-oriented state.
func (c *Conn) onLine(d *direction, line []byte, cut bool, emit func(*Tx, Progress)) {
	switch d.st {
	case stLine:
		if d.toServer {
			c.requestLine(d, line, cut, emit)
		} else {
			c.statusLine(d, line, cut, emit)
		}
	case stJunk:
		d.st = stLine
		if looksLikeStatusLine(line) {
			d.tx.Flags |= FlagLeadingJunk
			c.statusLine(d, line, cut, emit)
			return
		}
		c.responseAsBody(d, emit)
		c.bodyData(d, line, int64(len(line)))
	case stProbe09:
		if looksLikeHeader(line) {
			d.tx.Flags |= FlagMissingProtocol
			d.tx.is09 = false
			d.st = stHeaders
			c.headerLine(d, line, cut, emit)
			return
		}
		c.finish09(d, emit)
		c.onLine(d, line, cut, emit)
	case stHeaders, stTrailers:
		c.headerLine(d, line, cut, emit)
	case stChunkLen:
		c.chunkLine(d, line, cut, emit)
	case stResync:
		if d.toServer && looksLikeRequestLine(line) || !d.toServer && looksLikeStatusLine(line) {
			d.st = stLine
			c.onLine(d, line, cut, emit)
		}
	}
}

// chomp removes line ends as htp_chomp does: LF or CRLF, repeatedly.
func chomp(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == '\n' {
		b = b[:len(b)-1]
		if len(b) > 0 && b[len(b)-1] == '\r' {
			b = b[:len(b)-1]
		}
	}
	return b
}

// chompCR is chomp for lines that a lone CR may end.
func chompCR(b []byte) []byte {
	b = chomp(b)
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return b
}

// isEmptyLine is htp_is_line_empty: "\n" or "\r\n".
func isEmptyLine(b []byte) bool {
	return len(b) == 1 && b[0] == '\n' || len(b) == 2 && b[0] == '\r' && b[1] == '\n'
}

// looksLikeHeader is libhtp's REQ_PROTOCOL probe: a colon before any
// whitespace that follows the name.
func looksLikeHeader(b []byte) bool {
	after := false
	for _, c := range b {
		switch {
		case c == ':':
			return true
		case isLWS(c):
			after = true
		case isSpace(c) || after:
			return false
		}
	}
	return false
}

func looksLikeRequestLine(b []byte) bool {
	b = chomp(b)
	i := 0
	for i < len(b) && (b[i] >= 'A' && b[i] <= 'Z' || b[i] >= 'a' && b[i] <= 'z' || b[i] == '-' || b[i] == '_') {
		i++
	}
	if i == 0 || i >= len(b) || b[i] != ' ' {
		return false
	}
	for j := i; j+6 <= len(b); j++ {
		if b[j] == ' ' && string(b[j+1:j+6]) == "HTTP/" {
			return true
		}
	}
	return false
}

func looksLikeStatusLine(b []byte) bool {
	b = trimSpace(b)
	return len(b) >= 5 && string(b[:5]) == "HTTP/"
}

// chunkJunk reports whether the first byte of a chunk-size line that is not
// a control byte is not a hex digit.
func chunkJunk(saved, data []byte) bool {
	for _, b := range [2][]byte{saved, data} {
		for _, ch := range b {
			if !isChunkCtl(ch) {
				return !isHex(ch)
			}
		}
	}
	return false
}

// crLineEnd returns where a line of data ends when a lone CR may end it:
// the first CR before lf (the LF index, -1 for none) that is followed by
// neither LF nor CR; lf otherwise, or -1 when data ends in a CR that the
// next byte must decide.
func crLineEnd(data []byte, lf int) int {
	end := lf
	if end < 0 {
		end = len(data)
	}
	off := 0
	for {
		j := bytes.IndexByte(data[off:end], '\r')
		if j < 0 {
			return lf
		}
		j += off
		if j+1 == len(data) {
			return -1
		}
		if data[j+1] != '\n' && data[j+1] != '\r' {
			return j
		}
		off = j + 1
	}
}

// next09 reports whether the next response belongs to an HTTP/0.9 request.
func (c *Conn) next09() bool {
	for _, t := range c.q {
		if !t.resp.started {
			return t.is09
		}
	}
	return false
}

// Current returns the transaction a direction is in: the one whose
// message it is parsing, else the oldest whose side is not complete;
// nil when there is none.
func (c *Conn) Current(toServer bool) *Tx {
	if t := c.dir(toServer).tx; t != nil {
		return t
	}
	for _, t := range c.q {
		if toServer && !t.reqDone || !toServer && !t.respDone {
			return t
		}
	}
	return nil
}
