package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/userspace/capture/samples"
	"github.com/xdpids/xdpids/userspace/flow/flows"
)

// Bounds on values that parse but make no sense. Each is far beyond any
// real deployment and far below what breaks the daemon.
const (
	// MinSweepInterval: a sweep walks the whole block list; more often
	// than this burns a core for nothing (the kernel checks expiry itself).
	MinSweepInterval = 100 * time.Millisecond
	MaxWorkers       = 1024
	MaxQueueLen      = 1 << 20
	MaxFlowsPerWork  = 1 << 24
	// MaxPipelineBytes bounds the memory the pipeline preallocates (queue
	// slots and flow slabs), checked before anything is attached.
	MaxPipelineBytes = 8 << 30
)

// validateRanges rejects values outside what the daemon can run with,
// naming the YAML key and line.
func (f *File) validateRanges() error {
	if err := f.noNegativeDurations(reflect.ValueOf(f).Elem(), ""); err != nil {
		return err
	}
	p := f.Pipeline
	switch {
	case p.Workers < 0 || p.Workers > MaxWorkers:
		return f.errAt("pipeline.workers", "%d is out of range (0 = one per CPU, at most %d)", p.Workers, MaxWorkers)
	case p.QueueLen < 0 || p.QueueLen > MaxQueueLen:
		return f.errAt("pipeline.queue_len", "%d is out of range (1 to %d samples per worker)", p.QueueLen, MaxQueueLen)
	case p.FlowsPerWorker < 0 || p.FlowsPerWorker > MaxFlowsPerWork:
		return f.errAt("pipeline.flows_per_worker", "%d is out of range (1 to %d flows per worker)", p.FlowsPerWorker, MaxFlowsPerWork)
	}
	if need, limit := f.PipelineBytes(), pipelineLimit(); need > limit {
		return f.errAt("pipeline", "workers, queue_len and flows_per_worker need about %s of memory, more than the %s allowed (8 GiB or the machine's RAM, the lower)",
			human(need), human(limit))
	}
	if l := f.Learn; l.Period > 0 || l.Output != "" {
		switch {
		case l.Output == "":
			return f.errAt("learn.output", "learn.period needs a model file to write")
		case l.MaxRecords < MinLearnRecords || l.MaxRecords > 10_000_000:
			return f.errAt("learn.max_records", "%d is out of range (%d to 10000000 records)", l.MaxRecords, MinLearnRecords)
		}
	}
	d := f.Detect
	// A scan threshold of 1 flags every client's first connection.
	for _, c := range []struct {
		key string
		v   int
	}{
		{"scan_vertical_ports", d.ScanVerticalPorts}, {"scan_horizontal_hosts", d.ScanHorizontalHosts},
		{"scan_ip_protocols", d.ScanIPProtos}, {"arp_sweep_hosts", d.ARPSweepHosts},
	} {
		if c.v < 2 {
			return f.errAt("detectors."+c.key, "%d would flag every client (at least 2)", c.v)
		}
	}
	for _, c := range []struct {
		key string
		v   int
	}{
		{"syn_flood_source", d.SynFloodSrc}, {"syn_flood_destination", d.SynFloodDst}, {"syn_flood_min_sources", d.SynFloodSources},
		{"udp_flood_source", d.UDPFloodSrc}, {"udp_flood_destination", d.UDPFloodDst},
		{"icmp_flood_source", d.ICMPFloodSrc}, {"icmp_flood_destination", d.ICMPFloodDst},
		{"flood_destination_min_sources", d.FloodDstSources}, {"synack_reflection", d.SynAckReflect},
		{"dhcp_flood", d.DHCPFlood}, {"amplification_packets", d.AmpPackets}, {"amplification_fragments", d.AmpFragments},
		{"brute_force_connections", d.BruteConnections},
	} {
		if c.v < 1 {
			return f.errAt("detectors."+c.key, "%d would flag every packet (at least 1)", c.v)
		}
	}
	if d.SynCompletedRatio < 0 || d.SynCompletedRatio > 1 {
		return f.errAt("detectors.syn_completed_ratio", "%v is not a ratio between 0 and 1", d.SynCompletedRatio)
	}
	if l := f.Respond.IPv6PrefixLen; l < 1 || l > 128 {
		return f.errAt("response.ipv6_prefix_len", "%d is not an IPv6 prefix length (1 to 128)", l)
	}
	return nil
}

// noNegativeDurations walks the schema by its yaml tags: a negative
// duration anywhere is an error naming its key.
func (f *File) noNegativeDurations(v reflect.Value, prefix string) error {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if sf.IsExported() && tag == "" && opts == "inline" && v.Field(i).Kind() == reflect.Struct {
			// A detector's section, laid inline into detectors:.
			if err := f.noNegativeDurations(v.Field(i), prefix); err != nil {
				return err
			}
			continue
		}
		if !sf.IsExported() || tag == "" || tag == "-" {
			continue
		}
		key := tag
		if prefix != "" {
			key = prefix + "." + tag
		}
		fv := v.Field(i)
		switch {
		case fv.Type() == reflect.TypeFor[time.Duration]():
			if fv.Int() < 0 {
				return f.errAt(key, "%v: a duration must not be negative", time.Duration(fv.Int()))
			}
		case fv.Kind() == reflect.Slice && fv.Type().Elem() == reflect.TypeFor[time.Duration]():
			for j := range fv.Len() {
				if fv.Index(j).Int() <= 0 {
					return f.errAt(key, "entry %d: %v: a duration must be positive", j+1, time.Duration(fv.Index(j).Int()))
				}
			}
		case fv.Kind() == reflect.Struct && fv.Type().PkgPath() != "time":
			if err := f.noNegativeDurations(fv, key); err != nil {
				return err
			}
		}
	}
	return nil
}

// PipelineBytes estimates the memory the pipeline preallocates for this
// configuration: each worker's queue slots (a whole sample each) and its
// flow slab.
func (f *File) PipelineBytes() uint64 {
	c := f.PipelineConfig()
	slot := uint64(samples.HeaderLen + bpf.MaxSnaplen + int(unsafe.Sizeof([]byte(nil))) + 8 + 2*4)
	flow := uint64(unsafe.Sizeof(flows.Flow{})) + 4 + 64 // slab, free list, index entry
	return uint64(c.Workers) * (uint64(c.QueueLen)*slot + uint64(c.FlowsPerWorker)*flow)
}

// pipelineLimit is MaxPipelineBytes or the machine's RAM, the lower.
func pipelineLimit() uint64 {
	limit := uint64(MaxPipelineBytes)
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil && si.Totalram > 0 {
		limit = min(limit, uint64(si.Totalram)*uint64(si.Unit))
	}
	return limit
}

func human(b uint64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", b)
}
