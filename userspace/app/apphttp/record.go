package apphttp

import "encoding/json"

// Text is a byte string that marshals to JSON as a string (invalid UTF-8
// replaced), so a Record can point into the Tx without copying.
type Text []byte

// MarshalJSON implements json.Marshaler.
func (t Text) MarshalJSON() ([]byte, error) {
	return json.Marshal(string(t))
}

// NameValue is one header in request_headers / response_headers.
type NameValue struct {
	Name  Text `json:"name"`
	Value Text `json:"value"`
}

// Record is the "http" object of a Suricata EVE record, with Suricata's
// field names (output-json-http.c). Its Text fields point into the Tx.
type Record struct {
	Hostname        Text        `json:"hostname,omitempty"`
	HTTPPort        int         `json:"http_port,omitempty"`
	URL             Text        `json:"url,omitempty"`
	HTTPUserAgent   Text        `json:"http_user_agent,omitempty"`
	XFF             Text        `json:"xff,omitempty"`
	HTTPContentType Text        `json:"http_content_type,omitempty"`
	HTTPRefer       Text        `json:"http_refer,omitempty"`
	HTTPMethod      Text        `json:"http_method,omitempty"`
	Protocol        Text        `json:"protocol,omitempty"`
	Status          int         `json:"status,omitempty"`
	Redirect        Text        `json:"redirect,omitempty"`
	Length          int64       `json:"length"`
	RequestHeaders  []NameValue `json:"request_headers,omitempty"`
	ResponseHeaders []NameValue `json:"response_headers,omitempty"`
}

// Record fills r from the transaction. Headers are listed only when r's
// header slices are non-nil on entry (Suricata's dump-all-headers): pass
// r.RequestHeaders = r.RequestHeaders[:0] of a reused Record to get them.
func (t *Tx) Record(r *Record) {
	wantReq, wantResp := r.RequestHeaders != nil, r.ResponseHeaders != nil
	reqH, respH := r.RequestHeaders[:0], r.ResponseHeaders[:0]
	*r = Record{
		Hostname:      Text(t.Host),
		URL:           Text(t.URIRaw),
		HTTPUserAgent: t.hdr(true, true, "User-Agent"),
		XFF:           t.hdr(true, true, "X-Forwarded-For"),
		HTTPRefer:     t.hdr(true, true, "Referer"),
		HTTPMethod:    Text(t.Method),
		Protocol:      Text(t.Protocol),
		Status:        t.Status,
		Redirect:      t.hdr(false, false, "Location"),
		Length:        t.resp.bodyLen,
	}
	if t.Port != 0 {
		r.HTTPPort = t.Port
	}
	if ct := t.hdr(false, false, "Content-Type"); ct != nil {
		// Suricata logs the media type without parameters.
		if i := indexByte(ct, ';'); i >= 0 {
			ct = trimLWS(ct[:i])
		}
		r.HTTPContentType = ct
	}
	if wantReq {
		for i := range t.req.fields {
			f := &t.req.fields[i]
			reqH = append(reqH, NameValue{t.req.get(f.name), t.req.get(f.value)})
		}
		r.RequestHeaders = reqH
	}
	if wantResp {
		for i := range t.resp.fields {
			f := &t.resp.fields[i]
			respH = append(respH, NameValue{t.resp.get(f.name), t.resp.get(f.value)})
		}
		r.ResponseHeaders = respH
	}
}
