package detect

import (
	"github.com/xdpids/xdpids/userspace/detect/alert"
)

// Detector is one behavioural detector: a file of its own with its config
// section and its table test, listed once in registry.go. The engine calls
// it under its lock, for the packet classes it asks for, in registry
// order; it keeps its state in the tables the shared state gives it (see
// state.go), which bound, evict and count for every detector alike.
type Detector interface {
	// Name is the detector's name in alerts (alert.Alert.Detector).
	Name() string
	// Describe lists what the detector can alert with and its config.
	Describe() Description
	// Classes are the packet classes Observe is called for.
	Classes() Class
	// Observe counts one packet (c.Class says which of the classes it
	// is called for) and fires alerts through c.
	Observe(in *Input, c *Ctx)
	// Expire drops the state whose windows ended before now. The engine
	// calls it every 10 s of packet time.
	Expire(now int64)
}

// Description is what a detector tells about itself.
type Description struct {
	Name string
	// Signatures are the sids it alerts with; each built-in sid belongs
	// to one detector.
	Signatures []alert.Signature
	// Config is its section of Config (a pointer to a struct with yaml
	// tags, inline in the detectors: section): the keys it reads besides
	// the shared ones.
	Config any
}

// Class is a set of packet classes.
type Class uint8

// Packet classes. A packet is in one of ClassFragment, ClassTCP,
// ClassUDP, ClassICMP, ClassOtherIP or ClassARP, and also in
// ClassRateLimit when the kernel rate-limited its source; the rate-limit
// pass runs first.
const (
	// ClassRateLimit: a sample the kernel dropped because its source
	// emptied a token bucket (bpf.ReasonRateSYN..ReasonRateICMP).
	ClassRateLimit Class = 1 << iota
	// ClassFragment: a later IP fragment (no L4 header).
	ClassFragment
	// ClassTCP: TCP with its header (a cut header has unknown flags).
	ClassTCP
	ClassUDP
	// ClassICMP: ICMP and ICMPv6.
	ClassICMP
	// ClassOtherIP: any other IP protocol.
	ClassOtherIP
	// ClassARP: an ARP packet (Engine.ObserveARP).
	ClassARP

	numClasses = iota
)

// Ctx is what a detector gets with each packet: the way to fire alerts,
// and facts the detectors before it (in registry order) found out about
// the packet. It is reset for every packet.
type Ctx struct {
	// Class is the class Observe is called for.
	Class Class
	// Response: an earlier detector counted the packet as an
	// unsolicited response from a service (amplification): it is no
	// DHCP message and no probe.
	Response bool
	// NotProbe: an earlier detector explained the packet (a recognised
	// reflection, a DHCP message): scan detectors do not count it.
	NotProbe bool

	e    *Engine
	name string // the detector being called, for its alerts
}
