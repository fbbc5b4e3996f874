package detect

import (
	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

// isSyn reports a TCP SYN (no ACK, no RST), the first packet of a
// handshake: what port_scan, brute_force and syn_flood count.
func isSyn(fl uint8) bool {
	return fl&(decode.FlagSYN|decode.FlagACK|decode.FlagRST) == decode.FlagSYN
}

// isSynAck reports a SYN-ACK (no RST), the handshake's answer.
func isSynAck(fl uint8) bool {
	return fl&(decode.FlagSYN|decode.FlagACK|decode.FlagRST) == decode.FlagSYN|decode.FlagACK
}

// kernelLimitMeta is the metadata of an alert on a kernel rate-limit
// sample: the source emptied its token bucket in the XDP program, which is
// itself proof of a flood from it.
func kernelLimitMeta(p *decode.Packet) map[string]string {
	return map[string]string{"trigger": "kernel rate limit", "reason": bpf.ReasonNames[p.Reason]}
}
