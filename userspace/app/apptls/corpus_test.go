package apptls

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/xdpids/xdpids/internal/testenv"
)

// tcpFlow is one TCP connection of a capture, reassembled in order in
// the test (a plain in-order reassembler: enough for these captures).
type tcpFlow struct {
	client  gopacket.Endpoint // network endpoint of the client
	cport   layers.TCPPort
	next    [2]uint32 // next expected seq per direction (0: to server)
	started [2]bool
	pending [2]map[uint32][]byte
	out     stream
}

func (f *tcpFlow) segment(toServer bool, seq uint32, syn bool, payload []byte) {
	i := 1
	if toServer {
		i = 0
	}
	if syn {
		f.next[i], f.started[i] = seq+1, true
		return
	}
	if len(payload) == 0 {
		return
	}
	if !f.started[i] {
		f.next[i], f.started[i] = seq, true
	}
	if f.pending[i] == nil {
		f.pending[i] = map[uint32][]byte{}
	}
	if _, dup := f.pending[i][seq]; !dup {
		f.pending[i][seq] = append([]byte(nil), payload...)
	}
	f.drain(i, toServer)
}

// drain delivers what is contiguous from next on.
func (f *tcpFlow) drain(i int, toServer bool) {
	for progress := true; progress; {
		progress = false
		for seq, p := range f.pending[i] {
			d := int32(f.next[i] - seq)
			switch {
			case d < 0:
				continue
			case int(d) >= len(p):
				delete(f.pending[i], seq) // old retransmission
			default:
				f.out = append(f.out, chunk{toServer, p[d:]})
				f.next[i] += uint32(len(p) - int(d))
				delete(f.pending[i], seq)
			}
			progress = true
		}
	}
}

// readFlows reassembles every TCP connection of a capture.
func readFlows(t testing.TB, path string) []*tcpFlow {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	br := bufio.NewReader(fh)
	magic, _ := br.Peek(4)
	type source interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	var src source
	var lt layers.LinkType
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		r, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		src, lt = r, r.LinkType()
	} else {
		r, err := pcapgo.NewReader(br)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		src, lt = r, r.LinkType()
	}
	flows := map[string]*tcpFlow{}
	var order []*tcpFlow
	for {
		data, _, err := src.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Logf("%s: %v (reading stops)", path, err)
			break
		}
		pkt := gopacket.NewPacket(data, lt, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
		nl, tl := pkt.NetworkLayer(), pkt.Layer(layers.LayerTypeTCP)
		if nl == nil || tl == nil {
			continue
		}
		tcp := tl.(*layers.TCP)
		src, dst := nl.NetworkFlow().Endpoints()
		a, b := src.String()+":"+tcp.SrcPort.String(), dst.String()+":"+tcp.DstPort.String()
		key := a + "|" + b
		if b < a {
			key = b + "|" + a
		}
		f := flows[key]
		if f == nil {
			f = &tcpFlow{client: src, cport: tcp.SrcPort}
			if tcp.SYN && tcp.ACK { // picked up at the SYN-ACK: the sender is the server
				f.client, f.cport = dst, tcp.DstPort
			}
			flows[key] = f
			order = append(order, f)
		}
		toServer := src == f.client && tcp.SrcPort == f.cport
		f.segment(toServer, tcp.Seq, tcp.SYN, tcp.Payload)
	}
	return order
}

// corpusTLS parses every flow of a capture.
func corpusTLS(t testing.TB, path string) []*Conn {
	var conns []*Conn
	for _, f := range readFlows(t, path) {
		if len(f.out) == 0 {
			continue
		}
		c := &Conn{}
		f.out.feed(c)
		if c.ClientHello().Seen || c.ServerHello().Seen {
			conns = append(conns, c)
		}
	}
	return conns
}

// expected is the part of a corpus test's expected.json used here.
type expected struct {
	Pcap   string `json:"pcap"`
	Checks []struct {
		Count    int `json:"count"`
		Original struct {
			Match map[string]any `json:"match"`
		} `json:"original"`
	} `json:"checks"`
}

// TestCorpusTLS runs the TLS tests of suricata-verify-app: each "tls"
// event check (the EVE fields Suricata wrote) is compared with Record,
// and each alert count of a rule made only of TLS keywords is compared
// with a small evaluator of those keywords. It is a development aid: it
// logs the share that agrees and fails only on a crash or an empty run.
func TestCorpusTLS(t *testing.T) {
	dir := testenv.Corpus(t, "suricata-verify-app")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var eveOK, eveN, alertOK, alertN int
	for _, e := range ents {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name(), "expected.json"))
		if err != nil {
			continue
		}
		rules, _ := os.ReadFile(filepath.Join(dir, e.Name(), "test.rules"))
		var exp expected
		if err := json.Unmarshal(raw, &exp); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		if !strings.Contains(string(rules), "alert tls") && !strings.Contains(string(raw), `"tls.`) &&
			!strings.Contains(string(rules), "tls ") {
			continue
		}
		conns := corpusTLS(t, filepath.Join(dir, e.Name(), exp.Pcap))
		sigs := parseTLSRules(string(rules))
		for _, ch := range exp.Checks {
			m := ch.Original.Match
			switch m["event_type"] {
			case "tls":
				eveN++
				n := 0
				for _, c := range conns {
					if recordMatches(c, m) {
						n++
					}
				}
				if n == ch.Count {
					eveOK++
				} else {
					t.Logf("%s: tls check %v: %d records match, want %d", e.Name(), m, n, ch.Count)
					for _, c := range conns {
						r := record(c)
						t.Logf("  record %+v", r)
					}
				}
			case "alert":
				sid, ok := m["alert.signature_id"].(float64)
				sig := sigs[int(sid)]
				if !ok || sig == nil {
					continue
				}
				alertN++
				n := 0
				for _, c := range conns {
					if sig(c) {
						n++
					}
				}
				if n == ch.Count {
					alertOK++
				} else {
					t.Logf("%s: sid %d: %d connections match, want %d", e.Name(), int(sid), n, ch.Count)
				}
			}
		}
	}
	if eveN == 0 {
		t.Fatal("no tls checks found")
	}
	t.Logf("EVE tls checks agreeing: %d/%d; TLS-keyword alert counts agreeing: %d/%d", eveOK, eveN, alertOK, alertN)
}

