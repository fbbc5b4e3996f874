package crowdsec

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Decision is one decision of the LAPI stream, as models.Decision has it
// (only the fields the bouncer reads).
type Decision struct {
	ID       int64  `json:"id"`
	Duration string `json:"duration"` // Go duration text: "3h59m58.123s"; negative once expired
	Origin   string `json:"origin"`   // cscli, crowdsec, CAPI, lists
	Scenario string `json:"scenario"`
	Scope    string `json:"scope"` // Ip, Range (also Country, AS, ...: skipped)
	Type     string `json:"type"`  // ban (captcha and others: skipped)
	Value    string `json:"value"`
}

// Stream is the body of GET /v1/decisions/stream.
type Stream struct {
	New     []Decision `json:"new"`
	Deleted []Decision `json:"deleted"`
}

// Skip reasons: why a decision made no block list entry.
const (
	SkipScope     = iota // scope neither Ip nor Range
	SkipType             // not a ban: XDP cannot show a captcha
	SkipInvalid          // value or duration unreadable
	SkipExpired          // duration zero or negative
	SkipProtected        // an Ip decision naming a protected host address
	SkipLocal            // the prefix holds a local (manual, detector, rule, fleet) ban: it is kept
	SkipMax
)

// SkipNames label the skip reasons in metrics.
var SkipNames = [SkipMax]string{"scope", "type", "invalid", "expired", "protected", "local"}

// prefix is the block list prefix a decision names. Ip is one address
// (IPv4-mapped IPv6 taken as IPv4), Range a CIDR (host bits cleared);
// scope and type compare case-insensitively, as the LAPI does.
func (d *Decision) prefix() (netip.Prefix, int, error) {
	if !strings.EqualFold(d.Type, "ban") {
		return netip.Prefix{}, SkipType, fmt.Errorf("decision %d: type %q is not ban", d.ID, d.Type)
	}
	v := strings.TrimSpace(d.Value)
	switch {
	case strings.EqualFold(d.Scope, "ip"):
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, SkipInvalid, fmt.Errorf("decision %d: bad ip %q", d.ID, d.Value)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), 0, nil
	case strings.EqualFold(d.Scope, "range"):
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return netip.Prefix{}, SkipInvalid, fmt.Errorf("decision %d: bad range %q", d.ID, d.Value)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), 0, nil
	}
	return netip.Prefix{}, SkipScope, fmt.Errorf("decision %d: scope %q is neither Ip nor Range", d.ID, d.Scope)
}

// ttl reads the decision's remaining duration. The LAPI writes Go's
// time.Duration text; expired decisions have a negative one.
func (d *Decision) ttl() (time.Duration, int, error) {
	ttl, err := time.ParseDuration(strings.TrimSpace(d.Duration))
	if err != nil {
		return 0, SkipInvalid, fmt.Errorf("decision %d: bad duration %q", d.ID, d.Duration)
	}
	if ttl <= 0 {
		return 0, SkipExpired, fmt.Errorf("decision %d: expired (%s)", d.ID, d.Duration)
	}
	return ttl, 0, nil
}

// comment is the block entry's reason text: the scenario, else the origin.
func (d *Decision) comment() string {
	c := d.Scenario
	if c == "" {
		c = d.Origin
	}
	if len(c) > 31 {
		c = c[:31]
	}
	return c
}
