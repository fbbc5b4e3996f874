/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Numbers and structures shared by the XDP program and the Go loader.
 * The Go side gets mirrors of every struct here through bpf2go -type, so a
 * layout is written once. Keep every field naturally aligned and padded by
 * hand: the Go mirrors must not depend on implicit padding. */
#ifndef XDPIDS_H
#define XDPIDS_H

#define VLAN_MAX_DEPTH 3      /* 802.1Q / 802.1ad tags parsed (Suricata keeps 3 VLAN ids) */
#define IPV6_EXT_MAX_CHAIN 6  /* IPv6 extension headers followed */
#define MAX_SNAPLEN 1536      /* a full 1500-byte frame with two VLAN tags */
#define MAX_IFACES 64         /* interface slots in the stats map; slot 0 = unassigned */
#define MAX_IFINDEX 65536     /* ifindex values mapped to slots; larger ones use slot 0 */
#define FLOW_SAMPLES_ALL 0xffffffff /* config.flow_samples: every packet until userspace bypasses the flow */
#define BYPASS_SNAPLEN 128    /* snap length of the milestone samples of a bypassed flow: headers only */
/* In-kernel model limits (see tree_config below). */
#define TREE_MAX_TREES 8
#define TREE_MAX_DEPTH 12     /* splits on a root-to-leaf path */
#define TREE_MAX_NODES 16384  /* nodes per bank, all trees together */
#define TREE_MAX_CLASSES 16
#define TREE_MAX_PACKETS 255  /* flag counts are 8-bit */
#define TREE_LEAF 0xff        /* tree_node.feature of a leaf */
#define TREE_SCORE_ONE 1000   /* a leaf's score: 1 - P(benign), in 1/1000 */

/* The parser's limits as BTF values, so the Go decoder, which must stop
 * where this program does, is checked against the object (consts_test.go). */
enum parse_limit {
	PARSE_VLAN_MAX_DEPTH = VLAN_MAX_DEPTH,
	PARSE_IPV6_EXT_MAX_CHAIN = IPV6_EXT_MAX_CHAIN,
	PARSE_MAX_SNAPLEN = MAX_SNAPLEN,
};

/* Verdict of one packet: every packet is counted under exactly one. */
enum verdict {
	VERDICT_PASS = 0,
	VERDICT_DROP = 1,
	VERDICT_WOULD_DROP = 2, /* monitor mode: would have dropped, passed */
	VERDICT_TX = 3,         /* answered from XDP (XDP_TX): a SYN cookie SYN-ACK */
	VERDICT_MAX = 4,
};

/* Why a packet got its verdict. */
enum reason {
	REASON_NONE = 0,       /* inspected, nothing against it */
	REASON_ALLOW = 1,      /* source on the allow list */
	REASON_BLOCK = 2,      /* source on the block list */
	REASON_RATE_SYN = 3,   /* per-source TCP SYN bucket empty */
	REASON_RATE_UDP = 4,   /* per-source UDP bucket empty */
	REASON_RATE_ICMP = 5,  /* per-source ICMP/ICMPv6 bucket empty */
	REASON_MALFORMED = 6,  /* a header was truncated or invalid */
	REASON_NOT_IP = 7,     /* ARP, LLDP, ...: not inspected */
	REASON_FLOW = 8,       /* the flow has a drop verdict (a drop rule matched) */
	REASON_SYNCOOKIE = 9,  /* tx: a SYN to a port in cookie mode, answered with a SYN cookie */
	REASON_BAD_COOKIE = 10, /* drop: a new flow's ACK to a port in cookie mode without a valid cookie */
	REASON_MODEL = 11,     /* drop: the in-kernel model (tree ensemble) judged the flow malicious */
	REASON_MAX = 12,
};

/* Protocol counters: a packet can count in several (IPv4 + TCP + fragment). */
enum proto {
	PROTO_IPV4 = 0,
	PROTO_IPV6 = 1,
	PROTO_TCP = 2,
	PROTO_UDP = 3,
	PROTO_ICMP = 4,
	PROTO_ICMPV6 = 5,
	PROTO_FRAGMENT = 6,
	PROTO_OTHER = 7,     /* not IP, or an IP protocol without a parser here */
	PROTO_MALFORMED = 8,
	PROTO_VLAN = 9,      /* carried at least one VLAN tag */
	PROTO_MAX = 10,
};

