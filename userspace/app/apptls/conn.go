package apptls

// Limits bound a connection's parser memory.
type Limits struct {
	// MaxHandshakeBytes bounds one handshake message (a larger one is
	// skipped and recorded as AnomalyHandshakeTooLarge) and so the
	// per-direction reassembly buffer and the stored certificate chain.
	MaxHandshakeBytes int
	// MaxCerts bounds the certificates kept of one chain; more are
	// counted in the chain length but not kept (AnomalyTooManyCerts).
	MaxCerts int
}

// DefaultLimits are the limits a Conn has when none are set: 64 KiB per
// handshake message (real chains are 2 to 20 KiB; TLS allows 16 MiB) and
// ten certificates.
func DefaultLimits() Limits { return Limits{MaxHandshakeBytes: 64 << 10, MaxCerts: 10} }

// State is what a direction has shown so far (the states of the
// record-layer follower the pipeline used before, userspace/tlsrec).
type State uint8

// States.
const (
	Unknown   State = iota // no byte seen yet
	Clear                  // TLS records, none encrypted yet
	Encrypted              // an application-data record was seen: nothing readable follows
	NotTLS                 // not TLS, or the parser lost its place (a gap, a bad header)
)

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds.
const (
	EvClientHello EventKind = iota + 1 // a ClientHello was parsed (TLS or SSLv2)
	EvServerHello                      // a ServerHello was parsed
	EvCertificate                      // a Certificate message was parsed (ToServer: the client's)
	EvEncrypted                        // the direction turned encrypted (first application-data record)
)

// Event is what Feed reports through its callback. It is a value: Feed
// does not allocate to report it.
type Event struct {
	Kind     EventKind
	ToServer bool // the direction the message travelled in
}

// Record content types (RFC 8446 B.1; 24 is RFC 6520's heartbeat).
const (
	recChangeCipherSpec = 20
	recAlert            = 21
	recHandshake        = 22
	recApplicationData  = 23
	recHeartbeat        = 24
)

// maxRecord bounds a record's length: 2^14 bytes of plaintext plus the
// expansion TLS 1.2 allows (RFC 5246 6.2.3).
const maxRecord = 1<<14 + 2048

// dir is the parser state of one direction.
type dir struct {
	state   State
	hdr     [5]byte // a record header split over Feed calls
	nhdr    uint8
	v2      bool // the current record has SSLv2 framing
	inBody  bool
	recType uint8
	recLeft int     // body bytes of the current record still to come
	version uint16  // Suricata's connp.version: record version, then the hello's
	hello   bool    // this direction's hello was parsed (its version wins)
	ccs     bool    // ChangeCipherSpec seen
	v2Key   bool    // SSLv2: client master key (client) or server hello (server) seen
	hs      []byte  // a handshake message (or SSLv2 record) being reassembled
	hb      [3]byte // a clear heartbeat's type and payload length
	nhb     uint8
	recLen  int // the current record's length
	skip    int // bytes of an oversized handshake message still to skip
	certs   Certs
}

func (d *dir) reset() {
	hs := d.hs[:0]
	certs := d.certs
	certs.reset()
	*d = dir{hs: hs, certs: certs}
}

// Conn parses one TCP connection, both directions. The zero value is
// ready with DefaultLimits; use NewConn for others.
type Conn struct {
	lim      Limits
	cli, srv dir
	ch, sh   Hello
	flags    StateFlags // every handshake state seen (Suricata's ssl_state->flags)
	cur      StateFlags // the state of the last message (Suricata's current_flags)
	anomaly  Anomaly
	resumed  bool
	hb       heartbeat
	ja3      fingerprint
	ja3s     fingerprint
	ja4      [36]byte
	hasJA4   bool
	scratch  []uint16 // sorting space for JA4
	scratchB []byte   // string space for JA4
}

// NewConn returns a Conn with the given limits (a zero field takes its
// default).
func NewConn(l Limits) *Conn {
	c := &Conn{}
	c.SetLimits(l)
	return c
}

