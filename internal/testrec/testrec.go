// Package testrec builds ring buffer records as the XDP program writes
// them (struct sample_hdr, then the frame), for userspace tests and
// benchmarks that run without the kernel. The program's parse (family, L4
// protocol, L3 and L4 offsets) is taken from the Go decoder, which stops
// where the program does; loader's TestSampleHeaderParse checks the two
// agree on real frames.
package testrec

import (
	"encoding/binary"

	"github.com/xdpids/xdpids/userspace/capture/samples"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

// Header is what a record says besides the frame.
type Header struct {
	TsNs        uint64
	Ifindex     uint32
	Flags       uint8 // bpf.Sample* bits
	Action      uint8 // bpf.Flow*
	FlowPackets uint64
	Snap        int // bytes of the frame kept; 0: all
	// The program's verdict on the packet (bpf.Verdict*, bpf.Reason*), its
	// trust bits, and the in-kernel model's (a model sample: class != 0).
	Verdict, Reason uint8
	Trust           uint8
	ModelClass      uint8
	ModelScore      uint16
}

// Record returns the record of frame with h.
func Record(frame []byte, h Header) []byte {
	n := len(frame)
	if h.Snap > 0 {
		n = min(n, h.Snap)
	}
	r := make([]byte, samples.HeaderLen+n)
	e := binary.NativeEndian
	e.PutUint64(r[0:], h.TsNs)
	ifindex := h.Ifindex
	if ifindex == 0 {
		ifindex = 1
	}
	e.PutUint32(r[8:], ifindex)
	e.PutUint32(r[16:], uint32(len(frame)))
	e.PutUint32(r[20:], uint32(n))
	r[26], r[27], r[28], r[29] = h.Verdict, h.Reason, h.Flags, h.Action
	r[44], r[45] = h.Trust, h.ModelClass
	e.PutUint16(r[46:], h.ModelScore)
	var p decode.Packet
	p.WireLen, p.CapLen = uint32(len(frame)), uint32(len(frame))
	_ = decode.NewDecoder().Decode(frame, &p)
	if p.Family != 0 && p.Depth == 0 {
		r[30], r[31] = p.Family, p.Proto
		e.PutUint16(r[24:], p.VLAN)
		e.PutUint16(r[40:], uint16(p.L3Off))
		if p.HasL4 {
			e.PutUint16(r[42:], uint16(p.L4Off))
		}
	}
	e.PutUint64(r[32:], h.FlowPackets)
	copy(r[samples.HeaderLen:], frame[:n])
	return r
}
