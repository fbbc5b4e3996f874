package apphttp

// Limits bound the memory one Conn may use. Every limit that is hit is
// recorded on the transaction (see Flag).
type Limits struct {
	// MaxLineBytes bounds a request line, status line, header line (with its
	// folded continuations) or chunk-size line; longer lines are cut
	// (FlagLineTooLong) and the rest of the line is skipped.
	MaxLineBytes int
	// MaxHeaderBytes bounds the raw header block of one message kept for
	// http.header.raw and the parsed names and values (FlagHeaderLimit).
	MaxHeaderBytes int
	// MaxHeaders bounds the number of distinct header fields per message
	// (FlagHeaderLimit); libhtp's default is 1024.
	MaxHeaders int
	// RequestBodyInspect and ResponseBodyInspect bound the (dechunked,
	// decoded) body kept for http.request_body and file.data / http.response_body
	// (FlagBodyTruncated). Suricata's request-body-limit and
	// response-body-limit, 100 KiB by default.
	RequestBodyInspect, ResponseBodyInspect int
	// MaxDecompressed bounds the bytes all decoding layers of one body may
	// produce; a body that would decode to more is cut (FlagDecompressionCut),
	// the defence against decompression bombs.
	MaxDecompressed int
	// MaxEncodingLayers bounds how many Content-Encoding layers are decoded
	// (Suricata's response-body-decompress-layer-limit, default 2); further
	// layers are left encoded (FlagTooManyEncodings).
	MaxEncodingLayers int
	// MaxTx bounds the transactions pending per connection (requests whose
	// response has not completed, pipelining); the oldest is dropped past it
	// (FlagTxEvicted on the new transaction).
	MaxTx int
}

// DefaultLimits returns Suricata-like defaults: 8 KiB lines, 64 KiB of
// headers, 1024 header fields, 100 KiB request and response body inspection
// (request-body-limit, response-body-limit), decoding cut at 1 MiB of output
// (libhtp's compression-bomb-limit), 2 decoding layers and 32 pending
// transactions.
func DefaultLimits() Limits {
	return Limits{
		MaxLineBytes:        8 << 10,
		MaxHeaderBytes:      64 << 10,
		MaxHeaders:          1024,
		RequestBodyInspect:  100 << 10,
		ResponseBodyInspect: 100 << 10,
		MaxDecompressed:     1 << 20,
		MaxEncodingLayers:   2,
		MaxTx:               32,
	}
}

// sane replaces unset or negative limits by the defaults, so a zero Limits
// value works.
func (l Limits) sane() Limits {
	d := DefaultLimits()
	if l.MaxLineBytes <= 0 {
		l.MaxLineBytes = d.MaxLineBytes
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	if l.MaxHeaders <= 0 {
		l.MaxHeaders = d.MaxHeaders
	}
	if l.RequestBodyInspect < 0 {
		l.RequestBodyInspect = 0
	}
	if l.ResponseBodyInspect < 0 {
		l.ResponseBodyInspect = 0
	}
	if l.MaxDecompressed <= 0 {
		l.MaxDecompressed = d.MaxDecompressed
	}
	if l.MaxEncodingLayers < 0 {
		l.MaxEncodingLayers = 0
	}
	if l.MaxTx <= 0 {
		l.MaxTx = d.MaxTx
	}
	return l
}
