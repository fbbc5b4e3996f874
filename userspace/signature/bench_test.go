package signature

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/packet/decode"
	"github.com/xdpids/xdpids/userspace/signature/rules"
)

// benchTraffic is a realistic mix of data packets on established flows:
// web requests and responses, DNS queries and answers, TLS records,
// SSH banners and encrypted bytes. warm holds the handshakes.
type benchTraffic struct {
	warm, data [][]byte
}

func makeTraffic(tb testing.TB) *benchTraffic {
	rng := rand.New(rand.NewPCG(1, 2))
	tr := &benchTraffic{}
	bin := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return string(b)
	}
	paths := []string{"/", "/index.html", "/api/v1/users?id=42", "/static/app.js", "/login", "/search?q=network+monitoring", "/images/logo.png", "/wp-admin/"}
	agents := []string{"Mozilla/5.0 (X11; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0", "curl/8.5.0", "python-requests/2.31.0", "Go-http-client/1.1"}
	for i := 0; i < 64; i++ {
		cl := fmt.Sprintf("10.0.%d.%d", i/200, 10+i%200)
		sv := fmt.Sprintf("198.51.100.%d", 1+i%50)
		if i%2 == 1 {
			cl, sv = fmt.Sprintf("203.0.113.%d", 1+i%100), fmt.Sprintf("192.168.1.%d", 1+i%20)
		}
		cp := uint16(40000 + i)
		hs := func(dport uint16) {
			tr.warm = append(tr.warm,
				frame(tb, pkt{src: cl, dst: sv, sport: cp, dport: dport, flags: "S", seq: 100}),
				frame(tb, pkt{src: sv, dst: cl, sport: dport, dport: cp, flags: "SA", seq: 500, ack: 101}),
				frame(tb, pkt{src: cl, dst: sv, sport: cp, dport: dport, flags: "A", seq: 101, ack: 501}))
		}
		c2s := func(dport uint16, payload string) {
			tr.data = append(tr.data, frame(tb, pkt{src: cl, dst: sv, sport: cp, dport: dport, flags: "PA", seq: 101, ack: 501, payload: payload}))
		}
		s2c := func(sport uint16, payload string) {
			tr.data = append(tr.data, frame(tb, pkt{src: sv, dst: cl, sport: sport, dport: cp, flags: "PA", seq: 501, ack: 101, payload: payload}))
		}
		switch i % 4 {
		case 0: // web
			hs(80)
			c2s(80, fmt.Sprintf("GET %s HTTP/1.1\r\nHost: www.example%d.com\r\nUser-Agent: %s\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n", paths[i%len(paths)], i, agents[i%len(agents)]))
			s2c(80, "HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 1024\r\n\r\n<!DOCTYPE html><html><head><title>Example</title></head><body>"+bin(900)+"</body></html>")
		case 1: // dns
			q := fmt.Sprintf("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example%c\x03com\x00\x00\x01\x00\x01", 'a'+i%26)
			tr.data = append(tr.data,
				frame(tb, pkt{src: cl, dst: sv, proto: 17, sport: cp, dport: 53, payload: q}),
				frame(tb, pkt{src: sv, dst: cl, proto: 17, sport: 53, dport: cp, payload: q[:2] + "\x81\x80" + q[4:] + "\xc0\x0c\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04\x5d\xb8\xd8\x22"}))
		case 2: // tls
			hs(443)
			c2s(443, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"+bin(32)+"\x20"+bin(32)+"\x00\x20"+bin(32)+"\x01\x00\x01\x93\x00\x00\x00\x14\x00\x12\x00\x00\x0fwww.example.com"+bin(300))
			s2c(443, "\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03"+bin(1100))
			c2s(443, "\x17\x03\x03\x05\x00"+bin(1200))
		case 3: // ssh
			hs(22)
			c2s(22, "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n")
			s2c(22, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u2\r\n")
			c2s(22, bin(1000))
		}
	}
	return tr
}

// benchEngine is one pass of the userspace path over the traffic:
// decode, flow tracking and the engine.
type benchLoop struct {
	dec   *decode.Decoder
	table *flows.Table
	eng   *Engine
	pk    decode.Packet
	ts    int64
	n     int
	emit  func(*alert.Alert)
}

func newBenchLoop(eng *Engine, tr *benchTraffic) *benchLoop {
	l := &benchLoop{dec: decode.NewDecoder(), table: flows.NewTable(4096, flows.DefaultTimeouts), eng: eng, ts: 1_700_000_000e9}
	l.emit = func(*alert.Alert) { l.n++ }
	for _, f := range tr.warm {
		l.one(f)
	}
	return l
}

func (l *benchLoop) one(fr []byte) {
	l.ts += 1000
	pk := &l.pk
	pk.Reset()
	pk.TsNs, pk.WireLen, pk.CapLen = l.ts, uint32(len(fr)), uint32(len(fr))
	if l.dec.Decode(fr, pk) != nil {
		return
	}
	in := Input{P: pk, Frame: fr}
	in.F, in.FromOrig, in.Ev = l.table.Track(pk)
	l.eng.MatchPacket(&in, l.emit)
}

var (
	etOnce  sync.Once
	etRules []*rules.Rule
)

// etLoadable returns every loadable ET Open rule (nil without the corpus).
func etLoadable(tb testing.TB) []*rules.Rule {
	etOnce.Do(func() {
		var dir string
		for _, base := range []string{os.Getenv("XDPIDS_CORPUS"), "../../../shared/corpus", "/work/shared/corpus"} {
			if base == "" {
				continue
			}
			if st, err := os.Stat(filepath.Join(base, "rules/et-open")); err == nil && st.IsDir() {
				dir = filepath.Join(base, "rules/et-open")
				break
			}
		}
		if dir == "" {
			return
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.rules"))
		var paths []string
		for _, f := range files {
			if filepath.Base(f) != "emerging-deleted.rules" {
				paths = append(paths, f)
			}
		}
		set, _, _ := rules.LoadFiles(paths, rules.Vars{})
		etRules = set.Rules
	})
	if etRules == nil {
		tb.Skip("ET Open corpus not found (set XDPIDS_CORPUS)")
	}
	return etRules
}

// scaled returns n rules taken from base, repeating it with each copy's
// contents made distinct (so the prefilter holds n patterns, not copies).
func scaled(base []*rules.Rule, n int) *rules.Set {
	set := &rules.Set{}
	for i := 0; set.Len() < n; i++ {
		src := base[i%len(base)]
		k := i / len(base)
		r := *src
		r.SID = uint32(10_000_000 + i)
		if k > 0 {
			r.Matches = make([]rules.Match, len(src.Matches))
			for j, m := range src.Matches {
				if c, ok := m.(*rules.Content); ok && !c.Negated {
					cc := *c
					cc.Pattern = append(append([]byte{}, c.Pattern...), fmt.Sprintf("~%d", k)...)
					if cc.Depth.Set && cc.Depth.Var == "" {
						cc.Depth.N += 8
					}
					if cc.Within.Set && cc.Within.Var == "" {
						cc.Within.N += 8
					}
					m = &cc
				}
				r.Matches[j] = m
			}
		}
		set.Add(&r)
	}
	return set
}

var (
	baseOnce sync.Once
	baseNs   float64 // ns per packet of the loop with no rules
)

// baseline times the loop with no rules (testing.Benchmark cannot run
// inside a benchmark: a plain timed loop, after a warm-up pass).
func baseline(tr *benchTraffic) float64 {
	baseOnce.Do(func() {
		eng, _ := Compile(&rules.Set{})
		l := newBenchLoop(eng, tr)
		const n = 300000
		for i := 0; i < n; i++ {
			l.one(tr.data[i%len(tr.data)])
		}
		start := time.Now()
		for i := 0; i < n; i++ {
			l.one(tr.data[i%len(tr.data)])
		}
		baseNs = float64(time.Since(start).Nanoseconds()) / n
	})
	return baseNs
}

// BenchmarkEngine measures packets/s of decode + flows + the engine on a
// realistic mix, and reports the cost relative to the same loop with no
// rules (x-none).
func BenchmarkEngine(b *testing.B) {
	tr := makeTraffic(b)
	def, _ := rules.Parse(rules.DefaultRules, "default.rules", rules.Vars{})
	cases := []struct {
		name string
		set  func(b *testing.B) *rules.Set
	}{
		{"rules=none", func(*testing.B) *rules.Set { return &rules.Set{} }},
		{"rules=default", func(*testing.B) *rules.Set { return def }},
		{"rules=et-open-all", func(b *testing.B) *rules.Set { return scaled(etLoadable(b), len(etLoadable(b))) }},
		{"rules=et-100", func(b *testing.B) *rules.Set { return scaled(etLoadable(b), 100) }},
		{"rules=et-1000", func(b *testing.B) *rules.Set { return scaled(etLoadable(b), 1000) }},
		{"rules=et-10000", func(b *testing.B) *rules.Set { return scaled(etLoadable(b), 10000) }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			set := c.set(b)
			eng, err := Compile(set)
			if err != nil {
				b.Fatal(err)
			}
			base := baseline(tr)
			l := newBenchLoop(eng, tr)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				l.one(tr.data[i%len(tr.data)])
			}
			b.StopTimer()
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(1e9/ns, "pkts/s")
			b.ReportMetric(ns/base, "x-none")
			b.ReportMetric(float64(eng.Len()), "rules")
		})
	}
}
