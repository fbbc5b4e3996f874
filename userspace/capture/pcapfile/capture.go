// Package pcapfile reads capture files, pcap and pcapng (told apart by magic
// number, each pcapng interface with its own link type), and normalises every
// frame to Ethernet, so offline analysis sees what a NIC would hand the XDP
// program.
package pcapfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Capture is an open capture file. Next returns every frame as Ethernet,
// whatever the link type it was captured on (see normalizer), so the XDP
// replay and the userspace path both see what they would see on a NIC.
type Capture struct {
	f      *os.File
	Format string // "pcap" or "pcapng"
	Size   int64
	count  *countingReader

	pcap *pcapgo.Reader
	link layers.LinkType // pcap: the file's link type

	ng *pcapgo.NgReader
	// links holds the link type of each interface of the current pcapng
	// section checked so far; a new section empties it.
	links []layers.LinkType

	norm normalizer
	last layers.LinkType // the link type of the frame Next returned last

	// Open reads a pcapng's first packet, so that the interfaces described
	// before it (in practice all of them) are checked at Open; Next
	// returns it first.
	pending bool
	pData   []byte
	pCI     gopacket.CaptureInfo
	pLink   layers.LinkType
	pErr    error
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
// files carry the wrong extension), and checks that every link type in it
// is one Next can turn into Ethernet: for pcap the file's, for pcapng every
// interface described before the first packet (an interface described
// later is checked when Next reaches it).
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
	c := &Capture{f: f, Size: st.Size(), count: cr, norm: newNormalizer()}
	switch {
	case magic[0] == 0x0a && magic[1] == 0x0d && magic[2] == 0x0d && magic[3] == 0x0a:
		r, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{
			// Without it the reader keeps the first interface's link
			// type and silently drops the packets of the others.
			WantMixedLinkType:  true,
			SectionEndCallback: func([]pcapgo.NgInterface, pcapgo.NgSectionInfo) { c.links = c.links[:0] },
		})
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: bad pcapng header: %w", path, err)
		}
		c.ng, c.Format = r, "pcapng"
		c.pData, c.pCI, c.pLink, c.pErr = c.read()
		if le, ok := errors.AsType[*LinkTypeError](c.pErr); ok {
			f.Close()
			le.Path = path
			return nil, le
		}
		c.pending = true
	case isPcapMagic(magic):
		r, err := pcapgo.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: bad pcap header: %w", path, err)
		}
		c.pcap, c.Format, c.link = r, "pcap", r.LinkType()
		if !supportedLink(c.link) {
			f.Close()
			return nil, &LinkTypeError{Path: path, Iface: -1, Link: c.link}
		}
	default:
		f.Close()
		return nil, fmt.Errorf("%s: not a pcap or pcapng file (magic %x)", path, magic)
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

// LinkTypeError is a capture, or an interface of a pcapng, whose link type
// Next cannot turn into Ethernet.
type LinkTypeError struct {
	Path  string // the file (set by Open; Run prefixes Next's errors itself)
	Iface int    // the pcapng interface, -1 for a pcap
	Name  string // the pcapng interface's name option, if any
	Link  layers.LinkType
}

func (e *LinkTypeError) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	if e.Iface >= 0 {
		fmt.Fprintf(&b, "interface %d", e.Iface)
		if e.Name != "" {
			fmt.Fprintf(&b, " (%q)", e.Name)
		}
		b.WriteString(": ")
	}
	name := e.Link.String()
	if name == "UnknownLinkType" { // gopacket's name for every number it has no name for
		name = "unknown"
	}
	fmt.Fprintf(&b, "link type %s (%d) not supported: supported are %s", name, uint16(e.Link), SupportedLinkTypes)
	return b.String()
}

// read returns the next frame as the file holds it, with its link type.
func (c *Capture) read() ([]byte, gopacket.CaptureInfo, layers.LinkType, error) {
	// The zero-copy reads reuse one buffer: the frame is valid until the
	// next read, which is all Next promises (the pipeline copies what it
	// keeps, as it must for the live ring buffer).
	if c.pcap != nil {
		data, ci, err := c.pcap.ZeroCopyReadPacketData()
		return data, ci, c.link, err
	}
	data, ci, err := c.ng.ZeroCopyReadPacketData()
	// Interfaces are checked even at the end of the file or at damage: an
	// unsupported one is an error of its own, never a silent drop.
	if lerr := c.checkInterfaces(); lerr != nil {
		return nil, ci, 0, lerr
	}
	if err != nil {
		return nil, ci, 0, err
	}
	// The reader checked InterfaceIndex against its interface list, which
	// checkInterfaces has just mirrored.
	return data, ci, c.links[ci.InterfaceIndex], nil
}

// checkInterfaces checks the link type of every pcapng interface the
// reader has seen since the last call.
func (c *Capture) checkInterfaces() error {
	for i := len(c.links); i < c.ng.NInterfaces(); i++ {
		ifc, err := c.ng.Interface(i)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if !supportedLink(ifc.LinkType) {
			return &LinkTypeError{Iface: i, Name: ifc.Name, Link: ifc.LinkType}
		}
		c.links = append(c.links, ifc.LinkType)
	}
	return nil
}

// Next returns the next frame (always Ethernet), its time and its length
// on the wire (adjusted by the difference between the link-layer header it
// was captured with and the Ethernet header it has now); io.EOF at the
// end. The frame is valid until the next call. A pcapng interface of an
// unsupported link type is a *LinkTypeError; any other error after the
// file header wraps ErrCorrupt.
func (c *Capture) Next() ([]byte, time.Time, int, error) {
	var (
		data []byte
		ci   gopacket.CaptureInfo
		link layers.LinkType
		err  error
	)
	if c.pending {
		c.pending = false
		data, ci, link, err = c.pData, c.pCI, c.pLink, c.pErr
		c.pData, c.pErr = nil, nil
	} else {
		data, ci, link, err = c.read()
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, time.Time{}, 0, io.EOF
		}
		if _, ok := errors.AsType[*LinkTypeError](err); ok {
			return nil, time.Time{}, 0, err
		}
		return nil, time.Time{}, 0, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	c.last = link
	frame := c.norm.normalize(link, data)
	wire := max(ci.Length+len(frame)-len(data), len(frame))
	return frame, ci.Timestamp, wire, nil
}

// LinkType is the link type the frame Next returned last was captured
// with (before it was made Ethernet), as Suricata's packet_info.linktype.
func (c *Capture) LinkType() layers.LinkType { return c.last }

// Offset is how far into the file reading got (for progress).
func (c *Capture) Offset() int64 { return c.count.n }

// Close closes the file.
func (c *Capture) Close() error { return c.f.Close() }