// SetLimits sets the limits (a zero field takes its default).
func (c *Conn) SetLimits(l Limits) {
	d := DefaultLimits()
	if l.MaxHandshakeBytes <= 0 {
		l.MaxHandshakeBytes = d.MaxHandshakeBytes
	}
	if l.MaxCerts <= 0 {
		l.MaxCerts = d.MaxCerts
	}
	c.lim = l
}

func (c *Conn) limits() Limits {
	if c.lim.MaxHandshakeBytes == 0 {
		c.SetLimits(Limits{})
	}
	return c.lim
}

// Reset makes the Conn ready for a new connection, keeping its limits
// and the capacity of its buffers.
func (c *Conn) Reset() {
	c.cli.reset()
	c.srv.reset()
	c.ch.reset()
	c.sh.reset()
	c.flags, c.cur, c.anomaly, c.resumed, c.hb = 0, 0, 0, false, heartbeat{}
	c.ja3.reset()
	c.ja3s.reset()
	c.hasJA4 = false
}

func (c *Conn) dir(toServer bool) *dir {
	if toServer {
		return &c.cli
	}
	return &c.srv
}

// State is the state of one direction.
func (c *Conn) State(toServer bool) State { return c.dir(toServer).state }

// Encrypted reports whether the direction has turned encrypted: nothing
// after it is readable, and the pipeline may bypass it (the signal
// userspace/tlsrec gave).
func (c *Conn) Encrypted(toServer bool) bool { return c.dir(toServer).state == Encrypted }

// Anomalies are the protocol anomalies seen so far.
func (c *Conn) Anomalies() Anomaly { return c.anomaly }

// Flags are the handshake states seen so far, of both directions.
func (c *Conn) Flags() StateFlags { return c.flags }

// ClientHello is the parsed ClientHello (Seen false before one). It is
// the Conn's own storage: read it, do not keep or change it past Reset.
func (c *Conn) ClientHello() *Hello { return &c.ch }

// ServerHello is the parsed ServerHello, as ClientHello.
func (c *Conn) ServerHello() *Hello { return &c.sh }

// Certs are the certificates one direction sent in the clear (toServer:
// the client's), as ClientHello.
func (c *Conn) Certs(toServer bool) *Certs { return &c.dir(toServer).certs }

// Version is the version of one direction as Suricata keeps it
// (connp.version): the record layer's until that direction's hello, then
// the hello's, with supported_versions (the client's first valid one, the
// server's selected one). Version(false) is the negotiated version.
func (c *Conn) Version(toServer bool) uint16 { return c.dir(toServer).version }

// SessionResumed reports what Suricata's EVE session_resumed says: the
// client offered a session ticket or the server echoed the client's
// session id.
func (c *Conn) SessionResumed() bool { return c.resumed }

// Feed parses the next bytes of one direction's stream. emit (which may be
// nil) is called for each Event, in order, before Feed returns. Bytes
// after the direction turns Encrypted or NotTLS are not looked at.
func (c *Conn) Feed(toServer bool, data []byte, emit func(ev Event)) {
	c.limits()
	d := c.dir(toServer)
	for len(data) > 0 && (d.state == Unknown || d.state == Clear) {
		if !d.inBody {
			if d.nhdr == 0 {
				switch b := data[0]; {
				case b >= recChangeCipherSpec && b <= recHeartbeat:
					d.v2 = false
				case b&0x80 != 0:
					d.v2 = true // SSLv2 two-byte header (RFC 6101 E.2 compatible hello)
				default:
					c.lose(d, AnomalyInvalidRecordType)
					return
				}
			}
			need := uint8(5)
			if d.v2 {
				need = 2
			}
			k := copy(d.hdr[d.nhdr:need], data)
			d.nhdr += uint8(k)
			data = data[k:]
			if d.nhdr < need {
				return
			}
			d.nhdr = 0
			if !c.startRecord(d, toServer, emit) {
				return
			}
			continue
		}
		k := min(d.recLeft, len(data))
		c.body(d, toServer, data[:k], emit)
		d.recLeft -= k
		data = data[k:]
		if d.recLeft == 0 {
			d.inBody = false
			if d.v2 {
				c.endV2Record(d, toServer, emit)
			}
		}
	}
}

