package loader

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/cilium/ebpf"

	"github.com/xdpids/xdpids/bpf"
)

// BlockStamp is a block list entry less its comment and hit counter:
// enough to tell one ban from another (a new ban of the same prefix has
// another CreatedNs). Scans that run often (the fleet's diff) read these.
type BlockStamp struct {
	Prefix    netip.Prefix
	CreatedNs uint64
	ExpiresNs uint64 // 0 = never
	Origin    uint32
	Level     uint32
	Challenge bool
}

// Expired reports whether the entry no longer drops at boot time now.
func (s BlockStamp) Expired(now uint64) bool { return s.ExpiresNs != 0 && s.ExpiresNs <= now }

// BlockScan holds the buffers of ScanBlocks, reused from scan to scan:
// after the first scans have sized them a scan allocates nothing.
type BlockScan struct {
	Entries []BlockStamp
	v4      []bpf.XdpidsHostV4Key
	v6      []bpf.XdpidsHostV6Key
	vals    []bpf.XdpidsBlockEntry
	noBatch bool // the kernel has no batch lookup for hash maps
}

// scanChunk is how many entries one batch lookup returns at most.
const scanChunk = 1024

// ScanBlocks reads every block list entry into s.Entries: the host maps
// with batched lookups (a few syscalls per thousand entries, where
// Blocks makes two per entry), the prefix tries (LPM tries have no batch
// operations; prefix bans are few) entry by entry.
func (m *Maps) ScanBlocks(s *BlockScan) error {
	s.Entries = s.Entries[:0]
	if len(s.vals) < scanChunk {
		s.vals = make([]bpf.XdpidsBlockEntry, scanChunk)
		s.v4 = make([]bpf.XdpidsHostV4Key, scanChunk)
		s.v6 = make([]bpf.XdpidsHostV6Key, scanChunk)
	}
	if err := scanHash(s, m.BlockHostV4, s.v4, hostV4Prefix); err != nil {
		return fmt.Errorf("scan blocks: %w", err)
	}
	if err := scanHash(s, m.BlockHostV6, s.v6, hostV6Prefix); err != nil {
		return fmt.Errorf("scan blocks: %w", err)
	}
	add := func(p netip.Prefix, v bpf.XdpidsBlockEntry) { s.Entries = append(s.Entries, stampOf(p, &v)) }
	if err := eachEntry(m.BlockV4, lpmV4Prefix, add); err != nil {
		return fmt.Errorf("scan blocks: %w", err)
	}
	if err := eachEntry(m.BlockV6, lpmV6Prefix, add); err != nil {
		return fmt.Errorf("scan blocks: %w", err)
	}
	return nil
}

func stampOf(p netip.Prefix, v *bpf.XdpidsBlockEntry) BlockStamp {
	return BlockStamp{Prefix: p, CreatedNs: v.CreatedNs, ExpiresNs: v.ExpiresNs, Origin: v.Origin &^ bpf.BlockChallenge,
		Level: v.Level, Challenge: v.Origin&bpf.BlockChallenge != 0}
}

func scanHash[K any](s *BlockScan, mp *ebpf.Map, keys []K, prefixOf func(*K) netip.Prefix) error {
	if !s.noBatch {
		var cursor ebpf.MapBatchCursor
		for {
			n, err := mp.BatchLookup(&cursor, keys, s.vals, nil)
			for i := 0; i < n; i++ {
				s.Entries = append(s.Entries, stampOf(prefixOf(&keys[i]), &s.vals[i]))
			}
			if errors.Is(err, ebpf.ErrKeyNotExist) {
				return nil // the last chunk
			}
			if errors.Is(err, ebpf.ErrNotSupported) && n == 0 {
				s.noBatch = true
				break
			}
			if err != nil {
				return err
			}
		}
	}
	return eachEntry(mp, prefixOf, func(p netip.Prefix, v bpf.XdpidsBlockEntry) { s.Entries = append(s.Entries, stampOf(p, &v)) })
}
