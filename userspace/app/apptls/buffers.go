package apptls

// Buf names a sticky buffer the signature engine matches on.
type Buf uint8

// Buffers.
const (
	BufSNI             Buf = iota + 1 // tls.sni: the ClientHello's server name
	BufCertSubject                    // tls.cert_subject: first certificate's subject
	BufCertIssuer                     // tls.cert_issuer
	BufCertSerial                     // tls.cert_serial: "0A:1B:..."
	BufCertFingerprint                // tls.cert_fingerprint: sha1 "aa:bb:..."
	BufCerts                          // tls.certs: multi-buffer, each certificate's DER
	BufSubjectAltName                 // tls.subjectaltname: multi-buffer, first certificate's SANs
	BufJA3Hash                        // ja3.hash: lower hex MD5
	BufJA3String                      // ja3.string
	BufJA3SHash                       // ja3s.hash
	BufJA3SString                     // ja3s.string
	BufJA4Hash                        // ja4.hash
	BufALPN                           // tls.alpn: multi-buffer, the hello's ALPN values
	BufRandom                         // tls.random: the hello's 32 random bytes
	BufRandomTime                     // tls.random_time: its first 4 bytes
	BufRandomBytes                    // tls.random_bytes: its last 28 bytes
)

// Buffers lists the sticky buffers with the direction Suricata inspects
// them in. The certificate buffers and tls.alpn/tls.random are listed
// twice: to the client they are the server's, to the server the
// client's (client certificates, Suricata 7 on). Aliases maps the legacy
// and alternative names ET rules use to these names.
var Buffers = []struct {
	Name     string
	Buf      Buf
	ToServer bool
}{
	{"tls.sni", BufSNI, true},
	{"tls.cert_subject", BufCertSubject, false},
	{"tls.cert_subject", BufCertSubject, true},
	{"tls.cert_issuer", BufCertIssuer, false},
	{"tls.cert_issuer", BufCertIssuer, true},
	{"tls.cert_serial", BufCertSerial, false},
	{"tls.cert_serial", BufCertSerial, true},
	{"tls.cert_fingerprint", BufCertFingerprint, false},
	{"tls.cert_fingerprint", BufCertFingerprint, true},
	{"tls.certs", BufCerts, false},
	{"tls.certs", BufCerts, true},
	{"tls.subjectaltname", BufSubjectAltName, false},
	{"tls.subjectaltname", BufSubjectAltName, true},
	{"ja3.hash", BufJA3Hash, true},
	{"ja3.string", BufJA3String, true},
	{"ja3s.hash", BufJA3SHash, false},
	{"ja3s.string", BufJA3SString, false},
	{"ja4.hash", BufJA4Hash, true},
	{"tls.alpn", BufALPN, true},
	{"tls.alpn", BufALPN, false},
	{"tls.random", BufRandom, true},
	{"tls.random", BufRandom, false},
	{"tls.random_time", BufRandomTime, true},
	{"tls.random_time", BufRandomTime, false},
	{"tls.random_bytes", BufRandomBytes, true},
	{"tls.random_bytes", BufRandomBytes, false},
}

// Aliases are the legacy content-modifier names (content:"..."; tls_sni;)
// and old dotted names, mapped to the Buffers names.
var Aliases = map[string]string{
	"tls_sni":              "tls.sni",
	"tls_cert_subject":     "tls.cert_subject",
	"tls_cert_issuer":      "tls.cert_issuer",
	"tls_cert_serial":      "tls.cert_serial",
	"tls_cert_fingerprint": "tls.cert_fingerprint",
	"ja3_hash":             "ja3.hash",
	"ja3_string":           "ja3.string",
	"ja3s_hash":            "ja3s.hash",
	"ja3s_string":          "ja3s.string",
}

// Multi reports whether b is a multi-buffer (i indexes its items).
func (b Buf) Multi() bool { return b == BufCerts || b == BufSubjectAltName || b == BufALPN }

// Buffer returns buffer b (item i of a multi-buffer, 0 otherwise) in the
// direction Suricata inspects it in by default: the certificate buffers
// are the server's, ALPN and random the client's. ok is false when the
// buffer is absent or i is past its end.
func (c *Conn) Buffer(b Buf, i int) ([]byte, bool) {
	switch b {
	case BufSNI, BufJA3Hash, BufJA3String, BufJA4Hash, BufALPN, BufRandom, BufRandomTime, BufRandomBytes:
		return c.BufferDir(b, true, i)
	}
	return c.BufferDir(b, false, i)
}

// BufferDir returns buffer b as seen in one direction (see Buffers).
func (c *Conn) BufferDir(b Buf, toServer bool, i int) ([]byte, bool) {
	if i < 0 || (i > 0 && !b.Multi()) {
		return nil, false
	}
	cs := &c.dir(toServer).certs
	h := &c.sh
	if toServer {
		h = &c.ch
	}
	var v []byte
	switch b {
	case BufSNI:
		v = c.ch.SNI
	case BufCertSubject:
		v = cs.Subject
	case BufCertIssuer:
		v = cs.Issuer
	case BufCertSerial:
		v = cs.Serial
	case BufCertFingerprint:
		v = cs.Fingerprint
	case BufCerts:
		if i >= len(cs.ders) {
			return nil, false
		}
		return cs.ders[i], true
	case BufSubjectAltName:
		if i >= len(cs.SANs) {
			return nil, false
		}
		return cs.SANs[i], true
	case BufJA3Hash:
		if c.ja3.ok {
			v = c.ja3.hash[:]
		}
	case BufJA3String:
		if c.ja3.ok {
			v = c.ja3.str
		}
	case BufJA3SHash:
		if c.ja3s.ok {
			v = c.ja3s.hash[:]
		}
	case BufJA3SString:
		if c.ja3s.ok {
			v = c.ja3s.str
		}
	case BufJA4Hash:
		if c.hasJA4 {
			v = c.ja4[:]
		}
	case BufALPN:
		if i >= len(h.ALPN) {
			return nil, false
		}
		return h.ALPN[i], true
	case BufRandom, BufRandomTime, BufRandomBytes:
		if !h.Seen || h.SSLv2 {
			return nil, false
		}
		switch b {
		case BufRandom:
			return h.Random[:], true
		case BufRandomTime:
			return h.Random[:4], true
		}
		return h.Random[4:], true
	}
	if len(v) == 0 {
		return nil, false
	}
	return v, true
}
