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
	isOneWay := false
	if proto == 1 || proto == 58 {
		sport, dport, isOneWay = icmpPorts(proto, uint8(sport), uint8(dport))
	}
	// Order the endpoints: the smaller address (then port) first. One-way
	// ICMP messages keep their direction (as Zeek and pycommunityid do).
	c := src.Compare(dst)
	if !isOneWay && !(c < 0 || (c == 0 && sport <= dport)) {
		src, dst, sport, dport = dst, src, dport, sport
	}
	h := sha1.New()
	var seed [2]byte
	h.Write(seed[:])
	h.Write(src.AsSlice())
	h.Write(dst.AsSlice())
	h.Write([]byte{proto, 0})
	var ports [4]byte
	binary.BigEndian.PutUint16(ports[0:], sport)
	binary.BigEndian.PutUint16(ports[2:], dport)
	if proto == 6 || proto == 17 || proto == 132 || proto == 1 || proto == 58 {
		h.Write(ports[:])
	}
	return "1:" + base64.StdEncoding.EncodeToString(h.Sum(nil))
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
