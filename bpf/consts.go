package bpf

// Go mirrors of the enums in xdpids.h. bpf2go does not emit enums, so they
// are written here once more; TestEnumsMatchBTF compares every value with
// the BTF of the compiled object, so the two cannot drift apart.

// Verdicts: every packet is counted under exactly one.
const (
	VerdictPass      = 0
	VerdictDrop      = 1
	VerdictWouldDrop = 2
	VerdictTX        = 3 // answered from XDP: a SYN cookie SYN-ACK
	VerdictMax       = 4
)

// Reasons for a verdict.
const (
	ReasonNone      = 0
	ReasonAllow     = 1
	ReasonBlock     = 2
	ReasonRateSYN   = 3
	ReasonRateUDP   = 4
	ReasonRateICMP  = 5
	ReasonMalformed = 6
	ReasonNotIP     = 7
	ReasonFlow      = 8
	ReasonSYNCookie = 9  // tx: SYN answered with a SYN cookie
	ReasonBadCookie = 10 // drop: a new flow's ACK without a valid cookie, port in cookie mode
	ReasonModel     = 11 // drop: the in-kernel model judged the flow malicious
	ReasonMax       = 12
)

// Protocol counter indexes.
const (
	ProtoIPv4      = 0
	ProtoIPv6      = 1
	ProtoTCP       = 2
	ProtoUDP       = 3
	ProtoICMP      = 4
	ProtoICMPv6    = 5
	ProtoFragment  = 6
	ProtoOther     = 7
	ProtoMalformed = 8
	ProtoVLAN      = 9
	ProtoMax       = 10
)

// Rate-limit kinds, the index into Config.Limits.
const (
	LimitSYN  = 0
	LimitUDP  = 1
	LimitICMP = 2
	LimitMax  = 3
)

// Sample flags: why a packet was sampled.
const (
	SampleNewFlow   = 1 << 0
	SampleAnomaly   = 1 << 1
	SampleFragment  = 1 << 2
	SampleICMP      = 1 << 3
	SampleRateLimit = 1 << 4
	SampleRandom    = 1 << 5
	SampleNonIP     = 1 << 6
	SampleMilestone = 1 << 7
	SampleAll       = 1<<8 - 1
)

// Flow actions userspace sets on a flow table entry.
const (
	FlowInspect = 0
	FlowDrop    = 1
	FlowBypass  = 2
)

// List hint indexes.
const (
	HintAllowV4       = 0
	HintAllowV6       = 1
	HintBlockPrefixV4 = 2
	HintBlockPrefixV6 = 3
	HintVerified      = 4
	HintMax           = 5
)

// Trust bits of a sample (Sample.Trust): what the program knows of the source.
const (
	TrustVerified    = 1 << 0 // the source completed a handshake: a SYN cookie, or the host's own SYN-ACK
	TrustHopMismatch = 1 << 1 // but this packet's hop count differs: spoof suspected
	TrustHandshake   = 1 << 2 // this packet is the final ACK of a handshake checked against the host's SYN-ACK
	TrustEgress      = 1 << 3 // sent by this host: a sample of the tcx egress program
)

// Block entry origins.
const (
	OriginManual   = 0
	OriginDetector = 1
	OriginRule     = 2
	OriginFleet    = 3
	OriginCrowdSec = 4
)

// Block entry flags, in the high bits of the raw origin.
const (
	BlockChallenge = 1 << 16 // a ban the source may lift by completing a SYN cookie handshake
)

// Limits from xdpids.h. The parser's (enum parse_limit) bind the Go
// decoder too, so userspace stops where the program does.
const (
	VLANMaxDepth    = 3 // VLAN tags parsed
	IPv6ExtMaxChain = 6 // IPv6 extension headers followed
	MaxSnaplen      = 1536
	MaxIfaces       = 64
	MaxIfindex      = 65536
	// FlowSamplesAll in config.flow_samples: every packet of a flow is
	// sampled until userspace sets an action on it.
	FlowSamplesAll = 0xffffffff
	// BypassSnaplen is the snap length of a bypassed flow's milestone samples.
	BypassSnaplen = 128
)

// VerdictNames, ReasonNames and ProtoNames name the counters for output.
var (
	VerdictNames = [VerdictMax]string{"pass", "drop", "would_drop", "tx"}
	ReasonNames  = [ReasonMax]string{"none", "allow_list", "block_list", "rate_limit_syn", "rate_limit_udp", "rate_limit_icmp", "malformed", "not_ip", "flow_drop", "syn_cookie", "bad_cookie", "model"}
	ProtoNames   = [ProtoMax]string{"ipv4", "ipv6", "tcp", "udp", "icmp", "icmpv6", "fragment", "other", "malformed", "vlan"}
)

// In-kernel model limits and codes (xdpids.h, enum tree_limit, tree_state,
// tree_action; the features are enum tree_feature, mirrored by
// userspace/learn/xdptree).
const (
	TreeMaxTrees   = 8
	TreeMaxDepth   = 12 // splits on a root-to-leaf path
	TreeMaxNodes   = 16384
	TreeMaxClasses = 16
	TreeMaxPackets = 255
	TreeLeaf       = 0xff // TreeNode.Feature of a leaf
	TreeScoreOne   = 1000 // a leaf's score unit: 1 - P(benign) in 1/1000

	TreeNone    = 0 // FlowStats.Tree: the flow began with no model
	TreePending = 1 // counting
	TreeClass   = 2 // judged: TreeClass + class (0 benign)

	TreeAlert = 0 // a malicious verdict is counted and recorded
	TreeDrop  = 1 // and the flow dropped (not in monitor mode)
)
