package appproto

import "testing"

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Proto
		ok   bool
	}{
		{"http", HTTP1, true},
		{"http1", HTTP1, true},
		{"dns", DNS, true},
		{"tls", TLS, true},
		{"ssh", SSH, true},
		{"failed", Failed, true},
		{"unknown", Unknown, true},
		{"http2", Unknown, false},
		{"smb", Unknown, false},
		{"nonsense", Unknown, false},
	} {
		got, ok := ParseName(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseName(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if !Unsupported("http2") || !Unsupported("smb") || Unsupported("nonsense") || Unsupported("dns") {
		t.Error("Unsupported: wrong classification")
	}
	for p, want := range map[Proto]string{HTTP1: "http", DNS: "dns", TLS: "tls", SSH: "ssh", Failed: "failed", Unknown: "unknown", 200: "unknown"} {
		if p.String() != want {
			t.Errorf("%d.String() = %q, want %q", p, p.String(), want)
		}
	}
	// Every supported name round-trips through String and ParseName.
	for p := Unknown; p < numProtos; p++ {
		if q, ok := ParseName(p.String()); !ok || q != p {
			t.Errorf("round trip of %v: %v, %v", p, q, ok)
		}
	}
}
