package apphttp

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"testing"
)

// seenTx is a copy of what the callbacks showed for one transaction.
type seenTx struct {
	id       uint64
	progress []Progress
	bufs     map[string]string
	flags    Flag
	status   int
	reqBody  string
	respBody string
	host     string
	port     int
}

// collector copies every transaction's buffers at each progress point.
type collector struct {
	txs   []*seenTx
	byID  map[uint64]*seenTx
	order []Progress
}

func newCollector() *collector { return &collector{byID: map[uint64]*seenTx{}} }

func (c *collector) emit(tx *Tx, p Progress) {
	s := c.byID[tx.ID]
	if s == nil {
		s = &seenTx{id: tx.ID, bufs: map[string]string{}}
		c.byID[tx.ID] = s
		c.txs = append(c.txs, s)
	}
	s.progress = append(s.progress, p)
	c.order = append(c.order, p)
	s.flags = tx.Flags
	s.status = tx.Status
	s.host = string(tx.Host)
	s.port = tx.Port
	for _, b := range Buffers {
		if v := tx.Buffer(b.Buf, b.ToServer); v != nil {
			s.bufs[snapKey(b.Name, b.ToServer)] = string(v)
		}
	}
	s.reqBody = string(tx.Buffer(BufRequestBody, true))
	s.respBody = string(tx.Buffer(BufResponseBody, false))
}

// run feeds the two streams, request first, in pieces of size step (0: whole).
func run(t testing.TB, lim Limits, req, resp string, step int) *collector {
	t.Helper()
	col := newCollector()
	c := NewConn(lim)
	feed := func(toServer bool, s string) {
		b := []byte(s)
		if step <= 0 {
			c.Feed(toServer, b, 1, col.emit)
			return
		}
		for len(b) > 0 {
			n := min(step, len(b))
			// Copy so the parser cannot keep a view of the caller's bytes.
			piece := append([]byte(nil), b[:n]...)
			c.Feed(toServer, piece, 1, col.emit)
			for i := range piece {
				piece[i] = 'Z'
			}
			b = b[n:]
		}
	}
	feed(true, req)
	feed(false, resp)
	c.End(true, col.emit)
	c.End(false, col.emit)
	return col
}

func gz(t testing.TB, s []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(s); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func deflateRaw(t testing.TB, s []byte) []byte {
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(s); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
