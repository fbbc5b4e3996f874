package pipeline

import (
	"encoding/json"

	"github.com/xdpids/xdpids/userspace/app/appdns"
	"github.com/xdpids/xdpids/userspace/app/apphttp"
	"github.com/xdpids/xdpids/userspace/app/appproto"
	"github.com/xdpids/xdpids/userspace/app/appssh"
	"github.com/xdpids/xdpids/userspace/app/apptls"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/output/eve"
	"github.com/xdpids/xdpids/userspace/packet/decode"
	"github.com/xdpids/xdpids/userspace/signature"
)

// The app layer of a worker: per TCP flow, the protocol is detected from
// the first reassembled bytes of either direction (appproto, by content,
// not port), then both directions feed that protocol's parser, whose
// transactions go to the signature engine (MatchTx) and to EVE (OnApp).
// UDP datagrams are detected and parsed one by one (DNS). A TLS or SSH
// session that turns encrypted is bypassed, reason "encrypted".

// maxDetect bounds the bytes kept per direction while the protocol is
// undecided (what detection reads, and what is replayed to the parser
// once it is decided); past it detection gives up on the direction.
const maxDetect = 4096

// appFlow is the app-layer state of one TCP flow.
type appFlow struct {
	firstNs  int64 // the connection (flow ids are reused)
	proto    appproto.Proto
	pend     [2][]byte // bytes of each direction before the decision ([0] to server)
	next     [2]uint64 // stream offset expected next per direction
	failed   [2]bool
	detected [2]bool // the detection point of the direction was matched

	http   *apphttp.Conn
	tls    *apptls.Conn
	ssh    *appssh.Conn
	dnsTCP *appdns.TCPConn

	// fired: what fired on the flow's one transaction (TLS, SSH), matched
	// at each message; httpFired the same for the HTTP transactions in
	// flight (pipelining), by transaction id.
	fired     signature.TxFired
	httpFired [4]httpFired
	tlsLogged bool
	sshDone   [2]bool // the side's last point (done or encrypted) was matched
	sshLogged bool
	dnsTx     uint64
}

type httpFired struct {
	id   uint64
	used bool
	f    signature.TxFired
}

// firedOf returns the fired set of HTTP transaction id (the oldest slot
// is reused when every slot is taken).
func (af *appFlow) firedOf(id uint64) *signature.TxFired {
	old := 0
	for i := range af.httpFired {
		h := &af.httpFired[i]
		if h.used && h.id == id {
			return &h.f
		}
		if !h.used || af.httpFired[old].used && h.id < af.httpFired[old].id {
			old = i
		}
	}
	h := &af.httpFired[old]
	h.id, h.used = id, true
	h.f.Reset()
	return &h.f
}

func (af *appFlow) httpDone(id uint64) {
	for i := range af.httpFired {
		if h := &af.httpFired[i]; h.used && h.id == id {
			h.used = false
		}
	}
}

// appLayer is the worker's app-layer state.
type appLayer struct {
	flows   map[uint64]*appFlow
	free    []*appFlow
	udpMsg  appdns.Message
	httpRec apphttp.Record
	txIn    signature.TxInput
	ev      eve.AppEvent
	lazy    lazyRecord
	srcHTTP httpSrc
	srcDNS  dnsSrc
	srcTLS  tlsSrc
	srcSSH  sshSrc

	// the flow being fed, for the parser callbacks below (made once:
	// closures over it would allocate per chunk)
	ce       *signature.Engine
	caf      *appFlow
	cf       *flows.Flow
	httpEmit func(*apphttp.Tx, apphttp.Progress)
	tlsEmit  func(apptls.Event)
	dnsEmit  func(*appdns.Message, bool)
	emitTx   func(*alert.Alert)
}

// feeding sets the flow the parser callbacks report on.
func (w *Worker) feeding(e *signature.Engine, af *appFlow, f *flows.Flow) {
	a := &w.app
	a.ce, a.caf, a.cf = e, af, f
	if a.httpEmit == nil {
		a.httpEmit = func(tx *apphttp.Tx, p apphttp.Progress) { w.httpTx(a.ce, a.caf, a.cf, tx, p) }
		a.tlsEmit = func(ev apptls.Event) { w.tlsEvent(a.ce, a.caf, a.cf, ev) }
		a.dnsEmit = func(m *appdns.Message, ts bool) { w.dnsMessage(a.ce, a.caf, a.cf, m, ts) }
	}
}

