package appdns

import (
	"bytes"
	"github.com/xdpids/xdpids/internal/testenv"
	"testing"
)

func frame(msgs ...[]byte) []byte {
	var b []byte
	for _, m := range msgs {
		b = append(b, byte(len(m)>>8), byte(len(m)))
		b = append(b, m...)
	}
	return b
}

type seen struct {
	names    []string
	toServer []bool
	bad      int
}

func (s *seen) emit(m *Message, toServer bool) {
	if m.Events&MalformedData != 0 {
		s.bad++
		return
	}
	name := ""
	if len(m.Queries) > 0 {
		name = string(m.Queries[0].Name)
	}
	s.names = append(s.names, name)
	s.toServer = append(s.toServer, toServer)
}

func TestTCPConnSplits(t *testing.T) {
	q, r := query(t), response(t)
	stream := frame(q, q, nil, q) // a zero-length message is skipped
	resp := frame(r, r)
	for step := 1; step <= len(stream); step++ {
		var c TCPConn
		var s seen
		for i := 0; i < len(stream); i += step {
			c.Feed(true, stream[i:min(i+step, len(stream))], s.emit)
		}
		for i := 0; i < len(resp); i += step {
			c.Feed(false, resp[i:min(i+step, len(resp))], s.emit)
		}
		if len(s.names) != 5 || s.bad != 0 || s.names[0] != "www.example.com" || !s.toServer[0] || s.toServer[4] {
			t.Fatalf("step %d: %+v", step, s)
		}
		if st := c.Stats(true); st.Messages != 3 {
			t.Fatalf("stats %+v", st)
		}
	}
}

func TestTCPConnGap(t *testing.T) {
	q := query(t)
	var c TCPConn
	var s seen
	stream := frame(q, q)
	c.Feed(true, stream[:10], s.emit)
	c.Gap(true, 100)
	c.Feed(true, stream[len(stream)/2+3:], s.emit) // mid-message: dropped
	c.Feed(true, frame(q), s.emit)                 // starts like DNS: resync
	if len(s.names) != 1 || c.Stats(true).Gaps != 1 {
		t.Fatalf("%+v %+v", s, c.Stats(true))
	}
	// Garbage message: emitted as malformed, framing continues.
	c.Reset()
	s = seen{}
	c.Feed(true, frame([]byte("garbage"), q), s.emit)
	if s.bad != 1 || len(s.names) != 1 || c.Stats(true).Malformed != 1 {
		t.Fatalf("%+v %+v", s, c.Stats(true))
	}
}

// TestTCPConnBounded: a 64 KiB length claim buffers at most one message.
func TestTCPConnBounded(t *testing.T) {
	var c TCPConn
	big := append([]byte{0xff, 0xff}, bytes.Repeat([]byte{0}, 70000)...)
	n := 0
	c.Feed(true, big, func(*Message, bool) { n++ })
	if n != 1 || cap(c.dir[0].buf) > 2*MaxMessage {
		t.Fatalf("%d messages, buffer %d", n, cap(c.dir[0].buf))
	}
}

func TestTCPConnAllocs(t *testing.T) {
	q := frame(query(t), response(t))
	var c TCPConn
	emit := func(*Message, bool) {}
	c.Feed(true, q, emit)
	if n := testing.AllocsPerRun(200, func() {
		c.Feed(true, q[:7], emit)
		c.Feed(true, q[7:], emit)
	}); n != 0 {
		t.Errorf("%v allocs", n)
	}
}

func FuzzTCPConn(f *testing.F) {
	f.Add(true, frame(query(f)), uint16(5))
	for _, p := range testenv.CorpusPayloads(f, "suricata-verify-app", testenv.Golden("app_dns.pcap"), testenv.Ports(53), testenv.TCPOnly()) {
		f.Add(p.ToServer, p.Data, uint16(len(p.Data)))
	}
	f.Fuzz(func(t *testing.T, toServer bool, data []byte, split uint16) {
		var whole, parts TCPConn
		var a, b []string
		rec := func(dst *[]string) func(*Message, bool) {
			return func(m *Message, _ bool) {
				var r Record
				m.Record(&r)
				*dst = append(*dst, r.Flags+r.Rcode)
				for i := range m.Queries {
					*dst = append(*dst, string(m.Queries[i].Name))
				}
			}
		}
		whole.Feed(toServer, data, rec(&a))
		step := int(split)%97 + 1
		for i := 0; i < len(data); i += step {
			parts.Feed(toServer, data[i:min(i+step, len(data))], rec(&b))
		}
		if len(a) != len(b) {
			t.Fatalf("split %d changes the messages: %q vs %q", step, a, b)
		}
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("split %d: %q vs %q", step, a[i], b[i])
			}
		}
	})
}

func BenchmarkTCPConn(b *testing.B) {
	s := frame(query(b), response(b))
	var c TCPConn
	emit := func(*Message, bool) {}
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		c.Feed(true, s[:9], emit)
		c.Feed(true, s[9:], emit)
	}
}
