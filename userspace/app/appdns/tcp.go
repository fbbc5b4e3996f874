package appdns

// TCPConn frames DNS over TCP (RFC 1035 section 4.2.2, RFC 7766): each
// message follows a 2-byte length, in both directions, split anywhere by
// the stream. It buffers at most one message per direction (MaxMessage).
type TCPConn struct {
	dir [2]tcpDir
	msg Message
}

type tcpDir struct {
	lenBuf [2]byte
	lenN   int
	want   int    // message length being collected (0: reading the length)
	buf    []byte // message bytes so far (cap grows to the largest message)
	gap    bool   // lost bytes: resynchronise on the next plausible message
	// Counters.
	messages, malformed, gaps uint64
}

// TCPStats are a direction's counters.
type TCPStats struct {
	Messages  uint64 // messages framed and parsed without error
	Malformed uint64 // messages that did not parse (emitted too, with Events)
	Gaps      uint64 // gaps (lost bytes) seen
}

func (c *TCPConn) d(toServer bool) *tcpDir {
	if toServer {
		return &c.dir[0]
	}
	return &c.dir[1]
}

// Stats returns a direction's counters.
func (c *TCPConn) Stats(toServer bool) TCPStats {
	d := c.d(toServer)
	return TCPStats{Messages: d.messages, Malformed: d.malformed, Gaps: d.gaps}
}

// Reset clears c for a new connection, keeping its buffers.
func (c *TCPConn) Reset() {
	for i := range c.dir {
		b := c.dir[i].buf[:0]
		c.dir[i] = tcpDir{buf: b}
	}
	c.msg.Reset()
}

// Feed consumes the next bytes of one direction and calls emit for every
// complete message, parsed into a Message owned by c (valid during the
// call). Malformed messages are emitted too, with MalformedData in their
// Events, so the caller can raise the event; a zero-length message is
// skipped.
func (c *TCPConn) Feed(toServer bool, data []byte, emit func(m *Message, toServer bool)) {
	d := c.d(toServer)
	if d.gap {
		// As Suricata after a gap: wait for data that starts like a DNS
		// message (a length and a header of the right direction).
		if !plausible(toServer, data) {
			return
		}
		d.gap = false
	}
	for len(data) > 0 {
		if d.want == 0 {
			n := copy(d.lenBuf[d.lenN:], data)
			d.lenN += n
			data = data[n:]
			if d.lenN < 2 {
				return
			}
			d.lenN = 0
			d.want = int(d.lenBuf[0])<<8 | int(d.lenBuf[1])
			d.buf = d.buf[:0]
			if d.want == 0 {
				continue
			}
		}
		if len(d.buf) == 0 && len(data) >= d.want {
			// The whole message is in data: parse it in place.
			c.parse(d, data[:d.want], toServer, emit)
			data = data[d.want:]
			d.want = 0
			continue
		}
		n := min(d.want-len(d.buf), len(data))
		d.buf = append(d.buf, data[:n]...)
		data = data[n:]
		if len(d.buf) == d.want {
			c.parse(d, d.buf, toServer, emit)
			d.want = 0
			d.buf = d.buf[:0]
		}
	}
}

func (c *TCPConn) parse(d *tcpDir, b []byte, toServer bool, emit func(*Message, bool)) {
	if err := c.msg.Parse(b); err != nil {
		d.malformed++
	} else {
		d.messages++
	}
	if emit != nil {
		emit(&c.msg, toServer)
	}
}

// Gap tells c that n bytes of one direction were lost: the message being
// collected is dropped and framing resumes at the next data that starts
// like a DNS message.
func (c *TCPConn) Gap(toServer bool, n int) {
	if n <= 0 {
		return
	}
	d := c.d(toServer)
	d.gaps++
	d.gap = true
	d.want, d.lenN = 0, 0
	d.buf = d.buf[:0]
}

// plausible reports whether data starts with a length prefix and a DNS
// header of the direction's kind: QR fits, an assigned opcode, and 1 to 32
// questions (a response may have none with an error rcode). The same test
// as appproto's TCP probe, repeated since the packages stay independent.
func plausible(toServer bool, data []byte) bool {
	if len(data) < 2+12 {
		return false
	}
	n := int(data[0])<<8 | int(data[1])
	if n < 12 {
		return false
	}
	h := data[2:]
	flags := uint16(h[2])<<8 | uint16(h[3])
	qr := flags&0x8000 != 0
	if qr == toServer {
		return false
	}
	switch (flags >> 11) & 0xf {
	case 0, 1, 2, 4, 5:
	default:
		return false
	}
	qd := int(h[4])<<8 | int(h[5])
	if qd == 0 {
		return qr && flags&0xf != 0
	}
	return qd <= 32
}
