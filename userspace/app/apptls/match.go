package apptls

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Matcher is a parsed keyword: it reports whether the connection matches,
// inspected in one direction (Suricata's STREAM_TOSERVER or TOCLIENT:
// the version and certificate keywords read that direction's side).
type Matcher func(c *Conn, toServer bool) bool

// TimeMatcher is a keyword that also needs the packet time (Unix seconds).
type TimeMatcher func(c *Conn, toServer bool, now int64) bool

// sslVersions are ssl_version's words (detect-ssl-version.c).
var sslVersions = []struct {
	word string
	ver  uint16
}{
	{"sslv2", sslVersion2}, {"sslv3", 0x0300}, {"tls1.0", 0x0301},
	{"tls1.1", 0x0302}, {"tls1.2", 0x0303}, {"tls1.3", 0x0304},
}

// MatchSSLVersion parses ssl_version's value ("sslv3", "tls1.2,tls1.3",
// "!sslv2": a leading '!' negates the whole list) as Suricata does. It
// matches the direction's version (Conn.Version); an unknown version
// never matches, negated or not.
func MatchSSLVersion(spec string) (Matcher, error) {
	s := strings.TrimSpace(spec)
	neg := strings.HasPrefix(s, "!")
	s = strings.TrimPrefix(s, "!")
	var want [6]bool
	n := 0
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		found := false
		for i, v := range sslVersions {
			if strings.EqualFold(w, v.word) {
				if want[i] {
					return nil, fmt.Errorf("ssl_version %q: duplicate %q", spec, w)
				}
				want[i], found = true, true
				n++
			}
		}
		if !found {
			return nil, fmt.Errorf("ssl_version %q: unknown version %q", spec, w)
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("ssl_version %q: empty value", spec)
	}
	return func(c *Conn, toServer bool) bool {
		v := c.Version(toServer)
		if v>>8 == 0x7f {
			v = 0x0304 // the TLS 1.3 drafts count as TLS 1.3
		}
		for i, sv := range sslVersions {
			if sv.ver == v {
				return want[i] != neg
			}
		}
		return false
	}, nil
}

// sslStates are ssl_state's words (detect-ssl-state.c).
var sslStates = map[string]StateFlags{
	"client_hello": FlagClientHello,
	"server_hello": FlagServerHello,
	"client_keyx":  FlagClientKeyExchange,
	"server_keyx":  FlagServerKeyExchange,
	"unknown":      FlagUnknown,
}

// MatchSSLState parses ssl_state's value ("client_hello|server_hello",
// each word may be negated with '!'). As Suricata, it tests the state of
// the last handshake message parsed (current_flags):
// (flags & current) ^ negated != 0. Both directions see the same state.
func MatchSSLState(spec string) (Matcher, error) {
	var flags, mask StateFlags
	for _, w := range strings.Split(spec, "|") {
		w = strings.TrimSpace(w)
		neg := strings.HasPrefix(w, "!")
		w = strings.TrimSpace(strings.TrimPrefix(w, "!"))
		f, ok := sslStates[w]
		if !ok {
			return nil, fmt.Errorf("ssl_state %q: unknown state %q", spec, w)
		}
		flags |= f
		if neg {
			mask |= f
		}
	}
	return func(c *Conn, _ bool) bool { return (flags&c.cur)^mask != 0 }, nil
}

// MatchTLSVersion parses tls.version's value: "1.0" to "1.3" (TLS 1.3
// drafts match "1.3"), or a raw "0x0303" compared as is.
func MatchTLSVersion(spec string) (Matcher, error) {
	s := strings.Trim(strings.TrimSpace(spec), `"`)
	var want uint16
	raw := false
	switch s {
	case "1.0":
		want = 0x0301
	case "1.1":
		want = 0x0302
	case "1.2":
		want = 0x0303
	case "1.3":
		want = 0x0304
	default:
		if !strings.HasPrefix(s, "0x") {
			return nil, fmt.Errorf("tls.version %q: want 1.0, 1.1, 1.2, 1.3 or 0xNNNN", spec)
		}
		v, err := strconv.ParseUint(s[2:], 16, 16)
		if err != nil {
			return nil, fmt.Errorf("tls.version %q: %w", spec, err)
		}
		want, raw = uint16(v), true
	}
	return func(c *Conn, toServer bool) bool {
		v := c.Version(toServer)
		if !raw && v>>8 == 0x7f {
			v = 0x0304
		}
		return v == want
	}, nil
}

// uintMatch is Suricata's generic unsigned-integer keyword value.
type uintMatch struct {
	op   string
	a, b uint64
}

func (m uintMatch) match(v uint64) bool {
	switch m.op {
	case "=":
		return v == m.a
	case "!":
		return v != m.a
	case "<":
		return v < m.a
	case "<=":
		return v <= m.a
	case ">":
		return v > m.a
	case ">=":
		return v >= m.a
	}
	return v > m.a && v < m.b // "a-b" and "a<>b": exclusive range
}

