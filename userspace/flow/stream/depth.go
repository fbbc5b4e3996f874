package stream

// SetDepth changes the bytes per direction delivered (0: DefaultDepth),
// for a configuration reload. Streams that reached the old depth stay
// closed; the others stop at the new one. Call it from the goroutine
// that feeds the reassembler.
func (r *Reassembler) SetDepth(depth uint64) {
	if depth == 0 {
		depth = DefaultDepth
	}
	r.cfg.Depth = depth
}
