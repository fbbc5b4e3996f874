package buildinfo

import (
	"crypto/sha256"
	"encoding/hex"
	"github.com/xdpids/xdpids/internal/testenv"
	"os"
	"strings"
	"testing"

	"github.com/xdpids/xdpids/bpf"
)

// TestBPFObjectHash: the hash is that of the object file bpf2go embeds,
// read from disk independently.
func TestBPFObjectHash(t *testing.T) {
	raw, err := os.ReadFile(testenv.RootPath(t, "bpf", "xdpids_bpfel.o"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	want := hex.EncodeToString(sum[:])
	if got := Get().BPFObject; got != want {
		t.Fatalf("BPFObject = %s, want sha256 of bpf/xdpids_bpfel.o %s", got, want)
	}
	if len(bpf.XdpidsObject()) != len(raw) {
		t.Fatalf("embedded object %d bytes, file %d", len(bpf.XdpidsObject()), len(raw))
	}
}

func TestString(t *testing.T) {
	i := Info{Version: "v1.0-2-gabc-dirty", Commit: "abc", Modified: true, GoVersion: "go1.26", BPFObject: "00ff"}
	s := i.String()
	for _, want := range []string{"v1.0-2-gabc-dirty", "commit abc+dirty", "go1.26", "sha256 00ff"} {
		if !strings.Contains(s, want) {
			t.Errorf("%q lacks %q", s, want)
		}
	}
	if g := Get(); g.Version != Version || !strings.HasPrefix(g.GoVersion, "go") {
		t.Errorf("Get() = %+v", g)
	}
}
