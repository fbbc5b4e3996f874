package xdptree

import "github.com/xdpids/xdpids/loader"

// Feature indexes (enum tree_feature in bpf/xdpids.h; TestFeaturesMatchBTF
// checks them against the object).
const (
	Proto      = iota // IP protocol
	SrcPort           // source port (ICMP: type)
	DstPort           // destination port (ICMP: code)
	Bytes             // frame bytes of the first N packets
	LenMin            // smallest frame
	LenMax            // largest frame
	Duration          // first to Nth packet, ns >> 10
	IATMax            // largest gap between packets, ns >> 10
	SYN               // packets with SYN among the first N
	FIN               //
	RST               //
	PSH               //
	ACK               //
	URG               //
	FirstFlags        // TCP flags of the first packet
	WinFirst          // TCP window of the first packet
	NumFeatures
)

// Vector is one flow direction's features at its packet N.
type Vector [NumFeatures]uint32

// Names are the feature names, in Vector order.
var Names = [NumFeatures]string{"proto", "sport", "dport", "bytes", "len_min", "len_max", "duration_ns1024",
	"iat_max_ns1024", "syn", "fin", "rst", "psh", "ack", "urg", "first_flags", "win_first"}

var _ [NumFeatures - loader.TreeFeatures]struct{} // the program's vector has this length
var _ [loader.TreeFeatures - NumFeatures]struct{}
