package apptls

import (
	"fmt"
	"time"
)

// Hash is the EVE form of a JA3 or JA3S fingerprint.
type Hash struct {
	Hash   string `json:"hash,omitempty"`
	String string `json:"string,omitempty"`
}

// Record is the EVE "tls" object with Suricata's field names (its
// extended TLS log). ja4, client_alpns and server_alpns are Suricata 8's;
// the EVE schema the project stores (testdata/suricata/schema.json) is
// older and does not list them.
type Record struct {
	Subject        string   `json:"subject,omitempty"`
	IssuerDN       string   `json:"issuerdn,omitempty"`
	Serial         string   `json:"serial,omitempty"`
	Fingerprint    string   `json:"fingerprint,omitempty"`
	SessionResumed bool     `json:"session_resumed,omitempty"`
	SNI            string   `json:"sni,omitempty"`
	Version        string   `json:"version,omitempty"`
	NotBefore      string   `json:"notbefore,omitempty"`
	NotAfter       string   `json:"notafter,omitempty"`
	JA3            *Hash    `json:"ja3,omitempty"`
	JA3S           *Hash    `json:"ja3s,omitempty"`
	JA4            string   `json:"ja4,omitempty"`
	ClientALPNs    []string `json:"client_alpns,omitempty"`
	ServerALPNs    []string `json:"server_alpns,omitempty"`
}

// eveTime is Suricata's certificate time format (UTC).
const eveTime = "2006-01-02T15:04:05"

// Record fills r with the connection's EVE tls fields (r is overwritten;
// it allocates, once per logged connection). The certificate fields are
// the server's first certificate, as Suricata logs them.
func (c *Conn) Record(r *Record) {
	*r = Record{}
	cs := &c.srv.certs
	if cs.Parsed {
		r.Subject = string(cs.Subject)
		r.IssuerDN = string(cs.Issuer)
		r.Serial = string(cs.Serial)
		r.Fingerprint = string(cs.Fingerprint)
		r.NotBefore = time.Unix(cs.NotBefore, 0).UTC().Format(eveTime)
		r.NotAfter = time.Unix(cs.NotAfter, 0).UTC().Format(eveTime)
	} else if c.resumed && c.sh.Seen && !c.logWithoutCert() {
		r.SessionResumed = true // Suricata logs it only when no certificate was seen
	}
	if c.ch.SNI != nil {
		r.SNI = string(c.ch.SNI)
	}
	r.Version = VersionString(c.srv.version)
	if s, h, ok := c.JA3(); ok {
		r.JA3 = &Hash{Hash: string(h), String: string(s)}
	}
	if s, h, ok := c.JA3S(); ok {
		r.JA3S = &Hash{Hash: string(h), String: string(s)}
	}
	if j, ok := c.JA4(); ok {
		r.JA4 = string(j)
	}
	for _, a := range c.ch.ALPN {
		r.ClientALPNs = append(r.ClientALPNs, string(a))
	}
	for _, a := range c.sh.ALPN {
		r.ServerALPNs = append(r.ServerALPNs, string(a))
	}
}

// logWithoutCert is Suricata's SSL_AL_FLAG_LOG_WITHOUT_CERT: a TLS 1.3
// handshake, whose certificates are never in the clear.
func (c *Conn) logWithoutCert() bool {
	v := c.srv.version
	return v == 0x0304 || v>>8 == 0x7f
}

// Loggable reports whether Suricata would have the handshake's tls
// record ready: the server's certificate was seen, or the handshake is
// TLS 1.3 (no clear certificate), past the ServerHello, or the connection
// turned encrypted (a resumed session).
func (c *Conn) Loggable() bool {
	// A resumed session (a ticket offered, or the session id echoed) is
	// not complete at its ServerHello: a server that refuses the ticket
	// sends its certificate next, often in the same record.
	return c.srv.certs.Seen || (c.sh.Seen && c.logWithoutCert()) ||
		c.srv.state == Encrypted || c.cli.state == Encrypted
}

// VersionString renders a version as Suricata's EVE does
// (SSLVersionToString): "SSLv2", "SSLv3", "TLSv1", "TLS 1.1", "TLS 1.2",
// "TLS 1.3", the TLS 1.3 drafts, "UNDETERMINED" for none, else hex.
func VersionString(v uint16) string {
	switch v {
	case 0:
		return "UNDETERMINED"
	case sslVersion2:
		return "SSLv2"
	case 0x0300:
		return "SSLv3"
	case 0x0301:
		return "TLSv1"
	case 0x0302:
		return "TLS 1.1"
	case 0x0303:
		return "TLS 1.2"
	case 0x0304:
		return "TLS 1.3"
	case 0x7f01:
		return "TLS 1.3 draft-<16"
	case 0xfb14, 0xfb15, 0xfb16, 0xfb17, 0xfb1a:
		return fmt.Sprintf("TLS 1.3 draft-%d-fb", v&0xff)
	}
	if v >= 0x7f10 && v <= 0x7f1c {
		return fmt.Sprintf("TLS 1.3 draft-%d", v&0xff)
	}
	return fmt.Sprintf("0x%04x", v)
}
