package pipeline

import (
	"encoding/binary"

	"github.com/xdpids/xdpids/userspace/capture/samples"
)

// shardOf hashes the host pair of a raw record symmetrically, so both
// directions of every flow between two hosts go to the same worker. It
// walks no header: the sample header says where the program found the IP
// header (the full decode happens on the worker).
func shardOf(raw []byte) uint32 {
	if len(raw) < samples.HeaderLen {
		return 0
	}
	family := raw[30]
	off := samples.HeaderLen + int(binary.NativeEndian.Uint16(raw[40:]))
	var a, b []byte
	switch {
	case family == 4 && len(raw) >= off+20:
		a, b = raw[off+12:off+16], raw[off+16:off+20]
	case family == 6 && len(raw) >= off+40:
		a, b = raw[off+8:off+24], raw[off+24:off+40]
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
