package signature

import "github.com/xdpids/xdpids/userspace/signature/rules"

// isAppRule reports whether r is inspected on app-layer transactions
// (MatchTx) instead of packets and streams: it names an app-layer
// buffer, field or protocol.
func isAppRule(r *rules.Rule) bool {
	return r.Proto.App != "" || len(r.AppLayer) > 0 || r.IsApp()
}
