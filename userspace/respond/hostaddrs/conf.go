package hostaddrs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"strings"
)

var errNotExist = fs.ErrNotExist

// maxConfBytes bounds what is read of one configuration file.
const maxConfBytes = 1 << 20

// file adds the addresses parse finds in the file at path.
func (b *builder) file(path string, parse func([]byte, func(netip.Addr))) error {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return errNotExist
		}
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfBytes))
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	parse(data, b.add)
	return nil
}

// These parsers are hand-written: the formats are line-oriented keyword
// files (resolv.conf(5), chrony.conf(5), ntp.conf(5), timesyncd.conf(5)),
// and no maintained Go library reads all of them; only the lines naming
// servers matter here. Names are not resolved: a server given by name
// (pool 2.debian.pool.ntp.org) is not protected, as resolving it would
// make the protected set depend on DNS answers an attacker may influence.

// parseResolvConf calls add for each "nameserver ADDR" line's address.
func parseResolvConf(data []byte, add func(netip.Addr)) {
	lines(data, func(f []string) {
		if len(f) >= 2 && f[0] == "nameserver" {
			addLiteral(f[1], add)
		}
	})
}

// parseNTPConf calls add for the IP literals of chrony and ntpd "server",
// "pool" and "peer" lines and of systemd-timesyncd's NTP= and
// FallbackNTP= lists. One parser serves all: the keywords do not clash.
func parseNTPConf(data []byte, add func(netip.Addr)) {
	lines(data, func(f []string) {
		switch {
		case len(f) >= 2 && (f[0] == "server" || f[0] == "pool" || f[0] == "peer"):
			addLiteral(f[1], add)
		case strings.HasPrefix(f[0], "NTP=") || strings.HasPrefix(f[0], "FallbackNTP="):
			f[0] = f[0][strings.IndexByte(f[0], '=')+1:]
			for _, s := range f {
				addLiteral(s, add)
			}
		}
	})
}

// lines calls fn with the fields of each line, comments (# and ;, and
// chrony's !) removed, blank lines skipped.
func lines(data []byte, fn func([]string)) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxConfBytes)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;!"); i >= 0 {
			line = line[:i]
		}
		// timesyncd writes "NTP = a b" as well as "NTP=a b".
		line = strings.Replace(line, " =", "=", 1)
		line = strings.Replace(line, "= ", "=", 1)
		if f := strings.Fields(line); len(f) > 0 {
			fn(f)
		}
	}
}

// addLiteral adds s if it is an IP literal (a zone, as in fe80::1%eth0,
// is dropped: packets carry none).
func addLiteral(s string, add func(netip.Addr)) {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if a, err := netip.ParseAddr(s); err == nil {
		add(a.WithZone(""))
	}
}