// lazyRecord is the app record an alert carries: encoded only when a
// rule fires (the parser's state it reads is valid during the callback
// only).
type lazyRecord struct {
	http  *apphttp.Tx
	dns   *appdns.Message
	dnsTx uint64
	tls   *apptls.Conn
	ssh   *appssh.Conn
	w     *Worker
}

func (l *lazyRecord) empty() bool {
	return l.http == nil && l.dns == nil && l.tls == nil && l.ssh == nil
}

// record builds the record (it allocates: alerts and logged
// transactions only).
func (l *lazyRecord) record() any {
	switch {
	case l.http != nil:
		l.http.Record(&l.w.app.httpRec)
		return &l.w.app.httpRec
	case l.dns != nil:
		var r appdns.Record
		l.dns.Record(&r)
		r.TxID = l.dnsTx
		return &r
	case l.tls != nil:
		var r apptls.Record
		l.tls.Record(&r)
		return &r
	case l.ssh != nil:
		var r appssh.Record
		l.ssh.Record(&r)
		return &r
	}
	return nil
}

func dirIdx(toServer bool) int {
	if toServer {
		return 0
	}
	return 1
}

// appOn reports whether the app layer runs: some rule inspects
// transactions, or app records are logged.
func (w *Worker) appOn(e *signature.Engine) bool {
	return e.HasAppRules() || w.p.OnApp != nil
}

func (w *Worker) appFlowOf(f *flows.Flow) *appFlow {
	a := &w.app
	if a.flows == nil {
		a.flows = map[uint64]*appFlow{}
	}
	af := a.flows[f.ID]
	if af != nil && af.firstNs == f.FirstNs {
		return af
	}
	if af == nil {
		if n := len(a.free); n > 0 {
			af, a.free = a.free[n-1], a.free[:n-1]
		} else {
			af = &appFlow{}
		}
		a.flows[f.ID] = af
	}
	af.reset(f.FirstNs)
	return af
}

func (af *appFlow) reset(firstNs int64) {
	p0, p1 := af.pend[0][:0], af.pend[1][:0]
	h, t, s, d := af.http, af.tls, af.ssh, af.dnsTCP
	fired, hf := af.fired, af.httpFired
	fired.Reset()
	for i := range hf {
		hf[i].used = false
	}
	*af = appFlow{firstNs: firstNs, pend: [2][]byte{p0, p1}, http: h, tls: t, ssh: s, dnsTCP: d, fired: fired, httpFired: hf}
}

// appData takes newly reassembled bytes of a TCP flow. handled is false
// while (and when) no parser follows the flow, for the caller's own TLS
// record follower; encrypted says the direction has nothing readable
// left.
func (w *Worker) appData(e *signature.Engine, f *flows.Flow, toServer bool, data []byte, offset uint64) (handled, encrypted bool) {
	if !w.appOn(e) {
		return false, false
	}
	af := w.appFlowOf(f)
	d := dirIdx(toServer)
	if af.proto == appproto.Unknown {
		if af.failed[d] || offset != af.next[d] {
			af.next[d] = offset + uint64(len(data))
			af.failed[d] = true // a hole before detection: give up on the direction
			w.appFailed(af, f)
			return false, false
		}
		af.next[d] = offset + uint64(len(data))
		if len(af.pend[d])+len(data) > maxDetect {
			data = data[:maxDetect-len(af.pend[d])]
		}
		af.pend[d] = append(af.pend[d], data...)
		p, more := appproto.DetectTCP(toServer, af.pend[d])
		switch {
		case p.Decided():
			w.appStart(e, af, f, p, toServer)
		case !more || len(af.pend[d]) >= maxDetect:
			af.failed[d] = true
			w.appFailed(af, f)
		}
		if af.proto == appproto.Unknown || af.proto == appproto.Failed {
			return false, false
		}
		return true, w.appEncrypted(af, toServer)
	}
	if af.proto == appproto.Failed {
		return false, false
	}
	if offset > af.next[d] {
		w.appGap(af, toServer, int(offset-af.next[d]))
	}
	af.next[d] = offset + uint64(len(data))
	if !af.detected[d] {
		af.detected[d] = true
		w.appDetected(e, af, f, toServer)
	}
	w.appFeed(e, af, f, toServer, data)
	return true, w.appEncrypted(af, toServer)
}

func (w *Worker) appFailed(af *appFlow, f *flows.Flow) {
	if af.failed[0] && af.failed[1] {
		af.proto = appproto.Failed
		f.App = uint8(appproto.Failed)
	}
}

