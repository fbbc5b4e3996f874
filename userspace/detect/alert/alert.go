// Package alert defines the alert every detector and the signature engine
// emit, and the sid ranges and classtypes of the built-in detectors.
package alert

import (
	"net/netip"
)

// Alert is one detection. Detectors fill everything but Action, which the
// responder sets ("allowed" or "blocked").
type Alert struct {
	TsNs      int64 // packet time, Unix ns
	Ifindex   uint32
	Iface     string
	FlowID    uint64
	Src, Dst  netip.Addr
	SrcPort   uint16
	DstPort   uint16
	Proto     uint8
	VLAN      uint16
	Community string // community_id of the flow
	PcapCnt   uint64 // packet number in the capture (offline; 0: none)

	GID, SID, Rev uint32
	Signature     string
	Category      string // classtype description
	Classtype     string
	Severity      int // 1 high .. 4 low (classtype priority)
	Action        string
	// RuleAction is the action of the signature rule that fired: "alert",
	// "drop" or "reject" (empty for the behavioural detectors). The
	// signature engine sets Action "allowed" for alert rules and leaves it
	// empty for drop and reject rules, for the responder to decide.
	RuleAction string

	// Subject is the address a response acts on: the attacker, or the
	// target for floods from spoofed sources (SubjectIsTarget then).
	Subject         netip.Addr
	SubjectIsTarget bool
	// BanTTLNs is how long the detector wants the subject banned; 0 = no ban.
	BanTTLNs int64
	// Ban describes the ban made, when one was: prefix and TTL.
	BanPrefix string
	BanTTL    int64

	// Trust is the trust level of the evidence (TrustForgeable or
	// TrustVerified): whether a forged source address could have produced
	// it. Empty is taken as verified (callers from before trust levels).
	Trust string
	// SourceVerified: the kernel had verified the subject (it completed a
	// SYN cookie handshake; sample trust bit bpf.TrustVerified).
	SourceVerified bool
	// SpoofSuspected, when set, says why the evidence is thought forged
	// (a hop count unlike the verified source's, forgeable evidence
	// against a verified source).
	SpoofSuspected string
	// Evidence is how strong the evidence is against the detector's
	// threshold: 1 at the threshold, 2 at twice it (0 is taken as 1). The
	// responder's forgeable share lets stronger evidence take more of it.
	Evidence float64
	// MoreEvidence, set by the responder: the forgeable share refused the
	// ban, and evidence twice as strong could get it. A detector whose
	// evidence keeps growing may alert again when it has doubled.
	MoreEvidence bool

	Detector string            // which detector fired
	Metadata map[string]string // detector facts (ports seen, rate, ...)
	// RuleMetadata is the rule's metadata: option, key to values, as
	// Suricata logs it in alert.metadata. Shared with the compiled rule:
	// read only.
	RuleMetadata map[string][]string
	Payload      []byte // sampled L4 payload; aliases the sample buffer while the alert is being handled

	// AppProto is the flow's app-layer protocol (Suricata's name: http,
	// dns, tls, ssh) when a transaction rule fired; App is that
	// transaction's record, written in EVE under AppProto's key
	// ("http": {...}); it must marshal to a JSON object.
	AppProto string
	App      any

	// AppGate, when set, is the app protocol condition of the rule that
	// fired on a stream chunk before the flow's protocol was known: the
	// caller drops the alert when the protocol the app layer then
	// decides (appproto name) fails it.
	AppGate func(app string) bool

	// Flow is the alert's flow as it stood when the alert was raised
	// (signature and model alerts; Valid false for the behavioural
	// detectors, whose alerts are about a source, not one flow): EVE's
	// alert "flow" object and "direction".
	Flow FlowInfo
}

// FlowInfo is a snapshot of the flow an alert was raised on.
type FlowInfo struct {
	Valid    bool
	ToServer bool      // the alerting packet went from the client (originator) to the server
	Pkts     [2]uint64 // [0] to server, [1] to client, this packet included
	Bytes    [2]uint64
	StartNs  int64
	Client   netip.AddrPort
	Server   netip.AddrPort
}

