//go:build ignore
// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xdpids XDP program: parse, count, allow/block lists, per-source rate
 * limits, flow accounting and sampling to userspace through a ring buffer.
 * Order of decisions (see DESIGN.md): allow list, block list, the verified
 * source's hop count, rate limits, SYN cookies, flow accounting, sampling. Every exit goes through finish(), which records
 * the verdict, so the verdict counters always add up to the packet count. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/errno.h>

#ifndef IPPROTO_ICMPV6
#define IPPROTO_ICMPV6 58
#endif
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xdpids.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_MSEC 1000000ULL

#ifndef IPPROTO_MH
#define IPPROTO_MH 135
#endif
#define IPPROTO_HIP 139
#define IPPROTO_SHIM6 140

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20

struct vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

/* ICMP and ICMPv6 share the first 8 bytes' layout; linux/icmp.h pulls in
 * glibc headers that do not build for the BPF target. */
struct icmp_hdr {
	__u8 type;
	__u8 code;
	__be16 checksum;
	__be32 rest;
};

struct ipv6_ext_hdr {
	__u8 nexthdr;
	__u8 hdrlen;
};

struct ipv6_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;
	__be32 id;
};

/* Run-time configuration, one entry (index 0). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config);
} config_map SEC(".maps");

/* ifindex -> stats slot (0 = unassigned); written by the loader at attach. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_IFINDEX);
	__type(key, __u32);
	__type(value, __u32);
} if_slots SEC(".maps");

/* stats slot -> ifindex owning it, for readers of the stats map. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_IFACES);
	__type(key, __u32);
	__type(value, struct iface_slot);
} slot_ifaces SEC(".maps");

/* Per-interface counters. Per-CPU and updated without atomics: XDP runs in
 * softirq context on one CPU and is not preempted by itself there. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_IFACES);
	__type(key, __u32);
	__type(value, struct if_stats);
} stats SEC(".maps");

/* Allow lists, checked first: a hit always passes. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v4_key);
	__type(value, struct allow_entry);
} allow_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v6_key);
	__type(value, struct allow_entry);
} allow_v6 SEC(".maps");

/* Block lists: an unexpired hit drops. Single addresses (the responder's
 * bans, most manual ones) live in hash maps: the LPM trie's lookup grows
 * with its size (+70-120 ns at 10 000 entries, measured), a hash lookup
 * does not. The tries keep real prefixes. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct host_v4_key);
	__type(value, struct block_entry);
} block_host_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct host_v6_key);
	__type(value, struct block_entry);
} block_host_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HINT_MAX);
	__type(key, __u32);
	__type(value, __u32);
} list_hints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v4_key);
	__type(value, struct block_entry);
} block_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v6_key);
	__type(value, struct block_entry);
} block_v6 SEC(".maps");

/* Per-source token buckets. Shared between CPUs without a lock: two CPUs
 * refilling one bucket at once can let a few extra packets through, which
 * is cheaper than a spin lock on every SYN. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 131072);
	__type(key, struct limit_key);
	__type(value, struct limit_state);
} limits SEC(".maps");

/* Flow table: one entry per direction of a 5-tuple. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 131072);
	__type(key, struct flow_key);
	__type(value, struct flow_stats);
} flows SEC(".maps");

/* The in-kernel model (xdpids.h, tree_config): two banks of nodes, each
 * bank's model, and which bank is live. Userspace writes the idle bank,
 * then flips tree_bank (one 32-bit store), so a packet never walks a half
 * written model. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * TREE_MAX_NODES);
	__type(key, __u32);
	__type(value, struct tree_node);
} tree_nodes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct tree_config);
} tree_configs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} tree_bank SEC(".maps");

/* Sources that completed a SYN cookie handshake, with the hop count they
 * arrived with. LRU: a flood of real handshakes evicts the oldest. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct verified_key);
	__type(value, struct verified_src);
} verified SEC(".maps");

/* Handshakes the host answered: the egress program records each SYN-ACK
 * the host sends (the client's flow key and the server's ISN + 1), and the
 * client's final ACK that acknowledges it verifies the client (see
 * handshake_check). LRU: a SYN flood answered by the stack evicts the
 * oldest records, never grows the map; a forged SYN's record is never
 * acknowledged and ages out. Not pinned: a restart loses only the
 * handshakes in flight (those clients verify on their next connection). */
#define HANDSHAKE_MAX 65536
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HANDSHAKE_MAX);
	__type(key, struct handshake_key);
	__type(value, struct handshake);
} handshakes SEC(".maps");

/* SYN rate per destination port (index: the port), which decides cookie
 * mode. Shared between CPUs: the count is an atomic add, since under a
 * flood spread over CPUs plain increments lost so many that the stack saw
 * half as many SYNs again as the threshold before the mode turned on. */
struct port_state {
	__u64 window;     /* clock / 1 s of the window syns counts */
	__u32 syns;       /* SYNs to the port in that window */
	__u32 prev_syns;  /* SYNs in the window before (0 if it was not the one before) */
	__u64 cookie_ns;  /* last SYN answered with a cookie; 0 = never */
	__u64 refresh_ns; /* last SYN let through to the stack in cookie mode */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct port_state);
} syn_ports SEC(".maps");

/* Scratch space of the cookie path: headers copied out of the frame (the
 * helpers need the TCP header's whole length in bounds, and the frame's
 * length is only known at run time), and the SYN-ACK built there. */
struct cookie_buf {
	__u8 ip[40];  /* struct iphdr or struct ipv6hdr */
	__u8 tcp[60]; /* struct tcphdr and its options */
	__u8 eth[12]; /* destination and source MAC */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cookie_buf);
} cookie_scratch SEC(".maps");

/* Per-CPU sample budget: a token bucket in samples. */
struct budget {
	__u64 tokens; /* nanotokens */
	__u64 last_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct budget);
} sample_budget SEC(".maps");

/* Scratch space to assemble a sample before bpf_ringbuf_output: reserve
 * needs a constant size, and samples have the length of the frame. */
struct sample_buf {
	struct sample_hdr hdr;
	__u8 data[MAX_SNAPLEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sample_buf);
} sample_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	/* 32 MiB: some 20 000 full-frame samples, 0.1 s of the default
	 * budget of both CPUs, so a slow wake-up of the reader loses nothing */
	__uint(max_entries, 1 << 25);
} samples SEC(".maps");

/* What the parser learned about a packet. */
struct pkt {
	__u8 src[16];
	__u8 dst[16];
	__u16 sport; /* network order */
	__u16 dport;
	__u16 vlan;
	__u8 family;    /* 4, 6, or 0 when not IP */
	__u8 l4proto;
	__u8 tcp_flags;
	__u8 has_l4;    /* the L4 header was parsed */
	__u8 frag;      /* 0 none, 1 first fragment, 2 later fragment */
	__u8 malformed; /* a header was truncated or invalid */
	__u8 vlan_tags;
	__u8 arp;       /* an ARP, MPLS or NSH frame: sampled as SAMPLE_NON_IP (family stays 0) */
	__u8 ttl;       /* IPv4 TTL or IPv6 hop limit */
	__u8 tcp_doff;  /* TCP data offset, 32-bit words (has_l4) */
	__u8 trust;     /* enum trust_flag bits */
	__u8 pad;
	__u16 window;   /* TCP window, host order (has_l4, TCP) */
	__u16 l3_off;   /* where the IP header starts in the frame */
	__u16 l4_off;   /* where the L4 header starts (has_l4) */
	__be32 ack_seq; /* TCP acknowledgment number (has_l4, TCP) */
};

/* Force BTF for the types Go mirrors with bpf2go -type. */
enum parse_limit unused_parse_limit __attribute__((unused));
struct sample_hdr *unused_sample_hdr __attribute__((unused));
struct iface_slot *unused_iface_slot __attribute__((unused));
enum verdict unused_verdict __attribute__((unused));
enum reason unused_reason __attribute__((unused));
enum proto unused_proto __attribute__((unused));
enum limit_kind unused_limit_kind __attribute__((unused));
enum sample_flag unused_sample_flag __attribute__((unused));
enum block_origin unused_block_origin __attribute__((unused));
enum flow_action unused_flow_action __attribute__((unused));
enum hint_index unused_hint_index __attribute__((unused));
enum trust_flag unused_trust_flag __attribute__((unused));
enum block_flag unused_block_flag __attribute__((unused));
struct verified_key *unused_verified_key __attribute__((unused));
struct verified_src *unused_verified_src __attribute__((unused));
struct handshake_key *unused_handshake_key __attribute__((unused));
struct handshake *unused_handshake __attribute__((unused));
enum tree_feature unused_tree_feature __attribute__((unused));
enum tree_state unused_tree_state __attribute__((unused));
enum tree_action unused_tree_action __attribute__((unused));
enum tree_limit unused_tree_limit __attribute__((unused));

static __always_inline void count(struct counter *c, __u64 bytes)
{
	c->packets++;
	c->bytes += bytes;
}

/* parse_l4 reads the L4 header at cur, off bytes into the frame; the IP
 * datagram ends ip_end bytes into the frame (Ethernet padding is not a
 * header's). */
