package apphttp

import "strings"

// Flag records an anomaly or a limit hit on a transaction. Names follow
// Suricata's http app-layer events where one exists.
type Flag uint64

// Flags.
const (
	FlagLineTooLong            Flag = 1 << iota // a line exceeded MaxLineBytes (request_field_too_long)
	FlagHeaderLimit                             // MaxHeaderBytes or MaxHeaders hit (request/response_too_many_headers)
	FlagBodyTruncated                           // a body exceeded its inspection limit
	FlagDecompressionCut                        // decoding produced MaxDecompressed bytes and was cut
	FlagDecompressFailed                        // a body claimed an encoding it does not have; kept raw
	FlagTooManyEncodings                        // more Content-Encoding layers than MaxEncodingLayers
	FlagInvalidChunk                            // an invalid chunk length (body read to close)
	FlagChunkExtension                          // a chunk-size line with an extension
	FlagInvalidFolding                          // folding with no header before it
	FlagMissingColon                            // a header line without a colon
	FlagInvalidHeaderName                       // a header name with LWS or non-token bytes, or empty
	FlagHeaderRepetition                        // a header field repeated
	FlagInvalidStatus                           // status code absent or outside 100..999
	FlagInvalidProtocol                         // response protocol not HTTP/0.9, 1.0 or 1.1
	FlagResponseAsBody                          // a response line that is not HTTP: the stream is body
	FlagLeadingWhitespace                       // request line with leading whitespace
	FlagMissingProtocol                         // request line without protocol (HTTP/0.9 form)
	FlagURIDelimiter                            // non-space delimiter in the request line
	FlagInvalidTE                               // Transfer-Encoding without chunked, or on HTTP/1.0
	FlagInvalidCL                               // an unparseable Content-Length
	FlagSmuggling                               // both Content-Length and chunked, or ambiguous C-L
	FlagHostMissing                             // HTTP/1.1 request without Host
	FlagHostAmbiguous                           // URI host and Host header differ
	FlagHostInvalid                             // invalid host in the URI or the Host header
	FlagPathInvalidEncoding                     // invalid %-encoding in the path
	FlagPathEncodedNUL                          // %00 in the path
	FlagPathEncodedSeparator                    // %2f or %5c in the path
	FlagPathOverlongU                           // %u00XX in the path
	FlagPathHalfFullRange                       // full-width (U+FFxx) evasion in the path
	FlagPathUTF8Invalid                         // invalid UTF-8 in the path
	FlagPathUTF8Overlong                        // overlong UTF-8 in the path
	FlagUnexpectedBody                          // body on 1xx/204/304
	FlagResponseWithoutRequest                  // a response that matches no request
	FlagGap                                     // bytes were missing in this transaction
	FlagIncomplete                              // the stream closed before the message ended
	FlagTxEvicted                               // MaxTx pending transactions: the oldest was dropped
	FlagTunnel                                  // CONNECT 2xx or 101: the rest of the connection is not HTTP
	FlagLeadingJunk                             // a junk line before the status line was skipped
	flagCount                  = iota
)

var flagNames = [flagCount]string{
	"line_too_long", "header_limit", "body_truncated", "decompression_cut",
	"decompress_failed", "too_many_encoding_layers", "invalid_chunk",
	"chunk_extension", "invalid_folding", "missing_colon", "invalid_header_name",
	"header_repetition", "invalid_status", "invalid_protocol", "response_as_body",
	"leading_whitespace", "missing_protocol", "uri_delimiter_non_compliant",
	"invalid_transfer_encoding", "invalid_content_length", "smuggling",
	"host_missing", "host_ambiguous", "host_invalid", "path_invalid_encoding",
	"path_encoded_nul", "path_encoded_separator", "path_overlong_u",
	"path_half_full_range", "path_utf8_invalid", "path_utf8_overlong",
	"unexpected_body", "response_without_request", "gap", "incomplete",
	"tx_evicted", "tunnel", "leading_junk",
}

// Has reports whether every flag in g is set.
func (f Flag) Has(g Flag) bool { return f&g == g }

// String lists the set flags, comma-separated.
func (f Flag) String() string {
	var b strings.Builder
	for i := range flagCount {
		if f&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(flagNames[i])
		}
	}
	return b.String()
}
