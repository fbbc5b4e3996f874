package signature

import (
	"slices"

	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/packet/decode"
	"github.com/xdpids/xdpids/userspace/signature/rules"
)

// TxSource is what MatchTx reads a transaction through: an adapter over
// the app-layer parsers (the pipeline's). Buffers that exist in both
// directions (http.header, tls.cert_subject) take the side: a rule
// mixing request and response buffers reads each from its own side.
type TxSource interface {
	// Buffer returns item i (0 for a single buffer) of b on the request
	// (toServer) or response side; ok false when absent or past the last
	// item of a multi-buffer.
	Buffer(b rules.Buffer, toServer bool, i int) ([]byte, bool)
	// Field returns value i (0 unless the field is multi-valued) of a
	// field keyword's field; ok false when absent.
	Field(f rules.Field, i int) (uint64, bool)
}

// TxInput is one progress point of an app-layer transaction.
type TxInput struct {
	F *flows.Flow // required
	// P is the packet that completed the progress point (for the alert's
	// pcap_cnt, interface and VLAN, and packet keywords); may be nil.
	P *decode.Packet
	// ToServer: the request side of the transaction is complete (request
	// rules run); false: the response side is (response rules and rules
	// mixing both sides run).
	ToServer bool
	// Detected: the call is the one made when the app protocol of the
	// flow was detected in this direction, not a transaction: rules with
	// app-layer-protocol (or an app header) and no app buffer run here,
	// once per direction, as Suricata's app-layer-protocol matches on the
	// packet that completed detection.
	Detected bool
	App      string   // the flow's app protocol (Suricata's name), "failed" or ""
	Src      TxSource // nil with Detected
	TsNs     int64
	// Record is the transaction's app-layer record, attached to the
	// alerts (alert.Alert.App, under the key App).
	Record any
	// Fired, when set, remembers the rules that fired on this
	// transaction: a transaction matched at several progress points (a
	// TLS handshake at the ClientHello, then at the client's certificate)
	// alerts once per rule and side. Nil: each call stands alone.
	Fired *TxFired
}

// TxFired is the rules that fired on one transaction (see
// TxInput.Fired). The zero value is ready; Reset reuses it for the next
// transaction.
type TxFired struct {
	eng *Engine
	ids []int32 // rule order*2 + side (1: the response side of a rule read on either)
}

// Reset forgets what fired.
func (t *TxFired) Reset() { t.eng, t.ids = nil, t.ids[:0] }

func (t *TxFired) key(e *Engine, i int32, tr *txRule, toServer bool) int32 {
	if t.eng != e {
		t.eng, t.ids = e, t.ids[:0] // a rule reload renumbers the rules
	}
	k := i * 2
	if tr.side == sideEach && !toServer {
		k++
	}
	return k
}

// Rule sides on a transaction.
const (
	sideReq  uint8 = 1 // inspected when the request is complete
	sideResp uint8 = 2 // inspected when the response is (reads request buffers too)
	sideEach uint8 = 3 // inspected on each side, on that side's buffers
)

// txRule is what MatchTx knows of an app rule.
type txRule struct {
	side     uint8
	detect   bool   // no app buffer or field: runs at detection points
	chainDir []bool // per chain of crule.chains: read from the request side (sideResp/sideReq rules)
	fpBuf    rules.Buffer
	fpOK     bool
	xf       [][]rules.Transform // per chain: transforms (nil: none)
}

// txIndex holds the app rules of each app protocol.
type txIndex struct {
	byApp map[string]*txGroup
	any   *txGroup // rules on a negated app-layer-protocol or no app name: every protocol
	n     int      // app rules
}

type txGroup struct {
	pats   map[rules.Buffer]*patSet // fast patterns per buffer
	bufs   []rules.Buffer           // keys of pats, in order
	always []int32                  // rules without a fast pattern
	detect []int32                  // rules run at detection points
}

func (g *txGroup) add(cr *crule, tr *txRule, fp []byte) {
	idx := cr.order
	switch {
	case tr.detect:
		g.detect = append(g.detect, idx)
	case tr.fpOK:
		ps := g.pats[tr.fpBuf]
		if ps == nil {
			ps = &patSet{}
			g.pats[tr.fpBuf] = ps
			g.bufs = append(g.bufs, tr.fpBuf)
		}
		ps.add(fp, idx)
	default:
		g.always = append(g.always, idx)
	}
}

