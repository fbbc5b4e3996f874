package pipeline

import (
	"github.com/xdpids/xdpids/userspace/app/appdns"
	"github.com/xdpids/xdpids/userspace/app/apphttp"
	"github.com/xdpids/xdpids/userspace/app/appssh"
	"github.com/xdpids/xdpids/userspace/app/apptls"
	"github.com/xdpids/xdpids/userspace/signature/rules"
)

// The adapters below are the signature engine's view of a transaction
// (signature.TxSource) over each parser: a rules.Buffer is mapped to the
// parser's own buffer by its Suricata name, once, into these tables.
type bufMap[B any] struct {
	b  [256]B
	ok [256]bool
}

var (
	httpBufs bufMap[apphttp.Buf]
	dnsBufs  bufMap[appdns.Buf]
	tlsBufs  bufMap[apptls.Buf]
	sshBufs  bufMap[appssh.Buf]
	// dnsQuery is the request buffer a response offers its questions
	// for, to a rule that also reads the response.
	dnsQuery rules.Buffer
)

func init() {
	for _, rb := range rules.AppBuffers() {
		name := rb.String()
		switch rb.Info().App {
		case "http":
			if b, _, _, ok := apphttp.BufferByName(name); ok {
				httpBufs.b[rb], httpBufs.ok[rb] = b, true
			}
		case "dns":
			if b, ok := appdns.ParseBuf(name); ok {
				dnsBufs.b[rb], dnsBufs.ok[rb] = b, true
			}
		case "tls":
			for _, e := range apptls.Buffers {
				if e.Name == name {
					tlsBufs.b[rb], tlsBufs.ok[rb] = e.Buf, true
				}
			}
		case "ssh":
			if b, ok := appssh.ParseBuf(name); ok {
				sshBufs.b[rb], sshBufs.ok[rb] = b, true
			}
		}
	}
	dnsQuery, _ = rules.BufferByName("dns.query")
	reqHeader, _ = rules.BufferByName("http.request_header")
	respHeader, _ = rules.BufferByName("http.response_header")
}

// the HTTP multi-buffers the adapter builds from Tx.Headers
var reqHeader, respHeader rules.Buffer

// httpSrc is an HTTP transaction.
type httpSrc struct {
	tx  *apphttp.Tx
	hdr []byte // http.request_header / http.response_header item
}

func (s *httpSrc) Buffer(b rules.Buffer, toServer bool, i int) ([]byte, bool) {
	if b == reqHeader || b == respHeader {
		return s.header(b == reqHeader, i)
	}
	if i > 0 || !httpBufs.ok[b] {
		return nil, false
	}
	d := s.tx.Buffer(httpBufs.b[b], toServer)
	return d, d != nil
}

// header is item i of http.request_header (toServer) or
// http.response_header: "Name: Value" of the i-th header.
func (s *httpSrc) header(toServer bool, i int) ([]byte, bool) {
	n, ok := 0, false
	s.tx.Headers(toServer, func(name, value []byte) {
		if n == i {
			s.hdr = append(append(append(s.hdr[:0], name...), ": "...), value...)
			ok = true
		}
		n++
	})
	return s.hdr, ok
}

func (s *httpSrc) Field(rules.Field, int) (uint64, bool) { return 0, false }

// dnsSrc is one DNS message: the request side of a transaction when it
// is a query, the response side when it is an answer (whose questions
// stand in for the request's).
type dnsSrc struct{ m *appdns.Message }

func (s *dnsSrc) Buffer(b rules.Buffer, toServer bool, i int) ([]byte, bool) {
	if !dnsBufs.ok[b] || toServer == s.m.Response && b != dnsQuery {
		return nil, false
	}
	db := dnsBufs.b[b]
	if s.m.Response && b == dnsQuery {
		db = appdns.QueryName
	}
	return s.m.Buffer(db, i)
}

func (s *dnsSrc) Field(f rules.Field, i int) (uint64, bool) {
	switch f {
	case rules.FieldDNSOpcode:
		return uint64(s.m.OpcodeValue()), i == 0
	case rules.FieldDNSRcode:
		return uint64(s.m.RcodeValue()), i == 0 && s.m.Response
	case rules.FieldDNSRRType:
		t, ok := s.m.RRTypes(i)
		return uint64(t), ok
	}
	return 0, false
}

// tlsSrc is a TLS handshake: the client's side and the server's.
type tlsSrc struct {
	c        *apptls.Conn
	now      int64 // packet time, Unix seconds (tls_cert_expired)
	toServer bool  // the side of the progress point
}

func (s *tlsSrc) Buffer(b rules.Buffer, toServer bool, i int) ([]byte, bool) {
	if !tlsBufs.ok[b] {
		return nil, false
	}
	return s.c.BufferDir(tlsBufs.b[b], toServer, i)
}

// tlsStates maps apptls's handshake states to ssl_state's bits.
var tlsStates = [...]struct {
	f   apptls.StateFlags
	bit uint64
}{
	{apptls.FlagClientHello, rules.SSLStateClientHello}, {apptls.FlagServerHello, rules.SSLStateServerHello},
	{apptls.FlagClientKeyExchange, rules.SSLStateClientKeyx}, {apptls.FlagServerKeyExchange, rules.SSLStateServerKeyx},
	{apptls.FlagUnknown, rules.SSLStateUnknown},
}

// Field reads the field keywords of the side of the progress point
// (toServer: the client's version and certificate; else the server's).
func (s *tlsSrc) Field(f rules.Field, i int) (uint64, bool) {
	if i > 0 {
		return 0, false
	}
	c := s.c
	switch f {
	case rules.FieldTLSVersion:
		v := c.Version(s.toServer)
		return uint64(v), v != 0
	case rules.FieldSSLVersion:
		v := c.Version(s.toServer)
		if v>>8 == 0x7f {
			v = 0x0304
		}
		b := rules.SSLVersionBit(v)
		return b, b != 0
	case rules.FieldSSLState:
		var bits uint64
		fl := c.Flags()
		for _, st := range tlsStates {
			if fl&st.f != 0 {
				bits |= st.bit
			}
		}
		return bits, true
	case rules.FieldCertChainLen:
		cs := c.Certs(s.toServer)
		return uint64(cs.ChainLen), cs.Seen
	case rules.FieldCertNotBefore, rules.FieldCertNotAfter, rules.FieldCertExpired, rules.FieldCertValid:
		cs := c.Certs(s.toServer)
		if !cs.Parsed {
			return 0, false
		}
		switch f {
		case rules.FieldCertNotBefore:
			return uint64(max(cs.NotBefore, 0)), true
		case rules.FieldCertNotAfter:
			return uint64(max(cs.NotAfter, 0)), true
		case rules.FieldCertExpired:
			return b2u(cs.NotAfter < s.now), true
		}
		return b2u(cs.NotAfter >= s.now && cs.NotBefore <= s.now), true
	}
	return 0, false
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// sshSrc is an SSH session's clear part.
type sshSrc struct{ c *appssh.Conn }

func (s *sshSrc) Buffer(b rules.Buffer, toServer bool, i int) ([]byte, bool) {
	if i > 0 || !sshBufs.ok[b] {
		return nil, false
	}
	d := s.c.Buffer(sshBufs.b[b], toServer)
	return d, d != nil
}

func (s *sshSrc) Field(rules.Field, int) (uint64, bool) { return 0, false }
