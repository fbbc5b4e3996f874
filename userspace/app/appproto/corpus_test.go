package appproto

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/xdpids/xdpids/internal/testenv"
)

// detectCapture runs detection on every TCP connection (client: the SYN's
// sender) and UDP datagram of a capture, feeding each direction's in-order
// bytes until DetectTCP decides, and returns "to_server/to_client" results
// per connection, sorted.
func detectCapture(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	type dir struct {
		data    []byte
		next    uint32
		started bool
		p       Proto
	}
	type conn struct{ ts, tc dir }
	conns := map[string]*conn{}
	var order []string
	var udp []string
	for {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pkt := gopacket.NewPacket(data, r.LinkType(), gopacket.NoCopy)
		nl := pkt.NetworkLayer()
		if nl == nil {
			continue
		}
		if u, ok := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP); ok && len(u.Payload) > 0 {
			udp = append(udp, "udp:"+DetectUDP(uint16(u.SrcPort), uint16(u.DstPort), u.Payload).String())
			continue
		}
		tcp, ok := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if !ok {
			continue
		}
		src, dst := nl.NetworkFlow().Endpoints()
		a := fmt.Sprintf("%v:%d", src, tcp.SrcPort)
		b := fmt.Sprintf("%v:%d", dst, tcp.DstPort)
		var c *conn
		var d *dir
		if x, ok := conns[a+">"+b]; ok {
			c, d = x, &x.ts
		} else if x, ok := conns[b+">"+a]; ok {
			c, d = x, &x.tc
		} else {
			if tcp.SYN && tcp.ACK {
				a, b = b, a // first seen is the server's SYN-ACK
				c = new(conn)
				conns[a+">"+b] = c
				order = append(order, a+">"+b)
				d = &c.tc
			} else {
				c = new(conn)
				conns[a+">"+b] = c
				order = append(order, a+">"+b)
				d = &c.ts
			}
		}
		toServer := d == &c.ts
		if tcp.SYN {
			d.next, d.started = tcp.Seq+1, true
			continue
		}
		if !d.started {
			d.next, d.started = tcp.Seq, true
		}
		p := tcp.Payload
		if diff := int32(d.next - tcp.Seq); diff > 0 {
			if int(diff) >= len(p) {
				continue
			}
			p = p[diff:]
		} else if diff < 0 {
			continue
		}
		d.next += uint32(len(p))
		if d.p != Unknown || len(p) == 0 {
			continue
		}
		d.data = append(d.data, p...)
		if pr, more := DetectTCP(toServer, d.data); pr != Unknown || !more || len(d.data) > 4096 {
			d.p = pr
			if pr == Unknown {
				d.p = Failed
			}
		}
	}
	var out []string
	for _, k := range order {
		c := conns[k]
		if c.ts.data == nil && c.tc.data == nil {
			continue
		}
		out = append(out, c.ts.p.String()+"/"+c.tc.p.String())
	}
	slices.Sort(out)
	slices.Sort(udp)
	return append(out, slices.Compact(udp)...)
}

// TestCorpusDetect: the protocols the suricata-verify tests expect their
// captures to be detected as, by content.
func TestCorpusDetect(t *testing.T) {
	dir := testenv.Corpus(t, "suricata-verify-app")
	for _, tc := range []struct {
		pcap string
		want string // a result detectCapture must contain
	}{
		{"detect-app-layer-protocol-05/input.pcap", "http/ssh"},       // "HTTP client to SSH server"
		{"app-layer-protocol-prefilter/input.pcap", "tls/unknown"},    // app-layer-protocol:tls; the server sends nothing
		{"ssh-banner-only/input.pcap", "ssh/ssh"},                     // ssh records
		{"bug-4903__bug-4903-02/input.pcap", "unknown/ssh"},           // only the server talks
		{"issues__issue-4759/tcpdns.pcap", "dns/dns"},                 // DNS over TCP
		{"dns__dns-forward-pointer/input.pcap", "udp:dns"},            // DNS over UDP
		{"detect-app-layer-protocol-01/input.pcap", "http/http"},      // !http on 80 must not fire
		{"dns-opcode/dns-notify.pcap", "udp:dns"},                     // NOTIFY is DNS
		{"dns__dns-query__dns-detect-query-02/input.pcap", "udp:dns"}, // queries
		{"detect-app-layer-protocol-04/input.pcap", "http/http"},      // HTTP/1 upgraded to h2c
	} {
		p := filepath.Join(dir, tc.pcap)
		if _, err := os.Stat(p); err != nil {
			t.Logf("skip %s: %v", tc.pcap, err)
			continue
		}
		got := detectCapture(t, p)
		if !slices.Contains(got, tc.want) {
			t.Errorf("%s: %v, want %s among them", tc.pcap, got, tc.want)
		} else {
			t.Logf("%s: %v", tc.pcap, got)
		}
	}
}