static __always_inline int parse_l4(void *cur, void *end, struct pkt *p, __u32 off, __u32 ip_end)
{
	switch (p->l4proto) {
	case IPPROTO_TCP: {
		struct tcphdr *th = cur;
		if ((void *)(th + 1) > end || th->doff < 5)
			return -1;
		/* options cut: the header is not all there */
		if (cur + th->doff * 4 > end || off + th->doff * 4 > ip_end)
			return -1;
		p->sport = th->source;
		p->dport = th->dest;
		p->tcp_flags = ((__u8 *)th)[13];
		p->tcp_doff = th->doff;
		p->ack_seq = th->ack_seq;
		p->window = bpf_ntohs(th->window);
		break;
	}
	case IPPROTO_UDP: {
		struct udphdr *uh = cur;
		if ((void *)(uh + 1) > end)
			return -1;
		p->sport = uh->source;
		p->dport = uh->dest;
		break;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: {
		/* protocol 1 in IPv6 or 58 in IPv4 is no ICMP a stack accepts */
		if ((p->l4proto == IPPROTO_ICMP) != (p->family == 4))
			return 0;
		struct icmp_hdr *ih = cur;
		if ((void *)(ih + 1) > end)
			return -1;
		/* type and code stand in for the ports, as flow tools do */
		p->sport = bpf_htons(ih->type);
		p->dport = bpf_htons(ih->code);
		break;
	}
	default:
		return 0;
	}
	p->has_l4 = 1;
	p->l4_off = off;
	return 0;
}

static __always_inline int parse_ipv4(void *cur, void *end, struct pkt *p)
{
	struct iphdr *iph = cur;
	if ((void *)(iph + 1) > end)
		return -1;
	__u32 hlen = iph->ihl * 4;
	if (hlen < sizeof(*iph) || iph->version != 4)
		return -1;
	if (cur + hlen > end)
		return -1;
	p->family = 4;
	p->ttl = iph->ttl;
	p->l4proto = iph->protocol;
	__builtin_memcpy(p->src, &iph->saddr, 4);
	__builtin_memcpy(p->dst, &iph->daddr, 4);
	if (iph->frag_off & bpf_htons(0x1fff)) {
		p->frag = 2; /* later fragment: no L4 header */
		return 0;
	}
	if (iph->frag_off & bpf_htons(0x2000))
		p->frag = 1;
	__u32 tot = bpf_ntohs(iph->tot_len);
	__u32 ip_end = tot >= hlen ? p->l3_off + tot : 0xffff;
	if (parse_l4(cur + hlen, end, p, p->l3_off + hlen, ip_end) < 0)
		p->malformed = 1;
	return 0;
}

static __always_inline int parse_ipv6(void *cur, void *end, struct pkt *p)
{
	struct ipv6hdr *ip6 = cur;
	if ((void *)(ip6 + 1) > end)
		return -1;
	if (ip6->version != 6)
		return -1;
	p->family = 6;
	p->ttl = ip6->hop_limit;
	__builtin_memcpy(p->src, &ip6->saddr, 16);
	__builtin_memcpy(p->dst, &ip6->daddr, 16);
	__u8 nexthdr = ip6->nexthdr;
	cur = ip6 + 1;

	for (int i = 0; i < IPV6_EXT_MAX_CHAIN; i++) {
		switch (nexthdr) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
		case IPPROTO_MH:
		case IPPROTO_HIP:
		case IPPROTO_SHIM6: {
			struct ipv6_ext_hdr *eh = cur;
			if ((void *)(eh + 1) > end)
				goto truncated;
			nexthdr = eh->nexthdr;
			cur += (eh->hdrlen + 1) * 8;
			if (cur > end) /* cut inside the header, not only before its length */
				goto truncated;
			break;
		}
		case IPPROTO_AH: {
			struct ipv6_ext_hdr *eh = cur;
			if ((void *)(eh + 1) > end)
				goto truncated;
			nexthdr = eh->nexthdr;
			cur += (eh->hdrlen + 2) * 4;
			if (cur > end)
				goto truncated;
			break;
		}
		case IPPROTO_FRAGMENT: {
			struct ipv6_frag_hdr *fh = cur;
			if ((void *)(fh + 1) > end)
				goto truncated;
			nexthdr = fh->nexthdr;
			cur = fh + 1;
			if (fh->frag_off & bpf_htons(0xfff8)) {
				p->l4proto = nexthdr;
				p->frag = 2;
				return 0;
			}
			if (fh->frag_off & bpf_htons(1))
				p->frag = 1;
			break;
		}
		default:
			goto l4;
		}
	}
	/* Still an extension header after the chain limit: count as other. */
	switch (nexthdr) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_DSTOPTS:
	case IPPROTO_MH:
	case IPPROTO_HIP:
	case IPPROTO_SHIM6:
	case IPPROTO_AH:
	case IPPROTO_FRAGMENT:
		p->l4proto = nexthdr;
		return 0;
	}
l4:
	p->l4proto = nexthdr;
	__u32 plen = bpf_ntohs(ip6->payload_len);
	__u32 ip_end = plen ? p->l3_off + 40 + plen : 0xffff; /* 0: a jumbogram */
	if (parse_l4(cur, end, p, p->l3_off + (__u32)(cur - (void *)ip6), ip_end) < 0)
		p->malformed = 1;
	return 0;
truncated:
	p->l4proto = nexthdr;
	p->malformed = 1;
	return 0;
}

/* parse fills p; returns -1 when the frame is cut before or inside the
 * L2/L3 headers (no addresses to judge it by). */
static __always_inline int parse_frame(void *data, void *end, struct pkt *p)
{
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return -1;
	__be16 proto = eth->h_proto;
	void *cur = eth + 1;

	for (int i = 0; i < VLAN_MAX_DEPTH; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		struct vlan_hdr *vh = cur;
		if ((void *)(vh + 1) > end)
			return -1;
		if (i == 0)
			p->vlan = bpf_ntohs(vh->tci) & 0x0fff;
		p->vlan_tags++;
		proto = vh->encap_proto;
		cur = vh + 1;
	}
	p->l3_off = cur - data;
	if (proto == bpf_htons(ETH_P_IP))
		return parse_ipv4(cur, end, p);
	if (proto == bpf_htons(ETH_P_IPV6))
		return parse_ipv6(cur, end, p);
	if (proto == bpf_htons(ETH_P_ARP) && cur + 28 <= end)
		p->arp = 1; /* a whole ARP header for IPv4 over Ethernet */
	if (proto == bpf_htons(ETH_P_MPLS_UC) || proto == bpf_htons(ETH_P_MPLS_MC) ||
	    proto == bpf_htons(ETH_P_NSH))
		p->arp = 1; /* not IP here, but userspace decapsulates it: sampled the same way */
	p->l3_off = 0;
	return 0; /* not IP (or a VLAN tag past VLAN_MAX_DEPTH): family stays 0 */
}

static __always_inline int parse(struct xdp_md *ctx, struct pkt *p)
{
	return parse_frame((void *)(long)ctx->data, (void *)(long)ctx->data_end, p);
}

/* Offline replay's clock: packet time, which userspace writes into the
 * memory-mapped .bss before each test run (a store, no syscall); 0 live. */
volatile __u64 replay_clock_ns;

/* clock returns the program's clock: packet time in offline replay, else
 * CLOCK_MONOTONIC_COARSE: 13 ns here against 44 ns for the precise clocks,
 * and tick (<=4 ms) resolution is enough for buckets, expiry and flow times. */
static __always_inline __u64 clock(struct config *cfg)
{
	__u64 c = replay_clock_ns;
	return c ? c : bpf_ktime_get_coarse_ns();
}

/* finish records the verdict and turns a drop into a pass in monitor mode. */
static __always_inline int finish(struct if_stats *st, struct config *cfg, __u32 verdict,
				  __u32 reason, __u64 len)
{
	if (verdict == VERDICT_DROP && cfg->monitor)
		verdict = VERDICT_WOULD_DROP;
	if (verdict >= VERDICT_MAX || reason >= REASON_MAX)
		return XDP_PASS;
	count(&st->verdicts[verdict][reason], len);
	if (verdict == VERDICT_TX)
		return XDP_TX;
	return verdict == VERDICT_DROP ? XDP_DROP : XDP_PASS;
}

/* take_token takes one token from a bucket of rate/burst; false when empty. */
static __always_inline int take_token(__u64 *tokens, __u64 *last_ns, __u64 now, __u32 rate,
				      __u32 burst)
{
	__u64 cap = (__u64)burst * NSEC_PER_SEC;
	__u64 last = *last_ns;
	/* A bucket shared by CPUs may have been refilled by another CPU after
	 * this one read the clock: now < last is no time passed, not an idle
	 * of 2^64 ns that refills the whole bucket. */
	__u64 elapsed = now > last ? now - last : 0;
	__u64 t = *tokens;
	/* Past 8.6 s idle the product could overflow; the bucket is full by then
	 * for any burst/rate under 8 s, and a longer idle always means full. */
	if (elapsed > (1ULL << 33))
		t = cap;
	else
		t += elapsed * rate;
	if (t > cap)
		t = cap;
	if (now > last)
		*last_ns = now;
	if (t < NSEC_PER_SEC) {
		*tokens = t;
		return 0;
	}
	*tokens = t - NSEC_PER_SEC;
	return 1;
}

/* rate_limited applies the per-source bucket of kind; sample is set when the
 * drop should be reported (first drop of the source in the interval). */
