package apptls

import (
	"golang.org/x/crypto/cryptobyte"
)

// Hello is a parsed ClientHello or ServerHello. Slices point into the
// Conn's own storage: valid until Reset, not to be changed.
type Hello struct {
	Seen    bool
	SSLv2   bool   // an SSLv2(-compatible) hello
	Version uint16 // the legacy_version field
	Random  [32]byte
	// SessionID is the legacy_session_id (SSLv2: the session id).
	SessionID []byte
	// CipherSuites in wire order, GREASE included (ServerHello: the one
	// chosen). SSLv2 cipher specs are three bytes: those of the form
	// 00 XX YY appear as 0xXXYY, the others are left out.
	CipherSuites []uint16
	Compression  []uint8
	// Extensions are the extension types in wire order, GREASE included.
	Extensions          []uint16
	SupportedVersions   []uint16 // supported_versions (ServerHello: the selected one)
	SignatureAlgorithms []uint16
	SupportedGroups     []uint16 // supported_groups (elliptic_curves)
	ECPointFormats      []uint8
	SNI                 []byte // the first host_name of server_name
	ALPN                [][]byte
	SessionTicket       bool // session_ticket extension present
	EarlyData           bool // early_data extension present
	// Complete is false when the hello ended early or was malformed; the
	// fields up to the fault are kept, the fingerprints are not computed.
	Complete bool

	sid     [32]byte
	sniBuf  []byte
	alpnBuf []byte
}

func (h *Hello) reset() {
	*h = Hello{
		CipherSuites:        h.CipherSuites[:0],
		Compression:         h.Compression[:0],
		Extensions:          h.Extensions[:0],
		SupportedVersions:   h.SupportedVersions[:0],
		SignatureAlgorithms: h.SignatureAlgorithms[:0],
		SupportedGroups:     h.SupportedGroups[:0],
		ECPointFormats:      h.ECPointFormats[:0],
		ALPN:                h.ALPN[:0],
		sniBuf:              h.sniBuf[:0],
		alpnBuf:             h.alpnBuf[:0],
	}
}

// Extension types used here.
const (
	extServerName          = 0
	extSupportedGroups     = 10
	extECPointFormats      = 11
	extSignatureAlgorithms = 13
	extALPN                = 16
	extSessionTicket       = 35
	extEarlyData           = 42
	extSupportedVersions   = 43
)

// isGREASE reports RFC 8701's reserved values.
func isGREASE(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }

// versionValid is Suricata's TLSVersionValid: the versions a
// supported_versions entry may name for it to count.
func versionValid(v uint16) bool {
	switch {
	case v >= 0x0300 && v <= 0x0304:
		return true
	case v >= 0x7f10 && v <= 0x7f1c, v == 0x7f01:
		return true
	case v == 0xfb14 || v == 0xfb15 || v == 0xfb16 || v == 0xfb17 || v == 0xfb1a:
		return true
	}
	return false
}

// helloVersion maps a hello's legacy_version as Suricata does: early
// TLS 1.3 drafts (0x7f01..0x7f0f, and 0x0304 in the version field) become
// "draft <16".
func helloVersion(v uint16) uint16 {
	if (v >= 0x7f01 && v < 0x7f10) || v == 0x0304 {
		return 0x7f01
	}
	return v
}

// parseClientHello fills c.ch from a ClientHello body (RFC 8446 4.1.2).
func (c *Conn) parseClientHello(body []byte) {
	h := &c.ch
	h.Seen = true
	c.cli.hello = true
	s := cryptobyte.String(body)
	var random, sid, cs, comp []byte
	if !s.ReadUint16(&h.Version) {
		c.anomaly |= AnomalyHandshakeInvalidLength
		return
	}
	c.cli.version = helloVersion(h.Version)
	if !s.ReadBytes(&random, 32) || !readU8Prefixed(&s, &sid) || len(sid) > 32 ||
		!readU16Prefixed(&s, &cs) || len(cs)%2 != 0 || !readU8Prefixed(&s, &comp) {
		c.anomaly |= AnomalyHandshakeInvalidLength
		return
	}
	copy(h.Random[:], random)
	h.SessionID = h.sid[:copy(h.sid[:], sid)]
	for i := 0; i+1 < len(cs); i += 2 {
		h.CipherSuites = append(h.CipherSuites, uint16(cs[i])<<8|uint16(cs[i+1]))
	}
	h.Compression = append(h.Compression, comp...)
	if !c.parseExtensions(h, &s, true) {
		return
	}
	h.Complete = true
	if h.SessionTicket {
		c.resumed = true
	}
	c.computeJA3()
	c.computeJA4()
}