// recordMatches compares Record with an EVE filter's tls.* fields.
func recordMatches(c *Conn, m map[string]any) bool {
	if !c.Loggable() {
		return false
	}
	var r Record
	c.Record(&r)
	b, _ := json.Marshal(r)
	var got map[string]any
	_ = json.Unmarshal(b, &got)
	for k, v := range m {
		name, ok := strings.CutPrefix(k, "tls.")
		if !ok {
			continue
		}
		if fmt.Sprint(got[name]) != fmt.Sprint(v) {
			return false
		}
	}
	return true
}

var (
	ruleSID     = regexp.MustCompile(`\bsid:\s*(\d+)`)
	ruleOptions = regexp.MustCompile(`([a-z_.0-9-]+)\s*(?::\s*((?:[^;\\]|\\.)*))?;`)
)

// parseTLSRules evaluates the rules of a test that use only TLS keywords
// (sticky buffers with plain content, and the value keywords), per
// connection, either direction unless flow: names one.
func parseTLSRules(text string) map[int]func(*Conn) bool {
	out := map[int]func(*Conn) bool{}
	text = strings.ReplaceAll(text, "\\\n", "")
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "alert tls") {
			continue
		}
		sm := ruleSID.FindStringSubmatch(line)
		open := strings.Index(line, "(")
		if sm == nil || open < 0 {
			continue
		}
		sid, _ := strconv.Atoi(sm[1])
		var ms []Matcher
		dirs := []bool{true, false}
		var buf Buf
		haveBuf, ok := false, true
		for _, o := range ruleOptions.FindAllStringSubmatch(line[open+1:], -1) {
			k, v := o[1], strings.TrimSpace(o[2])
			var m Matcher
			var err error
			switch {
			case k == "msg" || k == "sid" || k == "rev" || k == "classtype" || k == "metadata" || k == "reference":
				continue
			case k == "flow":
				if strings.Contains(v, "to_client") || strings.Contains(v, "from_server") {
					dirs = []bool{false}
				} else if strings.Contains(v, "to_server") || strings.Contains(v, "from_client") {
					dirs = []bool{true}
				}
				continue
			case k == "content" && haveBuf:
				m = contentMatcher(buf, v)
			case k == "tls.cert_chain_len":
				m, err = MatchCertChainLen(v)
			case k == "tls_cert_notbefore" || k == "tls_cert_notafter":
				m, err = MatchCertDate(k, v)
			case k == "tls.subject" || k == "tls.issuerdn" || k == "tls.fingerprint":
				m, err = MatchLegacy(k, v)
			default:
				found := false
				for _, b := range Buffers {
					if b.Name == k {
						buf, haveBuf, found = b.Buf, true, true
					}
				}
				if !found {
					ok = false
				}
				continue
			}
			if err != nil || m == nil {
				ok = false
				continue
			}
			ms = append(ms, m)
		}
		if !ok || len(ms) == 0 {
			continue
		}
		out[sid] = func(c *Conn) bool {
			for _, d := range dirs {
				all := true
				for _, m := range ms {
					all = all && m(c, d)
				}
				if all {
					return true
				}
			}
			return false
		}
	}
	return out
}

// contentMatcher is a plain content match on a (multi-)buffer.
func contentMatcher(b Buf, v string) Matcher {
	pat := decodeContent(strings.Trim(v, `"`))
	return func(c *Conn, toServer bool) bool {
		for i := 0; ; i++ {
			x, ok := c.BufferDir(b, toServer, i)
			if !ok {
				return false
			}
			if bytes.Contains(x, pat) {
				return true
			}
		}
	}
}

// decodeContent turns content's |hex| runs into bytes.
func decodeContent(s string) []byte {
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '|' {
			out = append(out, s[i])
			continue
		}
		j := strings.IndexByte(s[i+1:], '|')
		if j < 0 {
			break
		}
		h, _ := hex.DecodeString(strings.ReplaceAll(s[i+1:i+1+j], " ", ""))
		out = append(out, h...)
		i += j + 1
	}
	return out
}

// corpusStreams returns the TLS streams of the corpus captures, for the
// fuzzer's seeds (read at run time, never stored in the repository).
func corpusStreams(t testing.TB) []stream {
	base := os.Getenv("XDPIDS_CORPUS")
	if base == "" {
		base = filepath.Join("..", "..", "..", "..", "shared", "corpus")
	}
	paths, _ := filepath.Glob(filepath.Join(base, "suricata-verify-app", "*tls*", "*.pcap"))
	paths = append(paths, filepath.Join(base, "suricata-verify-app", "bug-5758", "input.pcap"))
	sort.Strings(paths)
	var out []stream
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		for _, f := range readFlows(t, p) {
			if len(f.out) > 0 && len(f.out[0].data) > 0 && (f.out[0].data[0] == recHandshake || f.out[0].data[0]&0x80 != 0) {
				out = append(out, f.out)
			}
		}
	}
	return out
}
