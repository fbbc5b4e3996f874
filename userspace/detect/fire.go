package detect

import (
	"net/netip"
	"strconv"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

type suppressKey struct {
	sid     uint32
	subject netip.Addr
	port    uint16 // the reflectors' port for AmpOther, else 0
}

// fire emits an alert of the calling detector unless the subject alerted
// on sig within the suppression window. meta builds the alert's metadata
// only when the alert is emitted: a flood past its threshold costs no
// allocation per packet.
func (c *Ctx) fire(in *Input, sig alert.Signature, subject netip.Addr, isTarget bool, banTTL int64, meta func() map[string]string) {
	c.firePort(in, sig, subject, 0, isTarget, banTTL, meta)
}

// firePort is fire with a port in the suppression key: one generic
// signature covers several attacks on one subject (reflection from
// different source ports) that each deserve their alert.
func (c *Ctx) firePort(in *Input, sig alert.Signature, subject netip.Addr, port uint16, isTarget bool, banTTL int64, meta func() map[string]string) {
	c.fireEvidence(in, sig, subject, port, isTarget, banTTL, meta, 0, false)
}

// fireEvidence is firePort with the evidence's strength against the
// threshold (Alert.Evidence), returning the alert as the responder left
// it (nil when suppressed; its payload aliases the sample). again is an
// alert on grown evidence the responder asked for: not suppressed.
func (c *Ctx) fireEvidence(in *Input, sig alert.Signature, subject netip.Addr, port uint16, isTarget bool, banTTL int64,
	meta func() map[string]string, evidence float64, again bool) *alert.Alert {
	st := c.e.st
	now := in.P.TsNs
	k := suppressKey{sig.SID, subject, port}
	last, ok := st.suppress.m[k]
	if !again && ok && now-last < int64(st.cfg.Suppress) && now >= last {
		st.stats.Suppressed++
		return nil
	}
	if !ok && st.full() {
		// Bounded state: take over another subject's entry (it may alert
		// once more) rather than grow past MaxKeys or lose this alert.
		for old := range st.suppress.m {
			st.suppress.del(old)
			break
		}
	}
	// Always recorded, even past the bound (by one entry at most, the
	// others being taken over): an alert not recorded here would fire
	// again on every packet.
	st.suppress.put(k, now)
	st.stats.Alerts++
	p := in.P
	a := &alert.Alert{
		TsNs: now, Ifindex: p.Ifindex, Src: p.Src, Dst: p.Dst, SrcPort: p.SrcPort, DstPort: p.DstPort,
		Proto: p.Proto, VLAN: p.VLAN, Subject: subject, SubjectIsTarget: isTarget, BanTTLNs: banTTL,
		Detector: c.name(), Metadata: meta(), PcapCnt: p.PcapCnt, Evidence: evidence,
	}
	if p.Proto == decode.ProtoICMP || p.Proto == decode.ProtoICMPv6 {
		a.SrcPort, a.DstPort = uint16(p.ICMPType), uint16(p.ICMPCode)
	}
	if in.F != nil {
		a.FlowID = in.F.ID
		in.F.Alerted = true
	}
	a.Payload = p.Payload // aliases the sample: valid during emit only
	a.Community = flows.CommunityID(p.Src, p.Dst, a.SrcPort, a.DstPort, p.Proto)
	sig.Fill(a)
	// Every behavioural detector here counts packets a forged source can
	// send: probes and floods, and brute force too (it counts SYNs to the
	// service, not completed sessions), unless the source is verified.
	a.Trust = alert.TrustForgeable
	if a.Detector == "brute_force" && verifiedSource(in.Trust) {
		a.Trust = alert.TrustVerified
	}
	if subject == p.Src && !isTarget {
		a.SourceVerified = in.Trust&bpf.TrustVerified != 0
		if in.Trust&bpf.TrustHopMismatch != 0 {
			// The responder adds the verified source's own hop count.
			a.SpoofSuspected = "hop count " + itoa(int(p.TTL))
		}
	}
	c.e.emit(a)
	return a
}

func itoa(n int) string { return strconv.Itoa(n) }
