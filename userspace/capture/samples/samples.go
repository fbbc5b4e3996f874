// Package samples reads the packet samples the XDP program writes to its
// ring buffer, without allocating per sample, and can write them to a pcap.
package samples

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/xdpids/xdpids/bpf"
)

// HeaderLen is the size of struct sample_hdr in front of every record.
const HeaderLen = 48

// Sample is one ring buffer record: the metadata and the captured bytes.
type Sample struct {
	TsNs    uint64 // CLOCK_MONOTONIC
	Ifindex uint32
	RxQueue uint32
	WireLen uint32
	CapLen  uint32
	VLAN    uint16
	Verdict uint8 // bpf.Verdict*
	Reason  uint8 // bpf.Reason*
	Flags   uint8 // bpf.Sample* bits
	// Action is the kernel flow's action when sampled: bpf.FlowBypass marks
	// a milestone of a flow userspace bypassed (headers only).
	Action uint8
	// The program's parse of the frame: the IP version (0: not IP), the IP
	// protocol, and where the IP and L4 headers start (0: none).
	Family, L4Proto uint8
	L3Off, L4Off    uint16
	// FlowPackets is the kernel flow table's packet count of this packet's
	// flow, this one included (0: not a flow packet).
	FlowPackets uint64
	// Trust is what the program knows of the source address (bpf.Trust*
	// bits): verified by a SYN cookie handshake, and whether this packet's
	// hop count differs from the one recorded then (spoof suspected).
	Trust uint32
	// ModelClass is the in-kernel model's malicious class of the flow
	// direction it judged at this packet (1 .. bpf.TreeMaxClasses-1), 0
	// when the packet carries no model verdict; ModelScore is then the
	// trees' leaf score sum, in 1/bpf.TreeScoreOne.
	ModelClass uint8
	ModelScore uint16
	// Data is the first CapLen bytes of the frame. It aliases the reader's
	// buffer: valid until the next Read.
	Data []byte
}

// ModelVerdict reports whether s is a model sample: the packet at which
// the in-kernel model judged its flow direction malicious.
func (s *Sample) ModelVerdict() bool { return s.ModelClass != 0 }

// ErrShort is returned for a record too short for its header or its length.
var ErrShort = errors.New("sample record truncated")

// Decode fills s from a raw record; s.Data aliases raw.
func Decode(raw []byte, s *Sample) error {
	if len(raw) < HeaderLen {
		return fmt.Errorf("%w: %d bytes", ErrShort, len(raw))
	}
	e := binary.NativeEndian
	s.TsNs = e.Uint64(raw[0:])
	s.Ifindex = e.Uint32(raw[8:])
	s.RxQueue = e.Uint32(raw[12:])
	s.WireLen = e.Uint32(raw[16:])
	s.CapLen = e.Uint32(raw[20:])
	s.VLAN = e.Uint16(raw[24:])
	s.Verdict = raw[26]
	s.Reason = raw[27]
	s.Flags = raw[28]
	s.Action = raw[29]
	s.Family, s.L4Proto = raw[30], raw[31]
	s.FlowPackets = e.Uint64(raw[32:])
	s.L3Off, s.L4Off = e.Uint16(raw[40:]), e.Uint16(raw[42:])
	s.Trust = uint32(raw[44])
	s.ModelClass, s.ModelScore = raw[45], e.Uint16(raw[46:])
	if s.CapLen > bpf.MaxSnaplen || int(s.CapLen) > len(raw)-HeaderLen {
		return fmt.Errorf("%w: cap_len %d, %d bytes follow", ErrShort, s.CapLen, len(raw)-HeaderLen)
	}
	s.Data = raw[HeaderLen : HeaderLen+int(s.CapLen)]
	return nil
}

// Reader consumes the samples ring buffer.
type Reader struct {
	rd  *ringbuf.Reader
	rec ringbuf.Record
}

// NewReader opens a reader on the samples ring buffer map.
func NewReader(m *ebpf.Map) (*Reader, error) {
	rd, err := ringbuf.NewReader(m)
	if err != nil {
		return nil, fmt.Errorf("open samples ring buffer: %w", err)
	}
	return &Reader{rd: rd}, nil
}

// Read blocks for the next sample and decodes it into s, reusing the
// record buffer (no allocation in steady state). It returns an error
// wrapping ringbuf.ErrClosed after Close, os.ErrDeadlineExceeded after a
// deadline, and ErrShort for a malformed record (skip it and go on).
func (r *Reader) Read(s *Sample) error {
	if err := r.rd.ReadInto(&r.rec); err != nil {
		return err
	}
	return Decode(r.rec.RawSample, s)
}

// SetDeadline makes Read return os.ErrDeadlineExceeded after t.
func (r *Reader) SetDeadline(t time.Time) { r.rd.SetDeadline(t) }

// Flush makes a blocked or later Read return every record the ring holds,
// then an error wrapping ringbuf.ErrFlushed (a drain at shutdown).
func (r *Reader) Flush() error { return r.rd.Flush() }

// Close wakes a blocked Read and releases the reader.
func (r *Reader) Close() error { return r.rd.Close() }

// ReadRaw blocks for the next record and returns its bytes, valid until
// the next read (no allocation in steady state).
func (r *Reader) ReadRaw() ([]byte, error) {
	if err := r.rd.ReadInto(&r.rec); err != nil {
		return nil, err
	}
	return r.rec.RawSample, nil
}

// AvailableBytes is how much unread data the ring holds.
func (r *Reader) AvailableBytes() int { return r.rd.AvailableBytes() }

// BufferSize is the ring buffer's size in bytes.
func (r *Reader) BufferSize() int { return r.rd.BufferSize() }
