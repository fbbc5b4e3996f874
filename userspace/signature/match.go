package signature

import (
	"encoding/binary"
	"math"
	"net/netip"

	"github.com/xdpids/xdpids/userspace/app/appproto"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/packet/decode"
	"github.com/xdpids/xdpids/userspace/signature/rules"
)

// mctx is what one MatchPacket or MatchStream call knows.
type mctx struct {
	ts               int64
	src, dst         netip.Addr
	sport, dport     uint16
	proto, family    uint8
	ports            bool // sport/dport are TCP or UDP ports
	f                *flows.Flow
	toServer         bool
	fs               *flowState
	p                *decode.Packet // nil for streams
	in               Input
	stream           bool
	streamInspected  bool
	ifindex          uint32
	vlan             uint16
	data             []byte // BufPayload
	old              int    // streams: leading bytes of data already inspected (the window)
	firstOfDirection bool   // first packet of this flow direction (IP-only rules)
	app              string // MatchTx: the flow's app protocol and the
	rec              any    // transaction's record, for the alert
}

// MatchPacket matches one packet and calls emit for each alert (emit may
// keep the alert; its Payload aliases the packet).
func (e *Engine) MatchPacket(in *Input, emit func(*alert.Alert)) {
	p := in.P
	if p == nil || p.Family == 0 || len(e.rules) == 0 {
		return
	}
	c := mctx{
		ts: p.TsNs, src: p.Src, dst: p.Dst, sport: p.SrcPort, dport: p.DstPort, proto: p.Proto, family: p.Family,
		ports: p.HasL4 && (p.Proto == decode.ProtoTCP || p.Proto == decode.ProtoUDP || p.Proto == decode.ProtoSCTP),
		f:     in.F, toServer: in.FromOrig, p: p, in: *in, streamInspected: e.packetToStream(in),
		ifindex: p.Ifindex, vlan: p.VLAN, data: p.Payload,
		firstOfDirection: firstOfDirection(in),
	}
	if in.F != nil {
		c.fs = e.flowStateOf(in.F, in.Ev&flows.EvNew != 0)
		if c.fs != nil && c.fs.pass {
			return
		}
		e.trackSeq(&c, in.F, p)
	}
	s := e.pool.Get().(*scratch)
	defer e.pool.Put(s)
	s.begin()
	data := c.data
	if c.streamInspected {
		data = nil // tcp payload rules run on the stream; tcp-pkt rules are tried below without the prefilter
	}
	e.prefilter(s, groupOf(p.Proto), data, c.src, c.dst, c.sport, c.dport)
	if c.streamInspected && len(c.data) > 0 {
		e.addPktOnlyPayloadRules(s, &c)
	}
	e.run(s, &c, emit)
	e.st.packets.Add(1)
}

// addPktOnlyPayloadRules adds the tcp-pkt payload rules whose pattern
// occurs, when the packet's payload skipped the prefilter because the
// stream inspects it.
func (e *Engine) addPktOnlyPayloadRules(s *scratch, c *mctx) {
	gr := &e.groups[gTCP]
	if gr.nPattern == 0 {
		return
	}
	n := len(s.cand)
	s.low = lowerInto(s.low[:0], c.data)
	gr.any.scan(s, s.low)
	gr.dstPat[c.dport].scan(s, s.low)
	gr.srcPat[c.sport].scan(s, s.low)
	// keep only the tcp-pkt rules among those just added
	k := n
	for _, i := range s.cand[n:] {
		if e.rules[i].r.Proto.Stream == rules.StreamNo {
			s.cand[k] = i
			k++
		} else {
			s.seen[i] = 0
		}
	}
	s.cand = s.cand[:k]
	sortInt32(s.cand)
}

