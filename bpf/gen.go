// Package bpf holds the xdpids XDP program (xdpids.c, xdpids.h), the bare
// baseline programs benchmarks compare it with (baseline.c), and the Go
// bindings bpf2go generates from them. The generated objects are committed,
// so building needs no clang; `make generate` rebuilds them with the pinned
// clang (clang-19), and CI fails when they are stale.
package bpf

//go:generate go tool bpf2go -tags linux -target bpfel -cc clang-19 -cflags "-O2 -g -Wall -Werror -mcpu=v3" -type config -type if_stats -type counter -type bucket_config -type lpm_v4_key -type lpm_v6_key -type host_v4_key -type host_v6_key -type block_entry -type allow_entry -type limit_key -type limit_state -type flow_key -type flow_stats -type sample_hdr -type iface_slot -type verified_key -type verified_src -type handshake_key -type handshake -type tree_node -type tree_config Xdpids xdpids.c -- -I/usr/include/x86_64-linux-gnu
//go:generate go tool bpf2go -tags linux -target bpfel -cc clang-19 -cflags "-O2 -g -Wall -Werror -mcpu=v3" Baseline baseline.c -- -I/usr/include/x86_64-linux-gnu
