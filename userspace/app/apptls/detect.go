package apptls

// Detection is what Detect makes of a stream's first bytes.
type Detection uint8

// Detections.
const (
	DetectNeedMore Detection = iota // too few bytes to tell
	DetectTLS                       // a TLS record header, or an SSLv2 hello
	DetectNotTLS
)

// Detect tells TLS by content, not port, as Suricata's probing patterns
// do: a handshake record header (16 03 00..04), or an SSLv2-framed
// ClientHello (80 LL 01 03 0x, or 02 00 for SSLv2 itself), or an SSLv2
// ServerHello (80 LL 04).
func Detect(b []byte) Detection {
	if len(b) == 0 {
		return DetectNeedMore
	}
	switch {
	case b[0] == recHandshake:
		if len(b) < 3 {
			if len(b) == 2 && b[1] != 3 {
				return DetectNotTLS
			}
			return DetectNeedMore
		}
		if b[1] == 3 && b[2] <= 4 {
			return DetectTLS
		}
	case b[0]&0x80 != 0:
		if len(b) < 5 {
			return DetectNeedMore
		}
		switch {
		case b[2] == v2ClientHello && (b[3] == 3 && b[4] <= 4 || b[3] == 0 && b[4] == 2):
			return DetectTLS
		case b[2] == v2ServerHello:
			return DetectTLS
		}
	}
	return DetectNotTLS
}
