// Package loader loads the xdpids XDP program, attaches it to interfaces with
// a bpf_link (driver mode, falling back to generic), pins its maps under a
// bpffs directory so the CLI and later daemons share them, and gives typed
// access to every map: counters summed over CPUs, allow and block list
// entries, the flow table and the run-time configuration.
package loader
