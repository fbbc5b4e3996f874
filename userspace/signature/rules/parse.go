package rules

import (
	"bufio"
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// DefaultRules is xdpids' own small rule set (sids 8500000-8599999):
// obvious attacks any server should hear about.
//
//go:embed default.rules
var DefaultRules string

// LoadFiles parses the rule files at paths with vars (zero Vars: the
// defaults). It returns the rules loaded and every rule skipped with its
// reason; the error is for a file that cannot be read (the other files
// are still loaded).
func LoadFiles(paths []string, vars Vars) (*Set, []Skipped, error) {
	set := &Set{}
	var skipped []Skipped
	var errs []error
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("read rules: %w", err))
			continue
		}
		s, sk := Parse(string(data), p, vars)
		skipped = append(skipped, sk...)
		skipped = append(skipped, set.Merge(s)...)
	}
	return set, skipped, errors.Join(errs...)
}

// Parse parses the rules in text (file names them in reports) with vars
// (zero Vars: the defaults) and the default classtypes.
func Parse(text, file string, vars Vars) (*Set, []Skipped) {
	return ParseWith(text, file, vars, nil)
}

// ParseWith is Parse with a classtype table (nil: DefaultClasstypes).
func ParseWith(text, file string, vars Vars, classes Classtypes) (*Set, []Skipped) {
	if classes == nil {
		classes = defaultClasses
	}
	if vars.Addr == nil && vars.Port == nil {
		vars = defaultVars
	}
	p := &parser{file: file, vars: &vars, classes: classes}
	set := &Set{}
	var skipped []Skipped
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	lineNo := 0
	var cur strings.Builder
	start := 0
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		if line[0] == '#' {
			if isDisabledRule(line[1:]) {
				set.Disabled++
			}
			return
		}
		r, sk := p.parseRule(line, start)
		if sk != nil {
			skipped = append(skipped, *sk)
			return
		}
		if d := set.Add(r); d != nil {
			skipped = append(skipped, *d)
		}
	}
	for sc.Scan() {
		lineNo++
		l := sc.Text()
		if cur.Len() == 0 {
			start = lineNo
		}
		t := strings.TrimRight(l, " \t\r")
		if strings.HasSuffix(t, "\\") {
			cur.WriteString(t[:len(t)-1])
			continue
		}
		cur.WriteString(l)
		flush()
	}
	if err := sc.Err(); err != nil {
		skipped = append(skipped, Skipped{File: file, Line: lineNo + 1, Reason: "malformed rule", Detail: err.Error()})
	}
	flush()
	return set, skipped
}

var (
	defaultClasses = DefaultClasstypes()
	defaultVars    = DefaultVars()
)

func isDisabledRule(s string) bool {
	s = strings.TrimLeft(s, " \t#")
	for _, a := range actionNames {
		if strings.HasPrefix(s, a+" ") {
			return strings.Contains(s, "(") && strings.Contains(s, "sid")
		}
	}
	return false
}

type parser struct {
	file    string
	vars    *Vars
	classes Classtypes
}

// ruleError is a reason to skip a rule.
type ruleError struct {
	reason, detail string
}

func (e *ruleError) Error() string { return e.reason + ": " + e.detail }

func malformed(format string, args ...any) *ruleError {
	return &ruleError{reason: "malformed rule", detail: fmt.Sprintf(format, args...)}
}

func unsupported(kind, what string) *ruleError {
	return &ruleError{reason: "unsupported " + kind + " " + what}
}

