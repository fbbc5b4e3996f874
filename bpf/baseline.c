//go:build ignore
// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Bare programs that benchmarks measure xdpids against in the same run. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int bare_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int bare_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

/* bare_tx bounces frames back out: with BPF_F_TEST_XDP_LIVE_FRAMES it is the
 * traffic generator for live throughput benchmarks. */
SEC("xdp")
int bare_tx(struct xdp_md *ctx)
{
	return XDP_TX;
}

/* bare_tcx_next is the bare tcx egress program: TCX_NEXT (-1), the packet
 * goes on untouched, as xdpids_egress always lets it. */
SEC("tcx/egress")
int bare_tcx_next(struct __sk_buff *skb)
{
	return -1;
}