/* Rate-limit bucket kinds, also the index into config.limits. */
enum limit_kind {
	LIMIT_SYN = 0,
	LIMIT_UDP = 1,
	LIMIT_ICMP = 2,
	LIMIT_MAX = 3,
};

/* Why a packet was sampled to userspace (bit mask in sample_hdr.flags and config.sample_mask). */
enum sample_flag {
	SAMPLE_NEW_FLOW = 1 << 0,  /* one of the first config.flow_samples packets of a flow */
	SAMPLE_ANOMALY = 1 << 1,   /* TCP flag set no stack sends: NULL, SYN+FIN, FIN w/o ACK, XMAS, SYN+RST */
	SAMPLE_FRAGMENT = 1 << 2,  /* IPv4 or IPv6 fragment */
	SAMPLE_ICMP = 1 << 3,      /* ICMP or ICMPv6 */
	SAMPLE_RATELIMIT = 1 << 4, /* first rate-limit drop of a source in an interval */
	SAMPLE_RANDOM = 1 << 5,    /* 1-in-N of everything else */
	SAMPLE_NON_IP = 1 << 6,    /* ARP (sweeps are only visible there), and MPLS and NSH frames,
				    * which userspace decapsulates */
	SAMPLE_MILESTONE = 1 << 7, /* a long flow reached 2^k packets (4 <= k < 10), then every 1024:
				    * userspace sees floods that stay on one flow, and their rate */
	SAMPLE_ALL = (1 << 8) - 1,
};

/* Trust bits of a sample (sample_hdr.trust): what the program knows about
 * the packet's source address. */
enum trust_flag {
	TRUST_VERIFIED = 1 << 0,     /* the source completed a SYN cookie handshake (verified map) */
	TRUST_HOP_MISMATCH = 1 << 1, /* but this packet's TTL / hop limit differs from the one the
				      * handshake arrived with by more than config.hop_tolerance:
				      * spoof suspected (Jin, Wang and Shin, CCS 2003) */
	TRUST_HANDSHAKE = 1 << 2,    /* this packet is the final ACK of a handshake checked against
				      * the SYN-ACK the host sent (the egress program's record):
				      * it verified its source */
	TRUST_EGRESS = 1 << 3,       /* sent by this host: a sample of the tcx egress program (its
				      * source is the host itself, no remote peer) */
};

/* Verdict userspace sets on a flow table entry. */
enum flow_action {
	FLOW_INSPECT = 0, /* count and sample as usual */
	FLOW_DROP = 1,    /* drop the rest of the flow (REASON_FLOW) */
	FLOW_BYPASS = 2,  /* nothing left to inspect: count; only milestone samples (headers,
			   * BYPASS_SNAPLEN bytes), so floods on one flow stay visible */
};

/* Block entry reason codes: who put the entry there. */
enum block_origin {
	ORIGIN_MANUAL = 0,   /* xdpids block */
	ORIGIN_DETECTOR = 1, /* the responder, after an alert */
	ORIGIN_RULE = 2,     /* a drop rule */
	ORIGIN_FLEET = 3,    /* another node's ban, shared over NATS */
	ORIGIN_CROWDSEC = 4, /* a CrowdSec LAPI decision */
};

/* Flags in the high bits of block_entry.origin (the low 16 bits are the
 * enum block_origin). */
enum block_flag {
	BLOCK_CHALLENGE = 1 << 16, /* a ban on forgeable evidence: the source may prove itself.
				    * Its TCP SYNs are answered with SYN cookies, a valid ACK
				    * verifies it, and a verified source with its hop count
				    * passes as if not banned (userspace then lifts the ban). */
};

struct counter {
	__u64 packets;
	__u64 bytes;
};