// MatchStream matches reassembled stream data of one direction of a TCP
// flow against the rules that inspect streams: protocol tcp (or ip) and
// tcp-stream rules whose conditions are all about the payload, flow and
// addresses. The reassembler (userspace/flow/stream) calls it with each
// chunk it flushes; packet-level conditions (dsize, flags, ttl, header
// buffers) are for MatchPacket.
func (e *Engine) MatchStream(si *StreamInput, emit func(*alert.Alert)) {
	f := si.F
	if f == nil || len(si.Data) == 0 || len(e.rules) == 0 || !e.streamSession(f) {
		return
	}
	src, sport := f.Orig()
	dst, dport := f.Resp()
	if !si.ToServer {
		src, dst, sport, dport = dst, src, dport, sport
	}
	c := mctx{
		ts: si.TsNs, src: src, dst: dst, sport: sport, dport: dport, proto: decode.ProtoTCP, family: 4, ports: true,
		f: f, toServer: si.ToServer, p: si.P, stream: true, data: si.Data,
	}
	if src.Unmap().Is6() {
		c.family = 6
	}
	if si.P != nil {
		c.ifindex, c.vlan = si.P.Ifindex, si.P.VLAN
	}
	c.fs = e.flowStateOf(f, false)
	if c.fs != nil && c.fs.pass {
		return
	}
	s := e.pool.Get().(*scratch)
	defer e.pool.Put(s)
	s.begin()
	if si.Again {
		e.ensureFlowState(&c)
	} else {
		c.data, c.old = e.windowed(s, e.ensureFlowState(&c), si)
	}
	e.trackSeq(&c, f, si.P) // the stream runs before the packet's own rules
	e.prefilter(s, gTCP, c.data, src, dst, sport, dport)
	e.run(s, &c, emit)
	e.st.streams.Add(1)
}

// run tries the candidates in evaluation order.
func (e *Engine) run(s *scratch, c *mctx, emit func(*alert.Alert)) {
	var cands, matches, alerts, quiet uint64
	for _, i := range s.cand {
		cr := e.rules[i]
		if !e.eligible(cr, c) || !e.matchHeader(cr, c, s) || !e.flowbitsRead(cr, c) || !e.hostbitsRead(cr, c) {
			continue
		}
		pendingApp := false
		if cr.appGate {
			app := flowApp(c.f)
			// A stream chunk is matched before the app layer reads it:
			// on a flow whose protocol that chunk may yet decide, the
			// alert carries the check (Alert.AppGate) for the caller.
			if pendingApp = c.stream && app == "unknown"; !pendingApp && !appGateOK(cr.r, app) {
				continue
			}
		}
		cands++
		if !e.matchChains(cr, c, s) || c.old > 0 && !e.newStreamMatch(cr, c, s) {
			continue
		}
		matches++
		em := emit
		if pendingApp {
			em = func(a *alert.Alert) { a.AppGate = cr.gateFn; emit(a) }
		}
		if e.onMatch(cr, c, em) {
			alerts++
		} else {
			quiet++
		}
		if cr.r.Action == rules.ActionPass {
			if c.f != nil {
				e.ensureFlowState(c).pass = true
			}
			break
		}
	}
	if cands > 0 {
		st := e.st
		st.candidates.Add(cands)
		if matches > 0 {
			st.matches.Add(matches)
			st.alerts.Add(alerts)
			st.suppressed.Add(quiet)
		}
	}
}

// eligible says whether cr inspects this kind of call at all.
func (e *Engine) eligible(cr *crule, c *mctx) bool {
	r := cr.r
	if c.stream {
		return cr.streamOK
	}
	if r.Proto.Stream == rules.StreamOnly || r.Flow.OnlyStream {
		return false
	}
	if c.streamInspected && cr.streamOK {
		return false
	}
	if cr.ipOnly && !c.firstOfDirection {
		return false
	}
	return true
}

// established is Suricata's flow:established: a TCP flow whose handshake
// was seen (or any TCP flow with Midstream), a UDP or ICMP flow with
// packets both ways.
func (e *Engine) established(f *flows.Flow) bool {
	if f == nil {
		return false
	}
	if f.Proto == decode.ProtoTCP {
		if f.State < flows.StateEstablished || f.State == flows.StateReset {
			return false
		}
		return e.opts.Midstream || f.Flags[0]&decode.FlagSYN != 0
	}
	return f.State == flows.StateEstablished
}

