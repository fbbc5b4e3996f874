package bpf

import (
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

func TestEnumsMatchBTF(t *testing.T) {
	spec, err := LoadXdpids()
	if err != nil {
		t.Fatalf("load spec: %v", err)
	}
	want := map[string]map[string]uint64{
		"verdict":     {"VERDICT_PASS": VerdictPass, "VERDICT_DROP": VerdictDrop, "VERDICT_WOULD_DROP": VerdictWouldDrop, "VERDICT_TX": VerdictTX, "VERDICT_MAX": VerdictMax},
		"reason":      {"REASON_NONE": ReasonNone, "REASON_ALLOW": ReasonAllow, "REASON_BLOCK": ReasonBlock, "REASON_RATE_SYN": ReasonRateSYN, "REASON_RATE_UDP": ReasonRateUDP, "REASON_RATE_ICMP": ReasonRateICMP, "REASON_MALFORMED": ReasonMalformed, "REASON_NOT_IP": ReasonNotIP, "REASON_FLOW": ReasonFlow, "REASON_SYNCOOKIE": ReasonSYNCookie, "REASON_BAD_COOKIE": ReasonBadCookie, "REASON_MODEL": ReasonModel, "REASON_MAX": ReasonMax},
		"flow_action": {"FLOW_INSPECT": FlowInspect, "FLOW_DROP": FlowDrop, "FLOW_BYPASS": FlowBypass},
		"hint_index":  {"HINT_ALLOW_V4": HintAllowV4, "HINT_ALLOW_V6": HintAllowV6, "HINT_BLOCK_PREFIX_V4": HintBlockPrefixV4, "HINT_BLOCK_PREFIX_V6": HintBlockPrefixV6, "HINT_VERIFIED": HintVerified, "HINT_MAX": HintMax},
		"trust_flag":  {"TRUST_VERIFIED": TrustVerified, "TRUST_HOP_MISMATCH": TrustHopMismatch, "TRUST_HANDSHAKE": TrustHandshake, "TRUST_EGRESS": TrustEgress},
		"block_flag":  {"BLOCK_CHALLENGE": BlockChallenge},
		"proto":       {"PROTO_IPV4": ProtoIPv4, "PROTO_IPV6": ProtoIPv6, "PROTO_TCP": ProtoTCP, "PROTO_UDP": ProtoUDP, "PROTO_ICMP": ProtoICMP, "PROTO_ICMPV6": ProtoICMPv6, "PROTO_FRAGMENT": ProtoFragment, "PROTO_OTHER": ProtoOther, "PROTO_MALFORMED": ProtoMalformed, "PROTO_VLAN": ProtoVLAN, "PROTO_MAX": ProtoMax},
		"limit_kind":  {"LIMIT_SYN": LimitSYN, "LIMIT_UDP": LimitUDP, "LIMIT_ICMP": LimitICMP, "LIMIT_MAX": LimitMax},
		"sample_flag": {"SAMPLE_NEW_FLOW": SampleNewFlow, "SAMPLE_ANOMALY": SampleAnomaly, "SAMPLE_FRAGMENT": SampleFragment, "SAMPLE_ICMP": SampleICMP, "SAMPLE_RATELIMIT": SampleRateLimit, "SAMPLE_RANDOM": SampleRandom, "SAMPLE_NON_IP": SampleNonIP, "SAMPLE_MILESTONE": SampleMilestone, "SAMPLE_ALL": SampleAll},
		"block_origin": {"ORIGIN_MANUAL": OriginManual, "ORIGIN_DETECTOR": OriginDetector, "ORIGIN_RULE": OriginRule,
			"ORIGIN_FLEET": OriginFleet, "ORIGIN_CROWDSEC": OriginCrowdSec},
		"tree_limit": {"TL_MAX_TREES": TreeMaxTrees, "TL_MAX_DEPTH": TreeMaxDepth, "TL_MAX_NODES": TreeMaxNodes,
			"TL_MAX_CLASSES": TreeMaxClasses, "TL_MAX_PACKETS": TreeMaxPackets, "TL_LEAF": TreeLeaf, "TL_SCORE_ONE": TreeScoreOne},
		"tree_state":  {"TREE_NONE": TreeNone, "TREE_PENDING": TreePending, "TREE_CLASS": TreeClass},
		"tree_action": {"TREE_ALERT": TreeAlert, "TREE_DROP": TreeDrop},
		"parse_limit": {"PARSE_VLAN_MAX_DEPTH": VLANMaxDepth, "PARSE_IPV6_EXT_MAX_CHAIN": IPv6ExtMaxChain, "PARSE_MAX_SNAPLEN": MaxSnaplen},
	}
	for name, values := range want {
		var e *btf.Enum
		if err := spec.Types.TypeByName(name, &e); err != nil {
			t.Fatalf("enum %s not in BTF: %v", name, err)
		}
		got := map[string]uint64{}
		for _, v := range e.Values {
			got[v.Name] = v.Value
		}
		for k, v := range values {
			if g, ok := got[k]; !ok || g != v {
				t.Errorf("%s.%s: Go has %d, C has %d (present %v)", name, k, v, g, ok)
			}
		}
		if len(got) != len(values) {
			t.Errorf("enum %s: C has %d values, Go mirrors %d", name, len(got), len(values))
		}
	}
	if n := len(ReasonNames) + len(ProtoNames) + len(VerdictNames); n != ReasonMax+ProtoMax+VerdictMax {
		t.Errorf("name tables out of step")
	}
	for _, n := range ReasonNames {
		if n == "" || strings.ContainsAny(n, " -") {
			t.Errorf("bad counter name %q", n)
		}
	}
}
