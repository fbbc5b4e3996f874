package rules

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// AppLayerProto is the app-layer-protocol keyword: the flow's detected
// protocol is (or, Negated, is not) Name.
type AppLayerProto struct {
	Name    string
	Negated bool
}

// Field is a transaction field a keyword compares.
type Field uint8

// Fields.
const (
	FieldDNSOpcode     Field = iota // dns.opcode
	FieldDNSRcode                   // dns.rcode
	FieldDNSRRType                  // dns.rrtype: any query's type
	FieldTLSVersion                 // tls.version: the handshake's version number (0x0303)
	FieldSSLVersion                 // ssl_version: SSLVer* bit of the version
	FieldSSLState                   // ssl_state: SSLState* bits of the messages seen
	FieldCertNotBefore              // tls_cert_notbefore: unix seconds
	FieldCertNotAfter               // tls_cert_notafter: unix seconds
	FieldCertExpired                // tls_cert_expired: 1 when notAfter is before the packet time
	FieldCertValid                  // tls_cert_valid: 1 when the packet time is within the validity
	FieldCertChainLen               // tls.cert_chain_len: certificates in the chain
)

var fieldApps = [...]string{"dns", "dns", "dns", "tls", "tls", "tls", "tls", "tls", "tls", "tls", "tls"}

// App is the app-layer protocol of the field.
func (f Field) App() string {
	if int(f) < len(fieldApps) {
		return fieldApps[f]
	}
	return ""
}

// Multi reports whether the field has several values (a match on one
// suffices).
func (f Field) Multi() bool { return f == FieldDNSRRType }

// Bits reports whether the field is a bit set (matched with Any/None).
func (f Field) Bits() bool { return f == FieldSSLVersion || f == FieldSSLState }

// FieldMatch is one field keyword.
type FieldMatch struct {
	Field Field
	N     Num // numeric fields
	// Index of a multi-valued field (Suricata 8's "value,index"):
	// IndexAny (the default: some value matches), IndexAll (every value
	// does, and there is one), else the value at Index (negative: from the
	// end).
	Index int
	// Bit fields: some bit of Any set (Any 0: no requirement) and no bit
	// of None.
	Any, None uint64
}

// Multi-value index modes (FieldMatch.Index).
const (
	IndexAny = 1 << 30
	IndexAll = IndexAny + 1
)

// Match reports whether value v satisfies m.
func (m *FieldMatch) Match(v uint64) bool {
	if m.Field.Bits() {
		return (m.Any == 0 || v&m.Any != 0) && v&m.None == 0
	}
	return m.N.Match(v)
}

// ssl_version bits.
const (
	SSLVer2 uint64 = 1 << iota
	SSLVer3
	SSLVerTLS10
	SSLVerTLS11
	SSLVerTLS12
	SSLVerTLS13
)

// ssl_state bits.
const (
	SSLStateClientHello uint64 = 1 << iota
	SSLStateServerHello
	SSLStateClientKeyx
	SSLStateServerKeyx
	SSLStateUnknown
)

// SSLVersionBit maps a TLS version number to its ssl_version bit (0 when
// unknown).
func SSLVersionBit(v uint16) uint64 {
	switch v {
	case 0x0002:
		return SSLVer2
	case 0x0300:
		return SSLVer3
	case 0x0301:
		return SSLVerTLS10
	case 0x0302:
		return SSLVerTLS11
	case 0x0303:
		return SSLVerTLS12
	case 0x0304, 0x7f1c:
		return SSLVerTLS13
	}
	return 0
}

// TransformKind is a transform keyword.
type TransformKind uint8

// Transforms.
const (
	XfDotPrefix TransformKind = iota
	XfStripWhitespace
	XfCompressWhitespace
	XfToLower
	XfToUpper
	XfURLDecode
	XfSHA256
	XfMD5
	XfSHA1
	XfHeaderLowercase
	XfStripPseudoHeaders
	XfXor
	XfPcrexform
)

var transformNames = map[string]TransformKind{
	"dotprefix":            XfDotPrefix,
	"strip_whitespace":     XfStripWhitespace,
	"compress_whitespace":  XfCompressWhitespace,
	"to_lowercase":         XfToLower,
	"to_uppercase":         XfToUpper,
	"url_decode":           XfURLDecode,
	"to_sha256":            XfSHA256,
	"to_md5":               XfMD5,
	"to_sha1":              XfSHA1,
	"header_lowercase":     XfHeaderLowercase,
	"strip_pseudo_headers": XfStripPseudoHeaders,
	"xor":                  XfXor,
	"pcrexform":            XfPcrexform,
}

// Transform is one transform applied to a buffer.
type Transform struct {
	Kind TransformKind
	Key  []byte         // xor
	Re   *regexp.Regexp // pcrexform: the buffer becomes the first capture
}

