package pcapfile_test

import (
	"errors"
	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/userspace/capture/pcapfile"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// pcapngHeader is a section header block and an Ethernet interface
// description block: a pcapng file with no packets.
var pcapngHeader = []byte{
	// SHB: type, length 28, byte-order magic, version 1.0, section length -1, length
	0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 28, 0, 0, 0,
	// IDB: type 1, length 20, link type 1 (Ethernet), reserved, snaplen 65535, length
	1, 0, 0, 0, 20, 0, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0, 0, 20, 0, 0, 0,
}

// FuzzOpen feeds arbitrary files to Open and Next: errors are fine, a
// panic or a frame longer than the file is not.
func FuzzOpen(f *testing.F) {
	for _, name := range []string{"benign.pcap", "scan_syn.pcap", "scan_ipv6.pcap", "amp_dns.pcap"} {
		b, err := os.ReadFile(testenv.RootPath(f, "testdata", "golden", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 2048)])
	}
	f.Add(pcapngHeader)
	f.Add([]byte{})
	f.Add([]byte{0xd4, 0xc3, 0xb2, 0xa1})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "in.pcap")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := pcapfile.Open(path)
		if err != nil {
			return
		}
		defer c.Close()
		if c.Format != "pcap" && c.Format != "pcapng" {
			t.Fatalf("format %q", c.Format)
		}
		for range 1 << 16 {
			frame, _, _, err := c.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				if _, ok := errors.AsType[*pcapfile.LinkTypeError](err); !ok && !errors.Is(err, pcapfile.ErrCorrupt) {
					t.Fatalf("Next: %v is neither a *LinkTypeError nor wraps ErrCorrupt", err)
				}
				return
			}
			if len(frame) > len(data) {
				t.Fatalf("%d-byte frame from a %d-byte file", len(frame), len(data))
			}
		}
	})
}

func TestOpenPcapngHeaderOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.pcapng")
	if err := os.WriteFile(path, pcapngHeader, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := pcapfile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Format != "pcapng" {
		t.Errorf("format %q, want pcapng", c.Format)
	}
	if _, _, _, err := c.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("Next = %v, want io.EOF", err)
	}
}