// Gap says n bytes of one direction were lost. A gap inside a record the
// parser skips anyway (application data, alerts) costs nothing; any other
// makes the direction NotTLS, as userspace/tlsrec did. An encrypted
// direction stays encrypted.
func (c *Conn) Gap(toServer bool, n int) {
	d := c.dir(toServer)
	if n <= 0 || d.state == Encrypted || d.state == NotTLS {
		return
	}
	if d.inBody && !d.v2 && d.recType != recHandshake && n < d.recLeft {
		d.recLeft -= n
		return
	}
	c.lose(d, AnomalyGap)
}

// lose makes the direction NotTLS for good.
func (c *Conn) lose(d *dir, a Anomaly) {
	c.anomaly |= a
	d.state = NotTLS
	d.hs = d.hs[:0]
	d.inBody = false
}

// startRecord checks a complete record header and opens its body; false
// stops the direction.
func (c *Conn) startRecord(d *dir, toServer bool, emit func(Event)) bool {
	if d.v2 {
		n := int(d.hdr[0]&0x7f)<<8 | int(d.hdr[1])
		if n == 0 {
			c.lose(d, AnomalyInvalidSSLv2Header)
			return false
		}
		if d.v2Key { // after the master key (or the v2 server hello) all is encrypted
			d.state = Encrypted
			if emit != nil {
				emit(Event{Kind: EvEncrypted, ToServer: toServer})
			}
			return false
		}
		d.state = Clear
		d.recType, d.recLeft, d.inBody = 0, n, true
		d.hs = d.hs[:0]
		return true
	}
	typ := d.hdr[0]
	ver := uint16(d.hdr[1])<<8 | uint16(d.hdr[2])
	n := int(d.hdr[3])<<8 | int(d.hdr[4])
	switch {
	case d.hdr[1] != 3 || d.hdr[2] > 4:
		c.lose(d, AnomalyInvalidRecordVersion)
		return false
	case n == 0 || n > maxRecord:
		c.lose(d, AnomalyInvalidRecordLength)
		return false
	case d.state == Unknown && typ != recHandshake:
		c.lose(d, AnomalyInvalidRecordType) // a TLS stream opens with a handshake record
		return false
	}
	d.state = Clear
	if !d.hello || d.version == 0 {
		d.version = ver // Suricata keeps the record version until the hello's
	}
	d.recType, d.recLeft, d.inBody, d.recLen = typ, n, true, n
	switch typ {
	case recChangeCipherSpec:
		d.ccs = true
		c.flags |= FlagChangeCipherSpec
	case recApplicationData:
		// TLS 1.3 0-RTT data before the ServerHello: the handshake is not
		// done (Suricata: SSL_AL_FLAG_EARLY_DATA).
		if toServer && c.ch.EarlyData && !c.sh.Seen {
			break
		}
		d.state = Encrypted
		d.inBody = false
		d.hs = d.hs[:0]
		if emit != nil {
			emit(Event{Kind: EvEncrypted, ToServer: toServer})
		}
		return false
	case recHeartbeat:
		d.nhb = 0
		if c.flags&FlagChangeCipherSpec != 0 {
			c.encryptedHeartbeat(toServer, n)
		}
	}
	return true
}

// parseHandshake says whether the handshake records of d are clear.
func (c *Conn) parseHandshake(d *dir) bool {
	if !d.ccs {
		return true
	}
	// TLS 1.3 middlebox-compatibility ChangeCipherSpec (RFC 8446 D.4)
	// from a client before the ServerHello: its next hello is clear.
	return d == &c.cli && c.ch.Seen && c.cli.version > 0x0303 && !c.sh.Seen
}