func (e *Engine) matchHeader(cr *crule, c *mctx, s *scratch) bool {
	r := cr.r
	if r.Proto.Family != 0 && r.Proto.Family != c.family {
		return false
	}
	switch r.Proto.L4 {
	case 0:
	case decode.ProtoICMP:
		if c.proto != decode.ProtoICMP && c.proto != decode.ProtoICMPv6 {
			return false
		}
	default:
		if c.proto != r.Proto.L4 {
			return false
		}
	}
	if r.Proto.L4 != 0 && c.p != nil && !c.p.HasL4 {
		return false
	}
	if !matchAddrs(r, c, false) && (!r.Bidir || !matchAddrs(r, c, true)) {
		return false
	}
	fl := &r.Flow
	if fl.ToServer && (c.f == nil || !c.toServer) {
		return false
	}
	if fl.ToClient && (c.f == nil || c.toServer) {
		return false
	}
	if fl.Established && !e.established(c.f) {
		return false
	}
	if fl.NotEstablished && e.established(c.f) {
		return false
	}
	for i := range r.StreamSize { // packet and stream rules alike
		if !e.matchStreamSize(&r.StreamSize[i], c) {
			return false
		}
	}
	if c.stream {
		return true
	}
	return e.matchPacketKeywords(cr, c, s)
}

func matchAddrs(r *rules.Rule, c *mctx, rev bool) bool {
	src, dst, sport, dport := c.src, c.dst, c.sport, c.dport
	if rev {
		src, dst, sport, dport = dst, src, dport, sport
	}
	if !r.Src.Contains(src) || !r.Dst.Contains(dst) {
		return false
	}
	if !c.ports {
		return r.SrcPorts.Any && r.DstPorts.Any
	}
	return r.SrcPorts.Contains(sport) && r.DstPorts.Contains(dport)
}

func (e *Engine) matchPacketKeywords(cr *crule, c *mctx, s *scratch) bool {
	r, p := cr.r, c.p
	tcp := p.HasL4 && p.Proto == decode.ProtoTCP
	icmp := p.HasL4 && (p.Proto == decode.ProtoICMP || p.Proto == decode.ProtoICMPv6)
	if r.Dsize != nil && !r.Dsize.Match(uint64(len(p.Payload))) {
		return false
	}
	if r.Flags != nil && (!tcp || !matchFlags(r.Flags, p.TCPFlags)) {
		return false
	}
	if r.TTL != nil && !r.TTL.Match(uint64(p.TTL)) {
		return false
	}
	if r.IPProto != nil && !r.IPProto.Match(uint64(p.Proto)) {
		return false
	}
	if r.IPID != nil && (p.Family != 4 || !r.IPID.Match(uint64(p.IPID))) {
		return false
	}
	if r.SameIP && p.Src != p.Dst {
		return false
	}
	if r.IType != nil && (!icmp || !r.IType.Match(uint64(p.ICMPType))) {
		return false
	}
	if r.ICode != nil && (!icmp || !r.ICode.Match(uint64(p.ICMPCode))) {
		return false
	}
	if r.ICMPID != nil && (!icmpHasID(p) || !r.ICMPID.Match(uint64(p.ICMPID))) {
		return false
	}
	if r.ICMPSeq != nil && (!icmpHasID(p) || !r.ICMPSeq.Match(uint64(p.ICMPSeq))) {
		return false
	}
	if r.Ack != nil && (!tcp || !r.Ack.Match(uint64(p.Ack))) {
		return false
	}
	if r.Seq != nil && (!tcp || !r.Seq.Match(uint64(p.Seq))) {
		return false
	}
	if r.Window != nil && (!tcp || !r.Window.Match(uint64(p.Window))) {
		return false
	}
	if r.ICMPv6MTU != nil && (!icmp || p.Proto != decode.ProtoICMPv6 || p.ICMPType != 2 || p.ICMPCode != 0 || len(p.Payload) < 4 ||
		!r.ICMPv6MTU.Match(uint64(binary.BigEndian.Uint32(p.Payload[:4])))) {
		return false
	}
	for i := range r.FlowPkts {
		if !matchFlowCount(&r.FlowPkts[i], c.f, false) {
			return false
		}
	}
	for i := range r.FlowBytes {
		if !matchFlowCount(&r.FlowBytes[i], c.f, true) {
			return false
		}
	}
	if cr.headers {
		h := s.headers(&c.in)
		for i := range r.VLAN {
			if !matchVLAN(&r.VLAN[i], h) {
				return false
			}
		}
		if !h.ok {
			return false
		}
		if r.TOS != nil && (h.ip4 == nil || !r.TOS.Match(uint64(h.tos))) {
			return false
		}
		if r.Fragbits != nil && (h.ip4 == nil && h.ip6 == nil || !matchFragbits(r.Fragbits, h.fragFlags)) {
			return false
		}
		if r.IPOpts != 0 && (h.ip4 == nil || h.ipopts&r.IPOpts == 0) {
			return false
		}
		if r.TCPMSS != nil {
			if !tcp || h.l4proto != decode.ProtoTCP {
				return false
			}
			mss, ok := tcpMSS(h.l4)
			if !ok || !r.TCPMSS.Match(uint64(mss)) {
				return false
			}
		}
	}
	return true
}