static __always_inline int rate_limited(struct config *cfg, struct pkt *p, __u32 kind, __u64 now,
					__u8 *sample)
{
	if (kind >= LIMIT_MAX)
		return 0;
	struct bucket_config *bc = &cfg->limits[kind];
	__u32 rate = bc->rate;
	if (rate == 0)
		return 0;
	__u32 burst = bc->burst ? bc->burst : 1;

	struct limit_key key = {};
	key.family = p->family;
	key.kind = kind;
	if (p->family == 4)
		__builtin_memcpy(key.addr, p->src, 4);
	else
		__builtin_memcpy(key.addr, p->src, 8); /* IPv6 sources share their /64 */

	struct limit_state *ls = bpf_map_lookup_elem(&limits, &key);
	if (!ls) {
		struct limit_state init = {};
		init.tokens = (__u64)(burst - 1) * NSEC_PER_SEC;
		init.last_ns = now;
		bpf_map_update_elem(&limits, &key, &init, BPF_NOEXIST);
		return 0;
	}
	if (take_token(&ls->tokens, &ls->last_ns, now, rate, burst))
		return 0;
	__sync_fetch_and_add(&ls->dropped, 1);
	/* last_sample_ns 0: never sampled (boot time can be shorter than the interval) */
	if (ls->last_sample_ns == 0 ||
	    now - ls->last_sample_ns >= (__u64)cfg->ratelimit_sample_ms * NSEC_PER_MSEC) {
		ls->last_sample_ns = now;
		*sample = 1;
	}
	return 1;
}

/* flow_key_of fills the flow table key of p's direction. */
static __always_inline void flow_key_of(struct pkt *p, struct flow_key *key)
{
	__builtin_memset(key, 0, sizeof(*key));
	__builtin_memcpy(key->src, p->src, 16);
	__builtin_memcpy(key->dst, p->dst, 16);
	key->sport = p->sport;
	key->dport = p->dport;
	key->vlan = p->vlan;
	key->proto = p->l4proto;
	key->family = p->family;
}

/* --- The in-kernel model (issue 11) ---
 *
 * While a model is loaded, a new flow direction is marked TREE_PENDING and
 * its first tree_config.packets packets update the model's counters in its
 * flow entry (flow_stats: lengths, largest gap, flag counts, the first
 * packet's flags and window); past them nothing more is counted. At that
 * packet the trees walk the feature vector (tree_features): each ends in a
 * leaf whose score (1 - P(benign), in 1/1000) is added to its class. The
 * flow is malicious when the sum reaches tree_config.threshold; its class
 * is the one with the largest sum (the lowest on a tie). The verdict is
 * kept in flow_stats.tree and counted in if_stats.tree_verdicts; with
 * TREE_DROP (not in monitor mode) the flow is dropped from this packet on
 * (FLOW_DROP), with no round trip to userspace. A malicious verdict's
 * packet goes to userspace as a model sample (sample_hdr.model_class and
 * model_score, whatever config.sample_mask; dropped ones with
 * VERDICT_DROP, REASON_MODEL), where it becomes an EVE alert (sid
 * 8600003). userspace/learn/xdptree
 * computes the same integers from the same packets: its tests check the
 * two agree on every flow of a capture. */

/* Returned in flow_account's *action: drop this packet (REASON_MODEL). */
#define FLOW_MODEL_DROP 0x100

static __always_inline __u32 sat32(__u64 v)
{
	return v > 0xffffffffULL ? 0xffffffff : (__u32)v;
}

/* What the model's counters need of a packet. */
struct tree_pkt {
	__u64 len;     /* frame length */
	__u64 now;     /* program clock */
	__u64 last;    /* the flow's last_ns before this packet */
	__u64 before;  /* the flow's packets before this one */
	__u16 window;  /* TCP window */
	__u16 sport;   /* host order */
	__u16 dport;
	__u8 flags;    /* TCP flags */
	__u8 l4proto;
	__u8 monitor;  /* config.monitor */
	__u8 pad[7];
};

/* The feature vector and the per-class score sums, in a per-CPU scratch
 * entry: the program's stack has no room left for them. */
struct tree_vec {
	__u32 x[TF_MAX];
	__u32 sum[TREE_MAX_CLASSES];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tree_vec);
} tree_scratch SEC(".maps");

/* tree_features fills v (enum tree_feature) from the flow's counters at
 * this packet. */
static __always_inline void tree_features(struct tree_vec *v, struct flow_stats *fs, struct tree_pkt *tp)
{
	__u32 *x = v->x;
	x[TF_PROTO] = tp->l4proto;
	x[TF_SPORT] = tp->sport;
	x[TF_DPORT] = tp->dport;
	x[TF_BYTES] = sat32(fs->bytes);
	x[TF_LEN_MIN] = fs->len_min;
	x[TF_LEN_MAX] = fs->len_max;
	x[TF_DURATION] = sat32(tp->now > fs->first_ns ? (tp->now - fs->first_ns) >> 10 : 0);
	x[TF_IAT_MAX] = fs->iat_max;
	x[TF_SYN] = fs->flag_counts[0];
	x[TF_FIN] = fs->flag_counts[1];
	x[TF_RST] = fs->flag_counts[2];
	x[TF_PSH] = fs->flag_counts[3];
	x[TF_ACK] = fs->flag_counts[4];
	x[TF_URG] = fs->flag_counts[5];
	x[TF_FIRST_FLAGS] = fs->first_flags;
	x[TF_WIN_FIRST] = fs->win_first;
}

/* tree_classify walks every tree of tc (bank's) over v: 0 benign, else
 * the malicious class. At most TREE_MAX_TREES x (TREE_MAX_DEPTH + 1) node
 * lookups; a walk that finds no leaf in that many adds nothing (the
 * loader refuses such trees). */
static __always_inline __u32 tree_classify(struct tree_config *tc, __u32 bank, struct tree_vec *v,
					   __u32 *score)
{
	__u32 *sum = v->sum;
	for (int c = 0; c < TREE_MAX_CLASSES; c++)
		sum[c] = 0;
	__u32 total = 0;
	__u32 base = bank * TREE_MAX_NODES;
	__u32 trees = tc->trees;
	for (__u32 t = 0; t < TREE_MAX_TREES; t++) {
		if (t >= trees)
			break;
		__u32 i = tc->roots[t];
		for (int d = 0; d <= TREE_MAX_DEPTH; d++) {
			if (i >= TREE_MAX_NODES)
				break;
			__u32 k = base + i;
			struct tree_node *n = bpf_map_lookup_elem(&tree_nodes, &k);
			if (!n)
				break;
			__u32 f = n->feature;
			if (f == TREE_LEAF) {
				total += n->score;
				sum[n->class & (TREE_MAX_CLASSES - 1)] += n->score;
				break;
			}
			if (f >= TF_MAX)
				break;
			i = v->x[f] < n->threshold ? n->left : n->right;
		}
	}
	*score = total;
	if (total < tc->threshold)
		return 0;
	__u32 best = 1;
	for (__u32 c = 2; c < TREE_MAX_CLASSES; c++)
		if (sum[c] > sum[best])
			best = c;
	return best;
}

/* tree_flow runs the model's part of a packet on its flow entry fs
 * (tp->before == 0: fs is the new entry, not yet inserted). Returns -1
 * when the flow was not judged at this packet, else the class (0 benign)
 * | TREE_RET_DROP when the flow is to be dropped | the leaves' score sum
 * << TREE_RET_SCORE_SHIFT (at most TREE_MAX_TREES x TREE_SCORE_ONE, which
 * 15 bits hold: the result stays positive). A global function: the
 * verifier checks it once, on its own, not again on each of the
 * program's paths to it (inlined, the program went past the verifier's
 * limit of 1M instructions). */
#define TREE_RET_DROP 0x100
#define TREE_RET_SCORE_SHIFT 16
#define TREE_RET_SCORE_MAX 0x7fff
__attribute__((noinline)) int tree_flow(struct flow_stats *fs, struct tree_pkt *tp)
{
	if (!fs || !tp)
		return -1;
	__u32 zero = 0;
	__u32 *bp = bpf_map_lookup_elem(&tree_bank, &zero);
	if (!bp)
		return -1;
	__u32 bank = *bp & 1;
	struct tree_config *tc = bpf_map_lookup_elem(&tree_configs, &bank);
	if (!tc || tc->packets == 0 || tp->before >= tc->packets)
		return -1;
	__u16 l = tp->len > 0xffff ? 0xffff : tp->len;
	__u8 f = tp->flags;
	if (tp->before == 0) {
		fs->len_min = l;
		fs->len_max = l;
		fs->iat_max = 0;
		fs->win_first = tp->window;
		fs->first_flags = f;
		fs->tree = TREE_PENDING;
		for (int i = 0; i < 6; i++)
			fs->flag_counts[i] = 0;
	} else {
		if (fs->tree != TREE_PENDING)
			return -1;
		if (l < fs->len_min)
			fs->len_min = l;
		if (l > fs->len_max)
			fs->len_max = l;
		__u32 gap = sat32(tp->now > tp->last ? (tp->now - tp->last) >> 10 : 0);
		if (gap > fs->iat_max)
			fs->iat_max = gap;
	}
	if (f) {
		fs->flag_counts[0] += !!(f & TCP_SYN);
		fs->flag_counts[1] += !!(f & TCP_FIN);
		fs->flag_counts[2] += !!(f & TCP_RST);
		fs->flag_counts[3] += !!(f & TCP_PSH);
		fs->flag_counts[4] += !!(f & TCP_ACK);
		fs->flag_counts[5] += !!(f & TCP_URG);
	}
	if (tp->before + 1 != tc->packets || fs->action == FLOW_DROP)
		return -1;
	struct tree_vec *v = bpf_map_lookup_elem(&tree_scratch, &zero);
	if (!v)
		return -1;
	tree_features(v, fs, tp);
	__u32 score = 0;
	__u32 c = tree_classify(tc, bank, v, &score);
	fs->tree = TREE_CLASS + c;
	if (score > TREE_RET_SCORE_MAX)
		score = TREE_RET_SCORE_MAX;
	int r = c | (score << TREE_RET_SCORE_SHIFT);
	if (c && tc->action == TREE_DROP && !tp->monitor) {
		fs->action = FLOW_DROP;
		return r | TREE_RET_DROP;
	}
	return r;
}

