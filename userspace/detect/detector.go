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
type Class uint16

// Packet classes. A packet is in one of ClassFragment, ClassTCP,
// ClassTCPHandshake, ClassUDP, ClassUDPNew, ClassICMP, ClassOtherIP or
// ClassARP, and also in ClassRateLimit when the kernel rate-limited its
// source; the rate-limit pass runs first. The TCP and UDP classes are
// split so that the detectors counting flows are not called for every
// packet of a flow.
const (
	// ClassRateLimit: a sample the kernel dropped because its source
	// emptied a token bucket (bpf.ReasonRateSYN..ReasonRateICMP).
	ClassRateLimit Class = 1 << iota
	// ClassFragment: a later IP fragment (no L4 header).
	ClassFragment
	// ClassTCP: TCP with its header (a cut header has unknown flags),
	// neither a SYN nor a flow event.
	ClassTCP
	// ClassTCPHandshake: TCP that opens a flow or completes its
	// handshake (flows.EvNew, flows.EvEstablished), or a SYN.
	ClassTCPHandshake
	// ClassUDP: UDP on a flow already seen.
	ClassUDP
	// ClassUDPNew: UDP that opens a flow (flows.EvNew).
	ClassUDPNew
	// ClassICMP: ICMP and ICMPv6.
	ClassICMP
	// ClassOtherIP: any other IP protocol.
	ClassOtherIP
	// ClassARP: an ARP packet (Engine.ObserveARP).
	ClassARP

	numClasses = iota

	// AnyTCP and AnyUDP are every TCP and UDP packet.
	AnyTCP = ClassTCP | ClassTCPHandshake
	AnyUDP = ClassUDP | ClassUDPNew
)

// Ctx is what a detector gets with each packet: the way to fire alerts,
// and facts the detectors before it (in registry order) found out about
// the packet.
type Ctx struct {
	// Class is the class Observe is called for.
	Class Class
	Facts

	e   *Engine
	ci  int // class index in Engine.by
	idx int // the detector being called, in Engine.by[ci], for its alerts' name
}

// Facts are what a detector tells the ones after it about a packet; the
// engine clears them for every packet.
type Facts struct {
	// Response: an earlier detector counted the packet as an
	// unsolicited response from a service (amplification): it is no
	// DHCP message and no probe.
	Response bool
	// NotProbe: an earlier detector explained the packet (a recognised
	// reflection, a DHCP message): scan detectors do not count it.
	NotProbe bool
}

// name is the name of the detector being called.
func (c *Ctx) name() string { return c.e.names[c.ci][c.idx] }