// body takes bytes of the current record's body.
func (c *Conn) body(d *dir, toServer bool, p []byte, emit func(Event)) {
	if d.v2 {
		if len(d.hs)+len(p) <= c.lim.MaxHandshakeBytes {
			d.hs = append(d.hs, p...)
		} else {
			c.anomaly |= AnomalyHandshakeTooLarge
		}
		return
	}
	if d.recType == recHeartbeat && c.flags&FlagChangeCipherSpec == 0 && d.nhb < 3 {
		k := copy(d.hb[d.nhb:], p)
		if d.nhb += uint8(k); d.nhb == 3 {
			c.clearHeartbeat(d, toServer)
		}
		return
	}
	if d.recType != recHandshake || !c.parseHandshake(d) {
		return
	}
	for len(p) > 0 && d.state == Clear {
		if d.skip > 0 {
			k := min(d.skip, len(p))
			d.skip -= k
			p = p[k:]
			continue
		}
		if len(d.hs) == 0 && len(p) >= 4 {
			n := int(p[1])<<16 | int(p[2])<<8 | int(p[3])
			if n > c.lim.MaxHandshakeBytes {
				c.anomaly |= AnomalyHandshakeTooLarge
				d.skip = n
				p = p[4:]
				continue
			}
			if len(p) >= 4+n { // whole message at hand: parse in place
				c.message(d, toServer, p[0], p[4:4+n], emit)
				p = p[4+n:]
				continue
			}
		}
		if len(d.hs) < 4 {
			k := min(4-len(d.hs), len(p))
			d.hs = append(d.hs, p[:k]...)
			p = p[k:]
			if len(d.hs) < 4 {
				return
			}
			if n := int(d.hs[1])<<16 | int(d.hs[2])<<8 | int(d.hs[3]); n > c.lim.MaxHandshakeBytes {
				c.anomaly |= AnomalyHandshakeTooLarge
				d.skip = n
				d.hs = d.hs[:0]
				continue
			}
		}
		n := int(d.hs[1])<<16 | int(d.hs[2])<<8 | int(d.hs[3])
		k := min(4+n-len(d.hs), len(p))
		d.hs = append(d.hs, p[:k]...)
		p = p[k:]
		if len(d.hs) == 4+n {
			c.message(d, toServer, d.hs[0], d.hs[4:], emit)
			d.hs = d.hs[:0]
		}
	}
}

// Handshake message types (RFC 8446 4, RFC 5246 7.4).
const (
	hsHelloRequest       = 0
	hsClientHello        = 1
	hsServerHello        = 2
	hsNewSessionTicket   = 4
	hsCertificate        = 11
	hsServerKeyExchange  = 12
	hsCertificateRequest = 13
	hsServerHelloDone    = 14
	hsCertificateVerify  = 15
	hsClientKeyExchange  = 16
	hsFinished           = 20
	hsCertificateURL     = 21
	hsCertificateStatus  = 22
)

// message handles one complete handshake message. body may be the
// caller's or d.hs: whatever is kept is copied.
func (c *Conn) message(d *dir, toServer bool, typ uint8, body []byte, emit func(Event)) {
	kind := EventKind(0)
	switch typ {
	case hsClientHello:
		c.cur = FlagClientHello
		if !toServer || c.ch.Seen {
			c.anomaly |= AnomalyInvalidHandshakeMessage
			break
		}
		c.parseClientHello(body)
		kind = EvClientHello
	case hsServerHello:
		c.cur = FlagServerHello
		if toServer || c.sh.Seen {
			c.anomaly |= AnomalyInvalidHandshakeMessage
			break
		}
		c.parseServerHello(body)
		kind = EvServerHello
	case hsCertificate:
		if c.parseCertificates(&d.certs, body) {
			kind = EvCertificate
		}
	case hsServerKeyExchange:
		c.cur = FlagServerKeyExchange
	case hsClientKeyExchange:
		c.cur = FlagClientKeyExchange
	case hsCertificateRequest:
		c.cur = FlagCertificateRequest
	case hsHelloRequest, hsNewSessionTicket, hsServerHelloDone, hsCertificateVerify,
		hsFinished, hsCertificateURL, hsCertificateStatus:
	default:
		c.anomaly |= AnomalyInvalidHandshakeMessage
	}
	c.flags |= c.cur
	if kind != 0 && emit != nil {
		emit(Event{Kind: kind, ToServer: toServer})
	}
}
