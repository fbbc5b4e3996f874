package detect

import (
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/flow/flows"
)

// ProtocolScanConfig is protocol_scan's section: 10 distinct IP protocols
// (other than TCP, UDP and ICMP, on new flows) from one source to one host
// within scan_window. An IP protocol scan (nmap -sO) tries all 256.
type ProtocolScanConfig struct {
	ScanIPProtos int `yaml:"scan_ip_protocols"`
}

func (c *ProtocolScanConfig) setDefaults() { c.ScanIPProtos = 10 }

// protocolScan counts distinct IP protocols per source and destination.
type protocolScan struct {
	cfg    *Config
	protos *setTable[pairKey, uint16]
}

func newProtocolScan(st *state, cfg *Config) Detector {
	return &protocolScan{cfg: cfg, protos: newSetTable[pairKey, uint16](st)}
}

func (d *protocolScan) Name() string   { return "protocol_scan" }
func (d *protocolScan) Classes() Class { return ClassOtherIP }

func (d *protocolScan) Describe() Description {
	return Description{Name: d.Name(), Config: &d.cfg.ProtocolScanConfig, Signatures: []alert.Signature{alert.ScanIPProto}}
}

func (d *protocolScan) Observe(in *Input, c *Ctx) {
	if in.Ev&flows.EvNew == 0 {
		return
	}
	p := in.P
	s := d.protos.entry(pairKey{p.Src, p.Dst}, p.TsNs, int64(d.cfg.ScanWindow))
	if s.alerted || !d.protos.add(s, uint16(p.Proto)) {
		return
	}
	if len(s.items) >= d.cfg.ScanIPProtos {
		s.alerted = true
		c.fire(in, alert.ScanIPProto, p.Src, false, int64(d.cfg.ScanBanTTL),
			func() map[string]string { return map[string]string{"distinct_protocols": itoa(len(s.items))} })
	}
}

func (d *protocolScan) Expire(now int64) { d.protos.expire(now, int64(d.cfg.ScanWindow)) }
