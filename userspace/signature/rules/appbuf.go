package rules

// Dir is the set of flow directions an app-layer buffer exists in.
type Dir uint8

// Directions (bits).
const (
	DirToServer Dir = 1 << iota
	DirToClient
	DirBoth = DirToServer | DirToClient
)

// BufferInfo describes an app-layer sticky buffer.
type BufferInfo struct {
	Name string // Suricata's name: http.uri, dns.query, tls.sni, ...
	App  string // app-layer protocol (Suricata's name): http, dns, tls, ssh
	Dir  Dir    // directions it exists in: a to_server buffer is read from the request
	// Multi: the buffer is a list (tls.certs, dns.query): a chain matches
	// when it matches one item.
	Multi bool
}

// appBuffers are the app-layer buffers; Buffer numPacketBuffers+i is
// appBuffers[i]. The table follows Suricata 7's sticky buffer keywords.
var appBuffers = []BufferInfo{
	{"http.uri", "http", DirToServer, false},
	{"http.uri.raw", "http", DirToServer, false},
	{"http.method", "http", DirToServer, false},
	{"http.request_line", "http", DirToServer, false},
	{"http.protocol", "http", DirBoth, false},
	{"http.header", "http", DirBoth, false},
	{"http.header.raw", "http", DirBoth, false},
	{"http.header_names", "http", DirBoth, false},
	{"http.host", "http", DirToServer, false},
	{"http.host.raw", "http", DirToServer, false},
	{"http.user_agent", "http", DirToServer, false},
	{"http.cookie", "http", DirBoth, false},
	{"http.content_type", "http", DirBoth, false},
	{"http.content_len", "http", DirBoth, false},
	{"http.accept", "http", DirToServer, false},
	{"http.accept_enc", "http", DirToServer, false},
	{"http.accept_lang", "http", DirToServer, false},
	{"http.referer", "http", DirToServer, false},
	{"http.connection", "http", DirBoth, false},
	{"http.start", "http", DirBoth, false},
	{"http.request_body", "http", DirToServer, false},
	{"http.stat_code", "http", DirToClient, false},
	{"http.stat_msg", "http", DirToClient, false},
	{"http.response_line", "http", DirToClient, false},
	{"http.response_body", "http", DirToClient, false},
	{"http.server", "http", DirToClient, false},
	{"http.location", "http", DirToClient, false},
	{"file.data", "http", DirBoth, false},
	{"http.request_header", "http", DirToServer, true},  // "Name: Value" per header
	{"http.response_header", "http", DirToClient, true}, // "Name: Value" per header

	{"dns.query", "dns", DirToServer, true},
	{"dns.query.name", "dns", DirBoth, true},
	{"dns.queries.rrname", "dns", DirBoth, true},
	{"dns.answer.name", "dns", DirToClient, true},
	{"dns.answers.rrname", "dns", DirToClient, true},
	{"dns.authorities.rrname", "dns", DirToClient, true},
	{"dns.additionals.rrname", "dns", DirToClient, true},
	{"dns.response.rrname", "dns", DirToClient, true},

	{"tls.sni", "tls", DirToServer, false},
	{"tls.cert_subject", "tls", DirBoth, false},
	{"tls.cert_issuer", "tls", DirBoth, false},
	{"tls.cert_serial", "tls", DirBoth, false},
	{"tls.cert_fingerprint", "tls", DirBoth, false},
	{"tls.certs", "tls", DirBoth, true},
	{"tls.subjectaltname", "tls", DirBoth, true},
	{"tls.alpn", "tls", DirBoth, true},
	{"tls.random", "tls", DirBoth, false},
	{"tls.random_time", "tls", DirBoth, false},
	{"tls.random_bytes", "tls", DirBoth, false},
	{"ja3.hash", "tls", DirToServer, false},
	{"ja3.string", "tls", DirToServer, false},
	{"ja3s.hash", "tls", DirToClient, false},
	{"ja3s.string", "tls", DirToClient, false},
	{"ja4.hash", "tls", DirToServer, false},

	{"ssh.proto", "ssh", DirBoth, false},
	{"ssh.software", "ssh", DirBoth, false},
	{"ssh.hassh", "ssh", DirToServer, false},
	{"ssh.hassh.string", "ssh", DirToServer, false},
	{"ssh.hassh.server", "ssh", DirToClient, false},
	{"ssh.hassh.server.string", "ssh", DirToClient, false},
}

