// Package apphttp parses HTTP/1.0 and HTTP/1.1 from the reassembled byte
// streams of one TCP connection and exposes, per transaction, the content of
// Suricata's HTTP sticky buffers (http.uri, http.header, file.data, ...) and
// the fields of Suricata's EVE "http" record.
//
// The parser follows libhtp (the library Suricata 7 uses) with Suricata's
// default configuration (personality IDS, but with path lower-casing off as
// Suricata sets it): the same request line splitting, header folding and
// repetition rules, URI normalisation, chunked parsing, content decoding
// (gzip, deflate, with a layer limit) and the same leniency for broken input
// that browsers accept. It is hand-written rather than built on net/http
// because net/http rejects exactly the malformed traffic an IDS must read,
// allocates per request and cannot be fed from two directions at once.
//
// A Conn is fed the in-order bytes of both directions in any split. It calls
// back with a *Tx at four points (Progress): request headers complete,
// request complete, response headers complete, response complete. A Tx and
// every slice it returns are valid only until the callback returns: the Conn
// reuses them. Memory is bounded by Limits; whatever exceeds a limit is cut
// and recorded in Tx.Flags, never a panic or unbounded growth. The package
// imports no other xdpids package.
package apphttp