func (p *parser) parseRule(line string, lineNo int) (rule *Rule, sk *Skipped) {
	r := &Rule{File: p.file, Line: lineNo, GID: 1}
	defer func() {
		// The parser must never take the process down on a rule file:
		// anything unexpected becomes a skipped, malformed rule.
		if x := recover(); x != nil {
			rule, sk = nil, &Skipped{File: p.file, Line: lineNo, SID: r.SID, Reason: "malformed rule", Detail: fmt.Sprintf("parser error: %v", x)}
		}
	}()
	open := strings.IndexByte(line, '(')
	close := strings.LastIndexByte(line, ')')
	if open < 0 || close < open {
		return nil, &Skipped{File: p.file, Line: lineNo, Reason: "malformed rule", Detail: "no option list in parentheses"}
	}
	opts, err := splitOptions(line[open+1 : close])
	r.SID = sidOf(opts)
	fail := func(e *ruleError) (*Rule, *Skipped) {
		return nil, &Skipped{File: p.file, Line: lineNo, SID: r.SID, Reason: e.reason, Detail: e.detail}
	}
	if err != nil {
		return fail(malformed("%v", err))
	}
	if rest := strings.TrimSpace(line[close+1:]); rest != "" {
		return fail(malformed("text after the option list: %q", trunc(rest)))
	}
	if e := p.parseHeader(r, line[:open]); e != nil {
		return fail(e)
	}
	if e := p.parseOptions(r, opts); e != nil {
		return fail(e)
	}
	if e := p.finish(r); e != nil {
		return fail(e)
	}
	return r, nil
}

func trunc(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

type option struct{ key, val string }

// splitOptions splits "k:v; k; ..." on semicolons not escaped with '\'
// and outside double quotes.
func splitOptions(s string) ([]option, error) {
	var out []option
	var cur strings.Builder
	inQuote := false
	emit := func() error {
		o := strings.TrimSpace(cur.String())
		cur.Reset()
		if o == "" {
			return nil
		}
		k, v, _ := strings.Cut(o, ":")
		k = strings.TrimSpace(k)
		if k == "" {
			return fmt.Errorf("option with no keyword: %q", trunc(o))
		}
		out = append(out, option{k, strings.TrimSpace(v)})
		return nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			cur.WriteByte(c)
			cur.WriteByte(s[i+1])
			i++
		case c == '"':
			inQuote = !inQuote
			cur.WriteByte(c)
		case c == ';' && !inQuote:
			if err := emit(); err != nil {
				return nil, err
			}
		default:
			cur.WriteByte(c)
		}
	}
	if inQuote {
		return nil, fmt.Errorf("unterminated quote")
	}
	if strings.TrimSpace(cur.String()) != "" {
		return nil, fmt.Errorf("last option not terminated with ';'")
	}
	return out, nil
}

func sidOf(opts []option) uint32 {
	for _, o := range opts {
		if o.key == "sid" {
			v, err := strconv.ParseUint(strings.TrimSpace(o.val), 10, 32)
			if err == nil {
				return uint32(v)
			}
		}
	}
	return 0
}

// headerFields splits the header on whitespace outside brackets.
func headerFields(s string) ([]string, error) {
	var out []string
	depth, start := 0, -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '[':
			depth++
		case c == ']':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("unbalanced brackets in header")
			}
		}
		space := c == ' ' || c == '\t'
		if space && depth == 0 {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("unbalanced brackets in header")
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out, nil
}

var appProtos = map[string]bool{
	"http": true, "http1": true, "http2": true, "dns": true, "tls": true, "smtp": true, "ftp": true, "ftp-data": true,
	"smb": true, "dcerpc": true, "ssh": true, "ssl": true, "dhcp": true, "nfs": true, "ntp": true, "krb5": true,
	"ikev2": true, "ike": true, "snmp": true, "sip": true, "rfb": true, "mqtt": true, "modbus": true, "dnp3": true,
	"enip": true, "rdp": true, "imap": true, "pop3": true, "tftp": true, "quic": true, "bittorrent-dht": true,
	"telnet": true, "websocket": true, "pgsql": true, "ldap": true, "doh2": true, "template": true, "irc": true,
	"nntp": true, "msn": true, "jabber": true, "smb2": true, "cip": true,
}

