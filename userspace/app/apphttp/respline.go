package apphttp

import "bytes"

// respHeaderLine returns the next response header line (copied into
// d.line, bounded) as libhtp's htp_connp_RES_HEADERS splits them:
//   - LF ends a line, and a CR right after it belongs to that line end;
//   - CR LF ends a line; after an "LF CR" ending, the CR LF of the next
//     (empty) line swallows one more CR LF ("\n\r\r\n\r\n" is two line ends);
//   - CR CR: the first CR is an ordinary byte;
//   - CR before any other byte ends the line, except that a line of one CR
//     is no line and joins the next.
//
// ok is false when data ran out first; the partial line stays in d.line.
func (c *Conn) respHeaderLine(d *direction, data []byte) (line, rest []byte, ok bool) {
	i := 0
	if d.swallow > 0 {
		// A complete line, after which a CR LF is swallowed (see above);
		// waiting keeps the result independent of the split.
		st := d.swallow
		d.swallow = 0
		if st == 1 {
			if data[0] != '\r' {
				return d.line, data, true
			}
			i = 1
			if i == len(data) {
				d.swallow = 2
				return nil, nil, false
			}
		}
		if data[i] == '\n' {
			i++
		}
		return d.line, data[i:], true
	}
	if d.lfWait {
		// The saved line ends with a bare LF: a CR right after it is part
		// of the line end. Waiting for that byte keeps the result
		// independent of how the stream is split (libhtp peeks only within
		// the data at hand).
		d.lfWait = false
		if data[0] == '\r' {
			c.saveLine(d, data[:1])
			d.lfcr = true
			return d.line, data[1:], true
		}
		return d.line, data, true
	}
	for i < len(data) {
		b := data[i]
		if d.crWait {
			d.crWait = false
			switch b {
			case '\n':
				c.saveLine(d, data[i:i+1])
				i++
				if d.lfcr {
					d.lfcr = false
					if i == len(data) {
						d.swallow = 1
						return nil, nil, false
					}
					if data[i] == '\r' {
						i++
						if i == len(data) {
							d.swallow = 2
							return nil, nil, false
						}
						if data[i] == '\n' {
							i++
						}
					}
				}
				return d.line, data[i:], true
			case '\r':
				continue // the saved CR was an ordinary byte; this one is looked at anew
			default:
				d.lfcr = false
				if len(d.line) < 2 {
					continue // a line of one CR joins the next
				}
				return d.line, data[i:], true
			}
		}
		switch b {
		case '\r':
			c.saveLine(d, data[i:i+1])
			i++
			d.crWait = true
		case '\n':
			c.saveLine(d, data[i:i+1])
			i++
			d.lfcr = false
			if i == len(data) {
				d.lfWait = true
				return nil, nil, false
			}
			if data[i] == '\r' {
				c.saveLine(d, data[i:i+1])
				i++
				d.lfcr = true
			}
			return d.line, data[i:], true
		default:
			d.lfcr = false
			j := bytes.IndexAny(data[i:], "\r\n")
			if j < 0 {
				j = len(data) - i
			}
			c.saveLine(d, data[i:i+j])
			i += j
		}
	}
	return nil, nil, false
}
