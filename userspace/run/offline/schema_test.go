package offline_test

import (
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/userspace/run/offline"
)

// TestSchemaCorpus reads every capture of the corpus's attack-pcaps as
// `xdpids read` does by default (auto mode: through the XDP program where
// BPF works; the built-in configuration and rules), and in userspace mode
// (every frame inspected), and validates every EVE event it writes
// against Suricata's EVE schema.
func TestSchemaCorpus(t *testing.T) {
	dir := testenv.Corpus(t, "attack-pcaps")
	sch := testenv.EVESchema(t)
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".pcap") || strings.HasSuffix(p, ".pcapng")) {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(paths)
	if len(paths) == 0 {
		t.Fatalf("no captures under %s", dir)
	}
	total := map[string]int{}
	for _, p := range paths {
		rel, _ := filepath.Rel(dir, p)
		for _, mode := range []offline.Mode{offline.ModeAuto, offline.ModeUserspace} {
			t.Run(string(mode)+"/"+rel, func(t *testing.T) {
				_, out, err := readRun(t, p, mode)
				if err != nil {
					// A damaged capture: what was read before the damage
					// is written, and must validate too.
					t.Logf("offline.Run: %v", err)
				}
				for k, n := range validateEVE(t, sch, rel, out) {
					total[k] += n
				}
			})
		}
	}
	t.Logf("%d captures in 2 modes, events validated by type: %v", len(paths), total)
}
