// Package evetext renders raw protocol bytes as strings the way Suricata's
// EVE JSON builder does, shared by the application-layer record writers.
package evetext

import "unicode/utf8"

// FromBytes renders bytes as Suricata's JSON builder does for
// set_string_from_bytes: valid UTF-8 as it is (the JSON encoder escapes
// control characters), otherwise every byte above 0x7f as \xNN.
func FromBytes(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	const hexd = "0123456789abcdef"
	out := make([]byte, 0, len(b)+8)
	for _, c := range b {
		if c < 0x80 {
			out = append(out, c)
			continue
		}
		out = append(out, '\\', 'x', hexd[c>>4], hexd[c&0xf])
	}
	return string(out)
}
