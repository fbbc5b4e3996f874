package appssh

import "unicode/utf8"

// Record is the "ssh" object of an EVE record, with Suricata's field names
// (rust/src/ssh/logger.rs): a side appears once its banner was read, its
// hassh once its KEXINIT was.
type Record struct {
	Client *Host `json:"client,omitempty"`
	Server *Host `json:"server,omitempty"`
}

// Host is one side of the SSH record.
type Host struct {
	ProtoVersion    string `json:"proto_version"`
	SoftwareVersion string `json:"software_version,omitempty"`
	HASSH           *Hash  `json:"hassh,omitempty"`
}

// Hash is a HASSH fingerprint and the string it was computed from.
type Hash struct {
	Hash   string `json:"hash,omitempty"`
	String string `json:"string,omitempty"`
}

// Record fills r from c and reports whether there is anything to log
// (Suricata logs nothing before either banner). It allocates the strings:
// records are written once per flow, not per packet.
func (c *Conn) Record(r *Record) bool {
	r.Client = c.cli.host(r.Client)
	r.Server = c.srv.host(r.Server)
	return r.Client != nil || r.Server != nil
}

func (s *side) host(h *Host) *Host {
	if len(s.proto) == 0 {
		return nil
	}
	if h == nil {
		h = new(Host)
	}
	*h = Host{ProtoVersion: text(s.proto), SoftwareVersion: text(s.soft)}
	if s.hasHassh {
		h.HASSH = &Hash{Hash: string(s.hassh[:]), String: text(s.hasshStr)}
	}
	return h
}

// text renders bytes as Suricata's JSON builder does for
// set_string_from_bytes: valid UTF-8 as it is (the JSON encoder escapes it),
// otherwise every byte above 0x7f as \xNN.
func text(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	const hexd = "0123456789abcdef"
	out := make([]byte, 0, len(b)+8)
	for _, c := range b {
		if c < 0x80 {
			out = append(out, c)
			continue
		}
		out = append(out, '\\', 'x', hexd[c>>4], hexd[c&0xf])
	}
	return string(out)
}
