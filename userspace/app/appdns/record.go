package appdns

import (
	"strconv"

	"github.com/xdpids/xdpids/userspace/app/evetext"
)

// Record is the "dns" object of an EVE record in Suricata 8's version 3
// format (doc/userguide/upgrade/8.0-dns-logging-changes.rst), the same in
// "dns" events and in alerts: requests and responses alike carry the
// header fields and a queries array; responses add answers and
// authorities. The detailed answer format, not "grouped".
type Record struct {
	Version     int           `json:"version"`
	Type        string        `json:"type"` // "request" or "response"
	TxID        uint64        `json:"tx_id"`
	ID          uint16        `json:"id"`
	Flags       string        `json:"flags"` // the 16 flag bits in hex, no padding
	QR          bool          `json:"qr,omitempty"`
	AA          bool          `json:"aa,omitempty"`
	TC          bool          `json:"tc,omitempty"`
	RD          bool          `json:"rd,omitempty"`
	RA          bool          `json:"ra,omitempty"`
	Z           bool          `json:"z,omitempty"`
	Opcode      uint8         `json:"opcode"`
	Rcode       string        `json:"rcode"`
	Queries     []RecordQuery `json:"queries,omitempty"`
	Answers     []RecordRR    `json:"answers,omitempty"`
	Authorities []RecordRR    `json:"authorities,omitempty"`
}

// RecordQuery is one entry of "queries".
type RecordQuery struct {
	RRName string `json:"rrname"`
	RRType string `json:"rrtype"`
}

// RecordRR is one entry of "answers" or "authorities".
type RecordRR struct {
	RRName string     `json:"rrname"`
	RRType string     `json:"rrtype"`
	TTL    uint32     `json:"ttl"`
	RData  string     `json:"rdata,omitempty"`
	SOA    *RecordSOA `json:"soa,omitempty"`
	SRV    *RecordSRV `json:"srv,omitempty"`
}

// RecordSOA is an SOA record's data as Suricata logs it.
type RecordSOA struct {
	MName   string `json:"mname"`
	RName   string `json:"rname"`
	Serial  uint32 `json:"serial"`
	Refresh uint32 `json:"refresh"`
	Retry   uint32 `json:"retry"`
	Expire  uint32 `json:"expire"`
	Minimum uint32 `json:"minimum"`
}

// RecordSRV is an SRV record's data as Suricata logs it.
type RecordSRV struct {
	Priority uint16 `json:"priority"`
	Weight   uint16 `json:"weight"`
	Port     uint16 `json:"port"`
	Name     string `json:"name"`
}

// Record fills r from m, reusing r's slices. TxID is left to the caller
// (Suricata's per-flow transaction counter). It allocates the strings:
// records are written once per message, after detection.
func (m *Message) Record(r *Record) {
	*r = Record{
		Version:     3,
		Type:        "request",
		TxID:        r.TxID,
		ID:          m.ID,
		Flags:       strconv.FormatUint(uint64(m.Flags), 16),
		QR:          m.Response,
		AA:          m.AA(),
		TC:          m.TC(),
		RD:          m.RD(),
		RA:          m.RA(),
		Z:           m.Z(),
		Opcode:      m.Opcode,
		Rcode:       RcodeName(m.Rcode),
		Queries:     r.Queries[:0],
		Answers:     r.Answers[:0],
		Authorities: r.Authorities[:0],
	}
	if m.Response {
		r.Type = "response"
	}
	for i := range m.Queries {
		q := &m.Queries[i]
		r.Queries = append(r.Queries, RecordQuery{RRName: evetext.FromBytes(q.Name), RRType: TypeName(q.Type)})
	}
	r.Answers = records(r.Answers, m.Answers)
	r.Authorities = records(r.Authorities, m.Authorities)
	if len(r.Queries) == 0 {
		r.Queries = nil
	}
	if len(r.Answers) == 0 {
		r.Answers = nil
	}
	if len(r.Authorities) == 0 {
		r.Authorities = nil
	}
}

func records(dst []RecordRR, rrs []RR) []RecordRR {
	for i := range rrs {
		rr := &rrs[i]
		e := RecordRR{RRName: evetext.FromBytes(rr.Name), RRType: TypeName(rr.Type), TTL: rr.TTL}
		switch {
		case rr.HasSOA:
			e.SOA = &RecordSOA{MName: evetext.FromBytes(rr.SOA.MName), RName: evetext.FromBytes(rr.SOA.RName), Serial: rr.SOA.Serial,
				Refresh: rr.SOA.Refresh, Retry: rr.SOA.Retry, Expire: rr.SOA.Expire, Minimum: rr.SOA.Minimum}
		case rr.HasSRV:
			e.SRV = &RecordSRV{Priority: rr.SRV.Priority, Weight: rr.SRV.Weight, Port: rr.SRV.Port, Name: evetext.FromBytes(rr.SRV.Target)}
		case rr.Data != nil:
			e.RData = evetext.FromBytes(rr.Data)
		}
		dst = append(dst, e)
	}
	return dst
}

// typeNames are Suricata's rrtype names (rust/src/dns/dns.rs record types,
// upper case); other types are logged as their number.
var typeNames = map[uint16]string{
	1: "A", 2: "NS", 3: "MD", 4: "MF", 5: "CNAME", 6: "SOA", 7: "MB", 8: "MG",
	9: "MR", 10: "NULL", 11: "WKS", 12: "PTR", 13: "HINFO", 14: "MINFO",
	15: "MX", 16: "TXT", 17: "RP", 18: "AFSDB", 19: "X25", 20: "ISDN",
	21: "RT", 22: "NSAP", 23: "NSAPPTR", 24: "SIG", 25: "KEY", 26: "PX",
	27: "GPOS", 28: "AAAA", 29: "LOC", 30: "NXT", 33: "SRV", 34: "ATMA",
	35: "NAPTR", 36: "KX", 37: "CERT", 38: "A6", 39: "DNAME", 41: "OPT",
	42: "APL", 43: "DS", 44: "SSHFP", 45: "IPSECKEY", 46: "RRSIG",
	47: "NSEC", 48: "DNSKEY", 49: "DHCID", 50: "NSEC3", 51: "NSEC3PARAM",
	52: "TLSA", 55: "HIP", 59: "CDS", 60: "CDNSKEY", 99: "SPF", 249: "TKEY",
	250: "TSIG", 254: "MAILA", 255: "ANY", 256: "URI",
}

// TypeName returns Suricata's name of an rrtype.
func TypeName(t uint16) string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return strconv.Itoa(int(t))
}

// rcodeNames are Suricata's rcode names for the header's 4 bits.
var rcodeNames = [16]string{
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
	"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE",
}

// RcodeName returns Suricata's name of an rcode (its number when none).
func RcodeName(rc uint8) string {
	if int(rc) < len(rcodeNames) && rcodeNames[rc] != "" {
		return rcodeNames[rc]
	}
	return strconv.Itoa(int(rc))
}

// ParseRcode parses the text form dns.rcode accepts (case-insensitive
// names of RcodeName) or a number.
func ParseRcode(s string) (uint8, bool) {
	for i, n := range rcodeNames {
		if n != "" && equalFold(n, s) {
			return uint8(i), true
		}
	}
	v, err := strconv.ParseUint(s, 10, 8)
	return uint8(v), err == nil && v <= 15
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