/* tree_count counts a judged flow (tree_flow's r), keeps a malicious
 * verdict in *model (for the packet's model sample) and says whether its
 * packet is to be dropped. */
static __always_inline int tree_count(struct if_stats *st, int r, __u32 *model)
{
	if (r < 0)
		return 0;
	__u32 c = r & (TREE_MAX_CLASSES - 1);
	st->tree_verdicts[c]++;
	if (c)
		*model = r;
	return r & TREE_RET_DROP;
}

/* flow_account updates the flow table and returns how many packets the
 * flow had before this one (0 for a new flow). *model gets the in-kernel
 * model's malicious verdict at this packet (tree_flow's result), if any. */
static __always_inline __u64 flow_account(struct if_stats *st, struct config *cfg, struct pkt *p,
					  __u32 ifindex, __u64 now, __u64 len, __u32 *action,
					  __u32 *model, const int egress)
{
	struct flow_key key;
	flow_key_of(p, &key);
	struct tree_pkt tp = {
		.len = len,
		.now = now,
		.window = p->window,
		.sport = bpf_ntohs(p->sport),
		.dport = bpf_ntohs(p->dport),
		.flags = p->tcp_flags,
		.l4proto = p->l4proto,
		.monitor = cfg->monitor != 0,
	};

	struct flow_stats *fs = bpf_map_lookup_elem(&flows, &key);
	if (fs) {
		*action = fs->action;
		__u64 before = __sync_fetch_and_add(&fs->packets, 1);
		__sync_fetch_and_add(&fs->bytes, len);
		if (p->tcp_flags && (fs->tcp_flags & p->tcp_flags) != p->tcp_flags)
			__sync_fetch_and_or(&fs->tcp_flags, p->tcp_flags);
		__u64 last = fs->last_ns;
		if (last != now)
			fs->last_ns = now;
		if (!egress && fs->tree == TREE_PENDING) {
			tp.last = last;
			tp.before = before;
			if (tree_count(st, tree_flow(fs, &tp), model))
				*action = FLOW_MODEL_DROP;
		}
		return before;
	}
	struct flow_stats init = {
		.first_ns = now,
		.last_ns = now,
		.packets = 1,
		.bytes = len,
		.tcp_flags = p->tcp_flags,
		.ifindex = ifindex,
	};
	if (egress) {
		/* the host's own direction: no model, and not counted as a new
		 * flow of the interface (flows_new counts what arrives) */
		bpf_map_update_elem(&flows, &key, &init, BPF_NOEXIST);
		return 0;
	}
	tp.last = now;
	if (tree_count(st, tree_flow(&init, &tp), model))
		*action = FLOW_MODEL_DROP;
	/* Another CPU may insert the same flow at the same moment; then this
	 * packet is counted as that flow's first, which only costs a sample. */
	if (bpf_map_update_elem(&flows, &key, &init, BPF_NOEXIST) == 0)
		st->flows_new++;
	return 0;
}

static __always_inline int budget_allows(struct config *cfg, __u64 now)
{
	if (cfg->sample_rate == 0)
		return 1;
	__u32 zero = 0;
	struct budget *b = bpf_map_lookup_elem(&sample_budget, &zero);
	if (!b)
		return 0;
	if (b->last_ns == 0) {
		b->tokens = (__u64)(cfg->sample_burst ? cfg->sample_burst : 1) * NSEC_PER_SEC;
		b->last_ns = now;
	}
	return take_token(&b->tokens, &b->last_ns, now, cfg->sample_rate,
			  cfg->sample_burst ? cfg->sample_burst : 1);
}

/* sample_begin takes a token of the sample budget and returns the scratch
 * buffer to assemble a sample in, or NULL (counted). */
static __always_inline struct sample_buf *sample_begin(struct if_stats *st, struct config *cfg, __u64 now)
{
	if (!budget_allows(cfg, now)) {
		st->samples_over_budget++;
		return NULL;
	}
	__u32 zero = 0;
	struct sample_buf *buf = bpf_map_lookup_elem(&sample_scratch, &zero);
	if (!buf)
		st->samples_lost++;
	return buf;
}

/* sample_cap is how many bytes of a len-byte frame a sample carries. */
static __always_inline __u64 sample_cap(__u64 len, __u64 snap)
{
	__u64 cap = len;
	if (cap > snap)
		cap = snap;
	barrier_var(cap);
	if (cap > MAX_SNAPLEN)
		cap = MAX_SNAPLEN;
	return cap;
}

/* sample_send fills buf's header and writes the sample (cap bytes of frame
 * already in buf->data) to the ring. */
static __always_inline void sample_send(struct sample_buf *buf, struct if_stats *st, struct pkt *p,
					__u32 ifindex, __u32 rx_queue, __u64 len, __u64 cap,
					__u32 verdict, __u32 reason, __u8 flags, __u64 flow_packets,
					__u32 action, __u32 model)
{
	/* Samples carry the precise clock: alerts are ordered by it. */
	__u64 replay = replay_clock_ns;
	buf->hdr.ts_ns = replay ? replay : bpf_ktime_get_ns();
	buf->hdr.ifindex = ifindex;
	buf->hdr.rx_queue = rx_queue;
	buf->hdr.wire_len = len;
	buf->hdr.cap_len = cap;
	buf->hdr.vlan = p->vlan;
	buf->hdr.verdict = verdict;
	buf->hdr.reason = reason;
	buf->hdr.flags = flags;
	buf->hdr.flow_packets = flow_packets;
	buf->hdr.action = action;
	buf->hdr.family = p->family;
	buf->hdr.l4proto = p->l4proto;
	buf->hdr.l3_off = p->family ? p->l3_off : 0;
	buf->hdr.l4_off = p->has_l4 ? p->l4_off : 0;
	buf->hdr.trust = p->trust;
	buf->hdr.model_class = model & (TREE_MAX_CLASSES - 1);
	buf->hdr.model_score = (model >> TREE_RET_SCORE_SHIFT) & TREE_RET_SCORE_MAX;
	/* Offline replay drains the ring after each test run itself: waking a
	 * reader would only cost an irq_work per sample. */
	if (bpf_ringbuf_output(&samples, buf, sizeof(buf->hdr) + cap,
			       replay ? BPF_RB_NO_WAKEUP : 0) < 0) {
		st->samples_lost++;
		return;
	}
	st->samples_sent++;
}

static __always_inline void emit_sample(struct xdp_md *ctx, struct if_stats *st,
					struct config *cfg, struct pkt *p, __u64 now,
					__u64 len, __u32 verdict, __u32 reason, __u8 flags,
					__u64 flow_packets, __u32 action, __u64 snap, __u32 model)
{
	/* model: a malicious verdict of the in-kernel model (tree_flow's
	 * result), sent whatever the mask (one per judged flow direction) */
	flags &= cfg->sample_mask;
	if (!flags && !model)
		return;
	struct sample_buf *buf = sample_begin(st, cfg, now);
	if (!buf)
		return;
	if (verdict == VERDICT_DROP && cfg->monitor)
		verdict = VERDICT_WOULD_DROP;
	__u64 cap = sample_cap(len, snap);
	if (cap < 1 || bpf_xdp_load_bytes(ctx, 0, buf->data, cap) < 0) {
		st->samples_lost++;
		return;
	}
	sample_send(buf, st, p, ctx->ingress_ifindex, ctx->rx_queue_index, len, cap, verdict, reason,
		    flags, flow_packets, action, model);
}

/* milestone: the 2^k-th packet of a flow (16 <= 2^k < 1024), then every 1024th;
 * before is the flow's count without this packet. */
static __always_inline int milestone(__u64 before)
{
	return before >= 16 && (before < 1024 ? (before & (before - 1)) == 0 : (before & 1023) == 0);
}

static __always_inline __u64 snaplen(struct config *cfg)
{
	return cfg->snaplen ? cfg->snaplen : 256;
}

static __always_inline __u8 anomalous_flags(__u8 f)
{
	if (f == 0)
		return 1; /* NULL */
	if ((f & (TCP_SYN | TCP_FIN)) == (TCP_SYN | TCP_FIN))
		return 1;
	if ((f & (TCP_SYN | TCP_RST)) == (TCP_SYN | TCP_RST))
		return 1;
	if ((f & (TCP_FIN | TCP_ACK)) == TCP_FIN)
		return 1; /* FIN without ACK; covers XMAS (FIN+PSH+URG) */
	return 0;
}

/* inspect_flags: the sample reasons of packet p of a flow under
 * inspection that had before packets before it (XDP and egress alike). */
static __always_inline __u8 inspect_flags(struct config *cfg, struct pkt *p, __u64 before)
{
	__u8 flags = 0;
	if (before < cfg->flow_samples)
		flags |= SAMPLE_NEW_FLOW;
	else if (milestone(before))
		flags |= SAMPLE_MILESTONE;
	if (p->frag)
		flags |= SAMPLE_FRAGMENT;
	if (p->l4proto == IPPROTO_TCP && anomalous_flags(p->tcp_flags))
		flags |= SAMPLE_ANOMALY;
	if (p->has_l4 && (p->l4proto == IPPROTO_ICMP || p->l4proto == IPPROTO_ICMPV6))
		flags |= SAMPLE_ICMP;
	return flags;
}

/* random_flag: SAMPLE_RANDOM for 1 in config.sample_one_in of the packets
 * no enabled reason samples. */
static __always_inline __u8 random_flag(struct config *cfg, __u8 flags)
{
	if (!(flags & cfg->sample_mask) && cfg->sample_one_in &&
	    bpf_get_prandom_u32() % cfg->sample_one_in == 0)
		return SAMPLE_RANDOM;
	return 0;
}

