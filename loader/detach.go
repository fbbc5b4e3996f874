package loader

import (
	"errors"
	"fmt"
	"net"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ProgramName is the kernel name of the xdpids XDP program.
const ProgramName = "xdpids"

// EgressProgramName is the kernel name of its tcx egress program.
const EgressProgramName = "xdpids_egress"

func isBusy(err error) bool { return errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EEXIST) }

// Attached describes an XDP program found on an interface.
type Attached struct {
	Iface  string
	ProgID ebpf.ProgramID
	Name   string
	Mode   string // "link" or the netlink attach mode
}

// FindAttached lists xdpids programs attached to ifname ("" = every
// interface), whether through a bpf_link or through netlink.
func FindAttached(ifname string) ([]Attached, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	found := false
	var out []Attached
	for _, l := range links {
		attrs := l.Attrs()
		if ifname != "" && attrs.Name != ifname {
			continue
		}
		found = true
		if attrs.Xdp == nil || !attrs.Xdp.Attached || attrs.Xdp.ProgId == 0 {
			continue
		}
		name := programName(ebpf.ProgramID(attrs.Xdp.ProgId))
		if name != ProgramName {
			continue
		}
		out = append(out, Attached{Iface: attrs.Name, ProgID: ebpf.ProgramID(attrs.Xdp.ProgId), Name: name, Mode: xdpModeName(attrs.Xdp.AttachMode)})
	}
	if ifname != "" && !found {
		return nil, fmt.Errorf("no such interface %q", ifname)
	}
	return out, nil
}

func programName(id ebpf.ProgramID) string {
	p, err := ebpf.NewProgramFromID(id)
	if err != nil {
		return ""
	}
	defer p.Close()
	info, err := p.Info()
	if err != nil {
		return ""
	}
	return info.Name
}

func xdpModeName(m uint32) string {
	switch m {
	case 1:
		return "driver"
	case 2:
		return "generic"
	case 3:
		return "offload"
	}
	return "multi"
}

// DetachOrphans removes xdpids programs from ifname ("" = every interface)
// of the calling thread's network namespace: bpf_links are detached (also
// when another process holds them, or they are pinned), netlink
// attachments removed, and the tcx egress program beside each goes too.
// It returns the interfaces cleaned, each once.
func DetachOrphans(ifname string) ([]string, error) {
	want := 0
	if ifname != "" {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return nil, fmt.Errorf("detach: no such interface %q", ifname)
		}
		want = ifi.Index
	}
	var cleaned []string
	var errs []error
	// A bpf_link names its interface by ifindex only, and an ifindex is
	// per network namespace: the link is ours to detach only when this
	// namespace's interface of that index runs that link's program.
	here, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	progOn := map[int]ebpf.ProgramID{}
	for _, l := range here {
		if x := l.Attrs().Xdp; x != nil && x.Attached {
			progOn[l.Attrs().Index] = ebpf.ProgramID(x.ProgId)
		}
	}
	// bpf_links first: a link-attached program cannot be removed through netlink.
	it := new(link.Iterator)
	for it.Next() {
		l := it.Take()
		info, err := l.Info()
		if err != nil || info.Type != link.XDPType {
			l.Close()
			continue
		}
		xi := info.XDP()
		if xi == nil || (want != 0 && int(xi.Ifindex) != want) || progOn[int(xi.Ifindex)] != info.Program ||
			programName(info.Program) != ProgramName {
			l.Close()
			continue
		}
		if err := l.Detach(); err != nil {
			errs = append(errs, fmt.Errorf("detach link %d: %w", info.ID, err))
		} else if ifi, err := net.InterfaceByIndex(int(xi.Ifindex)); err == nil {
			cleaned = append(cleaned, ifi.Name)
		}
		l.Close()
	}
	if err := it.Err(); err != nil {
		errs = append(errs, fmt.Errorf("iterate bpf links: %w", err))
	}
	egress, err := detachEgress(here, want)
	cleaned = append(cleaned, egress...)
	if err != nil {
		errs = append(errs, err)
	}
	left, err := FindAttached(ifname)
	if err != nil {
		return uniq(cleaned), errors.Join(append(errs, err)...)
	}
	for _, a := range left {
		l, err := netlink.LinkByName(a.Iface)
		if err != nil {
			errs = append(errs, fmt.Errorf("detach from %s: %w", a.Iface, err))
			continue
		}
		flags := 0
		switch a.Mode {
		case "generic":
			flags = unix.XDP_FLAGS_SKB_MODE
		case "driver":
			flags = unix.XDP_FLAGS_DRV_MODE
		}
		if err := netlink.LinkSetXdpFdWithFlags(l, -1, flags); err != nil {
			errs = append(errs, fmt.Errorf("detach from %s: %w", a.Iface, err))
			continue
		}
		cleaned = append(cleaned, a.Iface)
	}
	return uniq(cleaned), errors.Join(errs...)
}

// detachEgress detaches the xdpids egress programs from the tcx egress of
// the interfaces (of this namespace: the query is by ifindex here) in
// links, or only of ifindex want when it is not 0. A kernel without tcx
// has none.
func detachEgress(links []netlink.Link, want int) ([]string, error) {
	var cleaned []string
	var errs []error
	for _, l := range links {
		attrs := l.Attrs()
		if want != 0 && attrs.Index != want {
			continue
		}
		res, err := link.QueryPrograms(link.QueryOptions{Target: attrs.Index, Attach: ebpf.AttachTCXEgress})
		if errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, unix.EINVAL) {
			return nil, nil // no tcx here
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("query tcx egress of %s: %w", attrs.Name, err))
			continue
		}
		for _, p := range res.Programs {
			id, ok := p.LinkID()
			if !ok || programName(p.ID) != EgressProgramName {
				continue
			}
			lk, err := link.NewFromID(id)
			if err != nil {
				errs = append(errs, fmt.Errorf("open tcx link %d on %s: %w", id, attrs.Name, err))
				continue
			}
			if err := lk.Detach(); err != nil {
				errs = append(errs, fmt.Errorf("detach tcx link %d from %s: %w", id, attrs.Name, err))
			} else {
				cleaned = append(cleaned, attrs.Name)
			}
			lk.Close()
		}
	}
	return cleaned, errors.Join(errs...)
}

// uniq drops repeated names, keeping the first.
func uniq(names []string) []string {
	seen := map[string]bool{}
	out := names[:0]
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}