func parseUint(spec string) (uintMatch, error) {
	s := strings.TrimSpace(spec)
	for _, sep := range []string{"<>", "-"} {
		if a, b, ok := strings.Cut(s, sep); ok && a != "" {
			x, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 64)
			y, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 64)
			if err := errors.Join(err1, err2); err != nil {
				return uintMatch{}, err
			}
			if x >= y {
				return uintMatch{}, fmt.Errorf("empty range %d to %d", x, y)
			}
			return uintMatch{op: "range", a: x, b: y}, nil
		}
	}
	op := "="
	for _, p := range []string{"<=", ">=", "<", ">", "!"} {
		if strings.HasPrefix(s, p) {
			op, s = p, strings.TrimSpace(s[len(p):])
			break
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return uintMatch{}, err
	}
	return uintMatch{op: op, a: v}, nil
}

// MatchCertChainLen parses tls.cert_chain_len's value ("3", "<4", ">0",
// "!2", "0<>4", "1-5"): the number of certificates in the direction's
// Certificate message.
func MatchCertChainLen(spec string) (Matcher, error) {
	m, err := parseUint(spec)
	if err != nil {
		return nil, fmt.Errorf("tls.cert_chain_len %q: %w", spec, err)
	}
	return func(c *Conn, toServer bool) bool {
		cs := c.Certs(toServer)
		return cs.Seen && m.match(uint64(cs.ChainLen))
	}, nil
}

// dateLayouts are the forms tls_cert_notbefore/notafter accept
// (detect-tls-cert-validity.c), read as UTC.
var dateLayouts = []string{
	"2006-01", "2006-01-02", "2006-01-02 15", "2006-01-02 15:04", "2006-01-02 15:04:05",
	"2006-01-02T15", "2006-01-02T15:04", "2006-01-02T15:04:05",
}

// parseDate reads a date: the layouts above; digits alone are a year when
// four or fewer (the corpus's "tls_cert_notafter:>2015" means the year),
// else Unix seconds.
func parseDate(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s != "" && strings.Trim(s, "0123456789") == "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, err
		}
		if len(s) <= 4 {
			return time.Date(int(v), 1, 1, 0, 0, 0, 0, time.UTC).Unix(), nil
		}
		return v, nil
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.Unix(), nil
		}
	}
	return 0, fmt.Errorf("bad date %q", s)
}

// MatchCertDate parses tls_cert_notbefore or tls_cert_notafter (keyword
// names which) values: "<date", ">date", "date" (equal), "date<>date"
// (exclusive range), on the direction's first certificate.
func MatchCertDate(keyword, spec string) (Matcher, error) {
	after := false
	switch keyword {
	case "tls_cert_notbefore":
	case "tls_cert_notafter":
		after = true
	default:
		return nil, fmt.Errorf("%s: not a certificate date keyword", keyword)
	}
	s := strings.TrimSpace(spec)
	op := "="
	var a, b int64
	var err error
	if x, y, ok := strings.Cut(s, "<>"); ok {
		op = "range"
		if a, err = parseDate(x); err == nil {
			b, err = parseDate(y)
		}
	} else {
		if strings.HasPrefix(s, "<") || strings.HasPrefix(s, ">") {
			op, s = s[:1], s[1:]
		}
		a, err = parseDate(s)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", keyword, spec, err)
	}
	return func(c *Conn, toServer bool) bool {
		cs := c.Certs(toServer)
		if !cs.Parsed {
			return false
		}
		v := cs.NotBefore
		if after {
			v = cs.NotAfter
		}
		switch op {
		case "<":
			return v < a
		case ">":
			return v > a
		case "range":
			return v > a && v < b
		}
		return v == a
	}, nil
}

// MatchCertExpired is tls_cert_expired (valid false) or tls_cert_valid
// (valid true), which take no value: the direction's first certificate's
// notAfter is before (expired) or not before (valid) the packet time.
func MatchCertExpired(valid bool) TimeMatcher {
	return func(c *Conn, toServer bool, now int64) bool {
		cs := c.Certs(toServer)
		if !cs.Parsed {
			return false
		}
		return (cs.NotAfter < now) != valid
	}
}

// MatchLegacy parses the legacy value keywords tls.subject, tls.issuerdn
// and tls.fingerprint (`tls.subject:"CN=x"`, `tls.issuerdn:!"CN=y"`):
// case-sensitive inclusion in the direction's first certificate's field,
// a leading '!' negating it.
func MatchLegacy(keyword, spec string) (Matcher, error) {
	s := strings.TrimSpace(spec)
	neg := strings.HasPrefix(s, "!")
	s = strings.TrimSpace(strings.TrimPrefix(s, "!"))
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if s == "" {
		return nil, fmt.Errorf("%s %q: empty value", keyword, spec)
	}
	want := []byte(s)
	var field func(*Certs) []byte
	switch keyword {
	case "tls.subject":
		field = func(cs *Certs) []byte { return cs.Subject }
	case "tls.issuerdn":
		field = func(cs *Certs) []byte { return cs.Issuer }
	case "tls.fingerprint":
		want = bytes.ToLower(want)
		field = func(cs *Certs) []byte { return cs.Fingerprint }
	default:
		return nil, fmt.Errorf("%s: not a legacy tls value keyword", keyword)
	}
	return func(c *Conn, toServer bool) bool {
		cs := c.Certs(toServer)
		if !cs.Parsed {
			return false
		}
		return bytes.Contains(field(cs), want) != neg
	}, nil
}
