package apphttp

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/xdpids/xdpids/internal/testenv"
)

// TestDumpCorpus prints the streams and buffers of one corpus test named by
// APPHTTP_DUMP (a debugging aid; skipped otherwise).
func TestDumpCorpus(t *testing.T) {
	name := os.Getenv("APPHTTP_DUMP")
	if name == "" {
		t.Skip("set APPHTTP_DUMP=<test folder> to dump")
	}
	root := testenv.Corpus(t, "suricata-verify-app")
	pcaps, _ := filepath.Glob(filepath.Join(root, name, "*.pcap*"))
	rules, _ := os.ReadFile(filepath.Join(root, name, "test.rules"))
	fmt.Printf("RULES:\n%s\n", rules)
	streams := tcpStreams(t, pcaps[0])
	for _, s := range streams {
		for _, ch := range s {
			d := "<"
			if ch.toServer {
				d = ">"
			}
			if ch.end {
				fmt.Printf("%s END\n", d)
				continue
			}
			b := ch.data
			if len(b) > 1500 {
				b = b[:1500]
			}
			fmt.Printf("%s %q\n", d, b)
		}
	}
	c := NewConn(DefaultLimits())
	for _, s := range streams {
		c.Reset()
		emit := func(tx *Tx, p Progress) {
			fmt.Printf("EMIT tx %d progress %d flags %s\n", tx.ID, p, tx.Flags)
			for _, b := range Buffers {
				if v := tx.Buffer(b.Buf, b.ToServer); v != nil && (b.ToServer == (p <= ReqBody)) {
					if len(v) > 300 {
						v = v[:300]
					}
					fmt.Printf("   %s %v: %q\n", b.Name, b.ToServer, v)
				}
			}
		}
		for _, ch := range s {
			if ch.end {
				c.End(ch.toServer, emit)
			} else {
				c.Feed(ch.toServer, ch.data, 0, emit)
			}
		}
		c.End(true, emit)
		c.End(false, emit)
	}
}