/* Per-CPU, per-interface counters (value of the stats map). */
struct if_stats {
	struct counter verdicts[VERDICT_MAX][REASON_MAX];
	struct counter protos[PROTO_MAX];
	__u64 flows_new;           /* flows inserted into the flow table */
	__u64 samples_sent;        /* records written to the ring buffer */
	__u64 samples_lost;        /* ring buffer full or load failed */
	__u64 samples_over_budget; /* wanted but over the per-CPU sample budget */
	__u64 verified_new;        /* handshake ACKs with a valid SYN cookie: source verified */
	__u64 hop_mismatch;        /* packets claiming a verified source with another hop count */
	__u64 synacks_recorded;    /* SYN-ACKs the host sent, recorded by the egress program */
	__u64 verified_handshake;  /* final ACKs acknowledging a recorded SYN-ACK: source verified */
	__u64 handshake_bad_ack;   /* ACKs of a recorded handshake with another ack number */
	__u64 tree_verdicts[TREE_MAX_CLASSES]; /* flows the in-kernel model judged, by class (0 benign) */
};

struct bucket_config {
	__u32 rate;  /* tokens per second; 0 disables this limit */
	__u32 burst; /* bucket depth in packets */
};

/* Run-time configuration: one entry, rewritten without reloading the program. */
struct config {
	__u32 monitor;       /* 1: never drop, count would-drop instead */
	__u32 snaplen;       /* bytes of each sampled frame sent, 1..MAX_SNAPLEN */
	__u32 flow_samples;  /* first N packets of each flow direction are sampled;
			      * FLOW_SAMPLES_ALL: every packet until userspace sets an action */
	__u32 sample_one_in; /* sample 1 in N of the remaining packets; 0 = off */
	__u32 sample_rate;   /* per-CPU sample budget, samples per second; 0 = unlimited */
	__u32 sample_burst;  /* per-CPU sample budget depth */
	__u32 ratelimit_sample_ms; /* at most one rate-limit sample per source per interval */
	__u32 sample_mask;   /* enabled enum sample_flag bits */
	struct bucket_config limits[LIMIT_MAX];
	__u32 cookie_threshold;  /* SYN/s to one destination port above which XDP answers its SYNs
				  * with SYN cookies; 0 = off */
	__u32 cookie_always;     /* 1: every eligible SYN gets a cookie, whatever the rate (tests) */
	__u32 cookie_refresh_ms; /* in cookie mode one SYN per port and interval still goes to the
				  * stack (see xdpids.c, SYN cookies); 0 = none */
	__u32 hop_tolerance;     /* hop count difference tolerated from a verified source (255: any) */
	__u32 egress_samples;    /* 1: the tcx egress program samples the host's own packets of the
				  * flows under inspection too (TRUST_EGRESS), so userspace sees both
				  * directions of a connection to this host */
};

struct lpm_v4_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct lpm_v6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/* Keys of the host block lists: single addresses go to hash maps (one
 * lookup, however many bans), prefixes to the LPM tries. */
struct host_v4_key {
	__u8 addr[4];
};

struct host_v6_key {
	__u8 addr[16];
};

/* Index of the list_hints array: one entry per list, written by userspace
 * after every change to that list (nonzero: the list may hold entries;
 * zero: it is empty and its lookup is skipped). One entry per list, so
 * two processes editing different lists never overwrite each other. */
enum hint_index {
	HINT_ALLOW_V4 = 0,
	HINT_ALLOW_V6 = 1,
	HINT_BLOCK_PREFIX_V4 = 2,
	HINT_BLOCK_PREFIX_V6 = 3,
	HINT_VERIFIED = 4, /* the verified map may hold entries (the program raises it on insert) */
	HINT_MAX = 5,
};

/* Value of the block lists. */
struct block_entry {
	__u64 expires_ns; /* program clock ns after which the entry no longer drops; 0 = never */
	__u64 created_ns; /* program clock ns when written */
	__u64 hits;       /* packets dropped (or would-dropped) by this entry */
	__u32 origin;     /* enum block_origin | enum block_flag bits */
	__u32 level;      /* escalation level for repeat offenders */
	char comment[32]; /* free text reason, NUL padded */
};

/* Value of the allow lists. */
struct allow_entry {
	__u64 created_ns;
	__u64 hits;
};

/* Key of the rate-limit table: IPv4 source, or IPv6 source cut to its /64. */
struct limit_key {
	__u8 addr[16];
	__u8 family; /* 4 or 6 */
	__u8 kind;   /* enum limit_kind */
	__u8 pad[2];
};

