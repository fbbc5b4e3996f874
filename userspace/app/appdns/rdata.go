package appdns

import (
	"errors"
	"strconv"

	"golang.org/x/net/dns/dnsmessage"
)

// section parses one resource-record section into rrs.
func (m *Message) section(p *dnsmessage.Parser, sec uint8, cut Cut,
	header func(*dnsmessage.Parser) (dnsmessage.ResourceHeader, error),
	skip func(*dnsmessage.Parser) error) error {
	rrs := &m.Answers
	switch sec {
	case secNS:
		rrs = &m.Authorities
	case secAR:
		rrs = &m.Additionals
	}
	for {
		h, err := header(p)
		if errors.Is(err, dnsmessage.ErrSectionDone) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(*rrs) >= MaxRecords {
			m.Cut |= cut
			if err := skip(p); err != nil {
				return err
			}
			continue
		}
		if sec == secAR {
			// Additionals: the name is what rules look at (OPT's is the
			// root); their data is not logged.
			if err := skip(p); err != nil {
				return err
			}
			m.add(sec, rrs, &h)
			continue
		}
		if err := m.record(p, sec, rrs, &h, skip); err != nil {
			return err
		}
	}
}

// add appends an RR for h and returns it with its index. The pointer is
// valid until the next add: callers set its fields at once.
func (m *Message) add(sec uint8, rrs *[]RR, h *dnsmessage.ResourceHeader) (*RR, int) {
	*rrs = append(*rrs, RR{Type: uint16(h.Type), Class: uint16(h.Class), TTL: h.TTL})
	i := len(*rrs) - 1
	m.name(sec, i, fName, &h.Name)
	return &(*rrs)[i], i
}

// record decodes one RR body.
func (m *Message) record(p *dnsmessage.Parser, sec uint8, rrs *[]RR, h *dnsmessage.ResourceHeader, skip func(*dnsmessage.Parser) error) error {
	switch h.Type {
	case dnsmessage.TypeA:
		a, err := p.AResource()
		if err != nil {
			return err
		}
		_, i := m.add(sec, rrs, h)
		m.addr(sec, i, a.A[:])
	case dnsmessage.TypeAAAA:
		a, err := p.AAAAResource()
		if err != nil {
			return err
		}
		_, i := m.add(sec, rrs, h)
		m.addr(sec, i, a.AAAA[:])
	case dnsmessage.TypeCNAME:
		c, err := p.CNAMEResource()
		if err != nil {
			return err
		}
		_, i := m.add(sec, rrs, h)
		m.name(sec, i, fData, &c.CNAME)
	case dnsmessage.TypeNS:
		c, err := p.NSResource()
		if err != nil {
			return err
		}
		_, i := m.add(sec, rrs, h)
		m.name(sec, i, fData, &c.NS)
	case dnsmessage.TypePTR:
		c, err := p.PTRResource()
		if err != nil {
			return err
		}
		_, i := m.add(sec, rrs, h)
		m.name(sec, i, fData, &c.PTR)
	case dnsmessage.TypeMX:
		c, err := p.MXResource()
		if err != nil {
			return err
		}
		_, i := m.add(sec, rrs, h)
		m.name(sec, i, fData, &c.MX) // Suricata logs the exchange, not the preference
	case dnsmessage.TypeSOA:
		s, err := p.SOAResource()
		if err != nil {
			return err
		}
		r, i := m.add(sec, rrs, h)
		r.HasSOA = true
		r.SOA = SOA{Serial: s.Serial, Refresh: s.Refresh, Retry: s.Retry, Expire: s.Expire, Minimum: s.MinTTL}
		m.name(sec, i, fMName, &s.NS)
		m.name(sec, i, fRName, &s.MBox)
	case dnsmessage.TypeSRV:
		s, err := p.SRVResource()
		if err != nil {
			return err
		}
		r, i := m.add(sec, rrs, h)
		r.HasSRV = true
		r.SRV = SRV{Priority: s.Priority, Weight: s.Weight, Port: s.Port}
		m.name(sec, i, fTarget, &s.Target)
	case dnsmessage.TypeTXT:
		// dnsmessage returns the strings as a []string: the one RR type
		// that allocates (TXT answers are not the steady state of a
		// network's DNS).
		t, err := p.TXTResource()
		if err != nil {
			return err
		}
		for _, s := range t.TXT {
			if len(*rrs) >= MaxRecords {
				break
			}
			_, i := m.add(sec, rrs, h)
			m.bytes(sec, i, fData, []byte(s))
		}
	case 10: // NULL: raw bytes (allocates, as TXT)
		u, err := p.UnknownResource()
		if err != nil {
			return err
		}
		_, i := m.add(sec, rrs, h)
		m.bytes(sec, i, fData, u.Data)
	default:
		if err := skip(p); err != nil {
			return err
		}
		m.add(sec, rrs, h)
	}
	return nil
}

// addr renders an A or AAAA address as Suricata's dns_print_addr: IPv4
// dotted decimal, IPv6 as eight groups of four hex digits, uncompressed.
func (m *Message) addr(sec uint8, idx int, a []byte) {
	start := len(m.arena)
	if len(a) == 4 {
		for i, x := range a {
			if i > 0 {
				m.arena = append(m.arena, '.')
			}
			m.arena = strconv.AppendUint(m.arena, uint64(x), 10)
		}
	} else {
		const hexd = "0123456789abcdef"
		for i, x := range a {
			if i > 0 && i%2 == 0 {
				m.arena = append(m.arena, ':')
			}
			m.arena = append(m.arena, hexd[x>>4], hexd[x&0xf])
		}
	}
	m.span(sec, idx, fData, start)
}
