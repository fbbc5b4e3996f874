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

// Worst-case memory of one Conn is about MaxTx × (2 × (2 × MaxHeaderBytes +
// MaxLineBytes) + 2 × (RequestBodyInspect + ResponseBodyInspect)), 22 MB with
// the defaults if 32 pipelined transactions all hit every limit; a
// keep-alive connection uses one transaction's worth. Reset keeps only a
// few transactions' buffers for reuse.

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

// Effective returns the limits a Conn made with l runs with (Conn.Limits).
func (l Limits) Effective() Limits { return l.sane() }

// sane replaces zero limits by the defaults, so a zero Limits value works.
// A negative body or layer limit means none: no body kept, no decoding.
func (l Limits) sane() Limits {
	d := DefaultLimits()
	def := func(v *int, dv int, negZero bool) {
		switch {
		case *v == 0:
			*v = dv
		case *v < 0 && negZero:
			*v = 0
		case *v < 0:
			*v = dv
		}
	}
	def(&l.MaxLineBytes, d.MaxLineBytes, false)
	def(&l.MaxHeaderBytes, d.MaxHeaderBytes, false)
	def(&l.MaxHeaders, d.MaxHeaders, false)
	def(&l.RequestBodyInspect, d.RequestBodyInspect, true)
	def(&l.ResponseBodyInspect, d.ResponseBodyInspect, true)
	def(&l.MaxDecompressed, d.MaxDecompressed, false)
	def(&l.MaxEncodingLayers, d.MaxEncodingLayers, true)
	def(&l.MaxTx, d.MaxTx, false)
	return l
}
