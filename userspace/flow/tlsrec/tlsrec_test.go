package tlsrec

import (
	"bytes"
	"testing"
)

func rec(typ byte, n int) []byte {
	b := []byte{typ, 3, 3, byte(n >> 8), byte(n)}
	return append(b, bytes.Repeat([]byte{0xab}, n)...)
}

func TestDir(t *testing.T) {
	hello := rec(22, 512)
	tls12 := append(append(append(append([]byte{}, rec(22, 300)...), rec(20, 1)...), rec(22, 40)...), rec(23, 1000)...)
	cases := []struct {
		name   string
		chunks [][]byte
		offs   []uint64 // nil: contiguous from 0
		want   State
	}{
		{"client hello only", [][]byte{hello}, nil, Clear},
		{"tls 1.2 to application data", [][]byte{tls12}, nil, Encrypted},
		{"split everywhere", split(tls12, 1), nil, Encrypted},
		{"split in threes", split(tls12, 3), nil, Encrypted},
		{"http", [][]byte{[]byte("GET / HTTP/1.1\r\n\r\n")}, nil, NotTLS},
		{"opens with application data", [][]byte{rec(23, 10)}, nil, NotTLS},
		{"bad version", [][]byte{{22, 2, 0, 0, 1, 0}}, nil, NotTLS},
		{"record too long", [][]byte{{22, 3, 1, 0x50, 0, 0}}, nil, NotTLS},
		{"mid-stream pickup", [][]byte{hello}, []uint64{100}, NotTLS},
		{"gap inside a body", [][]byte{hello[:100], hello[200:], rec(23, 5)}, []uint64{0, 200, 517}, Encrypted},
		{"gap over a header", [][]byte{hello, rec(23, 5)[3:]}, []uint64{0, 520}, NotTLS},
		{"alert then encrypted", [][]byte{rec(22, 5), rec(21, 2), rec(23, 5)}, nil, Encrypted},
	}
	for _, c := range cases {
		var d Dir
		off := uint64(0)
		var got State
		for i, ch := range c.chunks {
			if c.offs != nil {
				off = c.offs[i]
			}
			got = d.Feed(off, ch)
			off += uint64(len(ch))
		}
		if got != c.want {
			t.Errorf("%s: state %d, want %d", c.name, got, c.want)
		}
	}
}

func split(b []byte, n int) [][]byte {
	var out [][]byte
	for len(b) > n {
		out = append(out, b[:n])
		b = b[n:]
	}
	return append(out, b)
}

func TestDirNoAllocs(t *testing.T) {
	data := append(rec(22, 300), rec(23, 100)...)
	if n := testing.AllocsPerRun(100, func() {
		var d Dir
		d.Feed(0, data)
	}); n != 0 {
		t.Errorf("%v allocations per Feed", n)
	}
}

func FuzzDir(f *testing.F) {
	f.Add([]byte{22, 3, 3, 0, 2, 1, 2, 23, 3, 3, 0, 0}, uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, cut uint8) {
		var d Dir
		c := min(int(cut), len(data))
		s1 := d.Feed(0, data[:c])
		s2 := d.Feed(uint64(c), data[c:])
		if s1 == Encrypted && s2 != Encrypted || s1 == NotTLS && s2 != NotTLS {
			t.Fatalf("state went back from %d to %d", s1, s2)
		}
		var whole Dir
		if got := whole.Feed(0, data); got != s2 {
			t.Fatalf("split at %d gives %d, whole %d", c, s2, got)
		}
	})
}