/* --- SYN cookies (issue 9) ---
 *
 * While the SYN rate to a destination port is over config.cookie_threshold
 * (or with config.cookie_always), the program answers the port's SYNs
 * itself: a SYN-ACK whose sequence number is a SYN cookie from
 * bpf_tcp_raw_gen_syncookie_ipv4/6, sent back with XDP_TX. The stack sees
 * no SYN and keeps no state, so a flood from forged sources costs it
 * nothing. A new flow's ACK to the port is checked with
 * bpf_tcp_raw_check_syncookie_ipv4/6: a valid one marks its source verified
 * (the verified map, with its TTL) and passes; one without a valid cookie
 * is dropped (REASON_BAD_COOKIE).
 *
 * How the listener accepts the connection: the raw helpers compute the
 * kernel's own cookie (same secret, same encoding as the stack's
 * syncookies), so with net.ipv4.tcp_syncookies=2 the listener's cookie
 * check accepts the ACK and creates the connection from it. The stack
 * checks a cookie only while the listener has "recently overflowed"
 * (sent a cookie itself in the last 2 minutes, tcp_synq_no_recent_overflow):
 * so in cookie mode one SYN per port and config.cookie_refresh_ms still
 * passes to the stack, which with tcp_syncookies=2 answers it with its own
 * cookie and keeps its listener accepting. */

#define COOKIE_ACK_NS (5 * NSEC_PER_SEC) /* ACKs are checked this long after the last cookie */
#define COOKIE_TTL 64
#define COOKIE_WINDOW 65535 /* no window scaling: the SYN-ACK carries only an MSS option */
#define COOKIE_MSS4 1460
#define COOKIE_MSS6 1440
#define IP_DF 0x4000

static __always_inline __u16 csum_fold(__u64 s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/* pseudo_sum is the one's complement sum of the TCP pseudo-header, in
 * network byte order words as bpf_csum_diff sums them. */
static __always_inline __u64 pseudo_sum(struct cookie_buf *b, __u8 family, __u32 tcp_len)
{
	__u64 s = 0;
	if (family == 4) {
		struct iphdr *iph = (void *)b->ip;
		s += iph->saddr;
		s += iph->daddr;
		s += bpf_htonl(IPPROTO_TCP + tcp_len);
		return s;
	}
	__u32 *a = (__u32 *)(b->ip + 8); /* saddr, then daddr */
	for (int i = 0; i < 8; i++)
		s += a[i];
	s += bpf_htonl(tcp_len);
	s += bpf_htonl(IPPROTO_TCP);
	return s;
}

/* tcp_csum is the TCP checksum over the pseudo-header and tcp_len bytes of
 * b->tcp (0 when the header's checksum field is right, computing over it). */
static __always_inline int tcp_csum(struct cookie_buf *b, __u8 family, __u64 tcp_len, __u16 *out)
{
	barrier_var(tcp_len);
	if (tcp_len < 20 || tcp_len > 60)
		return -1;
	__s64 v = bpf_csum_diff(0, 0, (__be32 *)b->tcp, tcp_len, 0);
	if (v < 0)
		return -1;
	*out = csum_fold((__u64)(__u32)v + pseudo_sum(b, family, tcp_len));
	return 0;
}

/* cookie_eligible loads a SYN's headers into b and checks it is one the
 * program answers: no IP options or IPv6 extension headers, no fragment,
 * no payload, and good checksums (nmap --badsum tells a box that answers
 * bad ones from the host). Returns the TCP header length, or 0. */
static __always_inline __u32 cookie_eligible(struct xdp_md *ctx, struct pkt *p, struct cookie_buf *b)
{
	__u64 tcp_len = p->tcp_doff * 4;
	if (p->frag || tcp_len < 20 || tcp_len > 60)
		return 0;
	if (p->family == 4) {
		if (p->l4_off != p->l3_off + 20)
			return 0;
		if (bpf_xdp_load_bytes(ctx, p->l3_off, b->ip, 20) < 0)
			return 0;
		struct iphdr *iph = (void *)b->ip;
		if (bpf_ntohs(iph->tot_len) != 20 + tcp_len || (iph->frag_off & bpf_htons(~IP_DF)))
			return 0;
		__s64 v = bpf_csum_diff(0, 0, (__be32 *)b->ip, 20, 0);
		if (v < 0 || csum_fold((__u32)v) != 0)
			return 0;
	} else {
		if (p->l4_off != p->l3_off + 40)
			return 0;
		if (bpf_xdp_load_bytes(ctx, p->l3_off, b->ip, 40) < 0)
			return 0;
		struct ipv6hdr *ip6 = (void *)b->ip;
		if (bpf_ntohs(ip6->payload_len) != tcp_len)
			return 0;
	}
	barrier_var(tcp_len);
	if (tcp_len < 20 || tcp_len > 60)
		return 0;
	if (bpf_xdp_load_bytes(ctx, p->l4_off, b->tcp, tcp_len) < 0)
		return 0;
	__u16 sum;
	if (tcp_csum(b, p->family, tcp_len, &sum) < 0 || sum != 0)
		return 0;
	return tcp_len;
}

/* cookie_reply turns the SYN in the frame, whose headers cookie_eligible
 * loaded into b, into a SYN-ACK carrying a SYN cookie. Returns 1 when the
 * frame is the SYN-ACK (XDP_TX it), 0 when the SYN is not answered (frame
 * untouched: pass it on), -1 when the frame was changed but could not be
 * finished (drop it). */
static __always_inline int cookie_reply(struct xdp_md *ctx, struct pkt *p, struct cookie_buf *b,
					__u32 tcp_len)
{
	if (tcp_len < 20 || tcp_len > 60)
		return 0;
	__s64 r;
	if (p->family == 4)
		r = bpf_tcp_raw_gen_syncookie_ipv4((struct iphdr *)b->ip, (struct tcphdr *)b->tcp, tcp_len);
	else
		r = bpf_tcp_raw_gen_syncookie_ipv6((struct ipv6hdr *)b->ip, (struct tcphdr *)b->tcp, tcp_len);
	if (r < 0)
		return 0;
	__u32 cookie = (__u32)r;
	__u16 mss = r >> 32; /* the client's MSS as the cookie encodes it */
	__u16 ours = p->family == 4 ? COOKIE_MSS4 : COOKIE_MSS6;
	if (mss > ours)
		mss = ours;

	/* The SYN-ACK: an MSS option when the SYN had options (a SYN without
	 * one is answered without: both sides then assume 536). */
	__u32 new_len = tcp_len > 20 ? 24 : 20;
	struct tcphdr *th = (void *)b->tcp;
	__be16 port = th->source;
	th->source = th->dest;
	th->dest = port;
	th->ack_seq = bpf_htonl(bpf_ntohl(th->seq) + 1);
	th->seq = bpf_htonl(cookie);
	b->tcp[12] = (new_len / 4) << 4;
	b->tcp[13] = TCP_SYN | TCP_ACK;
	th->window = bpf_htons(COOKIE_WINDOW);
	th->check = 0;
	th->urg_ptr = 0;
	if (new_len == 24) {
		b->tcp[20] = 2; /* MSS */
		b->tcp[21] = 4;
		b->tcp[22] = mss >> 8;
		b->tcp[23] = mss & 0xff;
	}
	__u32 ip_len;
	if (p->family == 4) {
		struct iphdr *iph = (void *)b->ip;
		__be32 a = iph->saddr;
		iph->saddr = iph->daddr;
		iph->daddr = a;
		iph->tos = 0;
		iph->id = 0;
		iph->frag_off = bpf_htons(IP_DF);
		iph->ttl = COOKIE_TTL;
		iph->tot_len = bpf_htons(20 + new_len);
		iph->check = 0;
		__s64 v = bpf_csum_diff(0, 0, (__be32 *)b->ip, 20, 0);
		if (v < 0)
			return 0;
		iph->check = csum_fold((__u32)v);
		ip_len = 20;
	} else {
		struct ipv6hdr *ip6 = (void *)b->ip;
		struct in6_addr a = ip6->saddr;
		ip6->saddr = ip6->daddr;
		ip6->daddr = a;
		*(__be32 *)b->ip = bpf_htonl(0x60000000);
		ip6->payload_len = bpf_htons(new_len);
		ip6->hop_limit = COOKIE_TTL;
		ip_len = 40;
	}
	__u16 sum;
	if (tcp_csum(b, p->family, new_len, &sum) < 0)
		return 0;
	th->check = sum;
	if (bpf_xdp_load_bytes(ctx, 0, b->eth, 12) < 0)
		return 0;

	/* Nothing written yet: from here a failure leaves a changed frame. */
	int len = ctx->data_end - ctx->data;
	int want = p->l4_off + new_len;
	if (want < len && bpf_xdp_adjust_tail(ctx, want - len) < 0)
		return 0;
	if (bpf_xdp_store_bytes(ctx, 0, b->eth + 6, 6) < 0 ||
	    bpf_xdp_store_bytes(ctx, 6, b->eth, 6) < 0)
		return -1;
	if (ip_len == 20) {
		if (bpf_xdp_store_bytes(ctx, p->l3_off, b->ip, 20) < 0)
			return -1;
	} else if (bpf_xdp_store_bytes(ctx, p->l3_off, b->ip, 40) < 0) {
		return -1;
	}
	if (new_len == 24) {
		if (bpf_xdp_store_bytes(ctx, p->l4_off, b->tcp, 24) < 0)
			return -1;
	} else if (bpf_xdp_store_bytes(ctx, p->l4_off, b->tcp, 20) < 0) {
		return -1;
	}
	return 1;
}

/* cookie_check checks a handshake ACK's cookie: 0 valid, -EACCES not a
 * cookie of ours, another negative error when it could not be checked. */
static __always_inline int cookie_check(struct xdp_md *ctx, struct pkt *p, struct cookie_buf *b)
{
	if (p->frag)
		return -EINVAL;
	if (p->family == 4) {
		if (bpf_xdp_load_bytes(ctx, p->l3_off, b->ip, 20) < 0 ||
		    bpf_xdp_load_bytes(ctx, p->l4_off, b->tcp, 20) < 0)
			return -EINVAL;
		return bpf_tcp_raw_check_syncookie_ipv4((struct iphdr *)b->ip, (struct tcphdr *)b->tcp);
	}
	if (bpf_xdp_load_bytes(ctx, p->l3_off, b->ip, 40) < 0 ||
	    bpf_xdp_load_bytes(ctx, p->l4_off, b->tcp, 20) < 0)
		return -EINVAL;
	return bpf_tcp_raw_check_syncookie_ipv6((struct ipv6hdr *)b->ip, (struct tcphdr *)b->tcp);
}

/* cookie_mode counts a SYN to the port and says whether the port is in
 * cookie mode: over the threshold in this one-second window or the one
 * before (so the mode ends one full quiet window after the flood). */
static __always_inline int cookie_mode(struct config *cfg, struct port_state *ps, __u64 now)
{
	__u64 win = now / NSEC_PER_SEC;
	if (ps->window != win) {
		ps->prev_syns = ps->window + 1 == win ? ps->syns : 0;
		ps->window = win;
		ps->syns = 0;
	}
	__sync_fetch_and_add(&ps->syns, 1);
	if (cfg->cookie_always)
		return 1;
	__u32 thr = cfg->cookie_threshold;
	return thr && (ps->syns > thr || ps->prev_syns > thr);
}

static __always_inline void verified_key_of(struct verified_key *k, struct pkt *p)
{
	__builtin_memcpy(k->addr, p->src, 16);
	k->family = p->family;
}

/* mark_verified records a source that proved its return path (its ACK
 * carried a valid SYN cookie, or acknowledged the host's own SYN-ACK),
 * with the hop count of that ACK, and counts it in *counter. */
static __always_inline void mark_verified(__u64 *counter, struct pkt *p, __u64 now)
{
	struct verified_key k = {};
	verified_key_of(&k, p);
	struct verified_src *old = bpf_map_lookup_elem(&verified, &k);
	if (old) {
		/* in place: an LRU update allocates a new element each time, and
		 * a client verifies again on each connection. Another CPU may
		 * read the fields half written: a packet's trust bits then lag. */
		old->verified_ns = now;
		old->last_ns = now;
		old->ttl = p->ttl;
	} else {
		struct verified_src v = {.verified_ns = now, .last_ns = now, .ttl = p->ttl};
		bpf_map_update_elem(&verified, &k, &v, BPF_ANY);
	}
	(*counter)++;
	__u32 hk = HINT_VERIFIED;
	__u32 *hint = bpf_map_lookup_elem(&list_hints, &hk);
	if (hint && !*hint)
		*hint = 1;
}

/* --- Verification by the host's own handshakes (issue 9) ---
 *
 * XDP sees ingress only, so it cannot tell a client's final handshake ACK
 * from a blind one: the ACK acknowledges the server's ISN, which only the
 * SYN-ACK carries. The tcx egress program (xdpids_egress, below) sees the
 * SYN-ACKs the host sends and records each connection's ISN + 1 in the
 * handshakes map. handshake_check runs on a pure ACK among the first
 * HANDSHAKE_PACKETS packets of its flow direction: an ACK acknowledging a
 * recorded SYN-ACK within HANDSHAKE_NS verifies its source (mark_verified,
 * with its TTL) and removes the record; any other ACK (no record, another
 * ack number) verifies nothing. Observation, not action: it runs in
 * monitor mode too. Offline replay has no egress, so no records. */
#define HANDSHAKE_PACKETS 8            /* the ACK may follow retransmitted SYNs */
#define HANDSHAKE_NS (75 * NSEC_PER_SEC) /* Linux retransmits a SYN-ACK for 63 s */

static __always_inline void handshake_check(struct if_stats *st, struct pkt *p, __u64 now)
{
	struct handshake_key k = {};
	__builtin_memcpy(k.src, p->src, 16);
	__builtin_memcpy(k.dst, p->dst, 16);
	k.sport = p->sport;
	k.dport = p->dport;
	k.family = p->family;
	struct handshake *h = bpf_map_lookup_elem(&handshakes, &k);
	if (!h)
		return;
	if (bpf_ntohl(p->ack_seq) != h->ack_want) {
		st->handshake_bad_ack++;
		return;
	}
	__u64 sent = h->sent_ns;
	bpf_map_delete_elem(&handshakes, &k);
	if (now > sent && now - sent > HANDSHAKE_NS)
		return;
	mark_verified(&st->verified_handshake, p, now);
	p->trust = TRUST_VERIFIED | TRUST_HANDSHAKE;
}

/* flow_known reports whether the flow table has this packet's direction. */
static __always_inline int flow_known(struct pkt *p)
{
	struct flow_key key;
	flow_key_of(p, &key);
	return bpf_map_lookup_elem(&flows, &key) != 0;
}

/* challenge decides a packet from a source under a challenge ban: 1 it is
 * a SYN answered with a cookie (XDP_TX), -1 the source is verified (with
 * its hop count) or this is its ACK with a valid cookie: it passes the
 * ban; 0 the ban drops it. Not in monitor mode or offline replay. */
static __always_inline int challenge(struct xdp_md *ctx, struct if_stats *st, struct config *cfg,
				     struct pkt *p)
{
	if (cfg->monitor || replay_clock_ns)
		return 0;
	struct verified_key vk = {};
	verified_key_of(&vk, p);
	struct verified_src *vs = bpf_map_lookup_elem(&verified, &vk);
	if (vs) {
		__u32 d = p->ttl > vs->ttl ? p->ttl - vs->ttl : vs->ttl - p->ttl;
		if (d <= cfg->hop_tolerance)
			return -1;
	}
	if (!p->has_l4 || p->l4proto != IPPROTO_TCP || p->malformed)
		return 0;
	__u32 zero = 0;
	struct cookie_buf *cb = bpf_map_lookup_elem(&cookie_scratch, &zero);
	if (!cb)
		return 0;
	__u8 f = p->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN);
	if (f == TCP_SYN) {
		__u32 tcp_len = cookie_eligible(ctx, p, cb);
		if (!tcp_len)
			return 0;
		/* a failure after the frame changed drops it too */
		return cookie_reply(ctx, p, cb, tcp_len) > 0 ? 1 : 0;
	}
	if (f == TCP_ACK && !flow_known(p) && cookie_check(ctx, p, cb) == 0) {
		mark_verified(&st->verified_new, p, clock(cfg));
		return -1;
	}
	return 0;
}