func icmpHasID(p *decode.Packet) bool {
	if !p.HasL4 {
		return false
	}
	switch p.Proto {
	case decode.ProtoICMP:
		switch p.ICMPType {
		case 0, 8, 13, 14, 15, 16, 17, 18:
			return true
		}
	case decode.ProtoICMPv6:
		return p.ICMPType == 128 || p.ICMPType == 129
	}
	return false
}

func matchFlags(f *rules.Flags, flags uint8) bool {
	fl := flags &^ f.Mask
	if f.Empty {
		return fl == 0
	}
	switch f.Mode {
	case '+':
		return fl&f.Bits == f.Bits
	case '*':
		return fl&f.Bits != 0
	case '!':
		return fl&f.Bits == 0
	}
	return fl == f.Bits
}

func matchFragbits(f *rules.Fragbits, bits uint8) bool {
	switch f.Mode {
	case '+':
		return bits&f.Bits == f.Bits
	case '*':
		return bits&f.Bits != 0
	case '!':
		return bits&f.Bits == 0
	}
	return bits == f.Bits
}

func (s *scratch) headers(in *Input) *headers {
	if !s.hdrs {
		s.hdrs = true
		if in == nil || in.Frame == nil {
			s.hdr = headers{}
		} else {
			s.hdr.parse(in.Frame, in.P)
		}
	}
	return &s.hdr
}

// buffer returns the bytes of buffer b for this call.
func (e *Engine) buffer(b rules.Buffer, c *mctx, s *scratch) ([]byte, bool) {
	if b == rules.BufPayload {
		return c.data, true
	}
	if c.stream {
		return nil, false
	}
	h := s.headers(&c.in)
	if !h.ok {
		return nil, false
	}
	var d []byte
	switch b {
	case rules.BufIPv4Hdr:
		d = h.ip4
	case rules.BufIPv6Hdr:
		d = h.ip6
	case rules.BufTCPHdr:
		if h.l4proto == decode.ProtoTCP {
			d = h.l4
		}
	case rules.BufUDPHdr:
		if h.l4proto == decode.ProtoUDP {
			d = h.l4
		}
	case rules.BufICMPv4Hdr:
		if h.l4proto == decode.ProtoICMP {
			d = h.l4
		}
	case rules.BufICMPv6Hdr:
		if h.l4proto == decode.ProtoICMPv6 {
			d = h.l4
		}
	}
	return d, d != nil
}

func (e *Engine) matchChains(cr *crule, c *mctx, s *scratch) bool {
	s.insp.vars = s.insp.vars[:0]
	for _, ch := range cr.chains {
		buf, ok := e.buffer(ch.buf, c, s)
		if !ok {
			return false
		}
		s.insp.reset(buf)
		if !s.insp.run(ch.m, 0, 0) {
			return false
		}
	}
	return true
}

