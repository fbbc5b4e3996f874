package samples

import (
	"testing"
	"unsafe"

	"github.com/xdpids/xdpids/bpf"
)

// TestHeaderLayout: Decode's offsets are those of struct sample_hdr as
// bpf2go generated it from the object's BTF, so a change to the C struct
// that Decode does not follow fails here.
func TestHeaderLayout(t *testing.T) {
	var h bpf.XdpidsSampleHdr
	if HeaderLen != unsafe.Sizeof(h) {
		t.Errorf("HeaderLen %d, struct sample_hdr is %d bytes", HeaderLen, unsafe.Sizeof(h))
	}
	for _, f := range []struct {
		name      string
		off, want uintptr
	}{
		{"ts_ns", unsafe.Offsetof(h.TsNs), 0},
		{"ifindex", unsafe.Offsetof(h.Ifindex), 8},
		{"rx_queue", unsafe.Offsetof(h.RxQueue), 12},
		{"wire_len", unsafe.Offsetof(h.WireLen), 16},
		{"cap_len", unsafe.Offsetof(h.CapLen), 20},
		{"vlan", unsafe.Offsetof(h.Vlan), 24},
		{"verdict", unsafe.Offsetof(h.Verdict), 26},
		{"reason", unsafe.Offsetof(h.Reason), 27},
		{"flags", unsafe.Offsetof(h.Flags), 28},
		{"action", unsafe.Offsetof(h.Action), 29},
		{"family", unsafe.Offsetof(h.Family), 30},
		{"l4proto", unsafe.Offsetof(h.L4proto), 31},
		{"flow_packets", unsafe.Offsetof(h.FlowPackets), 32},
		{"l3_off", unsafe.Offsetof(h.L3Off), 40},
		{"l4_off", unsafe.Offsetof(h.L4Off), 42},
		{"trust", unsafe.Offsetof(h.Trust), 44},
		{"model_class", unsafe.Offsetof(h.ModelClass), 45},
		{"model_score", unsafe.Offsetof(h.ModelScore), 46},
	} {
		if f.off != f.want {
			t.Errorf("sample_hdr.%s at %d, Decode reads it at %d", f.name, f.off, f.want)
		}
	}
}