SEC("xdp")
int xdpids(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct config *cfg = bpf_map_lookup_elem(&config_map, &zero);
	if (!cfg)
		return XDP_PASS;
	__u32 ifindex = ctx->ingress_ifindex;
	__u32 slot = 0;
	__u32 *slotp = bpf_map_lookup_elem(&if_slots, &ifindex);
	if (slotp)
		slot = *slotp;
	struct if_stats *st = bpf_map_lookup_elem(&stats, &slot);
	if (!st) {
		slot = 0;
		st = bpf_map_lookup_elem(&stats, &slot);
		if (!st)
			return XDP_PASS;
	}
	/* The program is not loaded with BPF_F_XDP_HAS_FRAGS, so every frame
	 * is linear: data_end - data is its length, without a helper call. */
	__u64 len = ctx->data_end - ctx->data;

	struct pkt p = {};
	int parsed = parse(ctx, &p);
	/* counted also when the headers after the tags are cut */
	if (p.vlan_tags)
		count(&st->protos[PROTO_VLAN], len);
	if (parsed < 0) {
		count(&st->protos[PROTO_MALFORMED], len);
		return finish(st, cfg, VERDICT_PASS, REASON_MALFORMED, len);
	}
	if (p.family == 0) {
		count(&st->protos[PROTO_OTHER], len);
		if (p.arp)
			emit_sample(ctx, st, cfg, &p, clock(cfg), len, VERDICT_PASS, REASON_NOT_IP, SAMPLE_NON_IP, 0,
				    FLOW_INSPECT, snaplen(cfg), 0);
		return finish(st, cfg, VERDICT_PASS, REASON_NOT_IP, len);
	}
	count(&st->protos[p.family == 4 ? PROTO_IPV4 : PROTO_IPV6], len);
	if (p.frag)
		count(&st->protos[PROTO_FRAGMENT], len);
	if (p.malformed)
		count(&st->protos[PROTO_MALFORMED], len);
	else if (p.has_l4) {
		__u32 pi = PROTO_OTHER;
		switch (p.l4proto) {
		case IPPROTO_TCP: pi = PROTO_TCP; break;
		case IPPROTO_UDP: pi = PROTO_UDP; break;
		case IPPROTO_ICMP: pi = PROTO_ICMP; break;
		case IPPROTO_ICMPV6: pi = PROTO_ICMPV6; break;
		}
		count(&st->protos[pi], len);
	} else if (p.frag != 2) {
		count(&st->protos[PROTO_OTHER], len);
	}

	__u32 hk = p.family == 4 ? HINT_ALLOW_V4 : HINT_ALLOW_V6;
	__u32 *allow_hint = bpf_map_lookup_elem(&list_hints, &hk);
	hk = p.family == 4 ? HINT_BLOCK_PREFIX_V4 : HINT_BLOCK_PREFIX_V6;
	__u32 *prefix_hint = bpf_map_lookup_elem(&list_hints, &hk);
	int check_allow = !allow_hint || *allow_hint;
	int check_prefixes = !prefix_hint || *prefix_hint;

	/* 1. allow list: always wins. */
	if (p.family == 4 && check_allow) {
		struct lpm_v4_key k = {.prefixlen = 32};
		__builtin_memcpy(k.addr, p.src, 4);
		struct allow_entry *a = bpf_map_lookup_elem(&allow_v4, &k);
		if (a) {
			__sync_fetch_and_add(&a->hits, 1);
			return finish(st, cfg, VERDICT_PASS, REASON_ALLOW, len);
		}
	} else if (p.family == 6 && check_allow) {
		struct lpm_v6_key k = {.prefixlen = 128};
		__builtin_memcpy(k.addr, p.src, 16);
		struct allow_entry *a = bpf_map_lookup_elem(&allow_v6, &k);
		if (a) {
			__sync_fetch_and_add(&a->hits, 1);
			return finish(st, cfg, VERDICT_PASS, REASON_ALLOW, len);
		}
	}

	/* 2. block list: host entries, then prefixes; only unexpired entries
	 * drop. The clock is read only for entries that expire. */
	struct block_entry *b;
	if (p.family == 4) {
		b = bpf_map_lookup_elem(&block_host_v4, p.src);
		if (!b && check_prefixes) {
			struct lpm_v4_key k = {.prefixlen = 32};
			__builtin_memcpy(k.addr, p.src, 4);
			b = bpf_map_lookup_elem(&block_v4, &k);
		}
	} else {
		b = bpf_map_lookup_elem(&block_host_v6, p.src);
		if (!b && check_prefixes) {
			struct lpm_v6_key k = {.prefixlen = 128};
			__builtin_memcpy(k.addr, p.src, 16);
			b = bpf_map_lookup_elem(&block_v6, &k);
		}
	}
	if (b && (b->expires_ns == 0 || b->expires_ns > clock(cfg))) {
		int r = (b->origin & BLOCK_CHALLENGE) ? challenge(ctx, st, cfg, &p) : 0;
		if (r > 0)
			return finish(st, cfg, VERDICT_TX, REASON_SYNCOOKIE, len);
		if (r == 0) {
			/* A plain add: under a flood from several CPUs a few hits may be
			 * lost, which costs less than a locked add on a shared line. */
			b->hits++;
			return finish(st, cfg, VERDICT_DROP, REASON_BLOCK, len);
		}
		/* r < 0: the source proved itself; on as if not banned */
	}

	/* 2b. a verified source's hop count: a packet with its address and
	 * another TTL is counted as spoofed and marked in its samples, not
	 * dropped (userspace decides). */
	__u64 now = 0; /* read once, when first needed */
	hk = HINT_VERIFIED;
	__u32 *verified_hint = bpf_map_lookup_elem(&list_hints, &hk);
	if (verified_hint && *verified_hint) {
		struct verified_key vk = {};
		verified_key_of(&vk, &p);
		struct verified_src *vs = bpf_map_lookup_elem(&verified, &vk);
		if (vs) {
			p.trust = TRUST_VERIFIED;
			__u32 d = p.ttl > vs->ttl ? p.ttl - vs->ttl : vs->ttl - p.ttl;
			if (d > cfg->hop_tolerance) {
				p.trust |= TRUST_HOP_MISMATCH;
				st->hop_mismatch++;
				vs->spoofed++;
			} else {
				now = clock(cfg);
				if (vs->last_ns != now)
					vs->last_ns = now;
			}
		}
	}

	if (p.malformed) {
		/* A cut header still has addresses, and rules and decoder events
		 * inspect it (and a first fragment's datagram needs it): sampled as
		 * an anomaly, no flow. */
		emit_sample(ctx, st, cfg, &p, clock(cfg), len, VERDICT_PASS, REASON_MALFORMED,
			    SAMPLE_ANOMALY | (p.frag ? SAMPLE_FRAGMENT : 0), 0, FLOW_INSPECT, snaplen(cfg), 0);
		return finish(st, cfg, VERDICT_PASS, REASON_MALFORMED, len);
	}

	if (!now)
		now = clock(cfg);

	/* 3. per-source rate limits. */
	__u8 flags = 0;
	if (p.has_l4) {
		__u32 kind = LIMIT_MAX, reason = REASON_NONE;
		if (p.l4proto == IPPROTO_TCP && (p.tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
			kind = LIMIT_SYN;
			reason = REASON_RATE_SYN;
		} else if (p.l4proto == IPPROTO_UDP) {
			kind = LIMIT_UDP;
			reason = REASON_RATE_UDP;
		} else if (p.l4proto == IPPROTO_ICMP || p.l4proto == IPPROTO_ICMPV6) {
			kind = LIMIT_ICMP;
			reason = REASON_RATE_ICMP;
		}
		if (kind < LIMIT_MAX) {
			__u8 want = 0;
			if (rate_limited(cfg, &p, kind, now, &want)) {
				if (want)
					emit_sample(ctx, st, cfg, &p, now, len, VERDICT_DROP, reason,
						    SAMPLE_RATELIMIT, 0, FLOW_INSPECT, snaplen(cfg), 0);
				return finish(st, cfg, VERDICT_DROP, reason, len);
			}
		}
	}

	/* 3b. SYN cookies (above): not in monitor mode, which never acts, nor
	 * in offline replay, where nobody would receive the SYN-ACK. */
	if (p.has_l4 && p.l4proto == IPPROTO_TCP && !cfg->monitor && !replay_clock_ns &&
	    (cfg->cookie_threshold || cfg->cookie_always)) {
		__u8 f = p.tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN);
		__u32 port = bpf_ntohs(p.dport);
		struct port_state *ps = bpf_map_lookup_elem(&syn_ports, &port);
		struct cookie_buf *cb = bpf_map_lookup_elem(&cookie_scratch, &zero);
		__u32 tcp_len;
		if (ps && cb && f == TCP_SYN && cookie_mode(cfg, ps, now)) {
			__u64 refresh = (__u64)cfg->cookie_refresh_ms * NSEC_PER_MSEC;
			if (refresh && (ps->refresh_ns == 0 || now - ps->refresh_ns >= refresh)) {
				ps->refresh_ns = now; /* this one goes to the stack */
			} else if ((tcp_len = cookie_eligible(ctx, &p, cb))) {
				/* a cookie SYN makes no flow; 1-in-N samples still show it */
				if (cfg->sample_one_in && bpf_get_prandom_u32() % cfg->sample_one_in == 0)
					emit_sample(ctx, st, cfg, &p, now, len, VERDICT_TX, REASON_SYNCOOKIE,
						    SAMPLE_RANDOM, 0, FLOW_INSPECT, snaplen(cfg), 0);
				int r = cookie_reply(ctx, &p, cb, tcp_len);
				if (r > 0) {
					if (ps->cookie_ns != now)
						ps->cookie_ns = now;
					return finish(st, cfg, VERDICT_TX, REASON_SYNCOOKIE, len);
				}
				if (r < 0)
					return finish(st, cfg, VERDICT_DROP, REASON_SYNCOOKIE, len);
			}
		} else if (ps && cb && (f == TCP_ACK) && ps->cookie_ns && now - ps->cookie_ns < COOKIE_ACK_NS &&
			   !flow_known(&p)) {
			int r = cookie_check(ctx, &p, cb);
			if (r == 0)
				mark_verified(&st->verified_new, &p, now);
			/* (a verified source with its hop count passes without one:
			 * its connection's flow entry may have been evicted) */
			else if (r == -EACCES && p.trust != TRUST_VERIFIED)
				return finish(st, cfg, VERDICT_DROP, REASON_BAD_COOKIE, len);
		}
	}

	/* 4. flow accounting (later fragments have no ports: not a flow). */
	__u64 flow_packets = 0;
	__u32 model = 0; /* the in-kernel model's malicious verdict at this packet */
	if (p.frag == 2) {
		flags |= SAMPLE_FRAGMENT;
	} else {
		__u32 action = FLOW_INSPECT;
		__u64 before = flow_account(st, cfg, &p, ifindex, now, len, &action, &model, 0);
		if (before < HANDSHAKE_PACKETS && p.l4proto == IPPROTO_TCP && p.has_l4 &&
		    (p.tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_ACK)
			handshake_check(st, &p, now);
		if (action == FLOW_MODEL_DROP) {
			/* the judged packet goes to userspace, which alerts on it */
			emit_sample(ctx, st, cfg, &p, now, len, VERDICT_DROP, REASON_MODEL, flags, before + 1,
				    FLOW_DROP, snaplen(cfg), model);
			return finish(st, cfg, VERDICT_DROP, REASON_MODEL, len);
		}
		if (action == FLOW_DROP)
			return finish(st, cfg, VERDICT_DROP, REASON_FLOW, len);
		if (action == FLOW_BYPASS) {
			/* Userspace has inspected all it wants of this flow; its
			 * milestones still carry the kernel's count (flood rates). */
			if (milestone(before) || model)
				emit_sample(ctx, st, cfg, &p, now, len, VERDICT_PASS, REASON_NONE,
					    milestone(before) ? SAMPLE_MILESTONE : 0, before + 1, FLOW_BYPASS,
					    BYPASS_SNAPLEN, model);
			return finish(st, cfg, VERDICT_PASS, REASON_NONE, len);
		}
		flags |= inspect_flags(cfg, &p, before);
		flow_packets = before + 1;
	}

	/* 5. sampling. */
	flags |= random_flag(cfg, flags);
	if (flags || model)
		emit_sample(ctx, st, cfg, &p, now, len, VERDICT_PASS, REASON_NONE, flags, flow_packets,
			    FLOW_INSPECT, snaplen(cfg), model);
	return finish(st, cfg, VERDICT_PASS, REASON_NONE, len);
}


/* --- Egress: the SYN-ACKs the host sends (tcx) ---
 *
 * Attached with tcx on the egress of every interface the XDP program is on.
 * It records each SYN-ACK (see handshake_check) and always returns
 * TCX_NEXT: it never changes or drops a packet, and programs after it (and
 * tc's classic chain) run as before. Headers are read in place (direct
 * packet access: a segment cost 46 ns with three bpf_skb_load_bytes, 11 in
 * place, a bare tcx program 10, measured), with bpf_skb_load_bytes only
 * when they are not
 * all in the linear part. Frames start with
 * an Ethernet header, as the XDP program's do; IPv4 with options is read,
 * IPv6 with extension headers is not (the host's SYN-ACKs carry none). */
#ifndef TCX_NEXT
#define TCX_NEXT -1 /* linux/bpf.h of 6.6 and later; the headers here are older */
#endif

static __always_inline struct if_stats *slot_stats(__u32 ifindex)
{
	__u32 slot = 0;
	__u32 *slotp = bpf_map_lookup_elem(&if_slots, &ifindex);
	if (slotp)
		slot = *slotp;
	struct if_stats *st = bpf_map_lookup_elem(&stats, &slot);
	if (!st) {
		slot = 0;
		st = bpf_map_lookup_elem(&stats, &slot);
	}
	return st;
}

/* What the egress program needs of a segment. */
struct egress_tcp {
	__be16 sport, dport; /* the segment's own (the server's, the client's) */
	__be32 seq;
	__u8 flags;
};

/* egress_direct parses the headers in the skb's linear part, where the
 * host's own segments always have them: 1 a TCP segment (k's addresses and
 * family, t filled), 0 not one, -1 the headers are not all linear. */
static __always_inline int egress_direct(struct __sk_buff *skb, struct handshake_key *k, struct egress_tcp *t)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return -1;
	__be16 proto = eth->h_proto;
	void *cur = eth + 1;
	for (int i = 0; i < VLAN_MAX_DEPTH; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		struct vlan_hdr *vh = cur;
		if ((void *)(vh + 1) > end)
			return -1;
		proto = vh->encap_proto;
		cur = vh + 1;
	}
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = cur;
		if ((void *)(iph + 1) > end)
			return -1;
		if (iph->version != 4 || iph->ihl < 5 || iph->protocol != IPPROTO_TCP ||
		    (iph->frag_off & bpf_htons(0x3fff)))
			return 0;
		__builtin_memcpy(k->src, &iph->daddr, 4);
		__builtin_memcpy(k->dst, &iph->saddr, 4);
		k->family = 4;
		cur += iph->ihl * 4;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = cur;
		if ((void *)(ip6 + 1) > end)
			return -1;
		if (ip6->version != 6 || ip6->nexthdr != IPPROTO_TCP)
			return 0;
		__builtin_memcpy(k->src, &ip6->daddr, 16);
		__builtin_memcpy(k->dst, &ip6->saddr, 16);
		k->family = 6;
		cur = ip6 + 1;
	} else {
		return 0;
	}
	struct tcphdr *th = cur;
	if ((void *)(th + 1) > end)
		return -1;
	t->sport = th->source;
	t->dport = th->dest;
	t->seq = th->seq;
	t->flags = ((__u8 *)th)[13];
	return 1;
}

