package apptls

import (
	"crypto/sha1"
	"crypto/x509"
	"net/netip"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Certs are the certificates of one direction's (first) Certificate
// message, and the fields Suricata takes from the first of them (its
// cert0_*). Slices point into the Conn's storage: valid until Reset.
type Certs struct {
	Seen bool
	// ChainLen is the number of certificates in the message (what
	// tls.cert_chain_len matches), kept or not.
	ChainLen int
	// Parsed reports that the first certificate yielded its fields.
	Parsed bool
	// Subject and Issuer are rendered as Suricata does (x509-parser's
	// Display): RDNs in certificate order joined by ", ", each
	// "SHORT=value", multi-valued RDNs joined by " + ", string values as
	// their raw bytes, other values as upper hex.
	Subject, Issuer []byte
	// Serial is the serial's DER content bytes as upper hex joined by ':'
	// ("00:AB:..." keeps a leading zero byte).
	Serial []byte
	// Fingerprint is the certificate's SHA-1 as lower hex joined by ':'.
	Fingerprint []byte
	// NotBefore and NotAfter are Unix seconds (UTC).
	NotBefore, NotAfter int64
	// SANs are the subject alternative names (DNS names, then IP
	// addresses, e-mail addresses and URIs) of the first certificate.
	SANs [][]byte

	raw     []byte // copies of the kept certificates, back to back
	ders    [][]byte
	fp      [59]byte
	subject []byte
	issuer  []byte
	serial  []byte
	sanBuf  []byte
}

func (cs *Certs) reset() {
	*cs = Certs{
		raw: cs.raw[:0], ders: cs.ders[:0], SANs: cs.SANs[:0],
		subject: cs.subject[:0], issuer: cs.issuer[:0], serial: cs.serial[:0], sanBuf: cs.sanBuf[:0],
	}
}

// Len is the number of certificates kept.
func (cs *Certs) Len() int { return len(cs.ders) }

// DER is the i-th certificate kept, in chain order (0 is the peer's own).
func (cs *Certs) DER(i int) []byte { return cs.ders[i] }

// parseCertificates reads a TLS 1.2 Certificate message (RFC 5246
// 7.4.2). Only a direction's first message is kept, as Suricata does.
func (c *Conn) parseCertificates(cs *Certs, body []byte) bool {
	if cs.Seen {
		return false
	}
	s := cryptobyte.String(body)
	var list cryptobyte.String
	if !s.ReadUint24LengthPrefixed(&list) {
		c.anomaly |= AnomalyInvalidCertificate
		return false
	}
	cs.Seen = true
	// One copy of the list, made once, so each DER is a stable slice.
	cs.raw = append(cs.raw[:0], list...)
	list = cs.raw
	for !list.Empty() {
		var der cryptobyte.String
		if !list.ReadUint24LengthPrefixed(&der) {
			c.anomaly |= AnomalyInvalidCertificate
			break
		}
		cs.ChainLen++
		if len(cs.ders) >= c.lim.MaxCerts {
			c.anomaly |= AnomalyTooManyCerts
			continue
		}
		cs.ders = append(cs.ders, der)
		if len(cs.ders) == 1 {
			c.parseCert0(cs, der)
		}
	}
	return true
}

// addSingleCert keeps the one certificate of an SSLv2 server hello.
func (c *Conn) addSingleCert(cs *Certs, der []byte) bool {
	if cs.Seen {
		return false
	}
	cs.Seen = true
	cs.raw = append(cs.raw[:0], der...)
	cs.ders = append(cs.ders, cs.raw)
	cs.ChainLen = 1
	c.parseCert0(cs, cs.raw)
	return true
}

// parseCert0 takes Suricata's fields from the first certificate. The
// fields come from walking the TBSCertificate with cryptobyte (the raw
// serial and the RDNs in wire order are not in x509.Certificate's
// decoded form); crypto/x509 parses the certificate for its subject
// alternative names.
func (c *Conn) parseCert0(cs *Certs, der []byte) {
	s := cryptobyte.String(der)
	var cert, tbs, serial, issuer, validity, subject cryptobyte.String
	var nb, na time.Time
	if !s.ReadASN1(&cert, cbasn1.SEQUENCE) || !cert.ReadASN1(&tbs, cbasn1.SEQUENCE) ||
		!tbs.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!tbs.ReadASN1(&serial, cbasn1.INTEGER) || !tbs.SkipASN1(cbasn1.SEQUENCE) ||
		!tbs.ReadASN1(&issuer, cbasn1.SEQUENCE) || !tbs.ReadASN1(&validity, cbasn1.SEQUENCE) ||
		!readTime(&validity, &nb) || !readTime(&validity, &na) ||
		!tbs.ReadASN1(&subject, cbasn1.SEQUENCE) {
		c.anomaly |= AnomalyCertificateInvalidDER
		return
	}
	var ok bool
	if cs.subject, ok = appendName(cs.subject[:0], subject); !ok {
		c.anomaly |= AnomalyInvalidCertificate
		return
	}
	if cs.issuer, ok = appendName(cs.issuer[:0], issuer); !ok {
		c.anomaly |= AnomalyInvalidCertificate
		return
	}
	cs.serial = appendHexSep(cs.serial[:0], serial, true)
	cs.Subject, cs.Issuer, cs.Serial = cs.subject, cs.issuer, cs.serial
	sum := sha1.Sum(der)
	cs.Fingerprint = appendHexSep(cs.fp[:0], sum[:], false)
	cs.NotBefore, cs.NotAfter = nb.Unix(), na.Unix()
	cs.Parsed = true

	x, err := x509.ParseCertificate(der)
	if err != nil {
		return // the fields above stand; x509-parser is as lenient
	}
	start := len(cs.sanBuf)
	var ends []int
	for _, n := range x.DNSNames {
		cs.sanBuf = append(cs.sanBuf, n...)
		ends = append(ends, len(cs.sanBuf))
	}
	for _, ip := range x.IPAddresses {
		if a, ok := netip.AddrFromSlice(ip); ok {
			cs.sanBuf = a.Unmap().AppendTo(cs.sanBuf)
			ends = append(ends, len(cs.sanBuf))
		}
	}
	for _, e := range x.EmailAddresses {
		cs.sanBuf = append(cs.sanBuf, e...)
		ends = append(ends, len(cs.sanBuf))
	}
	for _, u := range x.URIs {
		cs.sanBuf = append(cs.sanBuf, u.String()...)
		ends = append(ends, len(cs.sanBuf))
	}
	for _, e := range ends {
		cs.SANs = append(cs.SANs, cs.sanBuf[start:e:e])
		start = e
	}
}

// readTime reads an X.509 Time (UTCTime or GeneralizedTime).
func readTime(s *cryptobyte.String, t *time.Time) bool {
	switch {
	case s.PeekASN1Tag(cbasn1.UTCTime):
		return s.ReadASN1UTCTime(t)
	case s.PeekASN1Tag(cbasn1.GeneralizedTime):
		return s.ReadASN1GeneralizedTime(t)
	}
	return false
}

const hexUpper, hexLower = "0123456789ABCDEF", "0123456789abcdef"

// appendHexSep appends b as hex pairs joined by ':'.
func appendHexSep(dst, b []byte, upper bool) []byte {
	digits := hexLower
	if upper {
		digits = hexUpper
	}
	for i, v := range b {
		if i > 0 {
			dst = append(dst, ':')
		}
		dst = append(dst, digits[v>>4], digits[v&15])
	}
	return dst
}