// onMatch applies a matched rule's side effects and reports whether it
// alerted.
func (e *Engine) onMatch(cr *crule, c *mctx, emit func(*alert.Alert)) bool {
	r := cr.r
	if len(cr.writes) > 0 && c.f != nil {
		fs := e.ensureFlowState(c)
		for _, w := range cr.writes {
			for _, b := range w.bits {
				switch w.cmd {
				case rules.FBSet:
					fs.set(b)
				case rules.FBUnset:
					fs.unset(b)
				case rules.FBToggle:
					if fs.isSet(b) {
						fs.unset(b)
					} else {
						fs.set(b)
					}
				}
			}
		}
	}
	if len(cr.hwrites) > 0 {
		e.hostbitsWrite(cr, c)
	}
	if r.Action == rules.ActionPass {
		return false
	}
	if (r.Filter != nil || r.Threshold != nil) && !e.thresholdAllows(r, c) {
		return false
	}
	if r.NoAlert {
		return false
	}
	a := &alert.Alert{
		TsNs: c.ts, Ifindex: c.ifindex, Src: c.src, Dst: c.dst, SrcPort: c.sport, DstPort: c.dport,
		Proto: c.proto, VLAN: c.vlan,
		GID: r.GID, SID: r.SID, Rev: r.Rev, Signature: r.Msg, Classtype: r.Classtype, Category: r.Category,
		Severity: r.Priority, RuleAction: r.Action.String(), Detector: "signature", Subject: c.src,
		RuleMetadata: cr.meta, AppProto: c.app, App: c.rec,
	}
	if r.Action == rules.ActionAlert {
		a.Action = "allowed"
	}
	if !c.ports && c.p != nil && (c.proto == decode.ProtoICMP || c.proto == decode.ProtoICMPv6) {
		a.SrcPort, a.DstPort = uint16(c.p.ICMPType), uint16(c.p.ICMPCode)
	}
	switch r.Target {
	case rules.TargetDst:
		// target names the victim: the subject a response acts on is the other side
		a.Subject = c.src
	case rules.TargetSrc:
		a.Subject = c.dst
	}
	if c.f != nil {
		a.FlowID = c.f.ID
	}
	if c.p != nil {
		a.PcapCnt = c.p.PcapCnt
	}
	a.Payload = c.data
	a.Community = flows.CommunityID(a.Src, a.Dst, a.SrcPort, a.DstPort, a.Proto)
	emit(a)
	return true
}

// flowState is what the engine keeps per flow.
type flowState struct {
	bits  []uint64
	pass  bool
	seen  int64
	start int64        // the connection's flows.Flow.FirstNs
	win   [2]streamWin // stream windows: [0] to server
	seq   [2]seqSpace  // stream_size: [0] the client's stream, [1] the server's
}

// seqSpace is the sequence space a TCP endpoint has used, as Suricata's
// TcpStream isn and next_seq: stream_size compares next-isn. isn is the
// SYN's sequence number, or seq-1 of the first packet seen when the
// flow was picked up midstream (as Suricata's midstream pickup); next
// is the highest seq+len (SYN and FIN count one) seen, in sequence-space
// order. Unlike Suricata's next_seq it also moves past a gap (data
// Suricata's stream engine would not accept in order).
type seqSpace struct {
	isn, next uint32
	init      bool
}

func (s *seqSpace) add(p *decode.Packet) {
	end := p.Seq + p.PayloadLen
	if p.TCPFlags&tcpSYN != 0 {
		end++
	}
	if p.TCPFlags&tcpFIN != 0 {
		end++
	}
	if !s.init {
		s.init, s.isn, s.next = true, p.Seq, end
		if p.TCPFlags&tcpSYN == 0 {
			s.isn = p.Seq - 1
		}
		return
	}
	if p.TCPFlags&tcpSYN != 0 && p.Seq != s.isn {
		s.isn, s.next = p.Seq, end // the real SYN after a midstream guess, or a new ISN
		return
	}
	if int32(end-s.next) > 0 {
		s.next = end
	}
}

func (s *seqSpace) size() uint64 {
	if !s.init {
		return 0
	}
	return uint64(s.next - s.isn)
}

const (
	tcpFIN = 0x01
	tcpSYN = 0x02
)