// appStart creates the parser of p and replays what detection kept,
// request side first.
func (w *Worker) appStart(e *signature.Engine, af *appFlow, f *flows.Flow, p appproto.Proto, toServer bool) {
	af.proto = p
	f.App = uint8(p)
	switch p {
	case appproto.HTTP1:
		if lim := w.cfg.HTTP.Effective(); af.http == nil || af.http.Limits() != lim {
			af.http = apphttp.NewConn(lim)
		} else {
			af.http.Reset()
		}
	case appproto.TLS:
		if af.tls == nil {
			af.tls = apptls.NewConn(apptls.DefaultLimits())
		} else {
			af.tls.Reset()
		}
	case appproto.SSH:
		if af.ssh == nil {
			af.ssh = &appssh.Conn{}
		} else {
			af.ssh.Reset()
		}
	case appproto.DNS:
		if af.dnsTCP == nil {
			af.dnsTCP = &appdns.TCPConn{}
		} else {
			af.dnsTCP.Reset()
		}
	}
	af.detected[dirIdx(toServer)] = true
	w.appDetected(e, af, f, toServer)
	for _, ts := range [2]bool{true, false} {
		d := dirIdx(ts)
		if len(af.pend[d]) == 0 {
			continue
		}
		if !af.detected[d] {
			af.detected[d] = true
			w.appDetected(e, af, f, ts)
		}
		w.appFeed(e, af, f, ts, af.pend[d])
		af.pend[d] = af.pend[d][:0]
	}
}

// appDetected runs the rules of the detection point of a direction.
func (w *Worker) appDetected(e *signature.Engine, af *appFlow, f *flows.Flow, toServer bool) {
	w.appMatch(e, f, toServer, true, nil, lazyRecord{}, nil)
}

// appMatch runs MatchTx on a progress point.
func (w *Worker) appMatch(e *signature.Engine, f *flows.Flow, toServer, detected bool, src signature.TxSource, rec lazyRecord, fired *signature.TxFired) {
	if e == nil || !e.HasAppRules() {
		return
	}
	a := &w.app
	rec.w = w
	a.lazy = rec
	in := &a.txIn
	ts := f.LastNs
	if w.cur != nil {
		ts = w.cur.TsNs
	}
	*in = signature.TxInput{F: f, P: w.cur, ToServer: toServer, Detected: detected, App: appproto.Proto(f.App).String(), Src: src, TsNs: ts, Fired: fired}
	if !rec.empty() {
		in.Record = &a.lazy
	}
	prev := w.curFlow
	w.curFlow = f
	if a.emitTx == nil {
		a.emitTx = w.emitTx
	}
	e.MatchTx(in, a.emitTx)
	w.curFlow = prev
}

// emitTx snapshots an alert's app record (the parser reuses what it
// points into) before the alert goes the way of the others.
func (w *Worker) emitTx(a *alert.Alert) {
	if l, ok := a.App.(*lazyRecord); ok {
		a.App = nil
		if !l.empty() {
			if raw, err := json.Marshal(l.record()); err == nil {
				a.App = json.RawMessage(raw)
			}
		}
	}
	w.emit(a)
}

// appLog sends an app record to OnApp.
func (w *Worker) appLog(f *flows.Flow, toServer bool, proto string, txID uint64, rec any) {
	if w.p.OnApp == nil {
		return
	}
	ts := f.LastNs
	if w.cur != nil {
		ts = w.cur.TsNs
	}
	w.app.ev = eve.AppEvent{TsNs: ts, F: f, P: w.cur, ToServer: toServer, Proto: proto, TxID: txID, Record: rec}
	w.p.OnApp(&w.app.ev)
}

func (w *Worker) appGap(af *appFlow, toServer bool, n int) {
	switch af.proto {
	case appproto.HTTP1:
		af.http.Gap(toServer, n)
	case appproto.TLS:
		af.tls.Gap(toServer, n)
	case appproto.SSH:
		af.ssh.Gap(toServer, n)
	case appproto.DNS:
		af.dnsTCP.Gap(toServer, n)
	}
}

func (w *Worker) appEncrypted(af *appFlow, toServer bool) bool {
	switch af.proto {
	case appproto.TLS:
		return af.tls.Encrypted(toServer)
	case appproto.SSH:
		return af.ssh.Encrypted()
	}
	return false
}

