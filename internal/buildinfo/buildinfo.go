// Package buildinfo says what a binary is: its version (set at link time by
// the Makefile), the VCS commit Go stamped into it, the Go version, and the
// SHA-256 of the XDP object it embeds, so an operator (xdpids version) and
// the metrics (xdpids_build_info) can tell two builds apart.
package buildinfo

import (
	"crypto/sha256"
	"encoding/hex"
	"runtime"
	"runtime/debug"
	"sync"

	"github.com/xdpids/xdpids/bpf"
)

// Version is set by the Makefile's build target:
// -ldflags "-X github.com/xdpids/xdpids/internal/buildinfo.Version=$(git describe --always --dirty)".
// A plain go build leaves "devel".
var Version = "devel"

// Commit is set by the Makefile (git rev-parse HEAD) for builds where Go
// stamps no vcs.revision (GOFLAGS=-buildvcs=false, a worktree without git);
// the stamped revision wins when there is one.
var Commit = ""

// Info describes this binary.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`     // vcs.revision, "unknown" when not built from a checkout
	Modified  bool   `json:"modified"`   // vcs.modified: the tree had uncommitted changes
	GoVersion string `json:"go_version"` // runtime.Version()
	BPFObject string `json:"bpf_object_sha256"`
}

var (
	once sync.Once
	info Info
)

// Get returns the build information (computed once).
func Get() Info {
	once.Do(func() {
		sum := sha256.Sum256(bpf.XdpidsObject())
		info = Info{Version: Version, Commit: Commit, GoVersion: runtime.Version(), BPFObject: hex.EncodeToString(sum[:])}
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					info.Commit = s.Value
				case "vcs.modified":
					info.Modified = s.Value == "true"
				}
			}
		}
		if info.Commit == "" {
			info.Commit = "unknown"
		}
	})
	return info
}

// String is the one-line form: `xdpids v1.2-3-gabc (commit abc..., go1.26, bpf sha256 0123...)`.
func (i Info) String() string {
	commit := i.Commit
	if i.Modified {
		commit += "+dirty"
	}
	return "xdpids " + i.Version + " (commit " + commit + ", " + i.GoVersion + ", bpf object sha256 " + i.BPFObject + ")"
}