// BufferTransforms are the transforms applied, in order, to Buffer
// before its matches run.
type BufferTransforms struct {
	Buffer     Buffer
	Transforms []Transform
}

// TransformsOf returns the transforms of buffer b in r (nil: none).
func (r *Rule) TransformsOf(b Buffer) []Transform {
	for i := range r.Transforms {
		if r.Transforms[i].Buffer == b {
			return r.Transforms[i].Transforms
		}
	}
	return nil
}

// IsApp reports whether the rule is inspected on app-layer
// transactions: it names an app-layer buffer or field keyword.
func (r *Rule) IsApp() bool {
	if len(r.Fields) > 0 {
		return true
	}
	for _, m := range r.Matches {
		if m.Buf().App() {
			return true
		}
	}
	return false
}

// appProtoOfHeader maps header protocols with a parser here to their
// Suricata name and IP protocol (0: TCP and UDP).
var appProtoOfHeader = map[string]struct {
	app string
	l4  uint8
}{
	"http": {"http", 6}, "http1": {"http", 6}, "dns": {"dns", 0}, "tls": {"tls", 6}, "ssl": {"tls", 6}, "ssh": {"ssh", 6},
}

// appKeyword handles the app-layer keywords; ok false: not one.
func (p *parser) appKeyword(r *Rule, st *optState, k, v string) (bool, *ruleError) {
	if b, ok := BufferByName(k); ok {
		if v != "" {
			return true, malformed("%s takes no value", k)
		}
		if r.TransformsOf(b) != nil {
			return true, unsupported("buffer selected again after transforms:", k)
		}
		st.buf = b
		st.lastContent, st.lastMatch = nil, nil
		return true, nil
	}
	if name, ok := legacyModifiers[k]; ok {
		if v != "" {
			return true, malformed("%s takes no value", k)
		}
		c := st.lastContent
		if c == nil {
			return true, malformed("%s without a preceding content", k)
		}
		if c.Buffer != BufPayload {
			return true, malformed("%s on a content of %s", k, c.Buffer)
		}
		c.Buffer, _ = BufferByName(name)
		return true, nil
	}
	if xk, ok := transformNames[k]; ok {
		return true, p.transform(r, st, xk, k, v)
	}
	var err error
	switch k {
	case "uricontent":
		saved := st.buf
		st.buf, _ = BufferByName("http.uri")
		e := p.content(r, st, v)
		st.buf = saved
		return true, e
	case "urilen":
		num, raw := v, false
		if a, b, ok := strings.Cut(v, ","); ok {
			num = a
			switch strings.TrimSpace(b) {
			case "raw":
				raw = true
			case "norm":
			default:
				return true, malformed("urilen: bad option %q", trunc(b))
			}
		}
		n, e := parseNum(num, 65535)
		if e != nil {
			return true, malformed("urilen: %v", e)
		}
		b, _ := BufferByName("http.uri")
		if raw {
			b, _ = BufferByName("http.uri.raw")
		}
		r.Matches = append(r.Matches, &BSize{Buffer: b, Size: *n})
	case "dns.opcode", "dns.rcode":
		f := FieldDNSOpcode
		if k == "dns.rcode" {
			f = FieldDNSRcode
		}
		var n *Num
		if n, err = parseNum(v, 15); err == nil {
			r.Fields = append(r.Fields, FieldMatch{Field: f, N: *n})
		}
	case "dns.rrtype":
		val, idx, _ := strings.Cut(v, ",")
		var n *Num
		if n, err = parseRRType(val); err == nil {
			m := FieldMatch{Field: FieldDNSRRType, N: *n, Index: IndexAny}
			if m.Index, err = parseIndex(idx); err == nil {
				r.Fields = append(r.Fields, m)
			}
		}
	case "tls.cert_chain_len":
		var n *Num
		if n, err = parseNum(v, 65535); err == nil {
			r.Fields = append(r.Fields, FieldMatch{Field: FieldCertChainLen, N: *n})
		}
	case "tls.subject", "tls.issuerdn", "tls.fingerprint":
		// legacy value keywords: inclusion in the certificate's field
		// (case-sensitive, '!' negates), as a content on its buffer
		b, _ := BufferByName(map[string]string{"tls.subject": "tls.cert_subject", "tls.issuerdn": "tls.cert_issuer", "tls.fingerprint": "tls.cert_fingerprint"}[k])
		s := strings.TrimSpace(v)
		c := &Content{Buffer: b}
		if strings.HasPrefix(s, "!") {
			c.Negated, s = true, strings.TrimSpace(s[1:])
		}
		if q, ok := unquote(s); ok {
			s = q
		}
		if s == "" {
			return true, malformed("%s: empty value", k)
		}
		c.Pattern = []byte(unescape(s))
		r.Matches = append(r.Matches, c)
		st.lastContent, st.lastMatch = nil, c
	case "tls.version":
		var n uint64
		if n, err = parseTLSVersion(v); err == nil {
			r.Fields = append(r.Fields, FieldMatch{Field: FieldTLSVersion, N: Num{A: n}})
		}
	case "ssl_version":
		var m FieldMatch
		if m, err = parseSSLVersion(v); err == nil {
			r.Fields = append(r.Fields, m)
		}
	case "ssl_state":
		var ms []FieldMatch
		if ms, err = parseSSLState(v); err == nil {
			r.Fields = append(r.Fields, ms...)
		}
	case "tls_cert_notbefore", "tls_cert_notafter":
		f := FieldCertNotBefore
		if k == "tls_cert_notafter" {
			f = FieldCertNotAfter
		}
		var n Num
		if n, err = parseDateNum(v); err == nil {
			r.Fields = append(r.Fields, FieldMatch{Field: f, N: n})
		}
	case "tls_cert_expired", "tls_cert_valid":
		if v != "" {
			return true, malformed("%s takes no value", k)
		}
		f := FieldCertExpired
		if k == "tls_cert_valid" {
			f = FieldCertValid
		}
		r.Fields = append(r.Fields, FieldMatch{Field: f, N: Num{A: 1}})
	case "tls.store", "tls_store":
		// stores certificates on disk in Suricata: no effect on matching
	case "app-layer-protocol":
		var a AppLayerProto
		if a, err = parseAppLayerProto(v); err == nil {
			r.AppLayer = append(r.AppLayer, a)
		}
	default:
		return false, nil
	}
	if err != nil {
		return true, malformed("%s: %v", k, err)
	}
	return true, nil
}

