package pipeline

import (
	"testing"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

// TestHandshakeAnswered: a signature hit is verified evidence only on a
// TCP connection whose handshake the server answered (its SYN-ACK seen)
// or whose source the kernel verified with this packet's hop count.
func TestHandshakeAnswered(t *testing.T) {
	const synAck = decode.FlagSYN | decode.FlagACK
	for _, tc := range []struct {
		name  string
		proto uint8
		state flows.State
		resp  uint8 // flags seen from the responder
		trust uint32
		want  bool
	}{
		{"established, SYN-ACK seen", decode.ProtoTCP, flows.StateEstablished, synAck, 0, true},
		{"closing, SYN-ACK seen", decode.ProtoTCP, flows.StateClosing, synAck | decode.FlagFIN, 0, true},
		{"established on ingress only", decode.ProtoTCP, flows.StateEstablished, 0, 0, false},
		{"established, kernel verified", decode.ProtoTCP, flows.StateEstablished, 0, bpf.TrustVerified, true},
		{"established, hop mismatch", decode.ProtoTCP, flows.StateEstablished, 0, bpf.TrustVerified | bpf.TrustHopMismatch, false},
		{"SYN only, verified source", decode.ProtoTCP, flows.StateSynSent, 0, bpf.TrustVerified, false},
		{"reset", decode.ProtoTCP, flows.StateReset, synAck, 0, false},
		{"UDP with a reply", decode.ProtoUDP, flows.StateEstablished, 0, bpf.TrustVerified, false},
	} {
		f := &flows.Flow{State: tc.state}
		f.Proto = tc.proto
		f.Flags[1] = tc.resp
		if got := handshakeAnswered(f, tc.trust); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
