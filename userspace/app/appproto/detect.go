package appproto

// Minimum bytes to decide, per pattern family.
const (
	tlsHeaderLen = 5  // record header
	dnsHeaderLen = 12 // RFC 1035 header
)

// httpMethods are the request methods Suricata's HTTP/1 detection
// registers (app-layer-htp.c, HTPRegisterPatternsForProtocolDetection),
// each followed by a space or a tab, matched case-insensitively as its
// patterns are (AppLayerProtoDetectPMRegisterPatternCI).
var httpMethods = [...]string{
	"GET", "PUT", "POST", "HEAD", "TRACE", "OPTIONS", "CONNECT", "DELETE",
	"PATCH", "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK",
	"UNLOCK", "CHECKOUT", "UNCHECKOUT", "CHECKIN", "UPDATE", "LABEL",
	"REPORT", "MKWORKSPACE", "MKACTIVITY", "MERGE", "INVALID",
	"VERSION-CONTROL", "BASELINE-CONTROL",
}

// DetectTCP decides the protocol of one direction of a TCP stream from its
// first bytes (data starts at the first byte of the direction). needMore
// is true while data is a prefix of something that could still match: call
// again with more bytes. Unknown with needMore false means no pattern
// matches; the caller decides when to give up (Failed), as Suricata does
// after its detection depth.
//
// Patterns: HTTP/1 request methods (to server) and "HTTP/" (to client); a TLS
// record header carrying a handshake (SSLv3 to TLS 1.3 record versions);
// "SSH-"; DNS over TCP (a 2-byte length and a header Suricata's probe would
// accept).
func DetectTCP(toServer bool, data []byte) (p Proto, needMore bool) {
	if len(data) == 0 {
		return Unknown, true
	}
	more := false
	if p, m := detectPrefix(data, "SSH-"); p {
		return SSH, false
	} else if m {
		more = true
	}
	if p, m := detectHTTP(toServer, data); p {
		return HTTP1, false
	} else if m {
		more = true
	}
	switch p, m := detectTLS(data); {
	case p:
		return TLS, false
	case m:
		more = true
	}
	switch p, m := detectDNSTCP(toServer, data); {
	case p:
		return DNS, false
	case m:
		more = true
	}
	return Unknown, more
}

// detectPrefix reports whether data starts with pat, or is a proper prefix
// of it (more).
func detectPrefix(data []byte, pat string) (match, more bool) {
	if len(data) >= len(pat) {
		return string(data[:len(pat)]) == pat, false
	}
	return false, string(data) == pat[:len(data)]
}

func detectHTTP(toServer bool, data []byte) (match, more bool) {
	// "HTTP/" starts a response: Suricata registers it to client only.
	if !toServer {
		n := min(len(data), 5)
		if !equalFoldASCII(data[:n], "HTTP/"[:n]) {
			return false, false
		}
		return n == 5, n < 5
	}
	for _, m := range httpMethods {
		switch {
		case len(data) > len(m):
			if equalFoldASCII(data[:len(m)], m) && (data[len(m)] == ' ' || data[len(m)] == '\t') {
				return true, false
			}
		case equalFoldASCII(data, m[:len(data)]):
			more = true
		}
	}
	return false, more
}

// equalFoldASCII compares b with the upper-case ASCII s, ignoring case.
func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// detectTLS matches what Suricata's TLS patterns match: a handshake record
// (22) of record version 3.0 to 3.3 ("|16 03 00|" to "|16 03 03|"; TLS 1.3
// writes 3.1 or 3.3), here also with a plausible record length (1 to
// 2^14+2048, RFC 5246 section 6.2.3); or an SSLv2-framed ClientHello
// ("|01 00 02|" SSLv2, "|01 03 0x|" a v3/TLS hello in v2 framing).
func detectTLS(data []byte) (match, more bool) {
	if data[0] == 0x16 {
		if len(data) < tlsHeaderLen {
			return false, (len(data) < 2 || data[1] == 3) && (len(data) < 3 || data[2] <= 3)
		}
		if data[1] != 3 || data[2] > 3 {
			return false, false
		}
		n := int(data[3])<<8 | int(data[4])
		return n > 0 && n <= 1<<14+2048, false
	}
	// SSLv2 record: 2-byte header with the high bit set, message type 1.
	if data[0]&0x80 != 0 {
		if len(data) < 5 {
			return false, true
		}
		return data[2] == 1 && ((data[3] == 3 && data[4] <= 3) || (data[3] == 0 && data[4] == 2)), false
	}
	return false, false
}

// detectDNSTCP accepts a 2-byte length of at least a header and a header
// whose QR bit fits the direction, whose opcode is one Suricata accepts
// and which asks at least one question (a response may ask none only with
// an error rcode). When the whole message is there, its first question must
// parse too.
func detectDNSTCP(toServer bool, data []byte) (match, more bool) {
	if len(data) < 2+dnsHeaderLen {
		// Only worth waiting for when the length prefix is plausible.
		if len(data) >= 2 {
			n := int(data[0])<<8 | int(data[1])
			return false, n >= dnsHeaderLen
		}
		return false, true
	}
	n := int(data[0])<<8 | int(data[1])
	if n < dnsHeaderLen {
		return false, false
	}
	msg := data[2:]
	if len(msg) > n {
		msg = msg[:n]
	}
	if !dnsHeaderOK(toServer, msg) {
		return false, false
	}
	if len(msg) < n {
		// Header plausible, question not here yet: decide on the header
		// when the first question's name is already complete.
		if ok, complete := dnsFirstQuestion(msg); complete {
			return ok, false
		}
		return false, true
	}
	ok, _ := dnsFirstQuestion(msg)
	return ok, false
}