// appFeed gives the parser of the flow the next bytes of a direction.
func (w *Worker) appFeed(e *signature.Engine, af *appFlow, f *flows.Flow, toServer bool, data []byte) {
	switch af.proto {
	case appproto.HTTP1:
		ts := f.LastNs
		if w.cur != nil {
			ts = w.cur.TsNs
		}
		w.feeding(e, af, f)
		af.http.Feed(toServer, data, ts, w.app.httpEmit)
	case appproto.TLS:
		w.feeding(e, af, f)
		af.tls.Feed(toServer, data, w.app.tlsEmit)
	case appproto.SSH:
		af.ssh.Feed(toServer, data)
		w.sshProgress(e, af, f, false)
	case appproto.DNS:
		w.feeding(e, af, f)
		af.dnsTCP.Feed(toServer, data, w.app.dnsEmit)
	}
}

// httpTx matches a transaction at each of its progress points (a rule
// fires at the first one its buffers match, once per transaction) and
// logs it when the response is complete.
func (w *Worker) httpTx(e *signature.Engine, af *appFlow, f *flows.Flow, tx *apphttp.Tx, p apphttp.Progress) {
	w.app.srcHTTP.tx = tx
	toServer := p == apphttp.ReqHeaders || p == apphttp.ReqBody
	w.takeStreamTx(tx, toServer)
	w.appMatch(e, f, toServer, false, &w.app.srcHTTP, lazyRecord{http: tx}, af.firedOf(tx.ID))
	if p == apphttp.RespBody {
		af.httpDone(tx.ID)
		if w.p.OnApp != nil {
			tx.Record(&w.app.httpRec)
			w.appLog(f, true, "http", tx.ID, &w.app.httpRec)
		}
	}
	w.app.srcHTTP.tx = nil
}

func (w *Worker) dnsMessage(e *signature.Engine, af *appFlow, f *flows.Flow, m *appdns.Message, toServer bool) {
	w.app.srcDNS.m = m
	txID := af.dnsTx
	af.dnsTx++
	rec := lazyRecord{dns: m, dnsTx: txID, w: w}
	w.appMatch(e, f, toServer, false, &w.app.srcDNS, rec, nil)
	if w.p.OnApp != nil {
		w.appLog(f, toServer, "dns", txID, rec.record())
	}
	w.app.srcDNS.m = nil
}

func (w *Worker) tlsRecord(c *apptls.Conn) any {
	l := lazyRecord{tls: c, w: w}
	return l.record()
}

// tlsEvent matches the handshake at each message of a side (ClientHello,
// the client's certificate, ServerHello, the server's certificate, the
// turn to encrypted): a rule fires at the first one its buffers match,
// once per flow and side. The handshake is logged once Suricata would.
func (w *Worker) tlsEvent(e *signature.Engine, af *appFlow, f *flows.Flow, ev apptls.Event) {
	w.tlsPoint(e, af, f, ev.ToServer)
	if !af.tlsLogged && af.tls.Loggable() {
		af.tlsLogged = true
		if w.p.OnApp != nil {
			w.appLog(f, true, "tls", 0, w.tlsRecord(af.tls))
		}
	}
}

func (w *Worker) tlsPoint(e *signature.Engine, af *appFlow, f *flows.Flow, toServer bool) {
	now := f.LastNs
	if w.cur != nil {
		now = w.cur.TsNs
	}
	w.app.srcTLS = tlsSrc{c: af.tls, now: now / 1e9, toServer: toServer}
	w.appMatch(e, f, toServer, false, &w.app.srcTLS, lazyRecord{tls: af.tls}, &af.fired)
}

// sshProgress matches each side once its banner is read, again as its
// key exchange is (the HASSH buffers), until the session is done or
// encrypted; a rule fires once per flow and side.
func (w *Worker) sshProgress(e *signature.Engine, af *appFlow, f *flows.Flow, end bool) {
	c := af.ssh
	last := c.Done() || c.Encrypted() || end
	for _, ts := range [2]bool{true, false} {
		d := dirIdx(ts)
		if af.sshDone[d] || !c.BannerDone(ts) {
			continue
		}
		af.sshDone[d] = last
		w.app.srcSSH.c = c
		w.appMatch(e, f, ts, false, &w.app.srcSSH, lazyRecord{ssh: c}, &af.fired)
	}
	if !af.sshLogged && last {
		var r appssh.Record
		if c.Record(&r) {
			af.sshLogged = true
			w.appLog(f, true, "ssh", 0, &r)
		}
	}
}

