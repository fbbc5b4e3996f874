package signature

import (
	"sync"
	"sync/atomic"

	"github.com/xdpids/xdpids/userspace/flow/flows"
)

// State is what matching remembers apart from the compiled rules, kept
// so that it outlives them: a reload compiles a new Engine on the running
// State (Options.State) and swaps it in, and flowbits set before the
// swap are seen by the new rules.
//
//   - Per flow (flowbits, pass verdict, stream windows, stream_size): on
//     the flow itself (flows.Flow.Sig). A flow is only ever matched by the
//     worker that owns it, so this needs no lock, and it is freed with
//     the flow (FlowEnd).
//   - Per host or key (hostbits, threshold and detection_filter
//     counters): here, under one mutex, touched only by rules that use
//     them.
//   - Flowbit and hostbit names: here, so that a bit keeps its number in
//     every rule set compiled on this State.
type State struct {
	mu         sync.Mutex
	bits       map[string]int // flowbit name -> bit
	hbits      map[string]int // hostbit / xbit name -> bit
	thresh     map[threshKey]*threshState
	flowThresh map[uint64][]threshKey // the backoff counters of a flow (no time window)
	hosts      map[hostKey]*hostState
	lastGC     int64

	flowStates                                                              atomic.Int64
	packets, streams, candidates, matches, alerts, suppressed, transactions atomic.Uint64
}

// NewState returns an empty State.
func NewState() *State {
	return &State{bits: map[string]int{}, hbits: map[string]int{}, thresh: map[threshKey]*threshState{},
		flowThresh: map[uint64][]threshKey{}, hosts: map[hostKey]*hostState{}}
}

// State is the state the engine matches with.
func (e *Engine) State() *State { return e.st }

// bit is the number of flowbit name (compile time).
func (s *State) bit(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.bits[name]; ok {
		return b
	}
	s.bits[name] = len(s.bits)
	return len(s.bits) - 1
}

// hostBit is the number of host bit name (compile time).
func (s *State) hostBit(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.hbits[name]; ok {
		return b
	}
	s.hbits[name] = len(s.hbits)
	return len(s.hbits) - 1
}

// flowStateOf returns the state kept for flow f (nil: none). State of
// an earlier connection (another FirstNs) is dropped, and so are the
// flow's backoff counters when the packet opens a new flow (fresh),
// unless the state is this connection's: the stream rules of the packet
// that opened it (data on a SYN) run before its packet rules and may
// have set flowbits or a pass verdict already.
func (e *Engine) flowStateOf(f *flows.Flow, fresh bool) *flowState {
	fs, _ := f.Sig.(*flowState)
	if fs != nil && fs.start == f.FirstNs {
		return fs
	}
	if fs != nil {
		e.dropFlowState(f)
	}
	if (fresh || fs != nil) && e.backoffByFlow {
		e.st.mu.Lock()
		e.st.dropFlowThresh(f.ID)
		e.st.mu.Unlock()
	}
	return nil
}

// dropFlowState forgets f's state (an earlier connection's).
func (e *Engine) dropFlowState(f *flows.Flow) {
	if f.Sig != nil {
		f.Sig = nil
		e.st.flowStates.Add(-1)
	}
}

// Passed reports whether a pass rule matched flow f: the engine inspects
// it no more.
func (e *Engine) Passed(f *flows.Flow) bool {
	if f == nil {
		return false
	}
	fs, _ := f.Sig.(*flowState)
	return fs != nil && fs.start == f.FirstNs && fs.pass
}

func (e *Engine) ensureFlowState(c *mctx) *flowState {
	if c.fs != nil {
		return c.fs
	}
	f := c.f
	fs, _ := f.Sig.(*flowState)
	if fs != nil && fs.start != f.FirstNs {
		// an earlier connection's (see flowStateOf)
		e.dropFlowState(f)
		e.st.mu.Lock()
		e.st.dropFlowThresh(f.ID)
		e.st.mu.Unlock()
		fs = nil
	}
	if fs == nil {
		fs = &flowState{start: f.FirstNs}
		f.Sig = fs
		e.st.flowStates.Add(1)
	}
	fs.seen = c.ts
	c.fs = fs
	return fs
}

// FlowEnd frees what the engine keeps for a flow (flowbits, pass, its
// backoff counters). The pipeline calls it when the flow table expires
// or evicts the flow, on the worker that owns it.
func (e *Engine) FlowEnd(f *flows.Flow) { e.st.FlowEnd(f) }

// FlowEnd frees what the engines on s keep for a flow (while no engine is
// loaded, say).
func (s *State) FlowEnd(f *flows.Flow) {
	if f.Sig != nil {
		f.Sig = nil
		s.flowStates.Add(-1)
	}
	s.mu.Lock()
	s.dropFlowThresh(f.ID)
	s.mu.Unlock()
}

// dropFlowThresh drops the backoff counters of a flow; s.mu held.
func (s *State) dropFlowThresh(id uint64) {
	for _, k := range s.flowThresh[id] {
		delete(s.thresh, k)
	}
	delete(s.flowThresh, id)
}
