package loader

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// LiveLink is a bpf_link whose program uses these maps: the XDP program
// (Egress false) or the tcx egress program beside it (Egress true).
type LiveLink struct {
	LinkID  link.ID
	ProgID  ebpf.ProgramID
	Ifindex uint32
	Egress  bool
}

// LiveLinks lists the XDP and tcx bpf_links, in any network namespace, whose
// program uses this pin path's maps: the attachments of a daemon running
// on them. The daemon attaches only through bpf_links it does not pin, so
// a link lives exactly as long as the daemon holding it; maps pinned by a
// daemon that has exited (or was killed) have none. Matching by map ID,
// not by program name, tells apart two daemons on different pin paths.
// A link whose interface was deleted (ifindex 0) is not an attachment.
// Iterating links needs CAP_SYS_ADMIN (root).
func (m *Maps) LiveLinks() ([]LiveLink, error) {
	mi, err := m.ConfigMap.Info()
	if err != nil {
		return nil, fmt.Errorf("config map info: %w", err)
	}
	want, ok := mi.ID()
	if !ok {
		return nil, errors.New("config map info: the kernel gives no map id")
	}
	var out []LiveLink
	it := new(link.Iterator)
	defer it.Close()
	for it.Next() {
		l := it.Take()
		info, err := l.Info()
		l.Close()
		if err != nil {
			continue
		}
		var ifindex uint32
		switch info.Type {
		case link.XDPType:
			if xi := info.XDP(); xi != nil {
				ifindex = xi.Ifindex
			}
		case link.TCXType:
			if ti := info.TCX(); ti != nil {
				ifindex = ti.Ifindex
			}
		}
		if ifindex == 0 || !programUsesMap(info.Program, want) {
			continue
		}
		out = append(out, LiveLink{LinkID: info.ID, ProgID: info.Program, Ifindex: ifindex, Egress: info.Type == link.TCXType})
	}
	if err := it.Err(); err != nil {
		return out, fmt.Errorf("iterate bpf links: %w", err)
	}
	return out, nil
}

func programUsesMap(id ebpf.ProgramID, want ebpf.MapID) bool {
	p, err := ebpf.NewProgramFromID(id)
	if err != nil {
		return false
	}
	defer p.Close()
	info, err := p.Info()
	if err != nil {
		return false
	}
	ids, _ := info.MapIDs()
	for _, mid := range ids {
		if mid == want {
			return true
		}
	}
	return false
}