struct limit_state {
	__u64 tokens;         /* tokens * 1e9 (nanotokens), at most burst * 1e9 */
	__u64 last_ns;        /* last refill */
	__u64 last_sample_ns; /* last rate-limit sample sent for this source */
	__u64 dropped;        /* packets over the limit */
};

/* Flow table key: one direction of a 5-tuple plus the outer VLAN. */
struct flow_key {
	__u8 src[16];  /* IPv4 in the first 4 bytes */
	__u8 dst[16];
	__u16 sport;   /* network byte order; 0 for protocols without ports */
	__u16 dport;
	__u16 vlan;    /* outer VLAN id, 0 = untagged */
	__u8 proto;    /* IP protocol */
	__u8 family;   /* 4 or 6 */
};

struct flow_stats {
	__u64 first_ns;  /* program clock ns (CLOCK_MONOTONIC_COARSE) */
	__u64 last_ns;
	__u64 packets;
	__u64 bytes;
	__u32 tcp_flags; /* OR of every TCP flag byte seen */
	__u32 ifindex;
	__u32 action;    /* enum flow_action, set by userspace */
	/* The in-kernel model's counters, kept over the first
	 * tree_config.packets packets of the direction only (then frozen), and
	 * only for flows that began while a model was loaded (tree != 0). */
	__u16 len_min;     /* frame length */
	__u16 len_max;
	__u32 iat_max;     /* largest gap between packets, ns >> 10 */
	__u16 win_first;   /* TCP window of the first packet */
	__u8 first_flags;  /* TCP flags of the first packet */
	__u8 tree;         /* enum tree_state: the model's verdict */
	__u8 flag_counts[6]; /* packets with SYN, FIN, RST, PSH, ACK, URG */
	__u8 pad[2];
};

/* --- In-kernel model (issue 11) ---
 * A tree ensemble trained in Go (userspace/learn/xdptree) on the features
 * below, each an integer the program computes from one flow direction's
 * own counters at its packet tree_config.packets (XDP sees ingress only:
 * one direction). Nodes live in two banks of tree_nodes; userspace fills
 * the idle bank and its tree_config entry, then flips tree_bank. */
/* (limits: TREE_MAX_* at the top) */

/* Features, the index into the vector the trees split on. */
enum tree_feature {
	TF_PROTO = 0,       /* IP protocol */
	TF_SPORT = 1,       /* source port (ICMP: type) */
	TF_DPORT = 2,       /* destination port (ICMP: code) */
	TF_BYTES = 3,       /* frame bytes of the first N packets */
	TF_LEN_MIN = 4,     /* smallest frame */
	TF_LEN_MAX = 5,     /* largest frame */
	TF_DURATION = 6,    /* first to Nth packet, ns >> 10 */
	TF_IAT_MAX = 7,     /* largest gap, ns >> 10 */
	TF_SYN = 8,         /* packets with SYN among the first N */
	TF_FIN = 9,
	TF_RST = 10,
	TF_PSH = 11,
	TF_ACK = 12,
	TF_URG = 13,
	TF_FIRST_FLAGS = 14, /* TCP flags of the first packet */
	TF_WIN_FIRST = 15,  /* TCP window of the first packet */
	TF_MAX = 16,
};

/* The model limits as BTF values (consts_test.go checks the Go mirrors). */
enum tree_limit {
	TL_MAX_TREES = TREE_MAX_TREES,
	TL_MAX_DEPTH = TREE_MAX_DEPTH,
	TL_MAX_NODES = TREE_MAX_NODES,
	TL_MAX_CLASSES = TREE_MAX_CLASSES,
	TL_MAX_PACKETS = TREE_MAX_PACKETS,
	TL_LEAF = TREE_LEAF,
	TL_SCORE_ONE = TREE_SCORE_ONE,
};

/* flow_stats.tree */
enum tree_state {
	TREE_NONE = 0,    /* the flow began with no model loaded: never judged */
	TREE_PENDING = 1, /* counting, not yet at packet N */
	TREE_CLASS = 2,   /* judged: TREE_CLASS + the class (0 benign) */
};

/* What a malicious verdict does. */
enum tree_action {
	TREE_ALERT = 0, /* count it and record it on the flow entry */
	TREE_DROP = 1,  /* also drop the flow (FLOW_DROP; not in monitor mode) */
};

