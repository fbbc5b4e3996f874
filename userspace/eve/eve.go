// Package eve writes alerts as Suricata EVE JSON lines (event_type
// "alert"), the format Filebeat, EveBox and SIEM pipelines read, to a file
// that can be reopened for log rotation (SIGHUP) or to stdout.
package eve

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/xdpids/xdpids/userspace/alert"
)

// Record is one EVE alert line. Field names and order follow Suricata.
type Record struct {
	Timestamp   string      `json:"timestamp"`
	FlowID      uint64      `json:"flow_id,omitempty"`
	InIface     string      `json:"in_iface,omitempty"`
	PcapCnt     uint64      `json:"pcap_cnt,omitempty"`
	EventType   string      `json:"event_type"`
	VLAN        []uint16    `json:"vlan,omitempty"`
	SrcIP       string      `json:"src_ip"`
	SrcPort     *uint16     `json:"src_port,omitempty"`
	DestIP      string      `json:"dest_ip"`
	DestPort    *uint16     `json:"dest_port,omitempty"`
	Proto       string      `json:"proto"`
	ICMPType    *uint16     `json:"icmp_type,omitempty"`
	ICMPCode    *uint16     `json:"icmp_code,omitempty"`
	CommunityID string      `json:"community_id,omitempty"`
	Alert       AlertRecord `json:"alert"`
	Payload     string      `json:"payload,omitempty"`
	Xdpids      *Extra      `json:"xdpids,omitempty"`
}

// AlertRecord is the "alert" object.
type AlertRecord struct {
	Action      string              `json:"action"`
	GID         uint32              `json:"gid"`
	SignatureID uint32              `json:"signature_id"`
	Rev         uint32              `json:"rev"`
	Signature   string              `json:"signature"`
	Category    string              `json:"category"`
	Severity    int                 `json:"severity"`
	Metadata    map[string][]string `json:"metadata,omitempty"`
}

// Extra carries what xdpids adds: the detector, the subject and the ban.
type Extra struct {
	Detector        string `json:"detector,omitempty"`
	Subject         string `json:"subject,omitempty"`
	SubjectIsTarget bool   `json:"subject_is_target,omitempty"`
	BanPrefix       string `json:"ban_prefix,omitempty"`
	BanTTLSeconds   int64  `json:"ban_ttl_seconds,omitempty"`
}

// TimeFormat is Suricata's EVE timestamp layout.
const TimeFormat = "2006-01-02T15:04:05.000000-0700"

// ProtoName is the EVE "proto" value for an IP protocol number.
func ProtoName(p uint8) string {
	switch p {
	case 1:
		return "ICMP"
	case 6:
		return "TCP"
	case 17:
		return "UDP"
	case 58:
		return "IPv6-ICMP"
	case 132:
		return "SCTP"
	}
	return fmt.Sprintf("%03d", p)
}

// RecordOf converts an alert.
func RecordOf(a *alert.Alert, loc *time.Location) Record {
	r := Record{
		Timestamp: time.Unix(0, a.TsNs).In(loc).Format(TimeFormat),
		FlowID:    a.FlowID, InIface: a.Iface, PcapCnt: a.PcapCnt, EventType: "alert",
		SrcIP: a.Src.String(), DestIP: a.Dst.String(), Proto: ProtoName(a.Proto), CommunityID: a.Community,
		Alert: AlertRecord{Action: a.Action, GID: a.GID, SignatureID: a.SID, Rev: a.Rev, Signature: a.Signature,
			Category: a.Category, Severity: a.Severity},
	}
	if a.VLAN != 0 {
		r.VLAN = []uint16{a.VLAN}
	}
	sp, dp := a.SrcPort, a.DstPort
	if a.Proto == 1 || a.Proto == 58 {
		r.ICMPType, r.ICMPCode = &sp, &dp
	} else if a.Proto == 6 || a.Proto == 17 || a.Proto == 132 {
		r.SrcPort, r.DestPort = &sp, &dp
	}
	if len(a.Metadata) > 0 {
		r.Alert.Metadata = make(map[string][]string, len(a.Metadata))
		for k, v := range a.Metadata {
			r.Alert.Metadata[k] = []string{v}
		}
	}
	if len(a.Payload) > 0 {
		r.Payload = base64.StdEncoding.EncodeToString(a.Payload)
	}
	if a.Detector != "" || a.BanPrefix != "" {
		r.Xdpids = &Extra{Detector: a.Detector, SubjectIsTarget: a.SubjectIsTarget, BanPrefix: a.BanPrefix, BanTTLSeconds: a.BanTTL / 1e9}
		if a.Subject.IsValid() {
			r.Xdpids.Subject = a.Subject.String()
		}
	}
	return r
}

// Writer writes EVE lines to a file or stream. Safe for concurrent use.
type Writer struct {
	mu   sync.Mutex
	path string // "" or "-": stdout / the given stream
	f    *os.File
	out  io.Writer
	bw   *bufio.Writer
	loc  *time.Location
	n    uint64
}

// Open writes to path (appending), or to stdout for "-".
func Open(path string) (*Writer, error) {
	w := &Writer{path: path, loc: time.Local}
	if path == "" || path == "-" {
		w.out = os.Stdout
		w.bw = bufio.NewWriter(os.Stdout)
		return w, nil
	}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

// NewWriter writes to out (tests, pipes).
func NewWriter(out io.Writer, loc *time.Location) *Writer {
	return &Writer{out: out, bw: bufio.NewWriter(out), loc: loc}
}

func (w *Writer) open() error {
	f, err := os.OpenFile(w.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("open eve log: %w", err)
	}
	w.f, w.out = f, f
	w.bw = bufio.NewWriter(f)
	return nil
}

// Write appends one alert line and flushes it (alerts are rare and must
// not sit in a buffer when the daemon dies).
func (w *Writer) Write(a *alert.Alert) error {
	line, err := json.Marshal(RecordOf(a, w.loc))
	if err != nil {
		return fmt.Errorf("encode eve: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.bw.Write(line)
	w.bw.WriteByte('\n')
	w.n++
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("write eve log: %w", err)
	}
	return nil
}

// Count is the number of lines written.
func (w *Writer) Count() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// Reopen closes and reopens the file (after logrotate moved it).
func (w *Writer) Reopen() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	_ = w.bw.Flush()
	_ = w.f.Close()
	return w.open()
}

// Close flushes and closes the file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.bw.Flush()
	if w.f != nil {
		if cerr := w.f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