// dnsHeaderOK checks the header of a DNS message for the direction.
func dnsHeaderOK(toServer bool, msg []byte) bool {
	if len(msg) < dnsHeaderLen {
		return false
	}
	flags := uint16(msg[2])<<8 | uint16(msg[3])
	qr := flags&0x8000 != 0
	if qr == toServer {
		return false
	}
	switch (flags >> 11) & 0xf { // opcode: query, iquery, status, notify, update
	case 0, 1, 2, 4, 5:
	default:
		return false
	}
	qd := int(msg[4])<<8 | int(msg[5])
	if qd == 0 {
		// A response with no question is legal only with an error.
		return qr && flags&0xf != 0
	}
	return qd <= maxProbeQuestions
}

// maxProbeQuestions bounds the question count a probe accepts: real
// messages ask one question, a few implementations several.
const maxProbeQuestions = 32

// dnsFirstQuestion parses the first question's name (labels, or a
// compression pointer inside the message: Suricata 8 accepts forward
// pointers, suricata-verify dns-forward-pointer) and its type and class.
// complete is false when msg ends inside it.
func dnsFirstQuestion(msg []byte) (ok, complete bool) {
	qd := int(msg[4])<<8 | int(msg[5])
	if qd == 0 {
		return true, true
	}
	off := dnsHeaderLen
	total := 0
	for {
		if off >= len(msg) {
			return false, false
		}
		l := int(msg[off])
		off++
		if l == 0 {
			break
		}
		if l&0xc0 == 0xc0 {
			if off >= len(msg) {
				return false, false
			}
			ptr := (l&0x3f)<<8 | int(msg[off])
			off++
			if ptr < dnsHeaderLen || ptr == off-2 {
				return false, true // into the header, or to itself
			}
			break
		}
		if l&0xc0 != 0 {
			return false, true
		}
		total += l + 1
		if total > 255 {
			return false, true
		}
		off += l
	}
	if off+4 > len(msg) {
		return false, false
	}
	return true, true
}

// DetectUDP decides whether a UDP datagram is DNS, by its content on every
// port. Suricata itself probes DNS over UDP only on its configured detection
// ports (app-layer.protocols.dns.udp.detection-ports, dp 53 by default) and
// from the port-53 side; xdpids detects by content, as issue 8 asks, so a
// resolver on port 5353 or 8053 is seen, and guards against false positives
// off the DNS ports by asking more of the datagram there: on a DNS port
// (53, mDNS 5353, LLMNR 5355) the header and first question must parse; on
// any other port the whole message must parse with its declared section
// counts and no trailing bytes.
func DetectUDP(srcPort, dstPort uint16, payload []byte) Proto {
	if len(payload) < dnsHeaderLen {
		return Unknown
	}
	// Direction from the ports: a QR bit is a response; either fits UDP.
	resp := payload[2]&0x80 != 0
	if !dnsHeaderOK(!resp, payload) {
		return Unknown
	}
	if isDNSPort(srcPort) || isDNSPort(dstPort) {
		if ok, complete := dnsFirstQuestion(payload); ok && complete {
			return DNS
		}
		return Unknown
	}
	if strictDNS(payload) {
		return DNS
	}
	return Unknown
}

func isDNSPort(p uint16) bool { return p == 53 || p == 5353 || p == 5355 }

// strictDNS walks every section of msg: names (with pointers to earlier
// bytes only, at most 16 hops), fixed fields and rdata lengths, and asks that
// the message end exactly at the last record.
func strictDNS(msg []byte) bool {
	count := func(i int) int { return int(msg[i])<<8 | int(msg[i+1]) }
	qd, an, ns, ar := count(4), count(6), count(8), count(10)
	if an+ns+ar > 256 {
		return false
	}
	off := dnsHeaderLen
	for i := 0; i < qd; i++ {
		var ok bool
		if off, ok = skipName(msg, off); !ok || off+4 > len(msg) {
			return false
		}
		off += 4
	}
	for i := 0; i < an+ns+ar; i++ {
		var ok bool
		if off, ok = skipName(msg, off); !ok || off+10 > len(msg) {
			return false
		}
		rdlen := count(off + 8)
		off += 10 + rdlen
		if off > len(msg) {
			return false
		}
	}
	return off == len(msg)
}

// skipName returns the offset after the name at off.
func skipName(msg []byte, off int) (int, bool) {
	for n := 0; off < len(msg); n++ {
		l := int(msg[off])
		switch {
		case l == 0:
			return off + 1, true
		case l&0xc0 == 0xc0:
			if off+2 > len(msg) {
				return 0, false
			}
			ptr := (l&0x3f)<<8 | int(msg[off+1])
			if ptr >= off || ptr < dnsHeaderLen {
				return 0, false
			}
			return off + 2, true
		case l&0xc0 != 0:
			return 0, false
		}
		off += 1 + l
		if n > 127 {
			return 0, false
		}
	}
	return 0, false
}