// appFlowEnd completes what the flow's parser holds (a response cut by
// the close, a handshake without its server's certificate) and frees
// the flow's app state.
func (w *Worker) appFlowEnd(f *flows.Flow) {
	af := w.app.flows[f.ID]
	if af == nil {
		return
	}
	delete(w.app.flows, f.ID)
	if af.firstNs == f.FirstNs {
		e := w.p.sig.Load()
		switch af.proto {
		case appproto.HTTP1:
			w.feeding(e, af, f)
			af.http.End(true, w.app.httpEmit)
			af.http.End(false, w.app.httpEmit)
		case appproto.TLS:
			if !af.tlsLogged && af.tls.ClientHello().Seen && w.p.OnApp != nil {
				af.tlsLogged = true
				w.appLog(f, true, "tls", 0, w.tlsRecord(af.tls))
			}
		case appproto.SSH:
			w.sshProgress(e, af, f, true)
		}
	}
	if len(w.app.free) < 1024 {
		w.app.free = append(w.app.free, af)
	}
}

// appUDP detects and parses one UDP datagram (DNS).
func (w *Worker) appUDP(e *signature.Engine, pk *decode.Packet, f *flows.Flow, fromOrig bool) {
	if !w.appOn(e) || len(pk.Payload) == 0 {
		return
	}
	if f.App == 0 {
		if appproto.DetectUDP(pk.SrcPort, pk.DstPort, pk.Payload) != appproto.DNS {
			return
		}
		f.App = uint8(appproto.DNS)
		w.appDetected(e, nil, f, fromOrig)
	}
	if appproto.Proto(f.App) != appproto.DNS {
		return
	}
	m := &w.app.udpMsg
	if err := m.Parse(pk.Payload); err != nil {
		return
	}
	af := w.appFlowOf(f)
	af.proto = appproto.DNS
	w.dnsMessage(e, af, f, m, fromOrig)
}

// streamRec is the transaction record a stream match is logged with,
// taken while the app parser reads the bytes the match ran on.
type streamRec struct {
	toServer bool
	taken    bool
	rec      json.RawMessage
}

// holdStream holds an alert of a stream rule until the app layer has read
// the same bytes (MatchStream runs first: flowbits a stream rule sets are
// seen by the transaction rules).
func (w *Worker) holdStream(a *alert.Alert) {
	w.streamHeld = append(w.streamHeld, a)
}

// streamApp emits the held stream alerts with the app record of their
// direction's transaction, as Suricata logs a stream match on an
// app-layer flow with the transaction it is inspecting in that
// direction: for HTTP the first transaction the bytes reached a
// progress point of (taken in httpTx), else the one still being parsed;
// for TLS and SSH the session.
func (w *Worker) streamApp(f *flows.Flow, toServer bool) {
	var rec json.RawMessage
	af := w.app.flows[f.ID]
	if af != nil && af.firstNs == f.FirstNs {
		switch af.proto {
		case appproto.HTTP1:
			rec = w.streamRec.rec
			if !w.streamRec.taken && af.http != nil {
				if tx := af.http.Current(toServer); tx != nil {
					rec = w.marshalRecord(lazyRecord{http: tx, w: w})
				}
			}
		case appproto.TLS:
			if af.tls != nil {
				rec = w.marshalRecord(lazyRecord{tls: af.tls, w: w})
			}
		case appproto.SSH:
			if af.ssh != nil {
				rec = w.marshalRecord(lazyRecord{ssh: af.ssh, w: w})
			}
		}
	}
	app := appproto.Proto(f.App).String()
	for i, a := range w.streamHeld {
		w.streamHeld[i] = nil
		if a.AppGate != nil {
			ok := a.AppGate(app)
			a.AppGate = nil
			if !ok {
				continue // the rule is for another app protocol than the flow's
			}
		}
		if a.App == nil && rec != nil {
			a.App = rec
			if a.AppProto == "" {
				a.AppProto = af.proto.String()
			}
		}
		w.emit(a)
	}
	w.streamHeld = w.streamHeld[:0]
	w.streamRec = streamRec{}
}

// marshalRecord encodes an app record (alerts only: it allocates).
func (w *Worker) marshalRecord(l lazyRecord) json.RawMessage {
	if l.empty() {
		return nil
	}
	raw, err := json.Marshal(l.record())
	if err != nil {
		return nil
	}
	return raw
}

// takeStreamTx records the transaction held stream alerts are logged
// with: the first one the direction's bytes moved on.
func (w *Worker) takeStreamTx(tx *apphttp.Tx, toServer bool) {
	if len(w.streamHeld) == 0 || w.streamRec.taken || w.streamRec.toServer != toServer {
		return
	}
	w.streamRec.taken = true
	w.streamRec.rec = w.marshalRecord(lazyRecord{http: tx, w: w})
}
