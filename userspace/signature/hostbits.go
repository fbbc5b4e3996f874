package signature

import (
	"net/netip"

	"github.com/xdpids/xdpids/userspace/signature/rules"
)

// Host bits (hostbits, xbits): like flowbits, but kept per address or
// address pair, with an optional expiry in packet time.

type chostbit struct {
	cflowbit
	track  rules.Track
	expire int64 // ns; 0 = none
}

type hostKey struct{ a, b netip.Addr }

type hostState struct {
	bits    []uint64
	expires []int64 // per bit; 0 = never
}

// maxHosts bounds the host bit table.
const maxHosts = 1 << 18

func (e *Engine) hostBit(name string) int { return e.st.hostBit(name) }

func hostKeyOf(t rules.Track, c *mctx) hostKey {
	switch t {
	case rules.TrackByDst:
		return hostKey{a: c.dst}
	case rules.TrackByBoth:
		// an ip pair has no direction
		if c.dst.Less(c.src) {
			return hostKey{c.dst, c.src}
		}
		return hostKey{c.src, c.dst}
	}
	return hostKey{a: c.src}
}

func (h *hostState) isSet(b int, now int64) bool {
	if h == nil || b >= len(h.expires) || h.bits[b/64]&(1<<(b%64)) == 0 {
		return false
	}
	return h.expires[b] == 0 || now < h.expires[b]
}

// hostbitsRead checks the rule's isset/isnotset host bits.
func (e *Engine) hostbitsRead(cr *crule, c *mctx) bool {
	if len(cr.hreads) == 0 {
		return true
	}
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	for _, rd := range cr.hreads {
		h := e.st.hosts[hostKeyOf(rd.track, c)]
		want := rd.cmd == rules.FBIsSet
		any, all := false, true
		for _, b := range rd.bits {
			if h.isSet(b, c.ts) == want {
				any = true
			} else {
				all = false
			}
		}
		if (rd.or && !any) || (!rd.or && !all) {
			return false
		}
	}
	return true
}

// hostbitsWrite applies the rule's set/unset/toggle host bits.
func (e *Engine) hostbitsWrite(cr *crule, c *mctx) {
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	hosts := e.st.hosts
	for _, w := range cr.hwrites {
		k := hostKeyOf(w.track, c)
		h := hosts[k]
		if h == nil {
			if len(hosts) >= maxHosts {
				for old := range hosts {
					delete(hosts, old)
					break
				}
			}
			h = &hostState{}
			hosts[k] = h
		}
		for _, b := range w.bits {
			for len(h.expires) <= b {
				h.expires = append(h.expires, 0)
			}
			for len(h.bits) <= b/64 {
				h.bits = append(h.bits, 0)
			}
			set := w.cmd == rules.FBSet || (w.cmd == rules.FBToggle && !h.isSet(b, c.ts))
			if set {
				h.bits[b/64] |= 1 << (b % 64)
				h.expires[b] = 0
				if w.expire > 0 {
					h.expires[b] = c.ts + w.expire
				}
			} else {
				h.bits[b/64] &^= 1 << (b % 64)
			}
		}
	}
}
