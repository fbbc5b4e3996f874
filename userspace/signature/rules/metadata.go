package rules

import "strings"

// MetadataMap returns the rule's metadata options as Suricata logs them in
// EVE alert.metadata: each "key value" entry of each metadata option
// (entries separated by commas), values of a key in rule order. Entries
// without a value are left out, as Suricata leaves them out. Nil when the
// rule has none.
func (r *Rule) MetadataMap() map[string][]string {
	var m map[string][]string
	for _, opt := range r.Metadata {
		for _, e := range strings.Split(opt, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(e), " ")
			v = strings.TrimSpace(v)
			if !ok || k == "" || v == "" {
				continue
			}
			if m == nil {
				m = map[string][]string{}
			}
			m[k] = append(m[k], v)
		}
	}
	return m
}
