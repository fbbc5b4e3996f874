package apptls

import (
	"crypto/tls"
	"testing"
	"time"
)

func TestMatchers(t *testing.T) {
	s12 := handshake(t, tls.VersionTLS12, nil)
	var c12 Conn
	s12.feed(&c12)
	var c13 Conn
	crafted13().feed(&c13)
	var cv3 Conn
	cv3.Feed(true, records(recHandshake, 0x0300, clientHelloMsg(0x0300, nil, []uint16{10}, nil), 1<<14), nil)
	cv3.Feed(false, records(recHandshake, 0x0300, serverHelloMsg(0x0300, nil, 10, nil), 1<<14), nil)

	type probe struct {
		c        *Conn
		toServer bool
		want     bool
	}
	tests := []struct {
		kw, spec string
		probes   []probe
	}{
		{"ssl_version", "sslv3", []probe{{&cv3, false, true}, {&cv3, true, true}, {&c12, false, false}}},
		{"ssl_version", "tls1.2,tls1.3", []probe{{&c12, false, true}, {&c13, false, true}, {&cv3, false, false}}},
		{"ssl_version", "!sslv2", []probe{{&c12, false, true}, {&cv3, false, true}}},
		{"ssl_version", "!tls1.3", []probe{{&c13, false, false}, {&c12, false, true}}},
		{"ssl_version", "TLS1.3", []probe{{&c13, true, true}}}, // the client's first supported version
		{"ssl_state", "server_hello", []probe{{&cv3, false, true}}},
		{"ssl_state", "client_hello", []probe{{&cv3, false, false}}},
		{"ssl_state", "!client_hello", []probe{{&cv3, false, true}}},
		{"ssl_state", "client_hello|server_hello", []probe{{&cv3, true, true}}},
		{"tls.version", "1.2", []probe{{&c12, false, true}, {&c13, false, false}}},
		{"tls.version", "1.3", []probe{{&c13, false, true}}},
		{"tls.version", "0x0300", []probe{{&cv3, false, true}}},
		{"tls.cert_chain_len", "2", []probe{{&c12, false, true}, {&c12, true, false}, {&c13, false, false}}},
		{"tls.cert_chain_len", "0<>4", []probe{{&c12, false, true}}},
		{"tls.cert_chain_len", "!2", []probe{{&c12, false, false}}},
		{"tls.cert_chain_len", ">=3", []probe{{&c12, false, false}}},
		{"tls_cert_notbefore", "<2021", []probe{{&c12, false, true}}},
		{"tls_cert_notbefore", ">2020-01-02T03:04:06", []probe{{&c12, false, false}}},
		{"tls_cert_notbefore", "2020-01-02T03:04:05", []probe{{&c12, false, true}}},
		{"tls_cert_notafter", "2030-01<>2031", []probe{{&c12, false, true}, {&c13, false, false}}},
		{"tls_cert_notafter", ">1893456000", []probe{{&c12, false, true}}}, // epoch seconds (2030-01-01)
		{"tls.subject", `"CN=www.example.test"`, []probe{{&c12, false, true}, {&c12, true, false}}},
		{"tls.issuerdn", `!"O=Other"`, []probe{{&c12, false, true}}},
		{"tls.fingerprint", `"` + fingerprintOf(getPKI(t).leafDER)[:20] + `"`, []probe{{&c12, false, true}}},
	}
	for _, tt := range tests {
		var m Matcher
		var err error
		switch tt.kw {
		case "ssl_version":
			m, err = MatchSSLVersion(tt.spec)
		case "ssl_state":
			m, err = MatchSSLState(tt.spec)
		case "tls.version":
			m, err = MatchTLSVersion(tt.spec)
		case "tls.cert_chain_len":
			m, err = MatchCertChainLen(tt.spec)
		case "tls_cert_notbefore", "tls_cert_notafter":
			m, err = MatchCertDate(tt.kw, tt.spec)
		default:
			m, err = MatchLegacy(tt.kw, tt.spec)
		}
		if err != nil {
			t.Errorf("%s:%s: %v", tt.kw, tt.spec, err)
			continue
		}
		for i, p := range tt.probes {
			if got := m(p.c, p.toServer); got != p.want {
				t.Errorf("%s:%s probe %d (to server %v): %v, want %v", tt.kw, tt.spec, i, p.toServer, got, p.want)
			}
		}
	}
	expired, valid := MatchCertExpired(false), MatchCertExpired(true)
	now2040 := time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	now2025 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	if !expired(&c12, false, now2040) || expired(&c12, false, now2025) || !valid(&c12, false, now2025) || valid(&c13, false, now2025) {
		t.Errorf("tls_cert_expired/valid wrong")
	}
}

func TestMatcherErrors(t *testing.T) {
	bad := []struct {
		name string
		err  error
	}{
		{"ssl_version", func() error { _, err := MatchSSLVersion("tls9"); return err }()},
		{"ssl_version dup", func() error { _, err := MatchSSLVersion("sslv3,sslv3"); return err }()},
		{"ssl_version empty", func() error { _, err := MatchSSLVersion(" "); return err }()},
		{"ssl_state", func() error { _, err := MatchSSLState("client_hellox"); return err }()},
		{"tls.version", func() error { _, err := MatchTLSVersion("2.0"); return err }()},
		{"chain", func() error { _, err := MatchCertChainLen("4<>2"); return err }()},
		{"date", func() error { _, err := MatchCertDate("tls_cert_notafter", ">tomorrow"); return err }()},
		{"legacy", func() error { _, err := MatchLegacy("tls.subject", `""`); return err }()},
	}
	for _, b := range bad {
		if b.err == nil {
			t.Errorf("%s: no error", b.name)
		}
	}
}
