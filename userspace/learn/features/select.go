package features

import (
	"fmt"
	"path"
	"slices"
)

// Select turns feature-name globs ("src_*", "resp_port") into feature
// indexes, sorted (nil globs: nil). A glob that names no feature is an
// error.
func Select(globs []string) ([]int, error) {
	var use []int
	for _, g := range globs {
		n := 0
		for i, name := range Names {
			ok, err := path.Match(g, name)
			if err != nil {
				return nil, fmt.Errorf("bad feature glob %q: %w", g, err)
			}
			if ok {
				n++
				if !slices.Contains(use, i) {
					use = append(use, i)
				}
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("feature glob %q names no feature (xdpids model features writes them in its header)", g)
		}
	}
	slices.Sort(use)
	return use, nil
}
