package dataset

import (
	"bufio"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xdpids/xdpids/internal/testenv"
)

// Every capture of the corpus's attack-pcaps is labelled by
// testdata/learn-corpus.labels, or named in a "# Not labelled: NAME"
// comment there, and every labelled capture has flows of its label (a
// rule on an address the capture does not hold would label nothing).
func TestCorpusLabelsCover(t *testing.T) {
	dir := testenv.Corpus(t, "attack-pcaps")
	file := testenv.RootPath(t, "testdata", "learn-corpus.labels")
	rules, err := ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	left := map[string]bool{}
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if n, ok := strings.CutPrefix(sc.Text(), "# Not labelled: "); ok {
			left[strings.Fields(n)[0]] = true
		}
	}
	want := map[string]string{} // capture path: its label
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || (!strings.HasSuffix(p, ".pcap") && !strings.HasSuffix(p, ".pcapng")) {
			return err
		}
		base := filepath.Base(p)
		for _, r := range rules {
			if ok, _ := path.Match(r.Capture, base); ok {
				want[p] = r.Label
				return nil
			}
		}
		if !left[base] {
			t.Errorf("%s: no label and no \"# Not labelled\" comment", base)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Fatal("no labelled corpus capture")
	}
	for p, label := range want {
		rows, err := Collect([]string{p}, Options{Labels: Labels{Rules: rules}, Points: "end"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range rows {
			if r.Label == label {
				n++
			}
		}
		if n == 0 {
			t.Errorf("%s: no flow labelled %s", filepath.Base(p), label)
		}
	}
}
