// Package appssh parses the clear-text start of an SSH connection, both
// directions, as Suricata's SSH parser does: the identification banner
// (protocol and software version, RFC 4253 section 4.2), the binary packet
// framing up to NEWKEYS, and the KEXINIT message, from which it computes
// the HASSH fingerprints (Salesforce's hassh: MD5 of
// "kex;encryption;mac;compression" name-lists). After both sides have sent
// NEWKEYS nothing readable follows: Encrypted reports it so the flow can be
// bypassed.
//
// The package imports only xdpids/userspace/app/evetext. A Conn allocates only while
// its KEXINIT buffers grow to their working size; Reset keeps them.
package appssh

// Limits, from Suricata's rust/src/ssh/ssh.rs.
const (
	// MaxBanner is the longest banner line kept (SSH_MAX_BANNER_LEN): a
	// longer line is cut there, flagged LongBanner, and the rest of it up
	// to its end of line skipped. RFC 4253 allows 255 bytes with CR LF.
	MaxBanner = 256
	// MaxKexInit bounds a KEXINIT message reassembled for HASSH
	// (SSH_MAX_REASSEMBLED_RECORD_LEN); a longer one is flagged
	// LongKexRecord and skipped.
	MaxKexInit = 65535
)

// SSH message codes the parser acts on (RFC 4253 section 12).
const (
	msgKexInit = 20
	msgNewKeys = 21
)

// Flags record what a side did wrong or past a limit (Suricata's SSH
// app-layer events).
type Flags uint8

// The events, as Suricata names them in app-layer-event:ssh.<name>.
const (
	InvalidBanner Flags = 1 << iota // invalid_banner: first line not "SSH-proto-software"
	LongBanner                      // long_banner: banner line ≥ MaxBanner
	InvalidRecord                   // invalid_record: packet length < 2
	LongKexRecord                   // long_kex_record: KEXINIT > MaxKexInit
)

// Side state machine.
const (
	stBanner   uint8 = iota // reading the banner line
	stWaitEOL               // banner too long: skipping to its end of line
	stRecords               // binary packets in clear
	stFinished              // NEWKEYS seen: the rest is encrypted
	stError                 // unparsable: nothing more is read
)

// side is the parser state of one direction.
type side struct {
	state uint8
	flags Flags
	cr    bool // the banner line so far ends in CR

	line    [MaxBanner]byte
	lineLen int
	proto   []byte // into line
	soft    []byte // into line

	hdr    [6]byte // packet length (4), padding length, message code
	hdrLen int
	left   uint32 // bytes of the current packet still to skip or collect
	inKex  bool   // the current packet is a KEXINIT being collected
	kex    []byte // KEXINIT packet body collected so far (bounded MaxKexInit)

	hasshStr []byte // kex;enc;mac;cmp (bounded: part of one KEXINIT)
	hassh    [32]byte
	hasHassh bool
	kexSeen  bool
}

// Conn is the SSH state of one connection. Its buffers point into itself:
// keep it in place (a pointer or a field of the flow), do not copy it.
type Conn struct {
	cli, srv side
}

// Reset clears c for a new connection, keeping its buffers.
func (c *Conn) Reset() {
	c.cli.reset()
	c.srv.reset()
}

func (s *side) reset() {
	kex, hs := s.kex[:0], s.hasshStr[:0]
	*s = side{kex: kex, hasshStr: hs}
}

// Feed parses the next bytes of one direction of the reassembled stream
// (toServer: client to server). Bytes after an error or after NEWKEYS are
// ignored.
func (c *Conn) Feed(toServer bool, data []byte) {
	s := &c.srv
	if toServer {
		s = &c.cli
	}
	s.feed(data, toServer)
}

// Gap tells c that n bytes of one direction were lost: a banner or packet
// cannot be resynchronised, so that side stops (flagged nothing: a gap is
// the stream's record, not the peer's fault).
func (c *Conn) Gap(toServer bool, n int) {
	s := &c.srv
	if toServer {
		s = &c.cli
	}
	if n > 0 && s.state != stFinished {
		s.state = stError
	}
}

// Encrypted reports whether both sides have sent NEWKEYS: from there on the
// connection carries nothing an IDS can read.
func (c *Conn) Encrypted() bool {
	return c.cli.state == stFinished && c.srv.state == stFinished
}

// Done reports whether neither side will be parsed further (both finished
// or failed), so inspection of the flow's app layer can stop.
func (c *Conn) Done() bool {
	return c.cli.state >= stFinished && c.srv.state >= stFinished
}

// BannerDone reports whether the banner of the direction was parsed.
func (c *Conn) BannerDone(toServer bool) bool {
	s := &c.srv
	if toServer {
		s = &c.cli
	}
	return s.state >= stWaitEOL && s.proto != nil
}