// fieldDir is the side a field keyword reads.
func fieldDir(f rules.Field) rules.Dir {
	switch f {
	case rules.FieldDNSRcode, rules.FieldCertNotBefore, rules.FieldCertNotAfter, rules.FieldCertExpired, rules.FieldCertValid:
		return rules.DirToClient
	}
	return rules.DirBoth
}

// compileTx classifies the app rules and builds their prefilter; the
// rules are already in evaluation order.
func (e *Engine) compileTx() {
	e.txr = make([]*txRule, len(e.rules))
	e.txi = &txIndex{byApp: map[string]*txGroup{}}
	newGroup := func() *txGroup { return &txGroup{pats: map[rules.Buffer]*patSet{}} }
	e.txi.any = newGroup()
	for _, cr := range e.rules {
		r := cr.r
		if !isAppRule(r) {
			continue
		}
		tr := &txRule{detect: !r.IsApp()}
		var ts, tc bool
		for _, ch := range cr.chains {
			switch ch.buf.Info().Dir {
			case rules.DirToServer:
				ts = true
			case rules.DirToClient:
				tc = true
			}
		}
		for _, f := range r.Fields {
			if fieldDir(f.Field) == rules.DirToClient {
				tc = true
			}
		}
		switch {
		case r.Flow.ToServer:
			tr.side = sideReq
		case r.Flow.ToClient || tc:
			tr.side = sideResp
		case ts:
			tr.side = sideReq
		default:
			tr.side = sideEach
		}
		for _, ch := range cr.chains {
			d := ch.buf.Info().Dir
			// a both-direction buffer of a one-side rule is read on that side
			tr.chainDir = append(tr.chainDir, d == rules.DirToServer || d == rules.DirBoth && tr.side == sideReq)
			tr.xf = append(tr.xf, r.TransformsOf(ch.buf))
		}
		var fp []byte
		fp, tr.fpBuf, tr.fpOK = txFastPattern(r)
		e.txr[cr.order] = tr
		e.txi.n++
		app := r.Proto.App
		for _, a := range r.AppLayer {
			if !a.Negated && app == "" {
				app = a.Name
			}
		}
		g := e.txi.any
		if app != "" {
			if g = e.txi.byApp[app]; g == nil {
				g = newGroup()
				e.txi.byApp[app] = g
			}
		}
		g.add(cr, tr, fp)
	}
	for _, g := range append(mapValues(e.txi.byApp), e.txi.any) {
		for _, b := range g.bufs {
			e.nPatterns = g.pats[b].build(e.nPatterns)
		}
	}
}

