package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// CorpusDir is the corpus folder sub, or "" where it is absent (for
// benchmarks, which measure what is there).
func CorpusDir(sub string) string {
	base := os.Getenv("XDPIDS_CORPUS")
	if base == "" {
		root, ok := moduleRoot()
		if !ok {
			return ""
		}
		base = filepath.Join(root, "..", "shared", "corpus")
	}
	d := filepath.Join(base, sub)
	if st, err := os.Stat(d); err == nil && st.IsDir() {
		return d
	}
	return ""
}

// Corpus returns the directory sub of the shared corpus, which lives beside
// the checkout (../shared/corpus from the module root; XDPIDS_CORPUS
// overrides). It skips when the corpus is absent, and fails under CI=true,
// where it must be there.
func Corpus(t testing.TB, sub string) string {
	t.Helper()
	if d := CorpusDir(sub); d != "" {
		return d
	}
	where := "../shared/corpus beside the checkout"
	if b := os.Getenv("XDPIDS_CORPUS"); b != "" {
		where = filepath.Join(b, sub)
	}
	if Required() {
		t.Fatalf("corpus %s not found (%s; set XDPIDS_CORPUS); required under CI=true", sub, where)
	}
	t.Skipf("corpus %s not found: it lives in %s (set XDPIDS_CORPUS)", sub, where)
	return ""
}

// moduleRoot walks up from the working directory (a package directory
// under go test) to the directory holding go.mod.
func moduleRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// RootPath joins parts to the module root (the checkout), for tests that
// read the project's own files: testdata/, dist/, bpf/.
func RootPath(t testing.TB, parts ...string) string {
	t.Helper()
	root, ok := moduleRoot()
	if !ok {
		t.Fatal("module root (go.mod) not found above the working directory")
	}
	return filepath.Join(append([]string{root}, parts...)...)
}