// Evidence trust levels (Alert.Trust).
const (
	// TrustForgeable: anything a forged source address can produce (SYN
	// and illegal-flag probes, UDP and ICMP packets, floods of them).
	TrustForgeable = "forgeable"
	// TrustVerified: evidence that needs a working return path (data on a
	// TCP connection whose handshake completed).
	TrustVerified = "verified"
)

// Forgeable reports whether a's evidence could come from a forged source.
func (a *Alert) Forgeable() bool { return a.Trust == TrustForgeable }

// Classtype is an entry of Suricata's classification.config.
type Classtype struct {
	Name, Description string
	Priority          int
}

// Classtypes used by the built-in detectors, as Suricata's
// classification.config defines them.
var (
	NetworkScan      = Classtype{"network-scan", "Detection of a Network Scan", 3}
	AttemptedRecon   = Classtype{"attempted-recon", "Attempted Information Leak", 2}
	AttemptedDoS     = Classtype{"attempted-dos", "Attempted Denial of Service", 2}
	DenialOfSvc      = Classtype{"denial-of-service", "Detection of a Denial of Service Attack", 2}
	BadUnknown       = Classtype{"bad-unknown", "Potentially Bad Traffic", 2}
	SuspiciousLogin  = Classtype{"suspicious-login", "An attempted login using a suspicious username was detected", 2}
	UnsuccessfulUser = Classtype{"unsuccessful-user", "Unsuccessful User Privilege Gain", 1}
)

// Signature is a built-in detector signature.
type Signature struct {
	SID       uint32
	Msg       string
	Classtype Classtype
}

// Fill sets the signature fields of a from s (gid 1, rev 1).
func (s Signature) Fill(a *Alert) {
	a.GID, a.SID, a.Rev = 1, s.SID, 1
	a.Signature = s.Msg
	a.Classtype = s.Classtype.Name
	a.Category = s.Classtype.Description
	a.Severity = s.Classtype.Priority
}

