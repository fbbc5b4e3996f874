package samples

import (
	"bufio"
	"fmt"
	"io"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// PcapWriter writes samples to a classic pcap stream (Ethernet link type,
// snap length 1536), for tcpdump, Wireshark and `xdpids read`.
type PcapWriter struct {
	bw *bufio.Writer
	w  *pcapgo.Writer
}

// NewPcapWriter writes the pcap file header to w.
func NewPcapWriter(w io.Writer) (*PcapWriter, error) {
	bw := bufio.NewWriter(w)
	pw := pcapgo.NewWriterNanos(bw)
	if err := pw.WriteFileHeader(1536, layers.LinkTypeEthernet); err != nil {
		return nil, fmt.Errorf("write pcap header: %w", err)
	}
	return &PcapWriter{bw: bw, w: pw}, nil
}

// Write appends one sample stamped with wall-clock time ts.
func (p *PcapWriter) Write(s *Sample, ts time.Time) error {
	ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(s.Data), Length: int(s.WireLen), InterfaceIndex: int(s.Ifindex)}
	if ci.Length < ci.CaptureLength {
		ci.Length = ci.CaptureLength
	}
	if err := p.w.WritePacket(ci, s.Data); err != nil {
		return fmt.Errorf("write pcap record: %w", err)
	}
	return nil
}

// Flush writes buffered records out.
func (p *PcapWriter) Flush() error { return p.bw.Flush() }
