package apptls

// StateFlags are handshake states, as Suricata's SSL_AL_FLAG_STATE_*
// bits that ssl_state matches on.
type StateFlags uint16

// Handshake states.
const (
	FlagClientHello        StateFlags = 1 << iota // ClientHello (TLS or SSLv2)
	FlagServerHello                               // ServerHello (TLS or SSLv2)
	FlagClientKeyExchange                         // ClientKeyExchange, SSLv2 client master key
	FlagServerKeyExchange                         // ServerKeyExchange
	FlagCertificateRequest                        // CertificateRequest (Suricata's NEED_CLIENT_CERT)
	FlagChangeCipherSpec                          // a ChangeCipherSpec record, either direction
	FlagUnknown                                   // ssl_state's "unknown" (never set by the parser, as in Suricata)
)

// Anomaly is a set of protocol anomalies, named as Suricata's TLS
// app-layer events (app-layer-event:tls.NAME) where Suricata has one.
type Anomaly uint32

// Anomalies.
const (
	AnomalyInvalidSSLv2Header      Anomaly = 1 << iota // invalid_sslv2_header
	AnomalyInvalidRecordVersion                        // invalid_record_version
	AnomalyInvalidRecordType                           // invalid_record_type
	AnomalyInvalidRecordLength                         // invalid_record_length
	AnomalyInvalidHandshakeMessage                     // invalid_handshake_message
	AnomalyHandshakeInvalidLength                      // handshake_invalid_length
	AnomalyInvalidCertificate                          // invalid_certificate
	AnomalyCertificateInvalidDER                       // certificate_invalid_der
	AnomalyMultipleSNI                                 // multiple_sni_extensions
	AnomalyInvalidSNIType                              // invalid_sni_type
	AnomalyInvalidSNILength                            // invalid_sni_length
	AnomalyInvalidHeartbeat                            // invalid_heartbeat_message
	AnomalyOverflowHeartbeat                           // overflow_heartbeat_message (heartbleed)
	AnomalyDataleakHeartbeat                           // dataleak_heartbeat_mismatch (encrypted heartbleed)
	AnomalyErrorMessage                                // error_message_encountered (SSLv2 error)
	AnomalyHandshakeTooLarge                           // xdpids: a message over Limits.MaxHandshakeBytes was skipped
	AnomalyTooManyCerts                                // xdpids: a chain over Limits.MaxCerts was cut
	AnomalyGap                                         // xdpids: a gap made the parser lose its place
)

// AnomalyEvents names each anomaly as the app-layer-event:tls.NAME a rule
// uses; the xdpids-only ones have names Suricata does not use.
var AnomalyEvents = []struct {
	Name    string
	Anomaly Anomaly
}{
	{"invalid_sslv2_header", AnomalyInvalidSSLv2Header},
	{"invalid_record_version", AnomalyInvalidRecordVersion},
	{"invalid_record_type", AnomalyInvalidRecordType},
	{"invalid_record_length", AnomalyInvalidRecordLength},
	{"invalid_handshake_message", AnomalyInvalidHandshakeMessage},
	{"handshake_invalid_length", AnomalyHandshakeInvalidLength},
	{"invalid_certificate", AnomalyInvalidCertificate},
	{"certificate_invalid_der", AnomalyCertificateInvalidDER},
	{"multiple_sni_extensions", AnomalyMultipleSNI},
	{"invalid_sni_type", AnomalyInvalidSNIType},
	{"invalid_sni_length", AnomalyInvalidSNILength},
	{"invalid_heartbeat_message", AnomalyInvalidHeartbeat},
	{"overflow_heartbeat_message", AnomalyOverflowHeartbeat},
	{"dataleak_heartbeat_mismatch", AnomalyDataleakHeartbeat},
	{"error_message_encountered", AnomalyErrorMessage},
	{"xdpids_handshake_too_large", AnomalyHandshakeTooLarge},
	{"xdpids_too_many_certs", AnomalyTooManyCerts},
	{"xdpids_gap", AnomalyGap},
}
