package rules

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// optState is what option parsing carries from keyword to keyword.
type optState struct {
	buf         Buffer
	lastContent *Content
	lastMatch   Match // the content or pcre a modifier applies to
	vars        map[string]bool
	prio        int
}

var stickyBuffers = map[string]Buffer{
	"pkt_data":   BufPayload,
	"ipv4.hdr":   BufIPv4Hdr,
	"ipv6.hdr":   BufIPv6Hdr,
	"tcp.hdr":    BufTCPHdr,
	"udp.hdr":    BufUDPHdr,
	"icmpv4.hdr": BufICMPv4Hdr,
	"icmpv6.hdr": BufICMPv6Hdr,
}

// noops are keywords that change nothing in how this engine matches.
var noops = map[string]bool{
	"prefilter": true, // Suricata: use this keyword as the prefilter; we pick our own
	"rawbytes":  true, // there is no normalised buffer to differ from
}

func (p *parser) parseOptions(r *Rule, opts []option) *ruleError {
	st := &optState{buf: BufPayload, vars: map[string]bool{}}
	for _, o := range opts {
		if e := p.option(r, st, o); e != nil {
			return e
		}
	}
	r.Priority = st.prio
	return nil
}

func (p *parser) option(r *Rule, st *optState, o option) *ruleError {
	k, v := o.key, o.val
	if b, ok := stickyBuffers[k]; ok {
		if v != "" {
			return malformed("%s takes no value", k)
		}
		st.buf = b
		st.lastContent, st.lastMatch = nil, nil
		return nil
	}
	if ok, e := p.appKeyword(r, st, k, v); ok {
		return e
	}
	if noops[k] {
		return nil
	}
	var err error
	switch k {
	case "msg":
		s, ok := unquote(v)
		if !ok {
			return malformed("msg must be quoted")
		}
		r.Msg = unescape(s)
	case "sid":
		n, e := strconv.ParseUint(v, 10, 32)
		if e != nil || n == 0 {
			return malformed("bad sid %q", trunc(v))
		}
		r.SID = uint32(n)
	case "rev":
		n, e := strconv.ParseUint(v, 10, 32)
		if e != nil {
			return malformed("bad rev %q", trunc(v))
		}
		r.Rev = uint32(n)
	case "gid":
		n, e := strconv.ParseUint(v, 10, 32)
		if e != nil {
			return malformed("bad gid %q", trunc(v))
		}
		r.GID = uint32(n)
	case "classtype":
		c, ok := p.classes[v]
		if !ok {
			return &ruleError{reason: "unknown classtype", detail: trunc(v)}
		}
		r.Classtype, r.Category = c.Name, c.Description
		if st.prio == 0 {
			st.prio = -c.Priority // a priority keyword wins, wherever it is
		}
	case "priority":
		n, e := strconv.Atoi(v)
		if e != nil || n < 1 || n > 255 {
			return malformed("bad priority %q", trunc(v))
		}
		st.prio = n
	case "reference":
		r.References = append(r.References, v)
	case "metadata":
		r.Metadata = append(r.Metadata, v)
	case "target":
		switch v {
		case "src_ip":
			r.Target = TargetSrc
		case "dest_ip":
			r.Target = TargetDst
		default:
			return malformed("bad target %q", trunc(v))
		}
	case "noalert":
		r.NoAlert = true
	case "content":
		return p.content(r, st, v)
	case "nocase", "depth", "offset", "distance", "within", "fast_pattern", "startswith", "endswith":
		return p.contentModifier(r, st, k, v)
	case "pcre":
		pc, e := parsePCRE(v)
		if e != nil {
			return e
		}
		if pc.Buffer == BufPayload {
			pc.Buffer = st.buf // else bound by an HTTP flag (/U, /H, ...)
		}
		r.Matches = append(r.Matches, pc)
		st.lastContent, st.lastMatch = nil, pc
	case "byte_test", "byte_jump", "byte_extract", "byte_math":
		b, e := parseByteOp(k, v, st)
		if e != nil {
			return e
		}
		b.Buffer = st.buf
		r.Matches = append(r.Matches, b)
		st.lastContent, st.lastMatch = nil, b
	case "isdataat":
		d := &IsDataAt{Buffer: st.buf}
		s := strings.TrimSpace(v)
		if strings.HasPrefix(s, "!") {
			d.Negated, s = true, s[1:]
		}
		parts := strings.Split(s, ",")
		if d.N, err = parseValue(parts[0], st, 0, 65535); err != nil {
			return malformed("isdataat: %v", err)
		}
		for _, x := range parts[1:] {
			switch strings.TrimSpace(x) {
			case "relative":
				d.Relative = true
			case "rawbytes":
			default:
				return malformed("isdataat: bad option %q", trunc(x))
			}
		}
		r.Matches = append(r.Matches, d)
	case "bsize":
		n, e := parseNum(v, 65535)
		if e != nil {
			return malformed("bsize: %v", e)
		}
		r.Matches = append(r.Matches, &BSize{Buffer: st.buf, Size: *n})
	case "dsize":
		if r.Dsize, err = parseNum(v, 65535); err != nil {
			return malformed("dsize: %v", err)
		}
	case "flags", "tcp.flags":
		if r.Flags, err = parseFlags(v); err != nil {
			return malformed("%s: %v", k, err)
		}
	case "flow":
		return parseFlow(r, v)
	case "flowbits":
		return parseFlowbits(r, st, v)
	case "threshold", "detection_filter":
		t, e := parseThreshold(k, v)
		if e != nil {
			return e
		}
		if k == "threshold" {
			r.Threshold = t
		} else {
			r.Filter = t
		}
	case "itype":
		r.IType, err = parseNum(v, 255)
	case "icode":
		r.ICode, err = parseNum(v, 255)
	case "icmp_id":
		r.ICMPID, err = parseNum(v, 65535)
	case "icmp_seq":
		r.ICMPSeq, err = parseNum(v, 65535)
	case "ttl":
		r.TTL, err = parseNum(v, 255)
	case "id":
		r.IPID, err = parseNum(v, 65535)
	case "window", "tcp.window":
		r.Window, err = parseNum(v, 65535)
	case "ack", "tcp.ack":
		r.Ack, err = parseNum(v, math.MaxUint32)
	case "seq", "tcp.seq":
		r.Seq, err = parseNum(v, math.MaxUint32)
	case "tcp.mss":
		r.TCPMSS, err = parseNum(v, 65535)
	case "tos":
		r.TOS, err = parseTOS(v)
	case "ip_proto":
		r.IPProto, err = parseIPProto(v)
	case "fragbits":
		r.Fragbits, err = parseFragbits(v)
	case "ipopts":
		r.IPOpts, err = parseIPOpts(v)
	case "sameip":
		r.SameIP = true
	case "icmpv6.mtu":
		r.ICMPv6MTU, err = parseNum(v, math.MaxUint32)
	case "vlan.id":
		var m VLANMatch
		m, err = parseVLAN(v)
		r.VLAN = append(r.VLAN, m)
	case "flow.pkts", "flow.bytes", "flow.pkts_toserver", "flow.pkts_toclient", "flow.bytes_toserver", "flow.bytes_toclient":
		var fc FlowCount
		fc, err = parseFlowCount(k, v)
		if strings.HasPrefix(k, "flow.pkts") {
			r.FlowPkts = append(r.FlowPkts, fc)
		} else {
			r.FlowBytes = append(r.FlowBytes, fc)
		}
	case "stream_size":
		var ss StreamSize
		ss, err = parseStreamSize(v)
		r.StreamSize = append(r.StreamSize, ss)
	case "hostbits", "xbits":
		return parseHostbits(r, k, v)
	default:
		return unsupported("keyword", k)
	}
	if err != nil {
		return malformed("%s: %v", k, err)
	}
	return nil
}

