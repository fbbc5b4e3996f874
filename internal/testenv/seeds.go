package testenv

import (
	"cmp"
	"errors"
	"io"
	"io/fs"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/xdpids/xdpids/userspace/capture/pcapfile"
)

// Payload is one fuzz seed read from a capture: a UDP payload, or one
// direction of a TCP flow (its payload bytes in sequence order).
type Payload struct {
	TCP              bool
	ToServer         bool   // towards the side that did not open the flow
	SrcPort, DstPort uint16 // of this direction
	Data             []byte
	Peer             []byte // TCP: the other direction's bytes (nil for UDP)
}

type seedConfig struct {
	ports            []uint16
	tcp, udp         bool
	maxSeeds, maxLen int
	maxFiles         int
	golden           []string
}

// SeedOption narrows what CorpusPayloads returns.
type SeedOption func(*seedConfig)

// Ports keeps flows with either port in ports.
func Ports(ports ...uint16) SeedOption { return func(c *seedConfig) { c.ports = ports } }

// TCPOnly keeps TCP streams only.
func TCPOnly() SeedOption { return func(c *seedConfig) { c.udp = false } }

// UDPOnly keeps UDP payloads only.
func UDPOnly() SeedOption { return func(c *seedConfig) { c.tcp = false } }

// MaxSeeds bounds how many payloads come back (default 200).
func MaxSeeds(n int) SeedOption { return func(c *seedConfig) { c.maxSeeds = n } }

// MaxFiles bounds how many corpus files are read (default 400).
func MaxFiles(n int) SeedOption { return func(c *seedConfig) { c.maxFiles = n } }

// MaxLen cuts each payload (default 4 KiB).
func MaxLen(n int) SeedOption { return func(c *seedConfig) { c.maxLen = n } }

// Golden also reads the project's own captures testdata/golden/<name>
// first; a missing or unreadable golden capture fails the test.
func Golden(names ...string) SeedOption { return func(c *seedConfig) { c.golden = names } }

// CorpusPayloads returns fuzz seeds from the capture files under the
// corpus folder sub (and the Golden captures): UDP payloads and, per TCP
// flow direction, the payload bytes in sequence order. Where the corpus is
// absent it returns only the golden seeds and never skips or fails: the
// committed seeds still run. Files that do not decode are passed over.
func CorpusPayloads(tb testing.TB, sub string, opts ...SeedOption) []Payload {
	tb.Helper()
	c := seedConfig{tcp: true, udp: true, maxSeeds: 200, maxLen: 4096, maxFiles: 400}
	for _, o := range opts {
		o(&c)
	}
	var out []Payload
	for _, g := range c.golden {
		p, err := capturePayloads(RootPath(tb, "testdata", "golden", g), &c, c.maxSeeds-len(out))
		if err != nil {
			tb.Fatalf("golden capture %s: %v", g, err)
		}
		out = append(out, p...)
	}
	dir := CorpusDir(sub)
	if dir == "" {
		return out
	}
	var files []string
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".pcap") || strings.HasSuffix(path, ".pcapng") || strings.HasSuffix(path, ".cap")) {
			files = append(files, path)
		}
		return nil
	})
	for i, path := range files {
		if i >= c.maxFiles || len(out) >= c.maxSeeds {
			break
		}
		p, _ := capturePayloads(path, &c, c.maxSeeds-len(out))
		out = append(out, p...)
	}
	return out
}

type flowKey struct {
	src, dst     string
	sport, dport uint16
}

type segment struct {
	rel  uint32
	data []byte
}

type direction struct {
	key     flowKey
	isn     uint32
	haveISN bool
	client  bool // this direction opened the flow
	segs    []segment
	stored  int
	peer    *direction
}

// capturePayloads reads one capture. Hand-written reassembly: seeds need
// only "in-order bytes, first copy wins", not gopacket/reassembly's
// callbacks and timeouts.
func capturePayloads(path string, c *seedConfig, budget int) ([]Payload, error) {
	if budget <= 0 {
		return nil, nil
	}
	var out []Payload
	dirs, err := readCapture(path, c, func(p Payload) bool {
		out = append(out, p)
		return len(out) < budget
	})
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		if len(out) >= budget {
			break
		}
		b := d.bytes(c.maxLen)
		if len(b) == 0 {
			continue
		}
		p := Payload{TCP: true, ToServer: d.client, SrcPort: d.key.sport, DstPort: d.key.dport, Data: b}
		if d.peer != nil {
			p.Peer = d.peer.bytes(c.maxLen)
		}
		out = append(out, p)
	}
	return out, nil
}

// bytes joins the segments in sequence order up to the first gap; where
// copies overlap the first one wins.
func (d *direction) bytes(maxLen int) []byte {
	segs := slices.Clone(d.segs)
	slices.SortStableFunc(segs, func(a, b segment) int { return cmp.Compare(a.rel, b.rel) })
	var out []byte
	for _, s := range segs {
		if int(s.rel) > len(out) {
			break
		}
		end := int(s.rel) + len(s.data)
		if end > len(out) {
			out = append(out, s.data[len(out)-int(s.rel):]...)
		}
		if len(out) >= maxLen {
			return out[:maxLen]
		}
	}
	return out
}

func (c *seedConfig) isPort(p uint16) bool { return slices.Contains(c.ports, p) }

func (c *seedConfig) keep(sport, dport uint16) bool {
	return len(c.ports) == 0 || c.isPort(sport) || c.isPort(dport)
}

// Conn is one TCP connection of a capture: the in-order payload bytes of
// each direction (see CaptureConns).
type Conn struct {
	Client, Server     string // address:port
	ToServer, ToClient []byte
}

