package features

import "net/netip"

// host is the damped state of one address: as a source (the flows it
// opens) and as a destination (the flows opened to it).
type host struct {
	Addr  netip.Addr
	Used  bool
	Last  int64               // packet time it was last updated
	Anom  [MaxCounts]damped   // its anomalous feature points, per model (Anomalous)
	Flows [NumScales]damped   // new flows it opened
	Ended [NumScales]damped   // its flows that ended
	Fail  [NumScales]damped   // of those, failed ones (no reply, reset, half-open)
	Out   [NumScales]damped   // bytes it sent on its flows
	In    [NumScales]damped   // bytes it got back
	Ports [NumScales]distinct // destination ports of its flows
	Peers [NumScales]distinct // destination hosts of its flows
	// As a destination:
	InFlows [NumScales]damped   // new flows opened to it
	Srcs    [NumScales]distinct // distinct sources opening them
}

// service is the damped state of one source's flows to one responder
// address, port and protocol.
type service struct {
	Key   uint64
	Used  bool
	Last  int64
	Flows [NumScales]damped // new flows
	Ended [NumScales]damped // ended flows
	Resp  [NumScales]damped // responder payload bytes of the ended flows
	Fwd   [NumScales]damped // originator payload bytes of the ended flows
}

// serviceTable is hostTable's layout for services, keyed by a hash of
// (source, responder, port, protocol).
type serviceTable struct {
	slots    []service
	mask     uint64
	Replaced uint64
}

func newServiceTable(n int) *serviceTable {
	size := 2
	for size < n {
		size <<= 1
	}
	return &serviceTable{slots: make([]service, size), mask: uint64(size - 1)}
}

func (t *serviceTable) get(key uint64, nowNs int64) *service {
	i := key & t.mask &^ 1
	s0, s1 := &t.slots[i], &t.slots[i+1]
	switch {
	case s0.Used && s0.Key == key:
		s0.Last = max(s0.Last, nowNs)
		return s0
	case s1.Used && s1.Key == key:
		s1.Last = max(s1.Last, nowNs)
		return s1
	}
	v := s0
	if s0.Used && (!s1.Used || s1.Last < s0.Last) {
		v = s1
	}
	if v.Used {
		t.Replaced++
	}
	*v = service{Key: key, Used: true, Last: nowNs}
	return v
}

func (t *serviceTable) lookup(key uint64) *service {
	i := key & t.mask &^ 1
	for j := i; j <= i+1; j++ {
		if s := &t.slots[j]; s.Used && s.Key == key {
			return s
		}
	}
	return nil
}

// hostTable is a bounded table of hosts: 2-way set associative by address
// hash, the staler of the two ways replaced when both are taken (a
// replacement is counted). Fixed memory, no allocation after New: a Go
// map would grow with the number of sources, which forged floods make
// unbounded.
type hostTable struct {
	slots    []host
	mask     uint64
	Replaced uint64
}

func newHostTable(n int) *hostTable {
	size := 2
	for size < n {
		size <<= 1
	}
	return &hostTable{slots: make([]host, size), mask: uint64(size - 1)}
}

func addrHash(a netip.Addr) uint64 {
	b := a.As16()
	var hi, lo uint64
	for i := range 8 {
		hi = hi<<8 | uint64(b[i])
		lo = lo<<8 | uint64(b[8+i])
	}
	return mix64(hi ^ mix64(lo))
}

// get returns a's entry, creating it (replacing a stale one) when missing.
func (t *hostTable) get(a netip.Addr, nowNs int64) *host {
	i := addrHash(a) & t.mask &^ 1
	h0, h1 := &t.slots[i], &t.slots[i+1]
	switch {
	case h0.Used && h0.Addr == a:
		h0.Last = max(h0.Last, nowNs)
		return h0
	case h1.Used && h1.Addr == a:
		h1.Last = max(h1.Last, nowNs)
		return h1
	}
	v := h0
	if h0.Used && (!h1.Used || h1.Last < h0.Last) {
		v = h1
	}
	if v.Used {
		t.Replaced++
	}
	*v = host{Addr: a, Used: true, Last: nowNs}
	return v
}

// lookup returns a's entry or nil.
func (t *hostTable) lookup(a netip.Addr) *host {
	i := addrHash(a) & t.mask &^ 1
	for j := i; j <= i+1; j++ {
		if h := &t.slots[j]; h.Used && h.Addr == a {
			return h
		}
	}
	return nil
}