/* egress_load is egress_direct for headers outside the linear part:
 * copied out with bpf_skb_load_bytes, which reads a non-linear skb. */
static __always_inline int egress_load(struct __sk_buff *skb, struct handshake_key *k, struct egress_tcp *t)
{
	__be16 proto;
	if (bpf_skb_load_bytes(skb, 12, &proto, sizeof(proto)) < 0)
		return 0;
	__u32 off = sizeof(struct ethhdr);
	for (int i = 0; i < VLAN_MAX_DEPTH; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		struct vlan_hdr vh;
		if (bpf_skb_load_bytes(skb, off, &vh, sizeof(vh)) < 0)
			return 0;
		proto = vh.encap_proto;
		off += sizeof(vh);
	}
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr iph;
		if (bpf_skb_load_bytes(skb, off, &iph, sizeof(iph)) < 0)
			return 0;
		if (iph.version != 4 || iph.ihl < 5 || iph.protocol != IPPROTO_TCP ||
		    (iph.frag_off & bpf_htons(0x3fff)))
			return 0;
		__builtin_memcpy(k->src, &iph.daddr, 4);
		__builtin_memcpy(k->dst, &iph.saddr, 4);
		k->family = 4;
		off += iph.ihl * 4;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;
		if (bpf_skb_load_bytes(skb, off, &ip6, sizeof(ip6)) < 0)
			return 0;
		if (ip6.version != 6 || ip6.nexthdr != IPPROTO_TCP)
			return 0;
		__builtin_memcpy(k->src, &ip6.daddr, 16);
		__builtin_memcpy(k->dst, &ip6.saddr, 16);
		k->family = 6;
		off += sizeof(ip6);
	} else {
		return 0;
	}
	struct tcphdr th;
	if (bpf_skb_load_bytes(skb, off, &th, sizeof(th)) < 0)
		return 0;
	t->sport = th.source;
	t->dport = th.dest;
	t->seq = th.seq;
	t->flags = ((__u8 *)&th)[13];
	return 1;
}

