package flows

// Slot is f's index in its table's slab, in [0, Table.Cap()): state kept
// beside the table (flow features) lives in a parallel slab at that index.
// A slot is reused once its flow leaves; the new flow comes with EvNew.
func (f *Flow) Slot() int { return int(f.idx) }

// Cap is how many flows the table holds at most.
func (t *Table) Cap() int { return len(t.slab) }