struct tree_node {
	__u32 threshold; /* split: go left when x[feature] < threshold */
	__u32 left;      /* children, node indexes within the bank */
	__u32 right;
	__u8 feature;    /* enum tree_feature; TREE_LEAF at a leaf */
	__u8 class;      /* leaf: the likeliest class other than benign */
	__u16 score;     /* leaf: 1 - P(benign), in 1/TREE_SCORE_ONE */
};

/* One bank's model (tree_config[bank]). */
struct tree_config {
	__u32 packets;   /* judge a flow direction at this packet; 0 = no model */
	__u32 trees;     /* 1..TREE_MAX_TREES */
	__u32 threshold; /* malicious when the leaves' scores sum to at least this (>= 1) */
	__u32 action;    /* enum tree_action */
	__u32 classes;   /* 2..TREE_MAX_CLASSES, benign first */
	__u32 roots[TREE_MAX_TREES];
	__u32 pad;
};

/* Header of each ring buffer record; cap_len bytes of the frame follow. */
struct sample_hdr {
	__u64 ts_ns;    /* CLOCK_MONOTONIC ns (packet time in offline replay) */
	__u32 ifindex;
	__u32 rx_queue;
	__u32 wire_len; /* frame length on the wire */
	__u32 cap_len;  /* bytes that follow */
	__u16 vlan;
	__u8 verdict;   /* enum verdict */
	__u8 reason;    /* enum reason */
	__u8 flags;     /* enum sample_flag bits */
	__u8 action;    /* enum flow_action of the flow when sampled (FLOW_BYPASS: a milestone
			 * of a bypassed flow, headers only) */
	__u8 family;    /* 4 or 6; 0: not IP */
	__u8 l4proto;   /* IP protocol of the L4 header (of the last extension header seen) */
	__u64 flow_packets; /* packets of this flow so far, this one included; 0 = not a flow */
	__u16 l3_off;   /* the program's parse, so userspace need not walk the headers again: */
	__u16 l4_off;   /* where the IP and L4 headers start in the frame (0: none) */
	__u8 trust;     /* enum trust_flag bits of the source */
	/* The in-kernel model's verdict at this packet (a model sample): the
	 * malicious class (1 .. TREE_MAX_CLASSES - 1) of the flow direction it
	 * judged, 0 when this packet is no malicious verdict. A model sample is
	 * sent whatever config.sample_mask says (one per judged flow direction,
	 * within the budget); its flags may be 0. */
	__u8 model_class;
	__u16 model_score; /* the leaves' score sum, in 1/TREE_SCORE_ONE (model_class != 0) */
};

/* Key of the verified map: a source address that completed a handshake. */
struct verified_key {
	__u8 addr[16]; /* IPv4 in the first 4 bytes */
	__u8 family;   /* 4 or 6 */
	__u8 pad[3];
};

struct verified_src {
	__u64 verified_ns; /* program clock of the last handshake ACK with a valid cookie */
	__u64 last_ns;     /* last packet from it with the expected hop count */
	__u64 spoofed;     /* packets with its address and another hop count */
	__u8 ttl;          /* TTL or hop limit the handshake ACK arrived with */
	__u8 pad[7];
};

/* Key of the handshakes map: a TCP connection the host answered with a
 * SYN-ACK, in the client's direction (src is the client, as in the XDP
 * program's flow key of its ACK). No VLAN: a tag may be in the frame or in
 * the skb's metadata on egress, and the ISN alone is the proof. */
struct handshake_key {
	__u8 src[16];  /* client; IPv4 in the first 4 bytes */
	__u8 dst[16];  /* server (the host) */
	__u16 sport;   /* client port, network byte order */
	__u16 dport;   /* server port */
	__u8 family;   /* 4 or 6 */
	__u8 pad[3];
};

/* Value of the handshakes map: what the client's final ACK must carry. */
struct handshake {
	__u64 sent_ns;  /* program clock when the SYN-ACK left */
	__u32 ack_want; /* the server's ISN + 1, host byte order */
	__u32 pad;
};

/* Slot table entry: which interface owns a stats slot. */
struct iface_slot {
	__u32 ifindex;
	__u32 pad;
	char name[16]; /* interface name at attach time (names are per netns) */
};

#endif /* XDPIDS_H */
