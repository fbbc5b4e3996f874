package eve

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/xdpids/xdpids/userspace/app/appproto"
	"github.com/xdpids/xdpids/userspace/flow/flows"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

// AppEvent is one app-layer record to log: an HTTP transaction, a DNS
// message, a TLS handshake, an SSH session ("event_type" http, dns, tls,
// ssh, with Suricata's field names in Record).
type AppEvent struct {
	TsNs int64
	F    *flows.Flow    // required
	P    *decode.Packet // the packet that completed the record (pcap_cnt); may be nil
	// ToServer orients the record: the client is the source (HTTP, TLS,
	// SSH, DNS requests); false: the server is (DNS responses).
	ToServer bool
	Proto    string // http, dns, tls or ssh
	TxID     uint64
	Record   any // marshalled during WriteApp: it may point into parser state
}

func appProtoName(p uint8) string {
	if p == 0 {
		return ""
	}
	return appproto.Proto(p).String()
}

// setApp puts an app-layer record under its protocol's key.
func (r *Record) setApp(proto string, rec any) {
	if rec == nil {
		return
	}
	raw, ok := rec.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(rec); err != nil {
			return
		}
	}
	switch proto {
	case "http":
		r.HTTP = raw
	case "dns":
		r.DNS = raw
	case "tls":
		r.TLS = raw
	case "ssh":
		r.SSH = raw
	}
}

// AppRecordOf converts an app event.
func AppRecordOf(ev *AppEvent, iface string, loc *time.Location) Record {
	f := ev.F
	r := Record{Timestamp: stamp(ev.TsNs, loc), FlowID: f.ID, InIface: iface, EventType: ev.Proto}
	if ev.P != nil {
		r.PcapCnt = ev.P.PcapCnt
	}
	src, sp := f.Orig()
	dst, dp := f.Resp()
	if !ev.ToServer {
		src, dst, sp, dp = dst, src, dp, sp
	}
	r.tuple(src, dst, sp, dp, f.Proto, f.VLAN)
	r.CommunityID = flows.CommunityID(src, dst, sp, dp, f.Proto)
	id := ev.TxID
	r.TxID = &id
	r.setApp(ev.Proto, ev.Record)
	return r
}

// WriteApp appends an app-layer event (ev.Record is encoded before it
// returns).
func (w *Writer) WriteApp(ev *AppEvent, iface string) error {
	if ev.F == nil {
		return fmt.Errorf("write eve %s record: no flow", ev.Proto)
	}
	return w.put(AppRecordOf(ev, iface, w.loc), false)
}
