package apptls

// SSLv2 message types (draft-hickman-netscape-ssl-00, appendix B).
const (
	v2Error           = 0
	v2ClientHello     = 1
	v2ClientMasterKey = 2
	v2ServerHello     = 4
)

// sslVersion2 is Suricata's SSL_VERSION_2.
const sslVersion2 = 0x0002

// endV2Record handles one complete SSLv2 record held in d.hs. It is
// hand-written: no Go library reads SSLv2, and the only parts kept are
// the hello's fixed header, its cipher specs and the server's certificate.
func (c *Conn) endV2Record(d *dir, toServer bool, emit func(Event)) {
	p := d.hs
	d.hs = d.hs[:0]
	if len(p) == 0 {
		return
	}
	if d.version == 0 || !d.hello {
		d.version = sslVersion2
	}
	switch p[0] {
	case v2Error:
		c.anomaly |= AnomalyErrorMessage
	case v2ClientHello:
		c.cur = FlagClientHello
		c.flags |= c.cur
		if !toServer || c.ch.Seen || len(p) < 9 {
			c.anomaly |= AnomalyInvalidHandshakeMessage
			return
		}
		h := &c.ch
		h.Seen, h.SSLv2 = true, true
		h.Version = uint16(p[1])<<8 | uint16(p[2])
		d.hello = true
		d.version = h.Version
		specs := int(p[3])<<8 | int(p[4])
		sid := int(p[5])<<8 | int(p[6])
		chal := int(p[7])<<8 | int(p[8])
		rest := p[9:]
		if specs%3 != 0 || specs+sid+chal > len(rest) || sid > 32 {
			c.anomaly |= AnomalyHandshakeInvalidLength
		} else {
			for i := 0; i < specs; i += 3 {
				if rest[i] == 0 {
					h.CipherSuites = append(h.CipherSuites, uint16(rest[i+1])<<8|uint16(rest[i+2]))
				}
			}
			h.SessionID = h.sid[:copy(h.sid[:], rest[specs:specs+sid])]
			h.Complete = true
		}
		if emit != nil {
			emit(Event{Kind: EvClientHello, ToServer: true})
		}
	case v2ClientMasterKey:
		c.cur = FlagClientKeyExchange
		c.flags |= c.cur
		if toServer {
			d.v2Key = true
		}
	case v2ServerHello:
		c.cur = FlagServerHello
		c.flags |= c.cur
		if toServer || c.sh.Seen || len(p) < 11 {
			c.anomaly |= AnomalyInvalidHandshakeMessage
			return
		}
		h := &c.sh
		h.Seen, h.SSLv2 = true, true
		h.Version = uint16(p[3])<<8 | uint16(p[4])
		d.hello = true
		d.version = h.Version
		d.v2Key = true
		certType := p[2]
		certLen := int(p[5])<<8 | int(p[6])
		if emit != nil {
			emit(Event{Kind: EvServerHello})
		}
		if certType == 1 && certLen > 0 && 11+certLen <= len(p) {
			if c.addSingleCert(&d.certs, p[11:11+certLen]) && emit != nil {
				emit(Event{Kind: EvCertificate})
			}
		}
	}
}