// parseValue reads an integer option value or a byte_extract variable.
func parseValue(s string, st *optState, min, max int) (Value, error) {
	s = strings.TrimSpace(s)
	n, err := strconv.Atoi(s)
	if err == nil {
		if n < min || n > max {
			return Value{}, fmt.Errorf("%d out of range [%d, %d]", n, min, max)
		}
		return Value{Set: true, N: n}, nil
	}
	if isIdent(s) {
		if st != nil && !st.vars[s] {
			return Value{}, fmt.Errorf("unknown variable %q", trunc(s))
		}
		return Value{Set: true, Var: s}, nil
	}
	return Value{}, fmt.Errorf("bad value %q", trunc(s))
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '-' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}

func (p *parser) content(r *Rule, st *optState, v string) *ruleError {
	c := &Content{Buffer: st.buf}
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "!") {
		c.Negated = true
		v = strings.TrimSpace(v[1:])
	}
	s, ok := unquote(v)
	if !ok {
		return malformed("content must be quoted: %q", trunc(v))
	}
	b, err := parseContent(s)
	if err != nil {
		return malformed("content: %v", err)
	}
	if len(b) > 65535 {
		return malformed("content longer than 65535 bytes")
	}
	c.Pattern = b
	r.Matches = append(r.Matches, c)
	st.lastContent, st.lastMatch = c, c
	return nil
}

