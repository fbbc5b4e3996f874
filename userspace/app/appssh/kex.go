package appssh

import (
	"crypto/md5"
	"encoding/hex"
)

// kexInit parses a KEXINIT body (after the message code: cookie, ten
// name-lists, first_kex_packet_follows, reserved; RFC 4253 section 7.1)
// and computes the side's HASSH: the client's from the client-to-server
// lists, the server's from the server-to-client ones, as the hassh spec and
// Suricata's generate_hassh do. A body that does not parse gives no HASSH,
// as in Suricata.
func (s *side) kexInit(body []byte, toServer bool) {
	if len(body) < 16 {
		return
	}
	b := body[16:]
	var lists [10][]byte
	for i := range lists {
		if len(b) < 4 {
			return
		}
		n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		b = b[4:]
		if uint32(len(b)) < n {
			return
		}
		lists[i], b = b[:n], b[n:]
	}
	if len(b) < 5 { // first_kex_packet_follows, reserved
		return
	}
	// lists: kex, host key, enc c2s, enc s2c, mac c2s, mac s2c, cmp c2s,
	// cmp s2c, lang c2s, lang s2c.
	enc, mac, cmp := lists[2], lists[4], lists[6]
	if !toServer {
		enc, mac, cmp = lists[3], lists[5], lists[7]
	}
	h := s.hasshStr[:0]
	h = append(h, lists[0]...)
	h = append(h, ';')
	h = append(h, enc...)
	h = append(h, ';')
	h = append(h, mac...)
	h = append(h, ';')
	h = append(h, cmp...)
	s.hasshStr = h
	sum := md5.Sum(h)
	hex.Encode(s.hassh[:], sum[:])
	s.hasHassh = true
}
