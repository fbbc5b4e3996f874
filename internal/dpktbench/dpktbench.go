// Package dpktbench holds the baseline `make bench` compares `xdpids read`
// with: the seed article's Python loop that parses each frame of a capture
// with dpkt and counts TCP (dpkt_loop.py), run with Debian's python3-dpkt.
package dpktbench

import (
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

//go:embed dpkt_loop.py
var script []byte

// Python is the interpreter with python3-dpkt (Debian's package installs
// into the system Python).
const Python = "/usr/bin/python3"

// Available says why the baseline cannot run here ("" when it can).
func Available() string {
	if err := exec.Command(Python, "-c", "import dpkt").Run(); err != nil {
		return fmt.Sprintf("%s with dpkt not available (apt-get install python3-dpkt): %v", Python, err)
	}
	return ""
}

// Result is one run of the loop.
type Result struct {
	Packets, TCP int
	Loop         time.Duration // the loop alone, as the script times it
	Wall         time.Duration // the whole process, interpreter start included
}

// Run runs the loop over a capture; dir holds the script.
func Run(dir, capture string) (Result, error) {
	path := filepath.Join(dir, "dpkt_loop.py")
	if _, err := os.Stat(path); err != nil {
		if err := os.WriteFile(path, script, 0o644); err != nil {
			return Result{}, err
		}
	}
	start := time.Now()
	out, err := exec.Command(Python, path, capture).Output()
	wall := time.Since(start)
	if err != nil {
		return Result{}, fmt.Errorf("dpkt loop: %w", err)
	}
	f := strings.Fields(string(out))
	if len(f) != 3 {
		return Result{}, fmt.Errorf("dpkt loop: unexpected output %q", out)
	}
	var r Result
	r.Packets, _ = strconv.Atoi(f[0])
	r.TCP, _ = strconv.Atoi(f[1])
	secs, _ := strconv.ParseFloat(f[2], 64)
	r.Loop, r.Wall = time.Duration(secs*float64(time.Second)), wall
	return r, nil
}
