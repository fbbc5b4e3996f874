package dataset

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func FuzzLabels(f *testing.F) {
	f.Add("scan_*.pcap 203.0.113.66 scan\n")
	f.Add("* 198.51.100.0/24 dos 2026-03-02T09:00:00Z 1780000000\n# comment\n")
	f.Fuzz(func(t *testing.T, text string) {
		rs, err := Read(strings.NewReader(text))
		if err != nil {
			return
		}
		l := Labels{Rules: rs}
		for _, r := range rs {
			_ = l.Of("x.pcap", r.Prefix.Addr(), r.Prefix.Addr(), r.From)
		}
	})
}

func FuzzReadCSV(f *testing.F) {
	h := strings.Join(Header(), ",")
	f.Add(h + "\n")
	row := make([]string, len(Header()))
	for i := range row {
		row[i] = "1"
	}
	f.Add(h + "\n" + strings.Join(row, ",") + "\n")
	f.Fuzz(func(t *testing.T, text string) {
		p := filepath.Join(t.TempDir(), "f.csv")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _ = ReadCSV(p)
	})
}
