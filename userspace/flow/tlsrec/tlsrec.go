// Package tlsrec follows the TLS record layer of one direction of a TCP
// stream, header to header, to tell when the session turns encrypted: the
// first application-data record. After it the direction carries nothing
// raw inspection can see, so the pipeline bypasses it, as Suricata's
// default tls.encryption-handling stops inspecting an encrypted session.
//
// It is hand-written: crypto/tls parses a live connection, not bytes seen
// from the side, and the record header is five bytes (RFC 8446 5.1).
package tlsrec

// State is what a direction has shown so far.
type State uint8

// States.
const (
	Unknown   State = iota // no byte seen yet
	Clear                  // TLS records, none encrypted yet (handshake, alerts)
	Encrypted              // an application-data record was seen
	NotTLS                 // the stream is not TLS, or the follower lost its place
)

// Record content types (RFC 8446 B.1; 24 is RFC 6520's heartbeat).
const (
	typeChangeCipherSpec = 20
	typeHandshake        = 22
	typeApplicationData  = 23
	typeHeartbeat        = 24
)

// maxRecord bounds a record's length: 2^14 bytes of plaintext plus the
// expansion TLS 1.2 allows (RFC 5246 6.2.3).
const maxRecord = 1<<14 + 2048

// Dir follows one direction of a stream. The zero value is ready.
type Dir struct {
	next  uint64  // stream offset of the next record header
	hdr   [5]byte // a header split over chunks
	n     uint8   // bytes of hdr held
	state State
}

// State is the direction's state.
func (d *Dir) State() State { return d.state }

// Feed takes the stream's bytes data at offset off (offsets count from
// the first byte of the direction's stream) and returns the state after
// them. A gap over a record header, or anything that is not a record
// header where one is due, makes the direction NotTLS for good.
func (d *Dir) Feed(off uint64, data []byte) State {
	for len(data) > 0 && (d.state == Unknown || d.state == Clear) {
		if d.state == Unknown && off != uint64(d.n) {
			d.state = NotTLS // picked up mid-stream: no record boundary known
			break
		}
		switch {
		case off < d.next: // inside a record body
			skip := min(d.next-off, uint64(len(data)))
			off, data = off+skip, data[skip:]
			continue
		case off != d.next+uint64(d.n): // a hole over a header
			d.state = NotTLS
			continue
		}
		k := copy(d.hdr[d.n:], data)
		d.n += uint8(k)
		off, data = off+uint64(k), data[k:]
		if d.n < 5 {
			break
		}
		d.n = 0
		typ, major, minor := d.hdr[0], d.hdr[1], d.hdr[2]
		length := uint64(d.hdr[3])<<8 | uint64(d.hdr[4])
		switch {
		case major != 3 || minor > 4 || length > maxRecord || typ < typeChangeCipherSpec || typ > typeHeartbeat:
			d.state = NotTLS
		case d.state == Unknown && typ != typeHandshake:
			d.state = NotTLS // a TLS stream opens with a handshake record
		case typ == typeApplicationData:
			d.state = Encrypted
		default:
			d.state = Clear
			d.next += 5 + length
		}
	}
	return d.state
}
