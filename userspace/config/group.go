package config

import (
	"fmt"
	"os/user"
	"strconv"
)

// LookupGroup resolves pin_group, a group name or a numeric gid, to a gid.
func LookupGroup(s string) (int, error) {
	if gid, err := strconv.Atoi(s); err == nil {
		if gid < 0 {
			return 0, fmt.Errorf("gid %d is negative", gid)
		}
		return gid, nil
	}
	g, err := user.LookupGroup(s)
	if err != nil {
		return 0, fmt.Errorf("group %q: no such group", s)
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return 0, fmt.Errorf("group %q: gid %q is not a number", s, g.Gid)
	}
	return gid, nil
}
