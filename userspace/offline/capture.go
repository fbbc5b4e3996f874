package offline

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// packetSource reads frames from a pcap or pcapng file.
type packetSource interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// Capture is an open capture file.
type Capture struct {
	f      *os.File
	src    packetSource
	Format string // "pcap" or "pcapng"
	Size   int64
	count  *countingReader
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Open opens a capture, telling pcap from pcapng by its magic number (many
// files carry the wrong extension), and checks the link type is Ethernet.
func Open(path string) (*Capture, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open capture: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open capture: %w", err)
	}
	cr := &countingReader{r: f}
	br := bufio.NewReaderSize(cr, 1<<16)
	magic, err := br.Peek(4)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: not a pcap or pcapng file: too short", path)
	}
	c := &Capture{f: f, Size: st.Size(), count: cr}
	var link layers.LinkType
	switch {
	case magic[0] == 0x0a && magic[1] == 0x0d && magic[2] == 0x0d && magic[3] == 0x0a:
		r, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{})
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: bad pcapng header: %w", path, err)
		}
		c.src, c.Format, link = r, "pcapng", r.LinkType()
	case isPcapMagic(magic):
		r, err := pcapgo.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: bad pcap header: %w", path, err)
		}
		c.src, c.Format, link = r, "pcap", r.LinkType()
	default:
		f.Close()
		return nil, fmt.Errorf("%s: not a pcap or pcapng file (magic %x)", path, magic)
	}
	if link != layers.LinkTypeEthernet {
		f.Close()
		return nil, fmt.Errorf("%s: link type %s not supported (Ethernet only)", path, link)
	}
	return c, nil
}

func isPcapMagic(m []byte) bool {
	le := uint32(m[0]) | uint32(m[1])<<8 | uint32(m[2])<<16 | uint32(m[3])<<24
	switch le {
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		return true
	}
	return false
}

// ErrCorrupt wraps a read error after the file header: the packets read
// before it were analysed.
var ErrCorrupt = errors.New("capture damaged")

// Next returns the next frame and its time; io.EOF at the end.
func (c *Capture) Next() ([]byte, time.Time, int, error) {
	data, ci, err := c.src.ReadPacketData()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, time.Time{}, 0, io.EOF
		}
		return nil, time.Time{}, 0, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return data, ci.Timestamp, ci.Length, nil
}

// Offset is how far into the file reading got (for progress).
func (c *Capture) Offset() int64 { return c.count.n }

// Close closes the file.
func (c *Capture) Close() error { return c.f.Close() }
