package apptls

import (
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// attrNames are the short names x509-parser (Suricata's certificate
// parser) prints for attribute types: its abbreviations (CN, C, L, ST, O,
// OU, DC, Email), then the OID registry's short names. Keys are the DER
// contents of the OIDs.
var attrNames = map[string]string{
	"\x55\x04\x03": "CN",
	"\x55\x04\x06": "C",
	"\x55\x04\x07": "L",
	"\x55\x04\x08": "ST",
	"\x55\x04\x0a": "O",
	"\x55\x04\x0b": "OU",
	"\x09\x92\x26\x89\x93\xf2\x2c\x64\x01\x19": "DC",
	"\x2a\x86\x48\x86\xf7\x0d\x01\x09\x01":     "Email",
	"\x55\x04\x04":                             "surname",
	"\x55\x04\x05":                             "serialNumber",
	"\x55\x04\x09":                             "street",
	"\x55\x04\x0c":                             "title",
	"\x55\x04\x0d":                             "description",
	"\x55\x04\x0f":                             "businessCategory",
	"\x55\x04\x11":                             "postalCode",
	"\x55\x04\x2a":                             "givenName",
	"\x55\x04\x2b":                             "initials",
	"\x55\x04\x2e":                             "dnQualifier",
	"\x55\x04\x41":                             "pseudonym",
	"\x09\x92\x26\x89\x93\xf2\x2c\x64\x01\x01": "UID",
}

// appendName renders an RDNSequence's contents as Suricata does (see
// Certs.Subject). It is hand-written: pkix.Name.String reverses the order
// and escapes per RFC 2253, which Suricata does not.
func appendName(dst []byte, rdns cryptobyte.String) ([]byte, bool) {
	first := true
	for !rdns.Empty() {
		var set cryptobyte.String
		if !rdns.ReadASN1(&set, cbasn1.SET) {
			return dst, false
		}
		firstAttr := true
		for !set.Empty() {
			var atv, oid cryptobyte.String
			var val cryptobyte.String
			var tag cbasn1.Tag
			if !set.ReadASN1(&atv, cbasn1.SEQUENCE) || !atv.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) ||
				!atv.ReadAnyASN1(&val, &tag) {
				return dst, false
			}
			switch {
			case firstAttr && !first:
				dst = append(dst, ", "...)
			case !firstAttr:
				dst = append(dst, " + "...)
			}
			first, firstAttr = false, false
			if n, ok := attrNames[string(oid)]; ok {
				dst = append(dst, n...)
			} else {
				dst = appendOID(dst, oid)
			}
			dst = append(dst, '=')
			dst = appendValue(dst, tag, val)
		}
	}
	return dst, true
}

// appendValue renders an attribute value: string types as their bytes,
// BMPString decoded, anything else as upper hex (x509-parser's
// attr_value_to_string).
func appendValue(dst []byte, tag cbasn1.Tag, v []byte) []byte {
	switch tag {
	case cbasn1.UTF8String, cbasn1.PrintableString, cbasn1.IA5String, cbasn1.T61String,
		18 /* NumericString */, 26 /* VisibleString */, 27 /* GeneralString */, 25, /* GraphicString */
		7 /* ObjectDescriptor */, 21 /* VideotexString */ :
		return append(dst, v...)
	case 30: // BMPString: UTF-16BE
		for i := 0; i+1 < len(v); i += 2 {
			r := rune(v[i])<<8 | rune(v[i+1])
			if utf16.IsSurrogate(r) && i+3 < len(v) {
				r = utf16.DecodeRune(r, rune(v[i+2])<<8|rune(v[i+3]))
				i += 2
			}
			dst = utf8.AppendRune(dst, r)
		}
		return dst
	}
	for _, b := range v {
		dst = append(dst, hexUpper[b>>4], hexUpper[b&15])
	}
	return dst
}

// appendOID appends an OID's dotted form.
func appendOID(dst []byte, oid []byte) []byte {
	var arc uint64
	firstArc := true
	for _, b := range oid {
		arc = arc<<7 | uint64(b&0x7f)
		if b&0x80 != 0 {
			continue
		}
		if firstArc {
			x := min(arc/40, 2)
			dst = appendUint(dst, x)
			dst = append(dst, '.')
			dst = appendUint(dst, arc-40*x)
			firstArc = false
		} else {
			dst = append(dst, '.')
			dst = appendUint(dst, arc)
		}
		arc = 0
	}
	return dst
}

func appendUint(dst []byte, v uint64) []byte {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(dst, b[i:]...)
}
