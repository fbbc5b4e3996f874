package features

import "strconv"

// Feature indexes into a Vector. Times are in seconds, sizes in bytes;
// "fwd" is the direction from the flow's originator, "bwd" the replies.
const (
	Proto      = iota // IP protocol
	RespPort          // the responder's port (ICMP: type)
	Duration          // first to last packet
	FirstReply        // time to the first reply (0: none)
	Replied           // 1 when the responder sent anything
	Handshake         // 1 when a TCP handshake completed
	State             // the flow's state (flows.State)
	RespFirst         // 1 when the responder sent payload before the originator (a banner: SSH, FTP, SMTP)
	dirBase           // the per-direction block starts here
)

// Per-direction offsets, from dirBase (fwd) or dirBase+dirLen (bwd).
const (
	DirPkts = iota
	DirBytes
	DirPayload
	DirLenMean
	DirLenStd
	DirLenMin
	DirLenMax
	DirIATMean
	DirIATStd
	DirIATMin
	DirIATMax
	DirSYN
	DirFIN
	DirRST
	DirPSH
	DirACK
	DirURG
	DirWinFirst
	DirWinMax
	dirLen
)

// Per-source offsets at each scale (from SrcBase + scale*SrcLen), and per
// destination (from DstBase + scale*DstLen).
const (
	SrcFlows     = iota // new flows it opened (damped count)
	SrcPorts            // distinct destination ports
	SrcPeers            // distinct destination hosts
	SrcFailShare        // failed share of its ended flows
	SrcOutShare         // its share of the bytes of its flows
	SrcLen
)

// Per-destination offsets.
const (
	DstFlows = iota // new flows opened to it
	DstSrcs         // distinct sources opening them
	DstLen
)

// Per-service offsets (from SvcBase + scale*SvcLen): the flows of this
// flow's source to the same responder address, port and protocol (a
// login service tried again and again: brute force).
const (
	SvcFlows    = iota // new flows of the source to the service
	SvcRespMean        // mean responder payload bytes of its ended flows
	SvcFwdMean         // mean originator payload bytes of its ended flows
	SvcLen
)

// Block starts and the vector length.
const (
	Fwd         = dirBase
	Bwd         = dirBase + dirLen
	SrcBase     = dirBase + 2*dirLen
	DstBase     = SrcBase + NumScales*SrcLen
	SvcBase     = DstBase + NumScales*DstLen
	NumFeatures = SvcBase + NumScales*SvcLen
)

// Vector is one flow's features (see Names).
type Vector [NumFeatures]float64

// Names are the feature names, in Vector order: the CSV header and what a
// model file lists to say which features it was trained on.
var Names = names()

func names() []string {
	n := make([]string, NumFeatures)
	copy(n, []string{"proto", "resp_port", "duration", "first_reply", "replied", "handshake", "state", "resp_first"})
	dir := []string{"pkts", "bytes", "payload", "len_mean", "len_std", "len_min", "len_max",
		"iat_mean", "iat_std", "iat_min", "iat_max", "syn", "fin", "rst", "psh", "ack", "urg", "win_first", "win_max"}
	for i, s := range dir {
		n[Fwd+i] = "fwd_" + s
		n[Bwd+i] = "bwd_" + s
	}
	src := []string{"flows", "ports", "peers", "fail_share", "out_share"}
	dst := []string{"flows", "srcs"}
	svc := []string{"flows", "resp_mean", "fwd_mean"}
	for k, h := range Scales {
		sfx := "_" + strconv.FormatFloat(h, 'f', -1, 64) + "s"
		for i, s := range src {
			n[SrcBase+k*SrcLen+i] = "src_" + s + sfx
		}
		for i, s := range dst {
			n[DstBase+k*DstLen+i] = "dst_" + s + sfx
		}
		for i, s := range svc {
			n[SvcBase+k*SvcLen+i] = "svc_" + s + sfx
		}
	}
	return n
}

// AnswerOnly reports whether v is a flow whose originator sent nothing
// but TCP resets: an answer to a flow the table no longer had (a probe
// answered late), never an attack by the host that sent it. The model's
// alerts skip such flows. (A flow whose originator sent nothing at all is
// scored: a reflected SYN-ACK flood's victim never sent the SYNs.)
func AnswerOnly(v *Vector) bool {
	return v[Proto] == 6 && v[Fwd+DirPkts] > 0 && v[Fwd+DirRST] == v[Fwd+DirPkts]
}
