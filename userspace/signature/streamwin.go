package signature

import (
	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

// DefaultStreamWindow is Options.StreamWindow's default: the bytes of
// each stream direction kept to inspect again with the next chunk.
const DefaultStreamWindow = 1024

// streamWin is the tail of one stream direction already inspected.
type streamWin struct {
	buf []byte
	end uint64 // stream offset just past buf
}

// streamSession reports whether a TCP flow has a stream session, as
// Suricata has one: the originator's SYN was seen, or Midstream picks
// flows up without it. Without a session the reassembled bytes are not
// inspected and payload rules inspect the packets instead.
func (e *Engine) streamSession(f *flows.Flow) bool {
	return f != nil && f.Proto == decode.ProtoTCP && (e.opts.Midstream || f.Flags[0]&decode.FlagSYN != 0)
}

// packetToStream reports whether the payload of a TCP packet goes to the
// stream (MatchStream) rather than to the packet's payload rules: the
// integrator says the flow is reassembled, the flow has a session, and
// the segment is not a RST (whose data Suricata does not reassemble, and
// userspace/flow/stream does not deliver).
func (e *Engine) packetToStream(in *Input) bool {
	p := in.P
	return in.StreamInspected && p.Proto == decode.ProtoTCP && p.TCPFlags&decode.FlagRST == 0 && e.streamSession(in.F)
}

// windowed returns the bytes to inspect for a stream chunk: the kept
// tail of the direction followed by the chunk when the chunk follows on,
// and how many leading bytes are the tail. It then keeps the new tail.
func (e *Engine) windowed(s *scratch, fs *flowState, si *StreamInput) ([]byte, int) {
	if e.opts.StreamWindow <= 0 {
		return si.Data, 0
	}
	d := 0
	if !si.ToServer {
		d = 1
	}
	w := &fs.win[d]
	data, old := si.Data, 0
	if len(w.buf) > 0 && w.end == si.Offset {
		s.sbuf = append(append(s.sbuf[:0], w.buf...), si.Data...)
		data, old = s.sbuf, len(w.buf)
	}
	keep := data[max(0, len(data)-e.opts.StreamWindow):]
	w.buf = append(w.buf[:0], keep...)
	w.end = si.Offset + uint64(len(si.Data))
	return data, old
}

// newStreamMatch says whether a match of cr over the window and the
// chunk is new: not one already reported when the window's bytes were
// inspected (a match in the window alone), unless the chunk alone
// matches as well.
func (e *Engine) newStreamMatch(cr *crule, c *mctx, s *scratch) bool {
	ch := cr.chains[0] // stream rules have one chain, the payload's
	s.insp.vars = s.insp.vars[:0]
	s.insp.reset(c.data[:c.old])
	if !s.insp.run(ch.m, 0, 0) {
		return true
	}
	s.insp.vars = s.insp.vars[:0]
	s.insp.reset(c.data[c.old:])
	return s.insp.run(ch.m, 0, 0)
}

// StreamBytes returns n bytes of one direction of flow f's stream from
// stream offset off, when the engine still keeps them all (the last
// Options.StreamWindow bytes inspected), else nil. The slice is the
// engine's: valid until the flow's next MatchStream.
func (e *Engine) StreamBytes(f *flows.Flow, toServer bool, off uint64, n int) []byte {
	if f == nil || n <= 0 {
		return nil
	}
	fs, _ := f.Sig.(*flowState)
	if fs == nil || fs.start != f.FirstNs {
		return nil
	}
	w := &fs.win[0]
	if !toServer {
		w = &fs.win[1]
	}
	begin := w.end - uint64(len(w.buf))
	if off < begin || off+uint64(n) > w.end {
		return nil
	}
	return w.buf[off-begin : off-begin+uint64(n)]
}
