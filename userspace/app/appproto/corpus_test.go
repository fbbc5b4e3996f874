package appproto

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/xdpids/xdpids/internal/testenv"
)

// detectCapture runs detection on every TCP connection and UDP datagram
// of a capture, on each direction's first in-order bytes (up to what
// detection reads), and returns "to_server/to_client" results per
// connection, sorted, then the UDP ones.
func detectCapture(t *testing.T, path string) []string {
	t.Helper()
	detect := func(toServer bool, data []byte) Proto {
		if len(data) == 0 {
			return Unknown
		}
		pr, more := DetectTCP(toServer, data[:min(len(data), 4096)])
		if pr == Unknown && (!more || len(data) > 4096) {
			return Failed
		}
		return pr
	}
	var out []string
	for _, c := range testenv.CaptureConns(t, path, 0) {
		if c.ToServer == nil && c.ToClient == nil {
			continue
		}
		out = append(out, detect(true, c.ToServer).String()+"/"+detect(false, c.ToClient).String())
	}
	var udp []string
	for _, u := range testenv.CapturePayloads(t, path, testenv.UDPOnly()) {
		udp = append(udp, "udp:"+DetectUDP(u.SrcPort, u.DstPort, u.Data).String())
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
