package detect

import (
	"net/netip"

	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/flow/flows"
)

// SynAckConfig is synack_reflection's section: 500 SYN-ACKs a second
// opening flows to one destination (nobody there sent the SYN: backscatter
// of a spoofed flood, or a reflection at it) within flood_window.
type SynAckConfig struct {
	SynAckReflect int `yaml:"synack_reflection"`
}

func (c *SynAckConfig) setDefaults() { c.SynAckReflect = 500 }

// synAck counts SYN-ACKs that open a flow, per destination.
type synAck struct {
	cfg *Config
	dst *windowTable[netip.Addr]
}

func newSynAck(st *state, cfg *Config) Detector {
	return &synAck{cfg: cfg, dst: newWindowTable[netip.Addr](st)}
}

func (d *synAck) Name() string   { return "synack_reflection" }
func (d *synAck) Classes() Class { return ClassTCPHandshake }

func (d *synAck) Describe() Description {
	return Description{Name: d.Name(), Config: &d.cfg.SynAckConfig, Signatures: []alert.Signature{alert.SynAckReflect}}
}

func (d *synAck) Observe(in *Input, c *Ctx) {
	p := in.P
	if in.Ev&flows.EvNew == 0 || !isSynAck(p.TCPFlags) {
		return
	}
	// A flow opened by a SYN-ACK: nobody here asked (backscatter or
	// reflection).
	w, ok := d.dst.count(p.Dst, p.TsNs, 1)
	if ok && w.n >= d.cfg.SynAckReflect {
		c.fire(in, alert.SynAckReflect, p.Dst, true, 0,
			func() map[string]string {
				return map[string]string{"unsolicited_synacks": itoa(w.n), "window": d.cfg.FloodWindow.String()}
			})
	}
}

func (d *synAck) Expire(now int64) { d.dst.expire(now, int64(d.cfg.FloodWindow)) }
