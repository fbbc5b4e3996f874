package apphttp

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
)

// Content encodings.
const (
	encGzip byte = iota + 1
	encDeflate
)

// decoder decodes gzip and deflate bodies with one reused flate reader.
// The gzip and zlib framing is parsed by hand rather than with
// compress/gzip and compress/zlib: like zlib in libhtp (and browsers) we
// accept either framing under either name, raw deflate too, ignore the
// trailer checksums, and pass a body through unchanged when it is not
// compressed at all; the standard readers reject all of these.
type decoder struct {
	fr  io.ReadCloser
	src bytes.Reader
	tmp [2][]byte
}

// decode appends to out the decoded in, layer by layer in the order the
// header lists them (libhtp's order), keeping at most limit bytes and
// producing at most maxTotal bytes over all layers.
func (z *decoder) decode(out, in []byte, encs []byte, limit, maxTotal int, fl *Flag) []byte {
	budget := maxTotal
	for i := range encs {
		last := i == len(encs)-1
		capOut := encodedCap(limit)
		var dst []byte
		if last {
			capOut = limit
			dst = out[:0]
		} else {
			dst = z.tmp[i%2][:0]
		}
		res, produced, more, ok := z.inflate(dst, in, capOut, budget)
		if !ok {
			// Not (or not only) compressed: libhtp passes the data through.
			*fl |= FlagDecompressFailed
			n := min(len(in), max(capOut-len(res), 0))
			res = append(res, in[:n]...)
			more = len(in) > n
		} else {
			budget -= produced
			if more && budget <= 0 {
				*fl |= FlagDecompressionCut
				more = false
			}
		}
		if more {
			*fl |= FlagBodyTruncated
		}
		if last {
			return res
		}
		z.tmp[i%2] = res
		in = res
	}
	return out
}

var errNotCompressed = errors.New("not compressed")

// inflate decodes one layer. ok is false when nothing could be decoded.
// more reports that output was left when capOut or budget stopped it.
func (z *decoder) inflate(dst, in []byte, capOut, budget int) (out []byte, produced int, more, ok bool) {
	body, err := skipFraming(in)
	if err != nil {
		return dst, 0, false, false
	}
	z.src.Reset(body)
	if z.fr == nil {
		z.fr = flate.NewReader(&z.src)
	} else if err := z.fr.(flate.Resetter).Reset(&z.src, nil); err != nil {
		return dst, 0, false, false
	}
	stop := min(capOut, budget)
	var rerr error
	for produced < stop {
		if cap(dst)-len(dst) < 512 {
			dst = growBuf(dst, min(stop-produced, 32<<10))
		}
		room := min(cap(dst)-len(dst), stop-produced)
		n, e := z.fr.Read(dst[len(dst) : len(dst)+room])
		dst = dst[:len(dst)+n]
		produced += n
		if e != nil {
			rerr = e
			break
		}
	}
	if rerr == nil && produced >= stop {
		var one [1]byte
		n, _ := z.fr.Read(one[:])
		more = n > 0
	}
	if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
		// Corrupt data: libhtp passes the failing input through raw after
		// what it decoded (the whole body here, our unit of input).
		return dst, produced, false, false
	}
	return dst, produced, more, true
}

// growBuf returns b with room for at least n more bytes.
func growBuf(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), len(b)+max(n, len(b)))
	copy(nb, b)
	return nb
}

// skipFraming strips a gzip header (RFC 1952, flags honoured, reserved
// bits ignored) or a zlib header (RFC 1950) and returns the deflate data.
// Data with neither is raw deflate (libhtp restarts zlib that way).
func skipFraming(b []byte) ([]byte, error) {
	if len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
		if len(b) < 10 {
			return nil, errNotCompressed
		}
		flg := b[3]
		p := 10
		if flg&0x04 != 0 {
			if len(b) < p+2 {
				return nil, errNotCompressed
			}
			p += 2 + (int(b[p]) | int(b[p+1])<<8)
		}
		if flg&0x08 != 0 {
			for p < len(b) && b[p] != 0 {
				p++
			}
			p++
		}
		if flg&0x10 != 0 {
			for p < len(b) && b[p] != 0 {
				p++
			}
			p++
		}
		if flg&0x02 != 0 {
			p += 2
		}
		if p > len(b) {
			return nil, errNotCompressed
		}
		return b[p:], nil
	}
	if len(b) >= 2 && b[0]&0x0f == 8 && b[0]>>4 <= 7 && (uint16(b[0])<<8|uint16(b[1]))%31 == 0 && b[1]&0x20 == 0 {
		return b[2:], nil
	}
	return b, nil
}