// parseServerHello fills c.sh from a ServerHello body.
func (c *Conn) parseServerHello(body []byte) {
	h := &c.sh
	h.Seen = true
	c.srv.hello = true
	s := cryptobyte.String(body)
	var random, sid []byte
	var cipher uint16
	var comp uint8
	if !s.ReadUint16(&h.Version) {
		c.anomaly |= AnomalyHandshakeInvalidLength
		return
	}
	c.srv.version = helloVersion(h.Version)
	// Before TLS 1.3 draft 22 the ServerHello had no session id and no
	// compression method; Suricata skips them when the version says 1.3.
	tls13 := h.Version == 0x0304 || h.Version>>8 == 0x7f
	if !s.ReadBytes(&random, 32) {
		c.anomaly |= AnomalyHandshakeInvalidLength
		return
	}
	copy(h.Random[:], random)
	if !tls13 {
		if !readU8Prefixed(&s, &sid) || len(sid) > 32 {
			c.anomaly |= AnomalyHandshakeInvalidLength
			return
		}
		h.SessionID = h.sid[:copy(h.sid[:], sid)]
		if len(sid) > 0 && string(sid) == string(c.ch.SessionID) {
			c.resumed = true
		}
	}
	if !s.ReadUint16(&cipher) {
		c.anomaly |= AnomalyHandshakeInvalidLength
		return
	}
	h.CipherSuites = append(h.CipherSuites, cipher)
	if !tls13 {
		if !s.ReadUint8(&comp) {
			c.anomaly |= AnomalyHandshakeInvalidLength
			return
		}
		h.Compression = append(h.Compression, comp)
	}
	if !c.parseExtensions(h, &s, false) {
		return
	}
	h.Complete = true
	c.computeJA3S()
}

func readU8Prefixed(s *cryptobyte.String, out *[]byte) bool {
	var v cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&v) {
		return false
	}
	*out = v
	return true
}

func readU16Prefixed(s *cryptobyte.String, out *[]byte) bool {
	var v cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&v) {
		return false
	}
	*out = v
	return true
}

// parseExtensions reads the extensions block (absent is fine: RFC 5246
// 7.4.1.2). It reports false on a malformed block.
func (c *Conn) parseExtensions(h *Hello, s *cryptobyte.String, client bool) bool {
	if s.Empty() {
		return true
	}
	var exts cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&exts) {
		c.anomaly |= AnomalyHandshakeInvalidLength
		return false
	}
	for !exts.Empty() {
		var typ uint16
		var ext cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&ext) {
			c.anomaly |= AnomalyHandshakeInvalidLength
			return false
		}
		h.Extensions = append(h.Extensions, typ)
		if !c.parseExtension(h, typ, ext, client) {
			c.anomaly |= AnomalyHandshakeInvalidLength
			return false
		}
	}
	return true
}

// parseExtension reads the extensions whose contents the parser keeps.
func (c *Conn) parseExtension(h *Hello, typ uint16, ext cryptobyte.String, client bool) bool {
	if len(ext) == 0 {
		switch typ {
		case extSessionTicket:
			h.SessionTicket = true
		case extEarlyData:
			h.EarlyData = true
		}
		return true // an empty extension is fine for every type parsed here
	}
	switch typ {
	case extServerName:
		if !client {
			return true // the server's is empty or ignored
		}
		var list cryptobyte.String
		var nameType uint8
		var name []byte
		if !ext.ReadUint16LengthPrefixed(&list) || !list.ReadUint8(&nameType) {
			return false
		}
		if nameType != 0 {
			c.anomaly |= AnomalyInvalidSNIType
			return true
		}
		if !readU16Prefixed(&list, &name) || len(name) == 0 || len(name) > 255 {
			c.anomaly |= AnomalyInvalidSNILength
			return true
		}
		if h.SNI != nil {
			c.anomaly |= AnomalyMultipleSNI
			return true
		}
		h.sniBuf = append(h.sniBuf[:0], name...)
		h.SNI = h.sniBuf
	case extSupportedGroups:
		var list []byte
		if !readU16Prefixed(&ext, &list) || len(list)%2 != 0 {
			return false
		}
		for i := 0; i < len(list); i += 2 {
			h.SupportedGroups = append(h.SupportedGroups, uint16(list[i])<<8|uint16(list[i+1]))
		}
	case extECPointFormats:
		var list []byte
		if !readU8Prefixed(&ext, &list) {
			return false
		}
		h.ECPointFormats = append(h.ECPointFormats, list...)
	case extSignatureAlgorithms:
		var list []byte
		if !readU16Prefixed(&ext, &list) || len(list)%2 != 0 {
			return false
		}
		for i := 0; i < len(list); i += 2 {
			h.SignatureAlgorithms = append(h.SignatureAlgorithms, uint16(list[i])<<8|uint16(list[i+1]))
		}
	case extALPN:
		var list cryptobyte.String
		if !ext.ReadUint16LengthPrefixed(&list) {
			return false
		}
		start := len(h.alpnBuf)
		h.alpnBuf = append(h.alpnBuf, list...)
		all := h.alpnBuf[start:]
		for len(all) > 0 {
			n := int(all[0])
			if 1+n > len(all) {
				break // Suricata skips a protocol name running past the list
			}
			h.ALPN = append(h.ALPN, all[1:1+n:1+n])
			all = all[1+n:]
		}
	case extSupportedVersions:
		if client {
			var list []byte
			if !readU8Prefixed(&ext, &list) || len(list) < 2 {
				return false
			}
			set := false
			for i := 0; i+1 < len(list); i += 2 {
				v := uint16(list[i])<<8 | uint16(list[i+1])
				h.SupportedVersions = append(h.SupportedVersions, v)
				if !set && versionValid(v) {
					c.cli.version, set = v, true // the first valid one
				}
			}
			return true
		}
		var v uint16
		if !ext.ReadUint16(&v) {
			return false
		}
		h.SupportedVersions = append(h.SupportedVersions, v)
		c.srv.version = v
	case extSessionTicket:
		h.SessionTicket = true
	case extEarlyData:
		h.EarlyData = true
	}
	return true
}
