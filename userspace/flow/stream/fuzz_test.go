package stream

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

// usedPages is gopacket's count of buffer pages in use (from its Dump).
func usedPages(t testing.TB, r *Reassembler) int {
	t.Helper()
	s := strings.TrimSuffix(strings.TrimPrefix(r.asm.Dump(), "pageCache: used: "), ":")
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("parse %q: %v", r.asm.Dump(), err)
	}
	return n
}

// FuzzReassembly sends the client half of one connection as segments in
// the order, sizes and overlaps the input picks (some truncated by a snap
// length, some with FIN or RST, with server ACKs in between), then ends
// the flow. Every delivered byte must be the byte sent at that offset,
// none twice, never more than sent or past the depth, and every buffer
// page must come back.
func FuzzReassembly(f *testing.F) {
	f.Add([]byte{0x01, 20, 0, 0, 0, 0, 40, 0, 128, 40, 0, 64, 40})
	f.Add([]byte{0x00, 50, 3, 0, 10, 100, 0, 0, 50, 1, 60, 0, 2, 0, 90, 4, 200, 255})
	f.Add([]byte{0x13, 255, 255, 0, 0, 199, 0, 100, 199, 0, 200, 199, 8, 50, 10, 0, 150, 199})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 4 {
			return
		}
		opts := in[0]
		handshake := opts&1 != 0
		total := 64 + int(in[1])*8
		cfg := Config{MaxBufferPerFlow: int(opts>>1&7+1) * PageBytes, Depth: NoDepth}
		if opts&0x10 != 0 {
			cfg.Depth = uint64(total / 2)
		}
		if opts&0x20 != 0 {
			cfg.MaxBufferTotal = 2 * PageBytes
		}
		content := make([]byte, total)
		for i := range content {
			content[i] = byte(i*131 + i>>8)
		}
		c := newConv(40000)
		c.cisn = 0xffffff00 + uint32(in[2]) // near the wrap
		c.sisn = uint32(in[3]) << 24

		var got [][2]uint64 // offset, length
		var sent uint64
		base := -1
		if handshake {
			base = 0
		}
		h := &harness{t: t, tab: flows.NewTable(16, flows.DefaultTimeouts), ts: t0}
		cfg.OnData = func(f *flows.Flow, toServer bool, data []byte, off uint64) {
			if !toServer {
				t.Fatalf("data to the client: %q", data)
			}
			if base < 0 {
				t.Fatalf("data before any segment")
			}
			if n := len(got); n > 0 && off < got[n-1][0]+got[n-1][1] {
				t.Fatalf("offset %d delivered again (after %v)", off, got[n-1])
			}
			o := int(off) + base
			if o+len(data) > total || !bytes.Equal(data, content[o:o+len(data)]) {
				t.Fatalf("wrong bytes at offset %d (+%d): %x", off, base, data)
			}
			if off+uint64(len(data)) > cfg.Depth {
				t.Fatalf("delivered past the depth: %d+%d", off, len(data))
			}
			got = append(got, [2]uint64{off, uint64(len(data))})
		}
		h.r = New(cfg)
		if handshake {
			h.feed(c.handshake()...)
		}
		for i := 4; i+2 < len(in); i += 3 {
			kind, start, n := in[i], int(in[i+1])*total/256, int(in[i+2])%200+1
			n = min(n, total-start)
			if kind&1 != 0 && base >= 0 {
				h.feed(c.pkt(false, ack, 0, uint32(start), ""))
				continue
			}
			p := c.c2s(uint32(start), string(content[start:start+n]))
			if base < 0 {
				base = start
			}
			if kind&2 != 0 {
				p.Payload = p.Payload[:n/2] // cut by the snap length
			}
			if kind&4 != 0 && start+n == total {
				p.TCPFlags |= decode.FlagFIN
			}
			if kind&0xf8 == 0x08 {
				p.TCPFlags |= decode.FlagRST
			}
			sent += uint64(len(p.Payload))
			h.feed(p)
		}
		if k := h.tab.Lookup(keyOf(c)); k != nil {
			h.r.FlowEnd(k.ID)
		}
		var delivered uint64
		for _, g := range got {
			delivered += g[1]
		}
		s := h.r.Stats()
		if delivered > sent || delivered > uint64(total) || delivered != s.Bytes {
			t.Fatalf("delivered %d, sent %d of %d, stats %+v", delivered, sent, total, s)
		}
		if s.Active != 0 || s.Finished != 0 {
			t.Fatalf("after FlowEnd: %+v", s)
		}
		if n := usedPages(t, h.r); n != 0 {
			t.Fatalf("%d pages still in use", n)
		}
	})
}

// TestPagesReturned checks that every way a stream ends gives gopacket's
// pages back.
func TestPagesReturned(t *testing.T) {
	c := newConv(40012)
	for _, tc := range []struct {
		name string
		pkts func() []*decode.Packet
		end  func(h *harness)
	}{
		{"flow end", func() []*decode.Packet { return []*decode.Packet{c.c2s(10, "x"), c.s2c(10, "y")} },
			func(h *harness) { h.r.FlowEnd(h.tab.Lookup(keyOf(c)).ID) }},
		{"flush", func() []*decode.Packet { return []*decode.Packet{c.c2s(10, "x"), c.s2c(10, "y")} },
			func(h *harness) { h.r.Flush(h.ts + 1) }},
		{"rst", func() []*decode.Packet {
			return []*decode.Packet{c.c2s(10, "x"), c.s2c(10, "y"), c.pkt(true, rst, 0, 0, "")}
		}, func(h *harness) {}},
		{"depth both ways", func() []*decode.Packet {
			return []*decode.Packet{c.c2s(10, "x"), c.c2s(0, "0123456789"), c.s2c(20, "y"), c.s2c(0, "0123456789")}
		}, func(h *harness) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{Depth: 5})
			h.feed(c.handshake()...)
			h.feed(tc.pkts()...)
			tc.end(h)
			if n := usedPages(t, h.r); n != 0 {
				t.Errorf("%d pages in use; events %v", n, fmt.Sprint(h.events))
			}
		})
	}
}