// trackSeq records a TCP packet's sequence space in its flow's state
// (rules with stream_size only).
func (e *Engine) trackSeq(c *mctx, f *flows.Flow, p *decode.Packet) {
	if !e.streamSize || f == nil || p == nil || p.Proto != decode.ProtoTCP || !p.HasL4 {
		return
	}
	a, port := f.Orig()
	dir := 1
	if p.Src == a && p.SrcPort == port {
		dir = 0
	}
	e.ensureFlowState(c).seq[dir].add(p)
}

// matchStreamSize is stream_size against the flow's sequence spaces.
func (e *Engine) matchStreamSize(ss *rules.StreamSize, c *mctx) bool {
	if c.f == nil || c.f.Proto != decode.ProtoTCP || c.fs == nil {
		return false
	}
	client, server := c.fs.seq[0].size(), c.fs.seq[1].size()
	switch ss.Dir {
	case rules.StreamServer:
		return ss.N.Match(server)
	case rules.StreamClient:
		return ss.N.Match(client)
	case rules.StreamBoth:
		return ss.N.Match(server) && ss.N.Match(client)
	}
	return ss.N.Match(server) || ss.N.Match(client)
}

func (f *flowState) set(b int) {
	for len(f.bits) <= b/64 {
		f.bits = append(f.bits, 0)
	}
	f.bits[b/64] |= 1 << (b % 64)
}

func (f *flowState) unset(b int) {
	if b/64 < len(f.bits) {
		f.bits[b/64] &^= 1 << (b % 64)
	}
}

func (f *flowState) isSet(b int) bool {
	return f != nil && b/64 < len(f.bits) && f.bits[b/64]&(1<<(b%64)) != 0
}

func (e *Engine) flowbitsRead(cr *crule, c *mctx) bool {
	for _, rd := range cr.reads {
		want := rd.cmd == rules.FBIsSet
		if rd.or {
			ok := false
			for _, b := range rd.bits {
				if c.fs.isSet(b) == want {
					ok = true
					break
				}
			}
			if !ok {
				return false
			}
			continue
		}
		for _, b := range rd.bits {
			if c.fs.isSet(b) != want {
				return false
			}
		}
	}
	return true
}

type threshKey struct {
	gid, sid uint32
	filter   bool
	a, b     netip.Addr
	flow     uint64
}

type threshState struct {
	first int64
	count int
	win   int64
	seen  map[uint16]struct{} // unique_on: the ports counted
	next  int                 // backoff: the match count that alerts next
}

// noWindow is the window of a backoff counter: it never expires by time
// (Suricata keeps it with the flow); gcThresholds drops it once the flow
// is gone.
const noWindow = int64(1<<63 - 1)

// thresholdAllows runs detection_filter then threshold for a match.
func (e *Engine) thresholdAllows(r *rules.Rule, c *mctx) bool {
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	e.gcThresholds(c.ts)
	if r.Filter != nil && !e.tick(r, r.Filter, true, c) {
		return false
	}
	if r.Threshold != nil && !e.tick(r, r.Threshold, false, c) {
		return false
	}
	return true
}

func (e *Engine) tick(r *rules.Rule, t *rules.Threshold, filter bool, c *mctx) bool {
	k := threshKey{gid: r.GID, sid: r.SID, filter: filter}
	switch t.Track {
	case rules.TrackBySrc:
		k.a = c.src
	case rules.TrackByDst:
		k.a = c.dst
	case rules.TrackByBoth:
		k.a, k.b = c.src, c.dst
	case rules.TrackByFlow:
		if c.f != nil {
			k.flow = c.f.ID
		}
	}
	win := int64(t.Seconds) * 1e9
	if t.Type == rules.TypeBackoff {
		win = noWindow
	}
	ss := e.st
	st := ss.thresh[k]
	switch {
	case st == nil:
		if len(ss.thresh) >= e.opts.MaxThresholdKeys {
			for old := range ss.thresh {
				delete(ss.thresh, old)
				break
			}
		}
		st = &threshState{first: c.ts, win: win}
		ss.thresh[k] = st
		if t.Type == rules.TypeBackoff && k.flow != 0 {
			if len(ss.flowThresh) >= e.opts.MaxThresholdKeys {
				for old := range ss.flowThresh {
					delete(ss.flowThresh, old)
					break
				}
			}
			ss.flowThresh[k.flow] = append(ss.flowThresh[k.flow], k)
		}
	case c.ts-st.first >= win || c.ts < st.first:
		st.first, st.count, st.seen = c.ts, 0, nil
	}
	if t.UniqueOn != rules.UniqueNone {
		port := c.sport
		if t.UniqueOn == rules.UniqueDstPort {
			port = c.dport
		}
		if _, dup := st.seen[port]; dup {
			return st.count > t.Count && t.Type == rules.TypeFilter
		}
		if st.seen == nil {
			st.seen = map[uint16]struct{}{}
		}
		st.seen[port] = struct{}{}
	}
	st.count++
	switch t.Type {
	case rules.TypeLimit:
		return st.count <= t.Count
	case rules.TypeThreshold:
		if st.count >= t.Count {
			st.count = 0
			return true
		}
		return false
	case rules.TypeBoth:
		return st.count == t.Count
	case rules.TypeBackoff:
		return backoffTick(st, t)
	}
	return st.count > t.Count // detection_filter
}