/* egress_synack records a SYN-ACK the host sends (see handshake_check). */
static __always_inline void egress_synack(struct __sk_buff *skb, struct config *cfg)
{
	struct handshake_key k = {};
	struct egress_tcp t = {};
	int r = egress_direct(skb, &k, &t);
	if (r < 0) {
		__builtin_memset(&k, 0, sizeof(k));
		r = egress_load(skb, &k, &t);
	}
	if (r <= 0 || (t.flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN)) != (TCP_SYN | TCP_ACK))
		return;
	k.sport = t.dport;
	k.dport = t.sport;
	struct handshake h = {.sent_ns = clock(cfg), .ack_want = bpf_ntohl(t.seq) + 1};
	if (bpf_map_update_elem(&handshakes, &k, &h, BPF_ANY) == 0) {
		struct if_stats *st = slot_stats(skb->ifindex);
		if (st)
			st->synacks_recorded++;
	}
}

/* egress_sample streams the host's own packet to userspace as XDP does an
 * arriving one: counted in its direction's flow entry (no model), sampled
 * while that flow is under inspection (the first flow_samples packets,
 * milestones, ICMP, fragments, 1 in N), with TRUST_EGRESS. Userspace then
 * sees both directions of a connection to this host: the replies its
 * parsers, rules and flow features need. Only frames whose headers are in
 * the linear part are parsed (the host's own always are); the sample is
 * copied with bpf_skb_load_bytes, which reads a non-linear skb. A GSO
 * packet is sampled once, at its skb length, as the stack hands it down. */
static __always_inline void egress_sample(struct __sk_buff *skb, struct config *cfg)
{
	struct pkt p = {};
	if (parse_frame((void *)(long)skb->data, (void *)(long)skb->data_end, &p) < 0 || p.family == 0 ||
	    p.malformed)
		return;
	__u32 ifindex = skb->ifindex;
	struct if_stats *st = slot_stats(ifindex);
	if (!st)
		return;
	__u64 len = skb->len;
	__u64 now = clock(cfg);
	__u64 snap = snaplen(cfg);
	__u64 flow_packets = 0;
	__u32 action = FLOW_INSPECT;
	__u8 flags = 0;
	if (p.frag == 2) {
		flags |= SAMPLE_FRAGMENT;
	} else {
		__u32 model = 0;
		__u64 before = flow_account(st, cfg, &p, ifindex, now, len, &action, &model, 1);
		if (action == FLOW_DROP)
			return;
		flow_packets = before + 1;
		if (action == FLOW_BYPASS) {
			if (!milestone(before))
				return;
			flags = SAMPLE_MILESTONE;
			snap = BYPASS_SNAPLEN;
		} else {
			flags |= inspect_flags(cfg, &p, before);
		}
	}
	if (action != FLOW_BYPASS)
		flags |= random_flag(cfg, flags);
	flags &= cfg->sample_mask;
	if (!flags)
		return;
	struct sample_buf *buf = sample_begin(st, cfg, now);
	if (!buf)
		return;
	__u64 cap = sample_cap(len, snap);
	if (cap < 1 || bpf_skb_load_bytes(skb, 0, buf->data, cap) < 0) {
		st->samples_lost++;
		return;
	}
	p.trust = TRUST_EGRESS;
	sample_send(buf, st, &p, ifindex, 0, len, cap, VERDICT_PASS, REASON_NONE, flags, flow_packets,
		    action, 0);
}

SEC("tcx/egress")
int xdpids_egress(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct config *cfg = bpf_map_lookup_elem(&config_map, &zero);
	if (!cfg)
		return TCX_NEXT;
	egress_synack(skb, cfg);
	/* Only the host's own packets: a forwarded one (the host routes, as a
	 * gateway) arrived on an interface, where XDP sampled it already. */
	if (cfg->egress_samples && skb->ingress_ifindex == 0)
		egress_sample(skb, cfg);
	return TCX_NEXT;
}