// Built-in detector sids: 8100000-8199999 scans and recon, 8200000-8299999
// floods, 8300000-8399999 reflection and amplification, 8400000-8499999
// brute force, 8500000-8599999 learned models. Outside ET (2000000-2999999), GPL (<1000000, 100000000+) and
// Suricata's own (2200000-2299999) ranges.
var (
	ScanVerticalTCP   = Signature{8100001, "XDPIDS SCAN vertical TCP port scan", NetworkScan}
	ScanHorizontalTCP = Signature{8100002, "XDPIDS SCAN horizontal TCP port sweep", NetworkScan}
	ScanVerticalUDP   = Signature{8100003, "XDPIDS SCAN vertical UDP port scan", NetworkScan}
	ScanHorizontalUDP = Signature{8100004, "XDPIDS SCAN horizontal UDP port sweep", NetworkScan}
	ScanIPProto       = Signature{8100005, "XDPIDS SCAN IP protocol scan", NetworkScan}
	ScanARPSweep      = Signature{8100006, "XDPIDS SCAN ARP sweep (host discovery)", NetworkScan}
	FlagsNull         = Signature{8100011, "XDPIDS SCAN TCP NULL flags", AttemptedRecon}
	FlagsXmas         = Signature{8100012, "XDPIDS SCAN TCP XMAS flags (FIN+PSH+URG)", AttemptedRecon}
	FlagsSynFin       = Signature{8100013, "XDPIDS SCAN TCP SYN+FIN flags", AttemptedRecon}
	FlagsFinNoAck     = Signature{8100014, "XDPIDS SCAN TCP FIN without ACK", AttemptedRecon}
	FlagsSynRst       = Signature{8100015, "XDPIDS SCAN TCP SYN+RST flags", AttemptedRecon}
	ICMPRecon         = Signature{8100020, "XDPIDS SCAN ICMP timestamp/info/address-mask request", AttemptedRecon}

	SynFloodSrc   = Signature{8200001, "XDPIDS DOS TCP SYN flood from source", AttemptedDoS}
	SynFloodDst   = Signature{8200002, "XDPIDS DOS TCP SYN flood to destination (distributed or spoofed)", AttemptedDoS}
	UDPFloodSrc   = Signature{8200003, "XDPIDS DOS UDP flood from source", AttemptedDoS}
	UDPFloodDst   = Signature{8200004, "XDPIDS DOS UDP flood to destination (distributed or spoofed)", AttemptedDoS}
	ICMPFloodSrc  = Signature{8200005, "XDPIDS DOS ICMP flood from source", AttemptedDoS}
	ICMPFloodDst  = Signature{8200006, "XDPIDS DOS ICMP flood to destination (distributed or spoofed)", AttemptedDoS}
	SynAckReflect = Signature{8200007, "XDPIDS DOS TCP SYN-ACK reflection flood to destination", AttemptedDoS}
	DHCPFlood     = Signature{8200008, "XDPIDS DOS DHCP flood (starvation)", AttemptedDoS}

	AmpDNS       = Signature{8300053, "XDPIDS DOS DNS amplification (unsolicited responses from UDP/53)", DenialOfSvc}
	AmpNTP       = Signature{8300123, "XDPIDS DOS NTP amplification (unsolicited responses from UDP/123)", DenialOfSvc}
	AmpSNMP      = Signature{8300161, "XDPIDS DOS SNMP amplification (unsolicited responses from UDP/161)", DenialOfSvc}
	AmpCLDAP     = Signature{8300389, "XDPIDS DOS CLDAP amplification (unsolicited responses from UDP/389)", DenialOfSvc}
	AmpSSDP      = Signature{8301900, "XDPIDS DOS SSDP amplification (unsolicited responses from UDP/1900)", DenialOfSvc}
	AmpMemcached = Signature{8311211, "XDPIDS DOS memcached amplification (unsolicited responses from UDP/11211)", DenialOfSvc}
	AmpFragments = Signature{8300001, "XDPIDS DOS fragmented UDP amplification flood to destination", DenialOfSvc}
	// AmpOther is reflection over any UDP service not named above: the
	// reflectors' source port is in the alert's src_port and in its
	// metadata (source_port).
	AmpOther = Signature{8300000, "XDPIDS DOS UDP reflection/amplification (unsolicited responses from one UDP source port)", DenialOfSvc}

	BruteSSH    = Signature{8400022, "XDPIDS BRUTE FORCE SSH (many short connections)", UnsuccessfulUser}
	BruteFTP    = Signature{8400021, "XDPIDS BRUTE FORCE FTP (many short connections)", UnsuccessfulUser}
	BruteTelnet = Signature{8400023, "XDPIDS BRUTE FORCE telnet (many short connections)", UnsuccessfulUser}
	BruteRDP    = Signature{8403389, "XDPIDS BRUTE FORCE RDP (many short connections)", UnsuccessfulUser}
	BruteOther  = Signature{8400000, "XDPIDS BRUTE FORCE authentication service (many short connections)", UnsuccessfulUser}

	// Learned detectors, 8500000-8599999: the class, score, threshold and
	// the features that drove the verdict are in the alert's metadata.
	ModelSupervised = Signature{8600001, "XDPIDS MODEL flow classified as an attack (supervised model)", BadUnknown}
	ModelAnomaly    = Signature{8600002, "XDPIDS MODEL flow unlike learned normal traffic (unsupervised model)", BadUnknown}
	// ModelKernel is the in-kernel model's verdict (the tree ensemble
	// the XDP program runs): metadata engine "xdp".
	ModelKernel = Signature{8600003, "XDPIDS MODEL flow classified as an attack (xdpids in-kernel model)", BadUnknown}
)

// Builtin lists every built-in detector signature (for docs and tests).
var Builtin = []Signature{
	ScanVerticalTCP, ScanHorizontalTCP, ScanVerticalUDP, ScanHorizontalUDP, ScanIPProto, ScanARPSweep,
	FlagsNull, FlagsXmas, FlagsSynFin, FlagsFinNoAck, FlagsSynRst, ICMPRecon,
	SynFloodSrc, SynFloodDst, UDPFloodSrc, UDPFloodDst, ICMPFloodSrc, ICMPFloodDst, SynAckReflect, DHCPFlood,
	AmpDNS, AmpNTP, AmpSNMP, AmpCLDAP, AmpSSDP, AmpMemcached, AmpFragments, AmpOther,
	BruteSSH, BruteFTP, BruteTelnet, BruteRDP, BruteOther,
	ModelSupervised, ModelAnomaly, ModelKernel,
}
