package pipeline

import (
	"encoding/binary"

	"github.com/xdpids/xdpids/userspace/samples"
)

// shardOf hashes the host pair of a raw record symmetrically, so both
// directions of every flow between two hosts go to the same worker. It
// reads only fixed offsets: the full decode happens on the worker.
func shardOf(raw []byte) uint32 {
	if len(raw) < samples.HeaderLen+14 {
		return 0
	}
	f := raw[samples.HeaderLen:]
	off := 12
	et := binary.BigEndian.Uint16(f[off:])
	for i := 0; i < 2 && (et == 0x8100 || et == 0x88a8) && len(f) >= off+6; i++ {
		off += 4
		et = binary.BigEndian.Uint16(f[off:])
	}
	off += 2
	var a, b []byte
	switch {
	case et == 0x0800 && len(f) >= off+20:
		a, b = f[off+12:off+16], f[off+16:off+20]
	case et == 0x86dd && len(f) >= off+40:
		a, b = f[off+8:off+24], f[off+24:off+40]
	default:
		return 0
	}
	return fnv(a) ^ fnv(b)
}

func fnv(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}
