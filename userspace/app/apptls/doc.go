// Package apptls parses the clear part of a TLS (and SSLv2-compatible)
// handshake from the reassembled byte streams of one TCP connection, as
// Suricata's TLS app-layer parser does: ClientHello and ServerHello
// fields, the certificates sent in the clear (TLS 1.2 and earlier), JA3,
// JA3S and JA4 (FoxIO's JA4 only, not the JA4+ family), the sticky
// buffers and keyword data the signature engine matches on, and the
// values of Suricata's EVE "tls" record.
//
// A Conn follows both directions of one connection. Feed takes the stream
// bytes of one direction in order, split anywhere; Gap says bytes were
// lost. Records may be split across Feed calls and handshake messages may
// span records: the parser keeps a bounded buffer per direction (Limits).
//
// "Encrypted" follows Suricata's bypass trigger (app-layer-ssl.c, with
// encryption-handling: bypass): a direction turns encrypted at its first
// application-data record, not at ChangeCipherSpec. The one exception is
// Suricata's: TLS 1.3 early data (0-RTT, announced by the early_data
// extension) sent before the ServerHello does not count. After
// ChangeCipherSpec the handshake records of that direction are encrypted
// (Finished) and are not parsed, except a TLS 1.3 client's compatibility
// ChangeCipherSpec sent before the ServerHello, as Suricata does.
//
// The package imports no other xdpids package. Its steady state (Reset and
// a new handshake without certificates) does not allocate; parsing a
// certificate with crypto/x509 does, once per certificate, and the chain
// is bounded by Limits.MaxCerts and Limits.MaxHandshakeBytes.
package apptls