func (p *parser) transform(r *Rule, st *optState, xk TransformKind, k, v string) *ruleError {
	if !st.buf.App() {
		return unsupported("transform on", st.buf.String())
	}
	t := Transform{Kind: xk}
	switch xk {
	case XfXor:
		s, ok := unquote(v)
		if !ok {
			return malformed("xor: key must be quoted")
		}
		b, err := parseContent("|" + s + "|")
		if err != nil {
			return malformed("xor: %v", err)
		}
		t.Key = b
	case XfPcrexform:
		s, ok := unquote(v)
		if !ok {
			return malformed("pcrexform must be quoted")
		}
		re, err := regexp.Compile(s)
		if err != nil || re.NumSubexp() < 1 {
			return unsupported("pcrexform", trunc(s))
		}
		t.Re = re
	default:
		if v != "" {
			return malformed("%s takes no value", k)
		}
	}
	for i := range r.Transforms {
		if r.Transforms[i].Buffer == st.buf {
			r.Transforms[i].Transforms = append(r.Transforms[i].Transforms, t)
			return nil
		}
	}
	r.Transforms = append(r.Transforms, BufferTransforms{Buffer: st.buf, Transforms: []Transform{t}})
	return nil
}

var rrTypes = map[string]uint64{
	"a": 1, "ns": 2, "cname": 5, "soa": 6, "ptr": 12, "hinfo": 13, "mx": 15, "txt": 16, "aaaa": 28, "srv": 33,
	"naptr": 35, "ds": 43, "rrsig": 46, "nsec": 47, "dnskey": 48, "nsec3": 50, "tlsa": 52, "svcb": 64, "https": 65,
	"any": 255, "caa": 257, "null": 10, "wks": 11, "axfr": 252,
}

func parseRRType(v string) (*Num, error) {
	if n, ok := rrTypes[strings.ToLower(strings.TrimSpace(v))]; ok {
		return &Num{A: n}, nil
	}
	return parseNum(v, 65535)
}