func (p *parser) contentModifier(r *Rule, st *optState, k, v string) *ruleError {
	c := st.lastContent
	if c == nil {
		return malformed("%s without a preceding content", k)
	}
	var err error
	switch k {
	case "nocase":
		c.Nocase = true
	case "depth":
		if c.Depth, err = parseValue(v, st, 1, 65535); err == nil && c.Depth.Var == "" && c.Depth.N < len(c.Pattern) {
			err = fmt.Errorf("depth %d shorter than the content (%d)", c.Depth.N, len(c.Pattern))
		}
		if c.Relative() {
			err = fmt.Errorf("depth with distance or within")
		}
	case "offset":
		c.Offset, err = parseValue(v, st, 0, 65535)
		if c.Relative() {
			err = fmt.Errorf("offset with distance or within")
		}
	case "distance":
		c.Distance, err = parseValue(v, st, -65535, 65535)
		if c.Depth.Set || c.Offset.Set {
			err = fmt.Errorf("distance with depth or offset")
		}
	case "within":
		if c.Within, err = parseValue(v, st, 1, 65535); err == nil && c.Within.Var == "" && c.Within.N < len(c.Pattern) {
			err = fmt.Errorf("within %d shorter than the content (%d)", c.Within.N, len(c.Pattern))
		}
		if c.Depth.Set || c.Offset.Set {
			err = fmt.Errorf("within with depth or offset")
		}
	case "startswith":
		if c.Depth.Set || c.Offset.Set || c.Relative() {
			err = fmt.Errorf("startswith with depth, offset, distance or within")
		}
		c.StartsWith = true
	case "endswith":
		c.EndsWith = true
	case "fast_pattern":
		for _, x := range r.Matches {
			if cc, ok := x.(*Content); ok && cc != c && cc.FastPattern {
				err = fmt.Errorf("fast_pattern set twice")
			}
		}
		c.FastPattern = true
		switch v = strings.TrimSpace(v); {
		case v == "":
		case v == "only":
			c.FPOnly = true
		default:
			a, b, ok := strings.Cut(v, ",")
			off, e1 := strconv.Atoi(strings.TrimSpace(a))
			n, e2 := strconv.Atoi(strings.TrimSpace(b))
			if !ok || e1 != nil || e2 != nil || off < 0 || n < 1 || off+n > len(c.Pattern) {
				err = fmt.Errorf("bad fast_pattern chop %q", trunc(v))
			}
			c.FPChopOff, c.FPChopLen = off, n
		}
	}
	if err != nil {
		return malformed("%s: %v", k, err)
	}
	return nil
}

