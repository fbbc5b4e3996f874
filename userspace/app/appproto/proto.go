// Package appproto detects the application protocol of a flow from its
// first bytes in each direction, not from its ports, as Suricata's protocol
// detection does (pattern matching plus probing parsers). The names it
// writes and reads are Suricata's, so `app-layer-protocol:` and the EVE
// `app_proto` field mean what they mean in Suricata.
//
// The package imports no other xdpids package.
package appproto

// Proto is an application protocol as detection decides it.
type Proto uint8

// The protocols xdpids detects. Unknown means "not decided yet"; Failed
// means detection gave up on the direction (Suricata's ALPROTO_FAILED).
const (
	Unknown Proto = iota
	HTTP1
	DNS
	TLS
	SSH
	Failed
	numProtos
)

// names are the strings Suricata writes in EVE app_proto. HTTP/1 is "http":
// Suricata's AppProtoToString special-cases ALPROTO_HTTP1 to "http" (the
// rule keyword also accepts "http1").
var names = [numProtos]string{
	Unknown: "unknown",
	HTTP1:   "http",
	DNS:     "dns",
	TLS:     "tls",
	SSH:     "ssh",
	Failed:  "failed",
}

// String returns Suricata's name of p, as EVE app_proto writes it.
func (p Proto) String() string {
	if p < numProtos {
		return names[p]
	}
	return "unknown"
}

// Decided reports whether p is a final answer (a protocol or Failed).
func (p Proto) Decided() bool { return p != Unknown && p < numProtos }

// aliases maps every name the rule keyword accepts for a protocol xdpids
// supports. "http" in Suricata 7+ is ALPROTO_HTTP, "HTTP/1 or HTTP/2"; xdpids
// parses no HTTP/2, so it is HTTP/1 here ("http_any" is its EVE spelling).
var aliases = map[string]Proto{
	"unknown":  Unknown,
	"http":     HTTP1,
	"http1":    HTTP1,
	"http_any": HTTP1,
	"dns":      DNS,
	"tls":      TLS,
	"ssh":      SSH,
	"failed":   Failed,
}

// unsupported are the other app-layer protocol names Suricata (7 to 9)
// knows: a rule naming one is valid Suricata but cannot be served here.
var unsupported = map[string]bool{
	"http2": true, "ftp": true, "ftp-data": true, "smtp": true, "imap": true,
	"pop3": true, "smb": true, "dcerpc": true, "nfs": true, "ntp": true,
	"tftp": true, "ike": true, "krb5": true, "quic": true, "dhcp": true,
	"snmp": true, "sip": true, "rfb": true, "mqtt": true, "pgsql": true,
	"telnet": true, "websocket": true, "ldap": true, "doh2": true,
	"rdp": true, "modbus": true, "dnp3": true, "enip": true, "jabber": true,
	"irc": true, "bittorrent-dht": true, "mdns": true, "template": true,
	"ikev2": true, "msn": true,
}

// ParseName parses the value of the rule keyword app-layer-protocol (the
// protocol part, without "!" or the ",mode" suffix). ok is false for a name
// xdpids cannot serve; Unsupported tells a name Suricata knows from a typo.
func ParseName(s string) (Proto, bool) {
	p, ok := aliases[s]
	return p, ok
}

// Unsupported reports whether s is an application protocol Suricata knows
// and xdpids does not detect, so a rule loader can say "unsupported
// protocol s" rather than "unknown protocol s".
func Unsupported(s string) bool { return unsupported[s] }
