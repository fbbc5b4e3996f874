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
	for i < len(data) {
		b := data[i]
		if d.crWait {
			d.crWait = false
			switch b {
			case '\n':
				c.saveLine(d, data[i:i+1])
				i++
				if d.lfcr && i < len(data) && data[i] == '\r' {
					i++
					if i < len(data) && data[i] == '\n' {
						i++
					}
				}
				d.lfcr = false
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
			if i < len(data) && data[i] == '\r' {
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
