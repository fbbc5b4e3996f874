package appssh

// Buf names a sticky buffer of Suricata's SSH keywords.
type Buf uint8

// The SSH sticky buffers.
const (
	Proto             Buf = iota // ssh.proto (legacy ssh_proto): protocol version of the inspected direction
	Software                     // ssh.software (legacy ssh_software): software version of the inspected direction
	HASSH                        // ssh.hassh: the client's HASSH (to server)
	HASSHString                  // ssh.hassh.string: the client's hassh string
	HASSHServer                  // ssh.hassh.server: the server's HASSH (to client)
	HASSHServerString            // ssh.hassh.server.string: the server's hassh string
	numBufs
)

var bufNames = map[string]Buf{
	"ssh.proto":               Proto,
	"ssh_proto":               Proto,
	"ssh.software":            Software,
	"ssh_software":            Software,
	"ssh.hassh":               HASSH,
	"ssh.hassh.string":        HASSHString,
	"ssh.hassh.server":        HASSHServer,
	"ssh.hassh.server.string": HASSHServerString,
}

// ParseBuf returns the buffer a rule keyword names.
func ParseBuf(keyword string) (Buf, bool) {
	b, ok := bufNames[keyword]
	return b, ok
}

// ToServer reports the only direction a buffer exists in, where it has one
// (the HASSH buffers: Suricata registers ssh.hassh for to-server and
// ssh.hassh.server for to-client); ok is false for ssh.proto and
// ssh.software, which exist in both.
func (b Buf) ToServer() (toServer, ok bool) {
	switch b {
	case HASSH, HASSHString:
		return true, true
	case HASSHServer, HASSHServerString:
		return false, true
	}
	return false, false
}

// Buffer returns the content of b for the inspected direction (toServer:
// the client's banner; else the server's). The HASSH buffers ignore
// toServer: ssh.hassh is always the client's and ssh.hassh.server always the
// server's. nil means the buffer is not (yet) there, and a rule on it does
// not match. The slice is c's: valid until the next Feed or Reset.
func (c *Conn) Buffer(b Buf, toServer bool) []byte {
	s := &c.srv
	if toServer {
		s = &c.cli
	}
	switch b {
	case Proto:
		return s.proto
	case Software:
		if len(s.soft) == 0 {
			return nil // Suricata keeps no empty software version
		}
		return s.soft
	case HASSH:
		return c.cli.hash()
	case HASSHString:
		return c.cli.hashString()
	case HASSHServer:
		return c.srv.hash()
	case HASSHServerString:
		return c.srv.hashString()
	}
	return nil
}

func (s *side) hash() []byte {
	if !s.hasHassh {
		return nil
	}
	return s.hassh[:]
}

func (s *side) hashString() []byte {
	if !s.hasHassh {
		return nil
	}
	return s.hasshStr
}

// MatchProtoVersion evaluates the legacy keyword ssh.protoversion:<v>
// (Suricata ≤ 6): "2_compat" matches protocol 2.0 and 1.99 (the version that
// speaks both); any other value matches a protocol version that starts with
// it, as the old keyword compared the value's length of bytes.
func (c *Conn) MatchProtoVersion(v string, toServer bool) bool {
	p := c.Buffer(Proto, toServer)
	if p == nil {
		return false
	}
	if v == "2_compat" {
		return string(p) == "2.0" || hasPrefix(p, "1.99")
	}
	return hasPrefix(p, v)
}

// MatchSoftwareVersion evaluates the legacy keyword
// ssh.softwareversion:<v>: the software version starts with v.
func (c *Conn) MatchSoftwareVersion(v string, toServer bool) bool {
	s := c.Buffer(Software, toServer)
	return s != nil && hasPrefix(s, v)
}

func hasPrefix(b []byte, p string) bool {
	return len(b) >= len(p) && string(b[:len(p)]) == p
}