// Flags returns the events of one side.
func (c *Conn) Flags(toServer bool) Flags {
	if toServer {
		return c.cli.flags
	}
	return c.srv.flags
}

func (s *side) feed(data []byte, toServer bool) {
	for len(data) > 0 {
		switch s.state {
		case stBanner:
			data = s.feedBanner(data)
		case stWaitEOL:
			i := indexEOL(data)
			if i < 0 {
				return
			}
			data = data[i+1:]
			s.state = stRecords
		case stRecords:
			data = s.feedRecords(data, toServer)
		default:
			return
		}
	}
}

// indexEOL returns the index of the first LF in b, or -1.
func indexEOL(b []byte) int {
	for i, c := range b {
		if c == '\n' {
			return i
		}
	}
	return -1
}

// feedBanner collects the banner line. A line ends at LF, at CR LF, or at a
// CR followed by anything else (Suricata's ssh_parse_line).
func (s *side) feedBanner(data []byte) []byte {
	for i, b := range data {
		if s.cr {
			s.cr = false
			if b == '\n' {
				s.endBanner()
				return data[i+1:]
			}
			s.endBanner() // lone CR ends the line; b starts what follows
			return data[i:]
		}
		switch b {
		case '\n':
			s.endBanner()
			return data[i+1:]
		case '\r':
			s.cr = true
			continue
		}
		if s.lineLen == MaxBanner {
			// Too long: parse what there is, skip to the end of line.
			s.flags |= LongBanner
			if !s.parseBanner() {
				return nil
			}
			s.state = stWaitEOL
			return data[i:]
		}
		s.line[s.lineLen] = b
		s.lineLen++
	}
	return nil
}

func (s *side) endBanner() {
	if s.lineLen >= MaxBanner {
		s.flags |= LongBanner
	}
	if s.parseBanner() {
		s.state = stRecords
	}
}

// parseBanner splits "SSH-protoversion-softwareversion SP comments" as
// Suricata's ssh_parse_banner: the protocol version is at least one byte up
// to the next '-', the software version runs to the first space (it may be
// empty, and it keeps any further '-').
func (s *side) parseBanner() bool {
	l := s.line[:s.lineLen]
	if len(l) < 4 || string(l[:4]) != "SSH-" {
		s.flags |= InvalidBanner
		s.state = stError
		return false
	}
	rest := l[4:]
	dash := -1
	for i, b := range rest {
		if b == '-' {
			dash = i
			break
		}
	}
	if dash <= 0 {
		s.flags |= InvalidBanner
		s.state = stError
		return false
	}
	s.proto = rest[:dash:dash]
	sw := rest[dash+1:]
	for i, b := range sw {
		if b == ' ' {
			sw = sw[:i]
			break
		}
	}
	s.soft = sw[:len(sw):len(sw)]
	return true
}

// feedRecords walks binary packets: uint32 packet length, byte padding
// length, byte message code, then packet length - 2 more bytes (RFC 4253
// section 6). Only KEXINIT bodies are kept.
func (s *side) feedRecords(data []byte, toServer bool) []byte {
	for len(data) > 0 {
		if s.left > 0 {
			n := uint32(len(data))
			if n > s.left {
				n = s.left
			}
			if s.inKex {
				s.kex = append(s.kex, data[:n]...)
			}
			s.left -= n
			data = data[n:]
			if s.left == 0 && s.inKex {
				s.inKex = false
				s.kexInit(s.kex, toServer)
				s.kex = s.kex[:0]
			}
			continue
		}
		n := copy(s.hdr[s.hdrLen:], data)
		s.hdrLen += n
		data = data[n:]
		if s.hdrLen < len(s.hdr) {
			return nil
		}
		s.hdrLen = 0
		pktLen := uint32(s.hdr[0])<<24 | uint32(s.hdr[1])<<16 | uint32(s.hdr[2])<<8 | uint32(s.hdr[3])
		if pktLen < 2 {
			s.flags |= InvalidRecord
			s.state = stError
			return nil
		}
		s.left = pktLen - 2
		switch s.hdr[5] {
		case msgNewKeys:
			// What follows this packet is encrypted; its (empty) body is
			// not worth waiting for.
			s.state = stFinished
			return nil
		case msgKexInit:
			if s.kexSeen {
				break // a re-key in clear: the first one counts, as in hassh
			}
			s.kexSeen = true
			if s.left >= MaxKexInit {
				s.flags |= LongKexRecord
				break
			}
			s.inKex = true
			s.kex = s.kex[:0]
			if s.left == 0 {
				s.inKex = false
				s.kexInit(nil, toServer)
			}
		}
	}
	return nil
}
