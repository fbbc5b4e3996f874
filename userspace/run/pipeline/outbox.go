package pipeline

import (
	"bytes"
	"sync"
	"sync/atomic"

	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

// outbox takes alerts from where they are made (the detectors, under
// their lock; the signature matcher, on a worker) to the alert callback
// (the responder's map syscalls, the EVE sinks), which never runs there;
// and the drop events of verdicts after their alerts (OnDrop).
//
// While Run runs, they go into one bounded channel that one goroutine
// drains: a worker's alerts stay in the order it made them (one
// channel, one reader), no worker waits for a syscall or a file write,
// and when the channel is full the alert is dropped and counted
// (Stats.AlertsDropped) rather than block a worker, and with it every
// worker waiting on the detector lock.
//
// Outside Run (offline reads, tests driving a Worker by hand) alerts
// wait in a list the worker delivers right after the call that made
// them returned: after Observe, after each signature alert. A capture
// then gives its alerts in the same place among its other EVE events
// every time.
type outbox struct {
	async   atomic.Bool
	ch      chan outItem
	done    chan struct{}
	dropped atomic.Uint64

	mu      sync.Mutex // guards pending (inline)
	pending []*alert.Alert
	n       atomic.Int32 // len(pending), read without the lock
	// deliverMu serialises inline deliveries (several workers driven by
	// hand); batch is the list being delivered, swapped with pending.
	deliverMu sync.Mutex
	batch     []*alert.Alert
}

// alert counts an alert made by a detector or a rule and puts it in the
// outbox.
func (p *Pipeline) alert(a *alert.Alert) {
	p.alerts.Add(1)
	if p.onAlert == nil {
		return
	}
	o := &p.out
	if o.async.Load() {
		// The payload aliases the sample's slot or the stream's buffers,
		// valid only while the worker is in this packet.
		if p.live.Load().IncludePayload {
			a.Payload = bytes.Clone(a.Payload)
		} else {
			a.Payload = nil
		}
		select {
		case o.ch <- outItem{a: a}:
		default:
			o.dropped.Add(1)
		}
		return
	}
	if !p.live.Load().IncludePayload {
		a.Payload = nil
	}
	o.mu.Lock()
	o.pending = append(o.pending, a)
	o.n.Store(int32(len(o.pending)))
	o.mu.Unlock()
}

// deliver hands the alerts waiting inline to the callback (nothing to do
// while Run's goroutine drains the outbox).
func (p *Pipeline) deliver() {
	o := &p.out
	if o.n.Load() == 0 {
		return
	}
	o.deliverMu.Lock()
	defer o.deliverMu.Unlock()
	o.mu.Lock()
	o.batch, o.pending = o.pending, o.batch[:0]
	o.n.Store(0)
	o.mu.Unlock()
	for i, a := range o.batch {
		p.onAlert(a)
		o.batch[i] = nil
	}
}

// start switches to the channel and its draining goroutine (Run).
func (o *outbox) start(p *Pipeline) {
	p.deliver()
	o.ch = make(chan outItem, p.cfg.OutboxLen)
	o.done = make(chan struct{})
	go func() {
		defer close(o.done)
		for it := range o.ch {
			if it.a != nil {
				p.onAlert(it.a)
			} else {
				p.OnDrop(it.p, it.f, it.reason)
			}
		}
	}()
	o.async.Store(true)
}

// stop drains the channel and returns to inline delivery; the workers
// must have stopped.
func (o *outbox) stop() {
	if !o.async.Load() {
		return
	}
	o.async.Store(false)
	close(o.ch)
	<-o.done
}

// outItem is an alert, or the drop event of a flow (packet and flow
// copied: the worker's are valid only during the packet).
type outItem struct {
	a      *alert.Alert
	p      *decode.Packet
	f      *flows.Flow
	reason string
}

// drop reports the drop event of flow f, whose verdict fell on packet pk,
// after the alert that caused it.
func (p *Pipeline) drop(pk *decode.Packet, f *flows.Flow, reason string) {
	o := &p.out
	if !o.async.Load() {
		p.OnDrop(pk, f, reason)
		return
	}
	// Once per dropped flow: two copies are cheap there.
	cp, cf := *pk, *f
	cp.Payload = nil
	select {
	case o.ch <- outItem{p: &cp, f: &cf, reason: reason}:
	default:
		o.dropped.Add(1)
	}
}