// parseFlags parses flags/tcp.flags: [+*!]FSRPAUCE0[,mask].
func parseFlags(v string) (*Flags, error) {
	v = strings.TrimSpace(v)
	f := &Flags{}
	set, mask, _ := strings.Cut(v, ",")
	set = strings.TrimSpace(set)
	if set == "" {
		return nil, fmt.Errorf("no flags")
	}
	bit := func(c byte) (uint8, bool) {
		switch c {
		case 'F', 'f':
			return 0x01, true
		case 'S', 's':
			return 0x02, true
		case 'R', 'r':
			return 0x04, true
		case 'P', 'p':
			return 0x08, true
		case 'A', 'a':
			return 0x10, true
		case 'U', 'u':
			return 0x20, true
		case 'E', 'e', '2':
			return 0x40, true
		case 'C', 'c', '1':
			return 0x80, true
		}
		return 0, false
	}
	for i := 0; i < len(set); i++ {
		c := set[i]
		switch c {
		case '+', '*', '!':
			if f.Mode != 0 {
				return nil, fmt.Errorf("two modifiers in %q", trunc(v))
			}
			f.Mode = c
			continue
		case '0':
			f.Empty = true
			continue
		}
		b, ok := bit(c)
		if !ok {
			return nil, fmt.Errorf("bad flag %q", c)
		}
		f.Bits |= b
	}
	for i := 0; i < len(mask); i++ {
		c := mask[i]
		if c == ' ' {
			continue
		}
		b, ok := bit(c)
		if !ok {
			return nil, fmt.Errorf("bad mask flag %q", c)
		}
		f.Mask |= b
	}
	if f.Empty && f.Bits != 0 {
		return nil, fmt.Errorf("0 with other flags")
	}
	return f, nil
}

func parseFlow(r *Rule, v string) *ruleError {
	for _, x := range strings.Split(v, ",") {
		switch strings.TrimSpace(x) {
		case "to_server", "from_client":
			r.Flow.ToServer = true
		case "to_client", "from_server":
			r.Flow.ToClient = true
		case "established":
			r.Flow.Established = true
		case "not_established":
			r.Flow.NotEstablished = true
		case "stateless":
			r.Flow.Stateless = true
		case "only_stream":
			r.Flow.OnlyStream = true
		case "no_stream":
			r.Flow.NoStream = true
		case "only_frag", "no_frag":
			return unsupported("flow option", strings.TrimSpace(x))
		default:
			return malformed("flow: bad option %q", trunc(strings.TrimSpace(x)))
		}
	}
	if r.Flow.ToServer && r.Flow.ToClient {
		return malformed("flow: to_server with to_client")
	}
	if r.Flow.Established && r.Flow.NotEstablished {
		return malformed("flow: established with not_established")
	}
	return nil
}

func parseFlowbits(r *Rule, st *optState, v string) *ruleError {
	cmd, names, _ := strings.Cut(v, ",")
	cmd, names = strings.TrimSpace(cmd), strings.TrimSpace(names)
	fb := Flowbit{}
	switch cmd {
	case "noalert":
		if names != "" {
			return malformed("flowbits:noalert takes no name")
		}
		r.NoAlert = true
		return nil
	case "set":
		fb.Cmd = FBSet
	case "isset":
		fb.Cmd = FBIsSet
	case "isnotset":
		fb.Cmd = FBIsNotSet
	case "unset":
		fb.Cmd = FBUnset
	case "toggle":
		fb.Cmd = FBToggle
	default:
		return malformed("flowbits: bad command %q", trunc(cmd))
	}
	if names == "" {
		return malformed("flowbits:%s needs a name", cmd)
	}
	sep := "&"
	if strings.Contains(names, "|") {
		if strings.Contains(names, "&") {
			return malformed("flowbits: | and & mixed")
		}
		if fb.Cmd != FBIsSet && fb.Cmd != FBIsNotSet {
			return malformed("flowbits: | only with isset or isnotset")
		}
		sep, fb.Or = "|", true
	}
	for _, n := range strings.Split(names, sep) {
		n = strings.TrimSpace(n)
		if n == "" || strings.ContainsAny(n, " \t,") {
			return malformed("flowbits: bad name %q", trunc(n))
		}
		fb.Names = append(fb.Names, n)
	}
	r.Flowbits = append(r.Flowbits, fb)
	return nil
}

