package appssh

import "github.com/xdpids/xdpids/userspace/app/evetext"

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
	*h = Host{ProtoVersion: evetext.FromBytes(s.proto), SoftwareVersion: evetext.FromBytes(s.soft)}
	if s.hasHassh {
		h.HASSH = &Hash{Hash: string(s.hassh[:]), String: evetext.FromBytes(s.hasshStr)}
	}
	return h
}
