package loader

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"

	"github.com/xdpids/xdpids/bpf"
)

// Options configure Load.
type Options struct {
	// PinPath is the bpffs directory maps are pinned in; "" pins nothing
	// (tests, offline analysis).
	PinPath string
}

// Datapath is the loaded XDP program, its maps and its attachments.
type Datapath struct {
	objs    bpf.XdpidsObjects
	maps    *Maps
	pinPath string

	// replayClock is the program's replay_clock_ns in its memory-mapped
	// .bss: offline replay stores each packet's time there (no syscall).
	replayClock *ebpf.Variable

	mu    sync.Mutex
	links map[int]*Attachment // by ifindex
}

// Load loads the program and its maps into the kernel, reusing maps already
// pinned under opts.PinPath (so bans and counters survive a restart).
func Load(opts Options) (*Datapath, error) {
	if err := rlimit.RemoveMemlock(); err != nil {
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("load xdp program: operation not permitted (xdpids needs root, or CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON)")
		}
		return nil, fmt.Errorf("remove memlock limit: %w", err)
	}
	spec, err := bpf.LoadXdpids()
	if err != nil {
		return nil, fmt.Errorf("load embedded xdp object: %w", err)
	}
	var copts ebpf.CollectionOptions
	if opts.PinPath != "" {
		if err := ensurePinDir(opts.PinPath); err != nil {
			return nil, err
		}
		for _, name := range pinnedMapNames() {
			spec.Maps[name].Pinning = ebpf.PinByName
		}
		copts.Maps.PinPath = opts.PinPath
	}
	d := &Datapath{pinPath: opts.PinPath, links: map[int]*Attachment{}}
	if err := spec.LoadAndAssign(&d.objs, &copts); err != nil {
		return nil, explainLoadError(err, opts.PinPath)
	}
	d.maps = &Maps{XdpidsMaps: d.objs.XdpidsMaps}
	d.replayClock = d.objs.ReplayClockNs
	if d.replayClock.ReadOnly() {
		d.objs.Close()
		return nil, fmt.Errorf("load xdp program: its globals are not memory-mapped (kernel older than 5.5?)")
	}
	if err := d.maps.RefreshHints(); err != nil {
		d.objs.Close()
		return nil, err
	}
	return d, nil
}

// SetReplayClock makes ns (packet time) the program's clock, for offline
// replay with BPF_PROG_TEST_RUN; 0 gives it back CLOCK_MONOTONIC. A store
// into the program's memory-mapped globals: no syscall.
func (d *Datapath) SetReplayClock(ns uint64) error {
	if err := d.replayClock.Set(ns); err != nil {
		return fmt.Errorf("set replay clock: %w", err)
	}
	return nil
}

func explainLoadError(err error, pinPath string) error {
	var ve *ebpf.VerifierError
	switch {
	case errors.As(err, &ve):
		return fmt.Errorf("load xdp program: the verifier rejected it:\n%+v", ve)
	case errors.Is(err, ebpf.ErrMapIncompatible):
		return fmt.Errorf("load xdp maps: a map pinned under %s has another layout (left by an older xdpids?); "+
			"stop every xdpids process and remove %s to start fresh (its bans and counters are lost): %w", pinPath, pinPath, err)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("load xdp program: %w (xdpids needs root, or CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON)", err)
	}
	return fmt.Errorf("load xdp program: %w", err)
}

// Maps returns typed access to the loaded maps.
func (d *Datapath) Maps() *Maps { return d.maps }

// Program is the XDP program (for BPF_PROG_TEST_RUN).
func (d *Datapath) Program() *ebpf.Program { return d.objs.Xdpids }

// EgressProgram is the tcx egress program that records the SYN-ACKs the
// host sends (for BPF_PROG_TEST_RUN).
func (d *Datapath) EgressProgram() *ebpf.Program { return d.objs.XdpidsEgress }

// SamplesMap is the ring buffer of samples.
func (d *Datapath) SamplesMap() *ebpf.Map { return d.objs.Samples }

// PinPath is where the maps are pinned ("" when they are not).
func (d *Datapath) PinPath() string { return d.pinPath }

// XDPMode is how a program is attached.
type XDPMode string

// XDP attach modes.
const (
	ModeAuto    XDPMode = "auto"    // driver, falling back to generic with a warning
	ModeDriver  XDPMode = "driver"  // native XDP, fail where the driver has none
	ModeGeneric XDPMode = "generic" // skb mode, any interface
)

// ParseXDPMode checks a mode name.
func ParseXDPMode(s string) (XDPMode, error) {
	switch m := XDPMode(s); m {
	case ModeAuto, ModeDriver, ModeGeneric:
		return m, nil
	}
	return "", fmt.Errorf("bad xdp mode %q: want auto, driver or generic", s)
}

