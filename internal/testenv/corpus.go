package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// Corpus returns the directory sub of the shared corpus, which lives beside
// the checkout (../shared/corpus from the module root; XDPIDS_CORPUS
// overrides). It skips when the corpus is absent, and fails under CI=true,
// where it must be there.
func Corpus(t testing.TB, sub string) string {
	t.Helper()
	base := os.Getenv("XDPIDS_CORPUS")
	if base == "" {
		if root, ok := moduleRoot(); ok {
			base = filepath.Join(root, "..", "shared", "corpus")
		}
	}
	d := filepath.Join(base, sub)
	if st, err := os.Stat(d); err == nil && st.IsDir() && base != "" {
		return d
	}
	if Required() {
		t.Fatalf("corpus %s not found at %s (set XDPIDS_CORPUS); required under CI=true", sub, d)
	}
	t.Skipf("corpus %s not found at %s: it lives beside the checkout in ../shared (set XDPIDS_CORPUS)", sub, d)
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