// bufferAliases are older or alternative spellings of sticky buffers.
var bufferAliases = map[string]string{
	"file_data":            "file.data",
	"http_request_line":    "http.request_line", // also a legacy modifier
	"tls_sni":              "tls.sni",
	"tls_cert_subject":     "tls.cert_subject",
	"tls_cert_issuer":      "tls.cert_issuer",
	"tls_cert_serial":      "tls.cert_serial",
	"tls_cert_fingerprint": "tls.cert_fingerprint",
	"ja3_hash":             "ja3.hash",
	"ja3_string":           "ja3.string",
	"ja3s_hash":            "ja3s.hash",
	"ja3s_string":          "ja3s.string",
	"ssh_proto":            "ssh.proto",
	"ssh_software":         "ssh.software",
	"hassh":                "ssh.hassh",
	"hassh.string":         "ssh.hassh.string",
	"hassh.server":         "ssh.hassh.server",
	"hassh.server.string":  "ssh.hassh.server.string",
	"dns_query":            "dns.query",
}

// legacyModifiers are the content modifiers (content:"x"; http_uri;)
// that move the content before them to a buffer.
var legacyModifiers = map[string]string{
	"http_uri":           "http.uri",
	"http_raw_uri":       "http.uri.raw",
	"http_method":        "http.method",
	"http_protocol":      "http.protocol",
	"http_header":        "http.header",
	"http_raw_header":    "http.header.raw",
	"http_header_names":  "http.header_names",
	"http_host":          "http.host",
	"http_raw_host":      "http.host.raw",
	"http_user_agent":    "http.user_agent",
	"http_cookie":        "http.cookie",
	"http_content_type":  "http.content_type",
	"http_content_len":   "http.content_len",
	"http_accept":        "http.accept",
	"http_accept_enc":    "http.accept_enc",
	"http_accept_lang":   "http.accept_lang",
	"http_referer":       "http.referer",
	"http_connection":    "http.connection",
	"http_start":         "http.start",
	"http_client_body":   "http.request_body",
	"http_stat_code":     "http.stat_code",
	"http_stat_msg":      "http.stat_msg",
	"http_server_body":   "http.response_body",
	"http_response_line": "http.response_line",
}

// pcreBufferFlags are pcre's HTTP modifiers: /U binds the pcre to
// http.uri, and so on (Suricata's detect-pcre.c).
var pcreBufferFlags = map[byte]string{
	'U': "http.uri",
	'I': "http.uri.raw",
	'H': "http.header",
	'D': "http.header.raw",
	'M': "http.method",
	'C': "http.cookie",
	'P': "http.request_body",
	'Q': "file.data",
	'S': "http.stat_code",
	'Y': "http.stat_msg",
	'V': "http.user_agent",
	'W': "http.host",
	'Z': "http.host.raw",
}

var appBufferByName = func() map[string]Buffer {
	m := make(map[string]Buffer, len(appBuffers))
	for i, b := range appBuffers {
		m[b.Name] = numPacketBuffers + Buffer(i)
	}
	return m
}()

// BufferByName returns the app-layer buffer named name (Suricata's name
// or an alias).
func BufferByName(name string) (Buffer, bool) {
	if a, ok := bufferAliases[name]; ok {
		name = a
	}
	b, ok := appBufferByName[name]
	return b, ok
}

// App reports whether b is an app-layer buffer.
func (b Buffer) App() bool { return b >= numPacketBuffers && int(b) < NumBuffers }

// Info describes an app-layer buffer (zero for packet buffers).
func (b Buffer) Info() BufferInfo {
	if !b.App() {
		return BufferInfo{}
	}
	return appBuffers[b-numPacketBuffers]
}

// AppBuffers lists every app-layer buffer.
func AppBuffers() []Buffer {
	out := make([]Buffer, len(appBuffers))
	for i := range appBuffers {
		out[i] = numPacketBuffers + Buffer(i)
	}
	return out
}
