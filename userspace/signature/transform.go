package signature

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"

	"github.com/xdpids/xdpids/userspace/signature/rules"
)

// transformer applies a buffer's transforms (dotprefix, to_lowercase,
// url_decode, to_sha256...) into two buffers it reuses, so that a
// transaction's buffers are transformed without allocating in the steady
// state. Hand-written: each transform is a few lines of Suricata's
// definition, no library offers these.
type transformer struct {
	buf [2][]byte
}

// apply returns src after xf; the result aliases the transformer until
// its next apply. Step i writes into buf[i%2] and reads the previous
// step's buffer (or src), so no step reads what it writes.
func (t *transformer) apply(xf []rules.Transform, src []byte) []byte {
	cur := src
	for i, x := range xf {
		t.buf[i%2] = transformOne(t.buf[i%2][:0], x, cur)
		cur = t.buf[i%2]
	}
	return cur
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func transformOne(dst []byte, x rules.Transform, src []byte) []byte {
	switch x.Kind {
	case rules.XfDotPrefix:
		dst = append(dst, '.')
		return append(dst, src...)
	case rules.XfStripWhitespace:
		for _, c := range src {
			if !isSpace(c) {
				dst = append(dst, c)
			}
		}
	case rules.XfCompressWhitespace:
		for i, c := range src {
			if isSpace(c) && i > 0 && isSpace(src[i-1]) {
				continue
			}
			dst = append(dst, c)
		}
	case rules.XfToLower:
		return lowerInto(dst, src)
	case rules.XfToUpper:
		for _, c := range src {
			if c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
		}
	case rules.XfURLDecode:
		for i := 0; i < len(src); i++ {
			c := src[i]
			switch {
			case c == '+':
				c = ' '
			case c == '%' && i+2 < len(src) && isHexDigit(src[i+1]) && isHexDigit(src[i+2]):
				c = unhex(src[i+1])<<4 | unhex(src[i+2])
				i += 2
			}
			dst = append(dst, c)
		}
	case rules.XfSHA256:
		h := sha256.Sum256(src)
		return append(dst, h[:]...)
	case rules.XfMD5:
		h := md5.Sum(src)
		return append(dst, h[:]...)
	case rules.XfSHA1:
		h := sha1.Sum(src)
		return append(dst, h[:]...)
	case rules.XfHeaderLowercase:
		name := true
		for _, c := range src {
			switch {
			case c == '\n':
				name = true
			case c == ':':
				name = false
			case name && c >= 'A' && c <= 'Z':
				c += 'a' - 'A'
			}
			dst = append(dst, c)
		}
	case rules.XfStripPseudoHeaders:
		for len(src) > 0 {
			line := src
			if i := bytes.IndexByte(src, '\n'); i >= 0 {
				line = src[:i+1]
			}
			src = src[len(line):]
			if len(line) > 0 && line[0] != ':' {
				dst = append(dst, line...)
			}
		}
	case rules.XfXor:
		for i, c := range src {
			dst = append(dst, c^x.Key[i%len(x.Key)])
		}
	case rules.XfPcrexform:
		if m := x.Re.FindSubmatchIndex(src); m != nil && m[2] >= 0 {
			return append(dst, src[m[2]:m[3]]...)
		}
	}
	return dst
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
