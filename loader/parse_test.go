package loader

import (
	"testing"

	"github.com/cilium/ebpf/ringbuf"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/internal/testgen"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

// TestSampleHeaderParse: the program's parse travels in each sample's
// header (family, L4 protocol, L3 and L4 offsets) so userspace need not
// walk the headers again, and the Go decoder, bound by the same limits,
// finds the same: every frame of every generated capture, plus VLAN and
// IPv6 extension chains at and past the limits, through the real program.
func TestSampleHeaderParse(t *testing.T) {
	testenv.RequireBPF(t)
	pinCPU(t, firstCPU(t))
	cfg := testConfig()
	cfg.Snaplen, cfg.FlowSamples = bpf.MaxSnaplen, bpf.FlowSamplesAll
	d := loadDatapath(t, cfg)
	rd, err := ringbuf.NewReader(d.SamplesMap())
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var frames [][]byte
	for _, c := range append(testgen.All(), testgen.Mix(20)) {
		fs, err := c.Frames()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			frames = append(frames, f.Data)
		}
	}
	frames = append(frames,
		frame(eth(), dot1ad(1), dot1q(2), dot1q(3), ip4(srcA, dst4), tcp(1, 2, ack)),
		frame(eth(), dot1ad(1), dot1q(2), dot1q(3), dot1q(4), ip4(srcA, dst4), tcp(1, 2, ack)),
		ext6Chain(6, tcp(40000, 80, ack)),
		ext6Chain(7, tcp(40000, 80, ack)),
		ext6Chain(6, udp(1, 2)),
	)
	dec := decode.NewDecoder()
	checked := 0
	for i, f := range frames {
		runXDP(t, d.Program(), f, 0)
		for _, s := range readSamples(t, rd) {
			var p decode.Packet
			p.WireLen, p.CapLen = s.hdr.WireLen, s.hdr.CapLen
			_ = dec.Decode(s.data, &p)
			if p.Depth > 0 {
				continue // the decoder describes the innermost packet
			}
			h := s.hdr
			l4 := uint32(0)
			if p.HasL4 {
				l4 = p.L4Off
			}
			l3 := uint32(0)
			if p.Family != 0 {
				l3 = p.L3Off
			}
			if h.Family != p.Family || uint32(h.L3Off) != l3 || uint32(h.L4Off) != l4 || (p.Family != 0 && h.L4proto != p.Proto) {
				t.Errorf("frame %d: program says family %d proto %d l3 %d l4 %d; decoder family %d proto %d l3 %d l4 %d (has l4 %v)",
					i, h.Family, h.L4proto, h.L3Off, h.L4Off, p.Family, p.Proto, l3, l4, p.HasL4)
			}
			checked++
		}
	}
	if checked < 1000 {
		t.Errorf("only %d samples checked", checked)
	}
}