// CaptureConns reads one capture and returns its TCP connections on port
// (0: every port), in the order they were first seen, each with the bytes
// of both directions in sequence order up to the first hole, the first
// copy winning where retransmissions overlap. It is for tests of parsers
// on the clean captures of suricata-verify and the attack set, not a
// stream reassembler. A capture that cannot be read fails the test.
func CaptureConns(tb testing.TB, path string, port uint16) []Conn {
	tb.Helper()
	c := seedConfig{tcp: true, maxSeeds: 1 << 30, maxLen: 64 << 20}
	if port != 0 {
		c.ports = []uint16{port}
	}
	dirs, err := captureDirections(path, &c)
	if err != nil {
		tb.Fatalf("read %s: %v", path, err)
	}
	var out []Conn
	for _, d := range dirs {
		if !d.client && d.peer != nil {
			continue // listed with its client side
		}
		cli, srv := d, d.peer
		if !d.client {
			cli, srv = nil, d
		}
		var cn Conn
		if cli != nil {
			cn.Client, cn.Server = endpoint(cli.key.src, cli.key.sport), endpoint(cli.key.dst, cli.key.dport)
			cn.ToServer = cli.bytes(c.maxLen)
		}
		if srv != nil {
			cn.Client, cn.Server = endpoint(srv.key.dst, srv.key.dport), endpoint(srv.key.src, srv.key.sport)
			cn.ToClient = srv.bytes(c.maxLen)
		}
		out = append(out, cn)
	}
	return out
}

func endpoint(addr string, port uint16) string {
	return net.JoinHostPort(addr, strconv.Itoa(int(port)))
}

// readCapture reads the TCP flow directions of a capture (in the order
// first seen, each with its segments), and passes its UDP payloads to
// onUDP until it returns false.
func readCapture(path string, c *seedConfig, onUDP func(Payload) bool) ([]*direction, error) {
	capf, err := pcapfile.Open(path)
	if err != nil {
		return nil, err
	}
	defer capf.Close()
	var (
		eth   layers.Ethernet
		dot1q layers.Dot1Q
		ip4   layers.IPv4
		ip6   layers.IPv6
		tcp   layers.TCP
		udp   layers.UDP
		pl    gopacket.Payload
	)
	parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &dot1q, &ip4, &ip6, &tcp, &udp, &pl)
	parser.IgnoreUnsupported = true
	decoded := make([]gopacket.LayerType, 0, 8)
	dirs := map[flowKey]*direction{}
	var order []*direction
	for more := true; more; {
		frame, _, _, err := capf.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			break
		}
		_ = parser.DecodeLayers(frame, &decoded)
		var src, dst string
		isTCP, isUDP := false, false
		for _, l := range decoded {
			switch l {
			case layers.LayerTypeIPv4:
				src, dst = ip4.SrcIP.String(), ip4.DstIP.String()
			case layers.LayerTypeIPv6:
				src, dst = ip6.SrcIP.String(), ip6.DstIP.String()
			case layers.LayerTypeTCP:
				isTCP = true
			case layers.LayerTypeUDP:
				isUDP = true
			}
		}
		switch {
		case isUDP && c.udp && c.keep(uint16(udp.SrcPort), uint16(udp.DstPort)):
			if len(udp.Payload) == 0 {
				continue
			}
			d := udp.Payload[:min(len(udp.Payload), c.maxLen)]
			more = onUDP(Payload{ToServer: udp.DstPort < udp.SrcPort || c.isPort(uint16(udp.DstPort)),
				SrcPort: uint16(udp.SrcPort), DstPort: uint16(udp.DstPort), Data: slices.Clone(d)})
		case isTCP && c.tcp && c.keep(uint16(tcp.SrcPort), uint16(tcp.DstPort)):
			k := flowKey{src, dst, uint16(tcp.SrcPort), uint16(tcp.DstPort)}
			d := dirs[k]
			if d == nil {
				d = &direction{key: k}
				rk := flowKey{dst, src, k.dport, k.sport}
				if r := dirs[rk]; r != nil {
					d.peer, r.peer = r, d
				} else {
					// First seen opens the flow, unless it is a SYN-ACK or,
					// mid-flow, it goes from the lower port.
					d.client = !(tcp.SYN && tcp.ACK) && (tcp.SYN || k.sport >= k.dport)
				}
				if d.peer != nil {
					d.client = !d.peer.client
				}
				dirs[k] = d
				order = append(order, d)
			}
			if tcp.SYN {
				d.isn, d.haveISN = tcp.Seq+1, true
				continue
			}
			if len(tcp.Payload) == 0 {
				continue
			}
			if !d.haveISN {
				d.isn, d.haveISN = tcp.Seq, true
			}
			rel := tcp.Seq - d.isn
			if int64(rel) >= int64(c.maxLen) || d.stored >= 4*c.maxLen {
				continue
			}
			d.segs = append(d.segs, segment{rel, slices.Clone(tcp.Payload)})
			d.stored += len(tcp.Payload)
		}
	}
	return order, nil
}

// captureDirections reads the TCP flow directions of a capture.
func captureDirections(path string, c *seedConfig) ([]*direction, error) {
	return readCapture(path, c, func(Payload) bool { return true })
}

// CapturePayloads is CorpusPayloads for one capture file (default
// options but no length cut); a capture that cannot be read fails the
// test.
func CapturePayloads(tb testing.TB, path string, opts ...SeedOption) []Payload {
	tb.Helper()
	c := seedConfig{tcp: true, udp: true, maxSeeds: 1 << 30, maxLen: 64 << 20}
	for _, o := range opts {
		o(&c)
	}
	p, err := capturePayloads(path, &c, c.maxSeeds)
	if err != nil {
		tb.Fatalf("read %s: %v", path, err)
	}
	return p
}