// parseIndex reads the index of a multi-value keyword: "" (any), "all",
// "any" or a number (negative: from the end).
func parseIndex(s string) (int, error) {
	switch s = strings.TrimSpace(s); s {
	case "", "any":
		return IndexAny, nil
	case "all", "all1":
		return IndexAll, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < -65535 || n > 65535 {
		return 0, fmt.Errorf("bad index %q", trunc(s))
	}
	return n, nil
}

func parseTLSVersion(v string) (uint64, error) {
	switch s := strings.TrimSpace(v); s {
	case "1.0":
		return 0x0301, nil
	case "1.1":
		return 0x0302, nil
	case "1.2":
		return 0x0303, nil
	case "1.3":
		return 0x0304, nil
	default:
		return parseUint(s, 0xffff)
	}
}

var sslVersions = map[string]uint64{
	"sslv2": SSLVer2, "sslv3": SSLVer3, "tls1.0": SSLVerTLS10, "tls1.1": SSLVerTLS11, "tls1.2": SSLVerTLS12, "tls1.3": SSLVerTLS13,
}

func parseSSLVersion(v string) (FieldMatch, error) {
	m := FieldMatch{Field: FieldSSLVersion}
	for _, x := range strings.Split(v, ",") {
		x = strings.ToLower(strings.TrimSpace(x))
		neg := strings.HasPrefix(x, "!")
		x = strings.TrimPrefix(x, "!")
		b, ok := sslVersions[x]
		if !ok {
			return m, fmt.Errorf("bad version %q", trunc(x))
		}
		if neg {
			m.None |= b
		} else {
			m.Any |= b
		}
	}
	return m, nil
}

var sslStates = map[string]uint64{
	"client_hello": SSLStateClientHello, "server_hello": SSLStateServerHello, "client_keyx": SSLStateClientKeyx,
	"server_keyx": SSLStateServerKeyx, "unknown": SSLStateUnknown,
}

// parseSSLState reads ssl_state: terms separated by ',' must all hold;
// a term is states joined by '|' (any of them seen) or "!state" (not
// seen).
func parseSSLState(v string) ([]FieldMatch, error) {
	var out []FieldMatch
	for _, term := range strings.Split(v, ",") {
		m := FieldMatch{Field: FieldSSLState}
		for _, x := range strings.Split(term, "|") {
			x = strings.ToLower(strings.TrimSpace(x))
			neg := strings.HasPrefix(x, "!")
			x = strings.TrimPrefix(x, "!")
			b, ok := sslStates[x]
			if !ok {
				return nil, fmt.Errorf("bad state %q", trunc(x))
			}
			if neg {
				m.None |= b
			} else {
				m.Any |= b
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// parseDateNum reads a tls_cert_notbefore/notafter value: [<>]date or
// date<>date, dates as YYYY, YYYY-MM, YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS
// (UTC) or unix seconds.
func parseDateNum(v string) (Num, error) {
	v = strings.TrimSpace(v)
	if a, b, ok := strings.Cut(v, "<>"); ok {
		x, err := parseDate(a)
		if err != nil {
			return Num{}, err
		}
		y, err := parseDate(b)
		if err != nil {
			return Num{}, err
		}
		return Num{Op: NumRange, A: x, B: y}, nil
	}
	n := Num{}
	switch {
	case strings.HasPrefix(v, "<"):
		n.Op, v = NumLt, v[1:]
	case strings.HasPrefix(v, ">"):
		n.Op, v = NumGt, v[1:]
	}
	x, err := parseDate(v)
	n.A = x
	return n, err
}

func parseDate(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	for _, l := range []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(l, s); err == nil {
			if t.Unix() < 0 {
				return 0, fmt.Errorf("date %q before 1970", trunc(s))
			}
			return uint64(t.Unix()), nil
		}
	}
	if n, err := strconv.ParseUint(s, 10, 63); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("bad date %q", trunc(s))
}

func parseAppLayerProto(v string) (AppLayerProto, error) {
	name, _, _ := strings.Cut(v, ",") // a mode (final, original, either...) is accepted: one protocol per flow here
	name = strings.ToLower(strings.TrimSpace(name))
	a := AppLayerProto{}
	if strings.HasPrefix(name, "!") {
		a.Negated, name = true, strings.TrimSpace(name[1:])
	}
	if x, ok := appProtoOfHeader[name]; ok {
		name = x.app
	} else if !appProtos[name] && name != "failed" && name != "unknown" {
		return a, fmt.Errorf("unknown protocol %q", trunc(name))
	}
	a.Name = name
	return a, nil
}

// finishApp checks that the rule's buffers, fields and header name one
// app-layer protocol and records it in r.Proto.App.
func finishApp(r *Rule) *ruleError {
	app := r.Proto.App
	set := func(a, what string) *ruleError {
		if a == "" {
			return nil
		}
		if app != "" && app != a {
			return &ruleError{reason: "unsupported mix of app-layer protocols", detail: app + " and " + a + " (" + what + ")"}
		}
		app = a
		return nil
	}
	for _, m := range r.Matches {
		if e := set(m.Buf().Info().App, m.Buf().String()); e != nil {
			return e
		}
	}
	for _, f := range r.Fields {
		if e := set(f.Field.App(), "field keyword"); e != nil {
			return e
		}
	}
	if app != "" && r.Proto.App == "" {
		switch r.Proto.L4 {
		case 0:
			if app != "dns" {
				r.Proto.L4 = 6
			}
		case 6:
		case 17:
			if app != "dns" {
				return malformed("%s buffers on a %s rule", app, r.Proto.Name)
			}
		default:
			return malformed("%s buffers on a %s rule", app, r.Proto.Name)
		}
	}
	r.Proto.App = app
	if app != "" && r.Proto.Stream != StreamAny {
		return malformed("%s buffers on a %s rule", app, r.Proto.Name)
	}
	return nil
}
