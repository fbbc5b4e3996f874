package apphttp

// Progress says which part of a transaction has just completed.
type Progress uint8

// Progress points, in the order they are reached for one transaction (the
// response may complete before the request when a server answers early).
const (
	ReqHeaders  Progress = iota + 1 // request line and headers complete
	ReqBody                         // request complete (body, if any, included)
	RespHeaders                     // status line and response headers complete
	RespBody                        // response complete
)

// field is one header field: a name and a value (repetitions merged with
// ", " as libhtp does), as offsets into the message arena.
type field struct {
	name, value span
	repeated    bool
}

// span is a byte range of a message arena. Offsets rather than slices, so
// the arena can grow.
type span struct{ off, n int32 }

// message is one direction of a transaction: the request or the response.
type message struct {
	arena  []byte  // start line, header names and values
	raw    []byte  // raw header block as received (http.header.raw)
	fields []field // header fields in first-seen order
	line   span    // request or status line without its line end
	proto  span
	body   []byte // dechunked, decoded body, up to the inspection limit
	enc    []byte // dechunked body before decoding (when encoded)
	encs   [4]byte
	nencs  int

	bodyLen    int64 // dechunked body bytes seen
	messageLen int64 // body bytes on the wire (chunk framing included)
	clen       int64 // parsed Content-Length, -1 when absent
	chunked    bool
	hdrLimit   bool
	started    bool
	headersOK  bool
	done       bool
}

func (m *message) reset() {
	m.arena = m.arena[:0]
	m.raw = m.raw[:0]
	m.fields = m.fields[:0]
	m.line, m.proto = span{}, span{}
	m.body = m.body[:0]
	m.enc = m.enc[:0]
	m.nencs = 0
	m.bodyLen, m.messageLen, m.clen = 0, 0, -1
	m.chunked, m.hdrLimit, m.started, m.headersOK, m.done = false, false, false, false, false
}

func (m *message) get(s span) []byte {
	if s.n == 0 {
		return nil
	}
	return m.arena[s.off : s.off+s.n : s.off+s.n]
}

func (m *message) put(b []byte) span {
	s := span{int32(len(m.arena)), int32(len(b))}
	m.arena = append(m.arena, b...)
	return s
}

// lookup returns the field whose name equals name, ignoring ASCII case
// and NUL bytes (htp_table_get_c compares with bstr_cmp_c_nocasenorzero).
func (m *message) lookup(name string) *field {
	for i := range m.fields {
		if equalFoldNoZero(m.get(m.fields[i].name), name) {
			return &m.fields[i]
		}
	}
	return nil
}

// Tx is one HTTP request/response exchange. Slices are views into buffers
// the Conn reuses: valid until the emit callback returns.
type Tx struct {
	// ID numbers the transactions of a connection from 0, as Suricata's tx_id.
	ID uint64
	// Method, URIRaw (as sent), URINorm (http.uri) and Protocol (of the
	// request) come from the request line.
	Method, URIRaw, URINorm, Protocol []byte
	// Status is the response status code, 0 when absent or invalid;
	// StatusText is the code as sent (http.stat_code), StatusMsg the reason.
	Status                           int
	StatusText, StatusMsg, RespProto []byte
	// Host is the normalised host (http.host): from an absolute URI first,
	// else the Host header, lower-cased, port stripped. Port is the port
	// given with it, 0 when none.
	Host []byte
	Port int
	// Flags records anomalies and limits hit.
	Flags Flag
	// StartNs and EndNs are the timestamps of the first request byte and of
	// the last byte of the transaction.
	StartNs, EndNs int64

	req, resp message
	hostRaw   []byte // parsed URI host as sent, for http.host.raw
	uriBuf    []byte
	hostBuf   []byte
	is09      bool
	connect   bool
	head      bool
	seen100   bool
	reqDone   bool
	respDone  bool

	built [numBuf * 2]bool
	bufs  [numBuf * 2][]byte
}

func (t *Tx) reset(id uint64) {
	t.ID = id
	t.Method, t.URIRaw, t.URINorm, t.Protocol = nil, nil, nil, nil
	t.Status, t.StatusText, t.StatusMsg, t.RespProto = 0, nil, nil, nil
	t.Host, t.Port, t.Flags, t.StartNs, t.EndNs = nil, 0, 0, 0, 0
	t.req.reset()
	t.resp.reset()
	t.hostRaw = nil
	t.uriBuf = t.uriBuf[:0]
	t.hostBuf = t.hostBuf[:0]
	t.is09, t.connect, t.head, t.seen100, t.reqDone, t.respDone = false, false, false, false, false, false
	t.built = [numBuf * 2]bool{}
}

func (t *Tx) msg(toServer bool) *message {
	if toServer {
		return &t.req
	}
	return &t.resp
}

// Header returns the value of the named header of the request (toServer) or
// the response, repetitions merged with ", ", the name compared ignoring case.
func (t *Tx) Header(name string, toServer bool) ([]byte, bool) {
	m := t.msg(toServer)
	f := m.lookup(name)
	if f == nil {
		return nil, false
	}
	return m.get(f.value), true
}

// Headers calls fn for each header field of one direction, in order.
func (t *Tx) Headers(toServer bool, fn func(name, value []byte)) {
	m := t.msg(toServer)
	for i := range m.fields {
		fn(m.get(m.fields[i].name), m.get(m.fields[i].value))
	}
}

// RequestBodyLen and ResponseBodyLen are the dechunked body lengths seen on
// the wire (before decoding), whatever was kept.
func (t *Tx) RequestBodyLen() int64  { return t.req.bodyLen }
func (t *Tx) ResponseBodyLen() int64 { return t.resp.bodyLen }

// RequestComplete and ResponseComplete report whether each side is complete.
func (t *Tx) RequestComplete() bool  { return t.reqDone }
func (t *Tx) ResponseComplete() bool { return t.respDone }

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 32
	}
	return c
}