func mapValues[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// txFastPattern picks an app rule's prefilter pattern: the content marked
// fast_pattern, else the longest positive content of an app buffer. A
// buffer with transforms the pattern cannot be checked against before
// transforming is passed over (dotprefix alone is fine: the pattern
// without its leading dot occurs in the raw buffer).
func txFastPattern(r *rules.Rule) ([]byte, rules.Buffer, bool) {
	var best *rules.Content
	for _, m := range r.Matches {
		c, ok := m.(*rules.Content)
		if !ok || !c.Buffer.App() || c.Negated || !fpSafe(r.TransformsOf(c.Buffer)) {
			continue
		}
		if c.FastPattern {
			best = c
			break
		}
		if best == nil || len(c.Pattern) > len(best.Pattern) {
			best = c
		}
	}
	if best == nil {
		return nil, 0, false
	}
	p := best.Pattern
	if best.FastPattern && best.FPChopLen > 0 {
		p = p[best.FPChopOff : best.FPChopOff+best.FPChopLen]
	}
	if len(r.TransformsOf(best.Buffer)) > 0 && len(p) > 0 && p[0] == '.' {
		p = p[1:]
	}
	if len(p) == 0 {
		return nil, 0, false
	}
	return lower(p), best.Buffer, true
}

func fpSafe(xf []rules.Transform) bool {
	for _, t := range xf {
		switch t.Kind {
		case rules.XfDotPrefix, rules.XfToLower, rules.XfToUpper, rules.XfHeaderLowercase:
		default:
			return false
		}
	}
	return true
}

// MatchTx matches the app rules of in.App at one progress point of a
// transaction (or at a detection point, in.Detected) and calls emit for
// each alert, with the transaction's record attached. A rule fires at
// most once per call; the pipeline calls once per side of a transaction,
// so a rule fires once per transaction (per side for rules that read
// either side). Packet and stream rules are not run here.
func (e *Engine) MatchTx(in *TxInput, emit func(*alert.Alert)) {
	f := in.F
	if f == nil || e.txi == nil || (!in.Detected && in.Src == nil) {
		return
	}
	src, sport := f.Orig()
	dst, dport := f.Resp()
	if !in.ToServer {
		src, dst, sport, dport = dst, src, dport, sport
	}
	c := mctx{
		ts: in.TsNs, src: src, dst: dst, sport: sport, dport: dport, proto: f.Proto, family: 4,
		ports: f.Proto == decode.ProtoTCP || f.Proto == decode.ProtoUDP,
		f:     f, toServer: in.ToServer, p: in.P, stream: true, app: in.App, rec: in.Record,
	}
	if src.Unmap().Is6() {
		c.family = 6
	}
	if in.P != nil {
		c.ifindex, c.vlan = in.P.Ifindex, in.P.VLAN
		c.data = in.P.Payload
		c.in = Input{P: in.P, F: f, FromOrig: in.ToServer}
		// packet keywords (dsize, flags...) of app rules read this packet
		c.stream = false
	}
	c.fs = e.flowStateOf(f, false)
	if c.fs != nil && c.fs.pass {
		return
	}
	s := e.pool.Get().(*scratch)
	defer e.pool.Put(s)
	s.begin()
	groups := [2]*txGroup{e.txi.byApp[in.App], e.txi.any}
	for _, g := range groups {
		if g == nil {
			continue
		}
		if in.Detected {
			s.add(g.detect)
			continue
		}
		for _, b := range g.bufs {
			e.txPrefilter(s, g.pats[b], b, in)
		}
		s.add(g.always)
	}
	slices.Sort(s.cand)
	e.runTx(s, &c, in, emit)
	e.st.transactions.Add(1)
}

// txPrefilter scans the items of buffer b a call may read.
func (e *Engine) txPrefilter(s *scratch, ps *patSet, b rules.Buffer, in *TxInput) {
	d := b.Info().Dir
	for _, side := range [2]bool{true, false} {
		// the request side is read at both points (mixed rules); the
		// response side only at the response point
		if side && d&rules.DirToServer == 0 || !side && (d&rules.DirToClient == 0 || in.ToServer) {
			continue
		}
		for i := 0; ; i++ {
			data, ok := in.Src.Buffer(b, side, i)
			if !ok {
				break
			}
			ps.scan(s, data)
			if !b.Info().Multi {
				break
			}
		}
	}
}

func (e *Engine) runTx(s *scratch, c *mctx, in *TxInput, emit func(*alert.Alert)) {
	var cands, matches, alerts, quiet uint64
	for _, i := range s.cand {
		cr := e.rules[i]
		tr := e.txr[i]
		if tr == nil || !txSideOK(tr, in) || !appLayerOK(cr.r, in) {
			continue
		}
		if !e.matchHeader(cr, c, s) || !e.flowbitsRead(cr, c) || !e.hostbitsRead(cr, c) {
			continue
		}
		var fk int32
		if in.Fired != nil {
			if fk = in.Fired.key(e, i, tr, in.ToServer); slices.Contains(in.Fired.ids, fk) {
				continue
			}
		}
		cands++
		// At a detection point a rule has no app buffer or field, but its
		// payload keywords (content, byte_test... on the packet) still
		// have to match.
		if !in.Detected && !e.txFields(cr.r, in) || !e.txChains(cr, tr, c, in, s) {
			continue
		}
		matches++
		if in.Fired != nil {
			in.Fired.ids = append(in.Fired.ids, fk)
		}
		if e.onMatch(cr, c, emit) {
			alerts++
		} else {
			quiet++
		}
		if cr.r.Action == rules.ActionPass {
			e.ensureFlowState(c).pass = true
			break
		}
	}
	if cands > 0 {
		st := e.st
		st.candidates.Add(cands)
		st.matches.Add(matches)
		st.alerts.Add(alerts)
		st.suppressed.Add(quiet)
	}
}

func txSideOK(tr *txRule, in *TxInput) bool {
	if in.Detected {
		return tr.detect
	}
	if tr.detect {
		return false
	}
	switch tr.side {
	case sideReq:
		return in.ToServer
	case sideResp:
		return !in.ToServer
	}
	return true
}

// appLayerOK checks the header's app protocol and app-layer-protocol
// keywords against the flow's.
func appLayerOK(r *rules.Rule, in *TxInput) bool {
	if r.Proto.App != "" && r.Proto.App != in.App {
		return false
	}
	for _, a := range r.AppLayer {
		if (a.Name == in.App) == a.Negated {
			return false
		}
	}
	return true
}

// txFields matches the rule's field keywords.
func (e *Engine) txFields(r *rules.Rule, in *TxInput) bool {
	for i := range r.Fields {
		fm := &r.Fields[i]
		if !fieldMatch(fm, in.Src) {
			return false
		}
	}
	return true
}

// fieldMatch matches one field keyword: a multi-valued field by its
// index mode (any value, all of them, or the one at an index).
func fieldMatch(fm *rules.FieldMatch, src TxSource) bool {
	if !fm.Field.Multi() {
		v, ok := src.Field(fm.Field, 0)
		return ok && fm.Match(v)
	}
	switch idx := fm.Index; idx {
	case rules.IndexAny, rules.IndexAll:
		n := 0
		for j := 0; ; j++ {
			v, ok := src.Field(fm.Field, j)
			if !ok {
				break
			}
			n++
			m := fm.Match(v)
			if m && idx == rules.IndexAny {
				return true
			}
			if !m && idx == rules.IndexAll {
				return false
			}
		}
		return idx == rules.IndexAll && n > 0
	default:
		if idx < 0 {
			n := 0
			for {
				if _, ok := src.Field(fm.Field, n); !ok {
					break
				}
				n++
			}
			idx += n
		}
		if idx < 0 {
			return false
		}
		v, ok := src.Field(fm.Field, idx)
		return ok && fm.Match(v)
	}
}

// txChains runs each chain of the rule over its buffer (every item of a
// multi-buffer until one matches), transformed first when the rule says.
func (e *Engine) txChains(cr *crule, tr *txRule, c *mctx, in *TxInput, s *scratch) bool {
	s.insp.vars = s.insp.vars[:0]
	for k, ch := range cr.chains {
		if ch.buf == rules.BufPayload || !ch.buf.App() {
			buf, ok := e.buffer(ch.buf, c, s)
			if !ok {
				return false
			}
			s.insp.reset(buf)
			if !s.insp.run(ch.m, 0, 0) {
				return false
			}
			continue
		}
		side := tr.chainDir[k]
		if tr.side == sideEach && ch.buf.Info().Dir == rules.DirBoth {
			side = in.ToServer
		}
		multi := ch.buf.Info().Multi
		matched := false
		for i := 0; ; i++ {
			buf, ok := in.Src.Buffer(ch.buf, side, i)
			if !ok {
				break
			}
			if len(tr.xf[k]) > 0 {
				buf = s.xf.apply(tr.xf[k], buf)
			}
			s.insp.reset(buf)
			if s.insp.run(ch.m, 0, 0) {
				matched = true
				break
			}
			if !multi {
				break
			}
		}
		if !matched {
			return false
		}
	}
	return true
}

// isAppRule reports whether r is inspected on app-layer transactions
// (MatchTx) instead of packets and streams: it names an app-layer buffer
// or field, or it names an app protocol (header or app-layer-protocol)
// and inspects no payload, and so runs at the protocol's detection
// points. A rule that names an app protocol and inspects the payload
// without app buffers ("alert http ... content:...") is a packet and
// stream rule limited to flows of that protocol (appGated), as in
// Suricata.
func isAppRule(r *rules.Rule) bool {
	return r.IsApp() || hasAppGate(r) && len(r.Matches) == 0
}

// hasAppGate reports whether r is limited to flows of an app protocol.
func hasAppGate(r *rules.Rule) bool { return r.Proto.App != "" || len(r.AppLayer) > 0 }

// appGateOK checks a packet or stream rule's app protocol conditions
// against the flow's app protocol (appproto names; "unknown" while
// undecided, which only a rule without conditions passes).
func appGateOK(r *rules.Rule, app string) bool {
	if r.Proto.App != "" && r.Proto.App != app {
		return false
	}
	for _, a := range r.AppLayer {
		if app == "unknown" || (a.Name == app) == a.Negated {
			return false
		}
	}
	return true
}

// mayMatchTx reports whether app rules could inspect a flow of IP
// protocol proto: its app protocol is known only once its payload is
// read, so any app rule keeps TCP and UDP flows under inspection.
func (e *Engine) mayMatchTx(proto uint8) bool {
	return e.HasAppRules() && (proto == decode.ProtoTCP || proto == decode.ProtoUDP)
}

// HasAppRules reports whether the engine has rules MatchTx inspects:
// the pipeline parses app-layer protocols for them.
func (e *Engine) HasAppRules() bool {
	return e != nil && e.txi != nil && e.txi.n > 0
}