func parseThreshold(k, v string) (*Threshold, *ruleError) {
	t := &Threshold{Type: TypeFilter, Count: -1, Seconds: -1}
	hasType, hasTrack, hasMult := false, false, false
	for _, x := range strings.Split(v, ",") {
		x = strings.TrimSpace(x)
		name, val, _ := strings.Cut(x, " ")
		val = strings.TrimSpace(val)
		switch name {
		case "type":
			if k != "threshold" {
				return nil, malformed("%s: type is for threshold", k)
			}
			hasType = true
			switch val {
			case "limit":
				t.Type = TypeLimit
			case "threshold":
				t.Type = TypeThreshold
			case "both":
				t.Type = TypeBoth
			case "backoff":
				t.Type = TypeBackoff
			default:
				return nil, malformed("%s: bad type %q", k, trunc(val))
			}
		case "track":
			hasTrack = true
			switch val {
			case "by_src":
				t.Track = TrackBySrc
			case "by_dst":
				t.Track = TrackByDst
			case "by_rule":
				t.Track = TrackByRule
			case "by_both":
				t.Track = TrackByBoth
			case "by_flow":
				t.Track = TrackByFlow
			default:
				return nil, malformed("%s: bad track %q", k, trunc(val))
			}
		case "count":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return nil, malformed("%s: bad count %q", k, trunc(val))
			}
			t.Count = n
		case "seconds":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return nil, malformed("%s: bad seconds %q", k, trunc(val))
			}
			t.Seconds = n
		case "unique_on":
			switch val {
			case "src_port":
				t.UniqueOn = UniqueSrcPort
			case "dst_port":
				t.UniqueOn = UniqueDstPort
			default:
				return nil, malformed("%s: bad unique_on %q", k, trunc(val))
			}
		case "multiplier":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return nil, malformed("%s: bad multiplier %q", k, trunc(val))
			}
			t.Multiplier, hasMult = n, true
		default:
			return nil, malformed("%s: bad option %q", k, trunc(x))
		}
	}
	if t.Type == TypeBackoff {
		// Suricata 7: type backoff, track by_flow, count N, multiplier M
		// (no seconds: the counter lives as long as the flow).
		if !hasTrack || t.Count < 1 || !hasMult || t.Seconds >= 0 {
			return nil, malformed("%s: backoff needs track, count, multiplier and no seconds", k)
		}
		if t.Track != TrackByFlow {
			return nil, malformed("%s: backoff only supports track by_flow", k)
		}
		return t, nil
	}
	if hasMult {
		return nil, malformed("%s: multiplier is for type backoff", k)
	}
	if (k == "threshold" && !hasType) || !hasTrack || t.Count < 0 || t.Seconds < 0 {
		return nil, malformed("%s: needs type (threshold only), track, count and seconds", k)
	}
	if t.Type != TypeFilter && t.Count == 0 {
		return nil, malformed("%s: count 0", k)
	}
	return t, nil
}

func parseTOS(v string) (*Num, error) {
	v = strings.TrimSpace(v)
	n := &Num{}
	if strings.HasPrefix(v, "!") {
		n.Op, v = NumNe, v[1:]
	}
	var x uint64
	var err error
	if strings.HasPrefix(v, "x") || strings.HasPrefix(v, "X") {
		x, err = strconv.ParseUint(v[1:], 16, 8)
	} else {
		x, err = parseUint(v, 255)
	}
	if err != nil {
		return nil, fmt.Errorf("bad tos %q", trunc(v))
	}
	n.A = x
	return n, nil
}

