// Command xdpids is the xdpids daemon and operator CLI: attach the XDP
// program (run), read its counters (stats, top), edit the block and allow
// lists, and remove a program left behind (detach).
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "xdpids:", err)
		os.Exit(1)
	}
}
