package flows

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"net/netip"
)

// CommunityID returns the Community ID v1 (seed 0) of a flow, the
// "1:base64(sha1)" string Suricata and Zeek put in community_id. There is
// no maintained Go module for it in reach; the spec is 20 lines
// (github.com/corelight/community-id-spec).
func CommunityID(src, dst netip.Addr, sport, dport uint16, proto uint8) string {
	var b [32]byte
	return string(AppendCommunityID(b[:0], src, dst, sport, dport, proto))
}

// AppendCommunityID appends CommunityID's string to dst without
// allocating (EVE flow events, one per flow).
func AppendCommunityID(dst []byte, src, dst2 netip.Addr, sport, dport uint16, proto uint8) []byte {
	isOneWay := false
	if proto == 1 || proto == 58 {
		sport, dport, isOneWay = icmpPorts(proto, uint8(sport), uint8(dport))
	}
	// Order the endpoints: the smaller address (then port) first. One-way
	// ICMP messages keep their direction (as Zeek and pycommunityid do).
	c := src.Compare(dst2)
	if !isOneWay && !(c < 0 || (c == 0 && sport <= dport)) {
		src, dst2, sport, dport = dst2, src, dport, sport
	}
	// seed (2) | src | dst | proto | pad | ports (4)
	var in [2 + 16 + 16 + 2 + 4]byte
	n := 2
	if src.Is4() {
		a, b := src.As4(), dst2.As4()
		n += copy(in[n:], a[:])
		n += copy(in[n:], b[:])
	} else {
		a, b := src.As16(), dst2.As16()
		n += copy(in[n:], a[:])
		n += copy(in[n:], b[:])
	}
	in[n], in[n+1] = proto, 0
	n += 2
	if proto == 6 || proto == 17 || proto == 132 || proto == 1 || proto == 58 {
		binary.BigEndian.PutUint16(in[n:], sport)
		binary.BigEndian.PutUint16(in[n+2:], dport)
		n += 4
	}
	sum := sha1.Sum(in[:n])
	dst = append(dst, "1:"...)
	return base64.StdEncoding.AppendEncode(dst, sum[:])
}

// icmpPorts maps ICMP type and code to the port pair of the spec: the type
// and its counterpart type for request/response pairs, else type and code.
func icmpPorts(proto, typ, code uint8) (uint16, uint16, bool) {
	var pairs map[uint8]uint8
	if proto == 1 {
		pairs = icmp4Pairs
	} else {
		pairs = icmp6Pairs
	}
	if peer, ok := pairs[typ]; ok {
		return uint16(typ), uint16(peer), false
	}
	return uint16(typ), uint16(code), true
}

var icmp4Pairs = map[uint8]uint8{8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17}

var icmp6Pairs = map[uint8]uint8{128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135, 130: 131, 131: 130, 139: 140, 140: 139, 144: 145, 145: 144}
