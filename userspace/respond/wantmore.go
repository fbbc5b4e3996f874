package respond

import (
	"net/netip"
	"sync"
)

// maxWantMore bounds the subjects the responder waits on for more
// evidence; past it the set is cleared (the detectors then stop asking
// for those subjects, which only costs a re-alert).
const maxWantMore = 4096

// wantMore is the set of subjects whose forgeable-evidence ban the share
// refused for want of evidence (askMore). The detectors read it from the
// workers while the responder runs on the alert outbox's goroutine, so it
// has its own lock, held for a map access only.
type wantMore struct {
	mu sync.Mutex
	m  map[netip.Addr]struct{}
}

func (w *wantMore) add(a netip.Addr) {
	w.mu.Lock()
	if w.m == nil || len(w.m) >= maxWantMore {
		w.m = make(map[netip.Addr]struct{})
	}
	w.m[a] = struct{}{}
	w.mu.Unlock()
}

func (w *wantMore) remove(a netip.Addr) {
	w.mu.Lock()
	delete(w.m, a)
	w.mu.Unlock()
}

// WantsMoreEvidence reports whether a ban on subj was refused for want of
// evidence and not made since: the scan detectors then alert again when
// the subject's evidence has doubled. It is safe to call from any
// goroutine (the detectors call it from the workers; with the alert
// outbox, the refusal reaches them after the alert that caused it).
func (r *Responder) WantsMoreEvidence(subj netip.Addr) bool {
	r.want.mu.Lock()
	_, ok := r.want.m[subj]
	r.want.mu.Unlock()
	return ok
}