// Attachment is the programs attached to one interface: XDP on ingress
// and, where the kernel has tcx (6.6+), the egress program beside it.
type Attachment struct {
	Iface   string
	Ifindex int
	Mode    XDPMode // driver or generic, as attached
	Slot    int     // stats slot
	// Egress is whether the tcx egress program is attached: without it
	// (a kernel without tcx) only the SYN cookie path verifies sources.
	Egress bool
	link   link.Link
	egress link.Link // nil when Egress is false
}

// close detaches both programs.
func (a *Attachment) close() error {
	var errs []error
	if a.egress != nil {
		if err := a.egress.Close(); err != nil {
			errs = append(errs, fmt.Errorf("detach egress from %s: %w", a.Iface, err))
		}
	}
	if err := a.link.Close(); err != nil {
		errs = append(errs, fmt.Errorf("detach from %s: %w", a.Iface, err))
	}
	return errors.Join(errs...)
}

// Attach attaches the program to the named interface.
func (d *Datapath) Attach(ifname string, mode XDPMode) (*Attachment, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("attach to %q: no such interface", ifname)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.links[ifi.Index]; ok {
		return nil, fmt.Errorf("attach to %s: already attached", ifname)
	}
	slot, err := d.maps.assignSlot(ifi.Index, ifi.Name)
	if err != nil {
		return nil, fmt.Errorf("attach to %s: %w", ifname, err)
	}
	a := &Attachment{Iface: ifname, Ifindex: ifi.Index, Slot: slot}
	try := func(m XDPMode) error {
		flags := link.XDPDriverMode
		if m == ModeGeneric {
			flags = link.XDPGenericMode
		}
		l, err := link.AttachXDP(link.XDPOptions{Program: d.objs.Xdpids, Interface: ifi.Index, Flags: flags})
		if err != nil {
			return err
		}
		a.link, a.Mode = l, m
		return nil
	}
	switch mode {
	case ModeDriver, ModeGeneric:
		err = try(mode)
	default:
		if err = try(ModeDriver); err != nil {
			slog.Warn("driver-mode XDP unavailable, falling back to generic mode (slower)", "iface", ifname, "err", err)
			err = try(ModeGeneric)
		}
	}
	if err != nil {
		if errors.Is(err, os.ErrExist) || errors.Is(err, os.ErrDeadlineExceeded) || isBusy(err) {
			return nil, fmt.Errorf("attach to %s: another XDP program is attached there (xdpids detach -i %s removes an xdpids one): %w", ifname, ifname, err)
		}
		return nil, fmt.Errorf("attach to %s in %s mode: %w", ifname, mode, err)
	}
	if err := d.attachEgress(a); err != nil {
		_ = a.link.Close()
		return nil, err
	}
	d.links[ifi.Index] = a
	return a, nil
}

// attachEgress attaches the egress program beside the XDP one with tcx.
// A kernel without tcx is not an error: verification falls back to the
// SYN cookie path alone, which a warning says. Any other failure is.
func (d *Datapath) attachEgress(a *Attachment) error {
	l, err := link.AttachTCX(link.TCXOptions{Program: d.objs.XdpidsEgress, Interface: a.Ifindex, Attach: ebpf.AttachTCXEgress})
	if errors.Is(err, ebpf.ErrNotSupported) {
		slog.Warn("tcx unavailable (kernel older than 6.6): no egress program, sources are verified only through SYN cookies",
			"iface", a.Iface, "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("attach egress program to %s with tcx: %w", a.Iface, err)
	}
	a.egress, a.Egress = l, true
	return nil
}

// Lost lists the interfaces whose attachment is gone: its bpf_link was
// detached from outside (xdpids detach, bpftool), or the interface left.
func (d *Datapath) Lost() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, a := range d.links {
		info, err := a.link.Info()
		if err != nil || info.XDP() == nil || info.XDP().Ifindex == 0 {
			out = append(out, a.Iface)
			continue
		}
		if a.egress == nil {
			continue
		}
		// xdpids detach removes both programs; either gone is lost
		if info, err := a.egress.Info(); err != nil || info.TCX() == nil || info.TCX().Ifindex == 0 {
			out = append(out, a.Iface)
		}
	}
	return out
}

// Attachments lists the current attachments.
func (d *Datapath) Attachments() []*Attachment {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]*Attachment, 0, len(d.links))
	for _, a := range d.links {
		out = append(out, a)
	}
	return out
}

// Detach removes the program from one interface.
func (d *Datapath) Detach(ifname string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for idx, a := range d.links {
		if a.Iface == ifname {
			delete(d.links, idx)
			return a.close()
		}
	}
	return fmt.Errorf("detach from %s: not attached", ifname)
}

// Close detaches every attachment and releases the program and maps. Pinned
// maps stay in bpffs.
func (d *Datapath) Close() error {
	d.mu.Lock()
	var errs []error
	for idx, a := range d.links {
		errs = append(errs, a.close())
		delete(d.links, idx)
	}
	d.mu.Unlock()
	errs = append(errs, d.objs.Close())
	return errors.Join(errs...)
}