var protoNumbers = map[string]uint64{"ip": 0, "icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "ipv6": 41, "gre": 47, "esp": 50, "ah": 51, "icmpv6": 58, "ipv6-icmp": 58, "sctp": 132, "pim": 103}

func parseIPProto(v string) (*Num, error) {
	v = strings.TrimSpace(v)
	n := &Num{}
	switch {
	case strings.HasPrefix(v, "!"):
		n.Op, v = NumNe, v[1:]
	case strings.HasPrefix(v, "<"):
		n.Op, v = NumLt, v[1:]
	case strings.HasPrefix(v, ">"):
		n.Op, v = NumGt, v[1:]
	}
	v = strings.TrimSpace(v)
	if x, ok := protoNumbers[strings.ToLower(v)]; ok {
		n.A = x
		return n, nil
	}
	x, err := parseUint(v, 255)
	if err != nil {
		return nil, err
	}
	n.A = x
	return n, nil
}

func parseFragbits(v string) (*Fragbits, error) {
	v = strings.TrimSpace(v)
	set, _, _ := strings.Cut(v, ",") // a mask after ',' is accepted and ignored
	f := &Fragbits{}
	for i := 0; i < len(set); i++ {
		switch c := set[i]; c {
		case '+', '*', '!':
			if f.Mode != 0 {
				return nil, fmt.Errorf("two modifiers")
			}
			f.Mode = c
		case 'M', 'm':
			f.Bits |= FragM
		case 'D', 'd':
			f.Bits |= FragD
		case 'R', 'r':
			f.Bits |= FragR
		case ' ':
		default:
			return nil, fmt.Errorf("bad fragbit %q", c)
		}
	}
	if f.Bits == 0 {
		return nil, fmt.Errorf("no fragbits")
	}
	return f, nil
}

func parseIPOpts(v string) (uint16, error) {
	switch strings.TrimSpace(v) {
	case "rr":
		return IPOptRR, nil
	case "eol":
		return IPOptEOL, nil
	case "nop":
		return IPOptNOP, nil
	case "ts":
		return IPOptTS, nil
	case "sec":
		return IPOptSEC, nil
	case "esec":
		return IPOptESEC, nil
	case "lsrr", "lsrre":
		return IPOptLSRR, nil
	case "ssrr":
		return IPOptSSRR, nil
	case "satid":
		return IPOptSATID, nil
	case "any":
		return IPOptAny, nil
	}
	return 0, fmt.Errorf("bad ip option %q", trunc(v))
}

// finish checks the rule as a whole and fills defaults.
func (p *parser) finish(r *Rule) *ruleError {
	if r.SID == 0 {
		return malformed("no sid")
	}
	switch {
	case r.Priority < 0:
		r.Priority = -r.Priority
	case r.Priority == 0:
		r.Priority = 3
	}
	fp := 0
	for _, m := range r.Matches {
		if c, ok := m.(*Content); ok && c.FastPattern {
			fp++
			if c.FPOnly && (c.Negated || c.Relative() || c.Depth.Set || c.Offset.Set) {
				return malformed("fast_pattern:only with negation or a position")
			}
		}
	}
	if fp > 1 {
		return malformed("fast_pattern on more than one content")
	}
	if r.Flow.OnlyStream && r.Proto.Stream == StreamNo {
		return malformed("flow:only_stream on a tcp-pkt rule")
	}
	return finishApp(r)
}

func parseVLAN(v string) (VLANMatch, error) {
	id, layer, hasLayer := strings.Cut(v, ",")
	m := VLANMatch{Layer: LayerAny}
	n, err := parseNum(id, 4095)
	if err != nil {
		return m, err
	}
	m.ID = *n
	if hasLayer {
		switch l := strings.TrimSpace(layer); l {
		case "all":
			m.Layer = LayerAll
		default:
			x, err := strconv.Atoi(l)
			if err != nil || x < -3 || x > 2 {
				return m, fmt.Errorf("bad layer %q", trunc(l))
			}
			m.Layer = x
		}
	}
	return m, nil
}

func parseFlowCount(k, v string) (FlowCount, error) {
	fc := FlowCount{Dir: 2}
	switch {
	case strings.HasSuffix(k, "_toserver"):
		fc.Dir = 0
	case strings.HasSuffix(k, "_toclient"):
		fc.Dir = 1
	default:
		d, rest, ok := strings.Cut(v, ",")
		if !ok {
			return fc, fmt.Errorf("want direction,value")
		}
		switch strings.TrimSpace(d) {
		case "toserver":
			fc.Dir = 0
		case "toclient":
			fc.Dir = 1
		case "either":
			fc.Dir = 2
		default:
			return fc, fmt.Errorf("bad direction %q", trunc(d))
		}
		v = rest
	}
	n, err := parseNum(v, math.MaxInt64)
	if err != nil {
		return fc, err
	}
	fc.N = *n
	return fc, nil
}

// parseStreamSize parses stream_size:<server|client|both|either>,<op>,<n>
// (op one of < <= > >= = !=; Suricata 7 also takes the op glued to n).
func parseStreamSize(v string) (StreamSize, error) {
	var ss StreamSize
	d, rest, ok := strings.Cut(v, ",")
	if !ok {
		return ss, fmt.Errorf("want direction,op,value")
	}
	switch strings.TrimSpace(d) {
	case "server":
		ss.Dir = StreamServer
	case "client":
		ss.Dir = StreamClient
	case "both":
		ss.Dir = StreamBoth
	case "either":
		ss.Dir = StreamEither
	default:
		return ss, fmt.Errorf("bad direction %q", trunc(d))
	}
	op, n, ok := strings.Cut(rest, ",")
	if ok {
		op = strings.TrimSpace(op)
		switch op {
		case "<", "<=", ">", ">=", "=", "!=":
		default:
			return ss, fmt.Errorf("bad operator %q", trunc(op))
		}
		rest = op + strings.TrimSpace(n)
	}
	num, err := parseNum(rest, math.MaxUint32)
	if err != nil {
		return ss, err
	}
	if num.Op == NumRange || num.Op == NumRangeIn {
		return ss, fmt.Errorf("bad value %q", trunc(rest))
	}
	ss.N = *num
	return ss, nil
}

func parseHostbits(r *Rule, k, v string) *ruleError {
	parts := strings.Split(v, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	if parts[0] == "noalert" && len(parts) == 1 {
		r.NoAlert = true
		return nil
	}
	hb := Hostbit{Track: TrackBySrc}
	switch parts[0] {
	case "set":
		hb.Cmd = FBSet
	case "isset":
		hb.Cmd = FBIsSet
	case "isnotset":
		hb.Cmd = FBIsNotSet
	case "unset":
		hb.Cmd = FBUnset
	case "toggle":
		hb.Cmd = FBToggle
	default:
		return malformed("%s: bad command %q", k, trunc(parts[0]))
	}
	if len(parts) < 2 || parts[1] == "" {
		return malformed("%s:%s needs a name", k, parts[0])
	}
	sep := "&"
	if strings.Contains(parts[1], "|") {
		sep, hb.Or = "|", true
	}
	for _, n := range strings.Split(parts[1], sep) {
		if n = strings.TrimSpace(n); n == "" {
			return malformed("%s: empty name", k)
		}
		hb.Names = append(hb.Names, n)
	}
	for _, o := range parts[2:] {
		name, arg, _ := strings.Cut(o, " ")
		arg = strings.TrimSpace(arg)
		switch name {
		case "src", "ip_src":
			hb.Track = TrackBySrc
		case "dst", "ip_dst":
			hb.Track = TrackByDst
		case "both", "ip_pair":
			hb.Track = TrackByBoth
		case "track":
			switch arg {
			case "ip_src":
				hb.Track = TrackBySrc
			case "ip_dst":
				hb.Track = TrackByDst
			case "ip_pair":
				hb.Track = TrackByBoth
			case "tx":
				return unsupported(k+" track", arg)
			default:
				return malformed("%s: bad track %q", k, trunc(arg))
			}
		case "expire":
			n, err := strconv.Atoi(arg)
			if err != nil || n < 0 {
				return malformed("%s: bad expire %q", k, trunc(arg))
			}
			hb.ExpireSec = n
		default:
			return malformed("%s: bad option %q", k, trunc(o))
		}
	}
	r.Hostbits = append(r.Hostbits, hb)
	return nil
}
