package apptls

import (
	"crypto/md5"
	"crypto/sha256"
	"slices"
	"strconv"
)

// fingerprint is a JA3 or JA3S string and its MD5.
type fingerprint struct {
	ok   bool
	str  []byte
	hash [32]byte
}

func (f *fingerprint) reset() { f.ok, f.str = false, f.str[:0] }

func (f *fingerprint) finish() {
	sum := md5.Sum(f.str)
	for i, v := range sum {
		f.hash[2*i], f.hash[2*i+1] = hexLower[v>>4], hexLower[v&15]
	}
	f.ok = true
}

// appendList appends decimal values joined by '-', GREASE left out.
func appendList(dst []byte, vs []uint16) []byte {
	n := 0
	for _, v := range vs {
		if isGREASE(v) {
			continue
		}
		if n > 0 {
			dst = append(dst, '-')
		}
		dst = strconv.AppendUint(dst, uint64(v), 10)
		n++
	}
	return dst
}

// computeJA3 builds JA3 from the ClientHello (salesforce/ja3, as
// Suricata: "version,ciphers,extensions,groups,point formats", decimal,
// GREASE left out of ciphers, extensions and groups).
func (c *Conn) computeJA3() {
	h := &c.ch
	f := &c.ja3
	f.str = strconv.AppendUint(f.str[:0], uint64(h.Version), 10)
	f.str = append(f.str, ',')
	f.str = appendList(f.str, h.CipherSuites)
	f.str = append(f.str, ',')
	f.str = appendList(f.str, h.Extensions)
	f.str = append(f.str, ',')
	f.str = appendList(f.str, h.SupportedGroups)
	f.str = append(f.str, ',')
	for i, v := range h.ECPointFormats {
		if i > 0 {
			f.str = append(f.str, '-')
		}
		f.str = strconv.AppendUint(f.str, uint64(v), 10)
	}
	f.finish()
}

// computeJA3S builds JA3S from the ServerHello: "version,cipher,extensions".
func (c *Conn) computeJA3S() {
	h := &c.sh
	f := &c.ja3s
	f.str = strconv.AppendUint(f.str[:0], uint64(h.Version), 10)
	f.str = append(f.str, ',')
	f.str = appendList(f.str, h.CipherSuites)
	f.str = append(f.str, ',')
	f.str = appendList(f.str, h.Extensions)
	f.finish()
}

// ja4Version is Suricata's version_to_ja4code.
func ja4Version(v uint16) string {
	switch v {
	case 0x0304:
		return "13"
	case 0x0303:
		return "12"
	case 0x0302:
		return "11"
	case 0x0301:
		return "10"
	case 0x0300:
		return "s3"
	}
	return "00"
}

// computeJA4 builds FoxIO's JA4 (TCP) from the ClientHello as Suricata's
// rust/src/ja4.rs does: the version is the highest of the legacy version
// and the first valid supported_versions entry; the extension count
// includes SNI and ALPN, the hashed list does not; the ALPN part is the
// first and last byte of the first ALPN value ("00" if none or shorter
// than two bytes, or GREASE); counts stop at 99; hashes are the first 12
// hex digits of SHA-256 ("e3b0c44298fc" for an empty list).
func (c *Conn) computeJA4() {
	h := &c.ch
	var ver uint16
	for _, v := range []uint16{h.Version, c.firstValidVersion()} {
		if !isGREASE(v) && v > ver {
			ver = v
		}
	}
	sni := byte('i')
	nExt := 0
	c.scratch = c.scratch[:0]
	for _, e := range h.Extensions {
		if isGREASE(e) {
			continue
		}
		nExt++
		switch e {
		case extServerName:
			sni = 'd'
		case extALPN:
		default:
			c.scratch = append(c.scratch, e)
		}
	}
	nCipher := 0
	for _, v := range h.CipherSuites {
		if !isGREASE(v) {
			nCipher++
		}
	}
	alpn := [2]byte{'0', '0'}
	if len(h.ALPN) > 0 {
		if a := h.ALPN[0]; len(a) > 1 && !(len(a) == 2 && isGREASE(uint16(a[0])<<8|uint16(a[1]))) {
			alpn = [2]byte{a[0], a[len(a)-1]}
		}
	}
	out := c.ja4[:0]
	out = append(out, 't')
	out = append(out, ja4Version(ver)...)
	out = append(out, sni)
	out = appendTwoDigits(out, min(nCipher, 99))
	out = appendTwoDigits(out, min(nExt, 99))
	out = append(out, alpn[0], alpn[1], '_')

	// JA4_b: sorted ciphers.
	exts := len(c.scratch)
	for _, v := range h.CipherSuites {
		if !isGREASE(v) {
			c.scratch = append(c.scratch, v)
		}
	}
	ciphers := c.scratch[exts:]
	slices.Sort(ciphers)
	b := appendHex4List(c.scratchB[:0], ciphers)
	out = appendHash12(out, b)
	out = append(out, '_')

	// JA4_c: sorted extensions, '_', signature algorithms in wire order.
	slices.Sort(c.scratch[:exts])
	b = appendHex4List(b[:0], c.scratch[:exts])
	b = append(b, '_')
	n := 0
	for _, v := range h.SignatureAlgorithms {
		if isGREASE(v) {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = appendHex4(b, v)
		n++
	}
	out = appendHash12(out, b)
	c.scratchB = b
	c.hasJA4 = len(out) == len(c.ja4)
}

func (c *Conn) firstValidVersion() uint16 {
	for _, v := range c.ch.SupportedVersions {
		if versionValid(v) {
			return v
		}
	}
	return 0
}

func appendTwoDigits(dst []byte, v int) []byte { return append(dst, byte('0'+v/10), byte('0'+v%10)) }

func appendHex4(dst []byte, v uint16) []byte {
	return append(dst, hexLower[v>>12], hexLower[v>>8&15], hexLower[v>>4&15], hexLower[v&15])
}

func appendHex4List(dst []byte, vs []uint16) []byte {
	for i, v := range vs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendHex4(dst, v)
	}
	return dst
}

func appendHash12(dst, b []byte) []byte {
	sum := sha256.Sum256(b)
	for _, v := range sum[:6] {
		dst = append(dst, hexLower[v>>4], hexLower[v&15])
	}
	return dst
}

// JA3 is the JA3 string and its MD5 (lower hex); ok is false before a
// complete ClientHello. The slices are the Conn's storage.
func (c *Conn) JA3() (str, hash []byte, ok bool) {
	if !c.ja3.ok {
		return nil, nil, false
	}
	return c.ja3.str, c.ja3.hash[:], true
}

// JA3S is the JA3S string and its MD5, as JA3.
func (c *Conn) JA3S() (str, hash []byte, ok bool) {
	if !c.ja3s.ok {
		return nil, nil, false
	}
	return c.ja3s.str, c.ja3s.hash[:], true
}

// JA4 is the JA4 fingerprint (36 bytes, e.g. "t13d1516h2_8daaf6152771_e5627efa2ab1").
func (c *Conn) JA4() ([]byte, bool) {
	if !c.hasJA4 {
		return nil, false
	}
	return c.ja4[:], true
}
