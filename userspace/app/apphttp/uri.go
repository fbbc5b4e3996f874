package apphttp

// URI handling follows libhtp's htp_parse_uri, htp_decode_path_inplace,
// htp_utf8_decode_path_inplace and htp_normalize_uri_path_inplace with the
// decoder settings of Suricata's default configuration (personality IDS:
// %u decoding, backslash to slash, %2f decoding, slash compression, UTF-8
// best-fit; lower-casing off, invalid %-encoding preserved), and Suricata's
// SCHTPGenerateNormalizedUri, which appends the query URL-decoded ('+' kept)
// and the fragment.

// uriParts are byte ranges of a request URI; -1 start means absent.
type uriParts struct {
	scheme, host, port, path, query, frag [2]int
}

func absent() [2]int { return [2]int{-1, -1} }

func indexByte(b []byte, c byte) int {
	for i := range b {
		if b[i] == c {
			return i
		}
	}
	return -1
}

// parseURI splits a request URI as htp_parse_uri does.
func parseURI(d []byte) uriParts {
	u := uriParts{absent(), absent(), absent(), absent(), absent(), absent()}
	n := len(d)
	if n == 0 {
		return u
	}
	pos := 0
	if d[0] != '/' {
		i := indexByte(d, ':')
		if i >= 0 {
			u.scheme = [2]int{0, i}
			pos = i + 1
		}
	}
	if u.scheme[0] >= 0 && pos+2 < n && d[pos] == '/' && d[pos+1] == '/' && d[pos+2] != '/' {
		start := pos + 2
		pos = start
		for pos < n && d[pos] != '?' && d[pos] != '/' && d[pos] != '#' {
			pos++
		}
		hs, he := start, pos
		if at := indexByte(d[start:pos], '@'); at >= 0 {
			hs = start + at + 1
		}
		if hs < he && d[hs] == '[' {
			if rb := indexByte(d[hs:he], ']'); rb < 0 {
				u.host = [2]int{hs, he}
			} else {
				u.host = [2]int{hs, hs + rb + 1}
				if c := indexByte(d[hs+rb+1:he], ':'); c >= 0 {
					u.port = [2]int{hs + rb + 1 + c + 1, he}
				}
			}
		} else {
			if c := indexByte(d[hs:he], ':'); c >= 0 {
				u.port = [2]int{hs + c + 1, he}
				he = hs + c
			}
			u.host = [2]int{hs, he}
		}
	}
	start := pos
	for pos < n && d[pos] != '?' && d[pos] != '#' {
		pos++
	}
	u.path = [2]int{start, pos}
	if pos == n {
		return u
	}
	if d[pos] == '?' {
		start = pos + 1
		for pos < n && d[pos] != '#' {
			pos++
		}
		u.query = [2]int{start, pos}
		if pos == n {
			return u
		}
	}
	if d[pos] == '#' {
		u.frag = [2]int{pos + 1, n}
	}
	return u
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func x2c(a, b byte) byte { return unhex(a)<<4 | unhex(b) }

// bestFit maps a code point to one byte as libhtp's best-fit map does for
// the cases that matter to evasion: Latin-1 maps to itself and the
// full-width ASCII forms U+FF01..U+FF5E to ASCII. libhtp's table maps more
// (Windows best-fit); everything else becomes the replacement byte '?'.
func bestFit(cp uint32) byte {
	switch {
	case cp < 0x100:
		return byte(cp)
	case cp >= 0xff01 && cp <= 0xff5e:
		return byte(cp - 0xff01 + 0x21)
	}
	return '?'
}

// decodePath appends the %-decoded, separator-normalised path to out and
// records path anomalies in *fl (htp_decode_path_inplace).
func decodePath(out, p []byte, fl *Flag) []byte {
	prevSep := false
	n := len(p)
	for r := 0; r < n; {
		c := p[r]
		if c == '%' {
			switch {
			case r+2 < n && (p[r+1] == 'u' || p[r+1] == 'U'):
				if r+5 < n && isHex(p[r+2]) && isHex(p[r+3]) && isHex(p[r+4]) && isHex(p[r+5]) {
					c1, c2 := x2c(p[r+2], p[r+3]), x2c(p[r+4], p[r+5])
					if c1 == 0 {
						c = c2
						*fl |= FlagPathOverlongU
					} else {
						if c1 == 0xff {
							*fl |= FlagPathHalfFullRange
						}
						c = bestFit(uint32(c1)<<8 | uint32(c2))
					}
					if c == 0 {
						*fl |= FlagPathEncodedNUL
					}
					if c == '/' || c == '\\' {
						*fl |= FlagPathEncodedSeparator
					}
					r += 6
				} else {
					*fl |= FlagPathInvalidEncoding
					r++ // keep the '%'
				}
			case r+2 < n && isHex(p[r+1]) && isHex(p[r+2]):
				c = x2c(p[r+1], p[r+2])
				if c == 0 {
					*fl |= FlagPathEncodedNUL
				}
				if c == '/' || c == '\\' {
					*fl |= FlagPathEncodedSeparator
				}
				r += 3
			default:
				*fl |= FlagPathInvalidEncoding
				r++
			}
		} else {
			r++
		}
		if c == '\\' {
			c = '/'
		}
		if c == '/' {
			if prevSep {
				continue
			}
			prevSep = true
		} else {
			prevSep = false
		}
		out = append(out, c)
	}
	return out
}

// utf8BestFit decodes UTF-8 (overlong forms allowed) in b in place into one
// byte per character (htp_utf8_decode_path_inplace) and returns the new
// length.
func utf8BestFit(b []byte, fl *Flag) []byte {
	w := 0
	n := len(b)
	for r := 0; r < n; {
		c := b[r]
		if c < 0x80 {
			b[w] = c
			w++
			r++
			continue
		}
		var need int
		var cp uint32
		switch {
		case c&0xe0 == 0xc0:
			need, cp = 1, uint32(c&0x1f)
		case c&0xf0 == 0xe0:
			need, cp = 2, uint32(c&0x0f)
		case c&0xf8 == 0xf0 && c <= 0xf4:
			need, cp = 3, uint32(c&0x07)
		default:
			// Invalid lead byte: one replacement byte, consume it.
			*fl |= FlagPathUTF8Invalid
			b[w] = '?'
			w++
			r++
			continue
		}
		k := 1
		for ; k <= need && r+k < n; k++ {
			if b[r+k]&0xc0 != 0x80 {
				break
			}
			cp = cp<<6 | uint32(b[r+k]&0x3f)
		}
		if k <= need {
			if r+k >= n {
				// Truncated sequence at the end: libhtp drops it.
				r = n
				break
			}
			// Invalid continuation: replacement byte; the offending byte
			// starts the next character.
			*fl |= FlagPathUTF8Invalid
			b[w] = '?'
			w++
			r += k
			continue
		}
		if need == 1 && cp < 0x80 || need == 2 && cp < 0x800 || need == 3 && cp < 0x10000 {
			*fl |= FlagPathUTF8Overlong
		}
		if cp >= 0xff00 && cp <= 0xffef {
			*fl |= FlagPathHalfFullRange
		}
		if cp > 0xffff {
			b[w] = '?'
		} else {
			b[w] = bestFit(cp)
		}
		w++
		r += need + 1
	}
	return b[:w]
}

// removeDots applies RFC 3986 remove_dot_segments in place, as libhtp's
// htp_normalize_uri_path_inplace does (including its handling of a trailing
// "/." and "/..", which drops the final slash).
func removeDots(d []byte) []byte {
	n := len(d)
	r, w := 0, 0
	c := -1
	for r < n && w < n {
		if c == -1 {
			c = int(d[r])
			r++
		}
		if c == '.' {
			if r+1 < n && d[r] == '.' && d[r+1] == '/' {
				c = -1
				r += 2
				continue
			} else if r < n && d[r] == '/' {
				c = -1
				r++
				continue
			}
		}
		if c == '/' {
			if r+1 < n && d[r] == '.' && d[r+1] == '/' {
				r += 2
				continue
			} else if r+1 == n && d[r] == '.' {
				r++
				continue
			}
			if r+2 < n && d[r] == '.' && d[r+1] == '.' && d[r+2] == '/' {
				r += 3
				for w > 0 && d[w-1] != '/' {
					w--
				}
				if w > 0 {
					w--
				}
				continue
			} else if r+2 == n && d[r] == '.' && d[r+1] == '.' {
				r += 2
				for w > 0 && d[w-1] != '/' {
					w--
				}
				if w > 0 {
					w--
				}
				continue
			}
		}
		if c == '.' && r == n {
			r++
			continue
		}
		if c == '.' && r+1 == n && d[r] == '.' {
			r += 2
			continue
		}
		d[w] = byte(c)
		w++
		for r < n && d[r] != '/' && w < n {
			d[w] = d[r]
			w++
			r++
		}
		c = -1
	}
	return d[:w]
}

// urlDecode appends the URL-decoded b (libhtp's HTP_DECODER_URLENCODED with
// Suricata's settings: no '+' to space, no %u, invalid encodings kept).
func urlDecode(out, b []byte) []byte {
	n := len(b)
	for r := 0; r < n; {
		c := b[r]
		if c == '%' && r+2 < n && isHex(b[r+1]) && isHex(b[r+2]) {
			out = append(out, x2c(b[r+1], b[r+2]))
			r += 3
			continue
		}
		out = append(out, c)
		r++
	}
	return out
}

// normalizeURI writes http.uri for raw into out: the normalised path, then
// "?" and the decoded query, then "#" and the decoded fragment.
func normalizeURI(out, raw []byte, u uriParts, fl *Flag) []byte {
	if u.path[0] >= 0 {
		s := len(out)
		out = decodePath(out, raw[u.path[0]:u.path[1]], fl)
		p := utf8BestFit(out[s:], fl)
		p = removeDots(p)
		out = out[:s+len(p)]
	}
	if u.query[0] >= 0 {
		out = append(out, '?')
		out = urlDecode(out, raw[u.query[0]:u.query[1]])
	}
	if u.frag[0] >= 0 {
		out = append(out, '#')
		out = urlDecode(out, raw[u.frag[0]:u.frag[1]])
	}
	return out
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'
}

func isLWS(c byte) bool { return c == ' ' || c == '\t' }

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// splitHostPort splits an authority as htp_parse_hostport does: the host
// (IPv6 in brackets kept), the port text, and whether it is invalid.
func splitHostPort(b []byte) (host, port []byte, hasPort, invalid bool) {
	b = trimSpace(b)
	if len(b) == 0 {
		return nil, nil, false, true
	}
	if b[0] == '[' {
		rb := indexByte(b, ']')
		if rb < 0 {
			return nil, nil, false, true
		}
		host = b[:rb+1]
		rest := b[rb+1:]
		if len(rest) == 0 {
			return host, nil, false, false
		}
		if rest[0] != ':' {
			return host, nil, false, true
		}
		return host, rest[1:], true, false
	}
	c := indexByte(b, ':')
	if c < 0 {
		return b, nil, false, false
	}
	h := b[:c]
	for len(h) > 0 && isSpace(h[len(h)-1]) {
		h = h[:len(h)-1]
	}
	return h, b[c+1:], true, false
}

// parsePort parses a port as libhtp does: digits with optional LWS, 1..65535.
func parsePort(b []byte) (int, bool) {
	b = trimLWS(b)
	if len(b) == 0 {
		return 0, false
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
		if v > 65535 {
			return 0, false
		}
	}
	return v, v > 0
}

func trimLWS(b []byte) []byte {
	for len(b) > 0 && isLWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isLWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// appendHostNorm appends the normalised host: lower-cased, trailing dots
// removed (htp_normalize_hostname_inplace).
func appendHostNorm(out, h []byte) []byte {
	s := len(out)
	for _, c := range h {
		out = append(out, lower(c))
	}
	for len(out) > s && out[len(out)-1] == '.' {
		out = out[:len(out)-1]
	}
	return out
}

// validHostname follows htp_validate_hostname loosely: not empty, no
// spaces or control bytes, labels not starting with '.'.
func validHostname(h []byte) bool {
	if len(h) == 0 || len(h) > 255 {
		return false
	}
	if h[0] == '[' {
		return h[len(h)-1] == ']'
	}
	if h[0] == '.' {
		return false
	}
	for _, c := range h {
		if c <= 0x20 || c >= 0x7f || c == '/' || c == '?' || c == '#' || c == '@' {
			return false
		}
	}
	return true
}