func parseProto(name string) (Proto, *ruleError) {
	p := Proto{Name: name}
	switch strings.ToLower(name) {
	case "ip", "pkthdr":
	case "ipv4", "ip4":
		p.Family = 4
	case "ipv6", "ip6":
		p.Family = 6
	case "tcp":
		p.L4 = 6
	case "tcp-pkt":
		p.L4, p.Stream = 6, StreamNo
	case "tcp-stream":
		p.L4, p.Stream = 6, StreamOnly
	case "udp", "udp-pkt":
		p.L4 = 17
	case "icmp":
		p.L4 = 1
	case "icmpv4", "icmp4":
		p.L4, p.Family = 1, 4
	case "icmpv6", "icmp6":
		p.L4 = 58
	case "sctp":
		p.L4 = 132
	default:
		if a, ok := appProtoOfHeader[strings.ToLower(name)]; ok {
			p.L4, p.App = a.l4, a.app
			return p, nil
		}
		if appProtos[strings.ToLower(name)] {
			return p, unsupported("protocol", name)
		}
		return p, malformed("unknown protocol %q", name)
	}
	return p, nil
}

func (p *parser) parseHeader(r *Rule, h string) *ruleError {
	f, err := headerFields(h)
	if err != nil {
		return malformed("%v", err)
	}
	if len(f) != 7 {
		return malformed("header has %d fields, want 7 (action proto src sport dir dst dport)", len(f))
	}
	switch f[0] {
	case "alert":
		r.Action = ActionAlert
	case "drop":
		r.Action = ActionDrop
	case "reject", "rejectsrc", "rejectdst", "rejectboth":
		r.Action = ActionReject
	case "pass":
		r.Action = ActionPass
	case "config", "accept":
		return unsupported("action", f[0])
	default:
		return malformed("unknown action %q", trunc(f[0]))
	}
	var e *ruleError
	if r.Proto, e = parseProto(f[1]); e != nil {
		return e
	}
	switch f[4] {
	case "->":
	case "<>":
		r.Bidir = true
	case "=>":
		return unsupported("direction", "=>")
	default:
		return malformed("bad direction %q", trunc(f[4]))
	}
	if r.Src, err = ParseAddr(f[2], p.vars); err != nil {
		return malformed("source address: %v", err)
	}
	if r.SrcPorts, err = ParsePorts(f[3], p.vars); err != nil {
		return malformed("source port: %v", err)
	}
	if r.Dst, err = ParseAddr(f[5], p.vars); err != nil {
		return malformed("destination address: %v", err)
	}
	if r.DstPorts, err = ParsePorts(f[6], p.vars); err != nil {
		return malformed("destination port: %v", err)
	}
	return nil
}

// unquote strips the quotes around a msg or content value.
func unquote(v string) (string, bool) {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1], true
	}
	return v, false
}

// unescape removes the backslashes of \" \; \\ \: (any \x: x).
func unescape(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parseContent decodes a content string: text with |hex| sections and
// \-escapes.
func parseContent(v string) ([]byte, error) {
	var out bytes.Buffer
	hex := false
	var nib []byte
	for i := 0; i < len(v); i++ {
		c := v[i]
		if hex {
			switch {
			case c == '|':
				if len(nib) == 1 {
					return nil, fmt.Errorf("odd number of hex digits")
				}
				hex = false
			case c == ' ' || c == '\t':
				if len(nib) == 1 {
					return nil, fmt.Errorf("split hex byte")
				}
			case isHex(c):
				nib = append(nib, c)
				if len(nib) == 2 {
					b, _ := strconv.ParseUint(string(nib), 16, 8)
					out.WriteByte(byte(b))
					nib = nib[:0]
				}
			default:
				return nil, fmt.Errorf("bad hex character %q", c)
			}
			continue
		}
		switch c {
		case '|':
			hex = true
		case '\\':
			if i+1 >= len(v) {
				return nil, fmt.Errorf("trailing backslash")
			}
			i++
			switch v[i] {
			case '"', ';', '\\', ':', '|':
				out.WriteByte(v[i])
			default:
				return nil, fmt.Errorf("bad escape \\%c", v[i])
			}
		case '"':
			return nil, fmt.Errorf("unescaped quote")
		default:
			out.WriteByte(c)
		}
	}
	if hex {
		return nil, fmt.Errorf("unterminated hex section")
	}
	if out.Len() == 0 {
		return nil, fmt.Errorf("empty content")
	}
	return out.Bytes(), nil
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