// backoffTick counts a match for threshold type backoff as Suricata
// does (ThresholdSetup/TYPE_BACKOFF): the Count-th match alerts, then the
// Count*Multiplier-th, Count*Multiplier^2-th, ...; count 1 alerts on the
// 1st, Multiplier-th, Multiplier^2-th. The first alert is not the 1st
// match unless count is 1 (suricata-verify detect-flow-pkts-either:
// count 2 multiplier 10 alerts once per flow on the 2nd match).
func backoffTick(st *threshState, t *rules.Threshold) bool {
	if st.count == 1 {
		st.next = t.Count
	}
	if st.next == 0 || st.count != st.next {
		return false
	}
	switch {
	case t.Multiplier <= 1:
		st.next = 0 // the same count again never comes: done
	case st.next > math.MaxInt/t.Multiplier:
		st.next = 0 // overflow: no more alerts
	default:
		st.next *= t.Multiplier
	}
	return true
}

// gcThresholds drops counters whose window ended, once a minute of
// packet time.
func (e *Engine) gcThresholds(now int64) {
	ss := e.st
	if now-ss.lastGC < 60e9 && now >= ss.lastGC {
		return
	}
	ss.lastGC = now
	for k, st := range ss.thresh {
		if now-st.first >= st.win {
			delete(ss.thresh, k)
		}
	}
}

func sortInt32(s []int32) {
	// insertion sort: the list is nearly sorted and short
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func matchFlowCount(fc *rules.FlowCount, f *flows.Flow, bytes bool) bool {
	if f == nil {
		return false
	}
	v := f.Pkts
	if bytes {
		v = f.Bytes
	}
	switch fc.Dir {
	case 0:
		return fc.N.Match(v[0])
	case 1:
		return fc.N.Match(v[1])
	}
	return fc.N.Match(v[0]) || fc.N.Match(v[1])
}

func matchVLAN(m *rules.VLANMatch, h *headers) bool {
	n := len(h.vlans)
	if n == 0 {
		return false
	}
	switch m.Layer {
	case rules.LayerAny:
		for i := 0; i < n; i++ {
			if m.ID.Match(uint64(h.vlans[i])) {
				return true
			}
		}
		return false
	case rules.LayerAll:
		for i := 0; i < n; i++ {
			if !m.ID.Match(uint64(h.vlans[i])) {
				return false
			}
		}
		return true
	}
	l := m.Layer
	if l < 0 {
		l += n
	}
	return l >= 0 && l < n && m.ID.Match(uint64(h.vlans[l]))
}

// firstOfDirection reports whether the packet is the first of its flow
// in its direction (IP-only rules run once per flow direction).
func firstOfDirection(in *Input) bool {
	if in.F == nil {
		return true
	}
	d := 0
	if !in.FromOrig {
		d = 1
	}
	return in.F.Pkts[d] == 1
}

// flowApp is the app protocol detected on f ("unknown" while undecided
// or without a flow).
func flowApp(f *flows.Flow) string {
	if f == nil {
		return "unknown"
	}
	return appproto.Proto(f.App).String()
}
