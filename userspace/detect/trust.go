package detect

import "github.com/xdpids/xdpids/bpf"

// verifiedSource reports whether the kernel's trust bits say the packet's
// source is verified and the packet has its hop count: the source completed
// a handshake the host checked (a SYN cookie, or a final ACK acknowledging
// the host's own SYN-ACK, which the tcx egress program recorded), so it
// receives what the host sends. Brute force from such a source is verified
// evidence (issue 9): its connections are the handshakes that verified it,
// and a forger with its address and another hop count is told apart.
// What it cannot tell apart is a forger at the same hop count.
func verifiedSource(trust uint32) bool {
	return trust&(bpf.TrustVerified|bpf.TrustHopMismatch) == bpf.TrustVerified
}
