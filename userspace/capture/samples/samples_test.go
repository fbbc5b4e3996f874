package samples_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/userspace/capture/samples"
)

// hdr is struct sample_hdr (bpf/xdpids.h) in Go.
type hdr struct {
	ts                       uint64
	ifindex, rxq, wire, capl uint32
	vlan                     uint16
	verdict, reason, flags   uint8
	action, family, l4proto  uint8
	flowPkts                 uint64
	l3, l4                   uint16
	trust, modelClass        uint8
	modelScore               uint16
}

// rec builds a raw record: the 48-byte header then data.
func rec(h hdr, data []byte) []byte {
	r := make([]byte, samples.HeaderLen+len(data))
	e := binary.NativeEndian
	e.PutUint64(r[0:], h.ts)
	e.PutUint32(r[8:], h.ifindex)
	e.PutUint32(r[12:], h.rxq)
	e.PutUint32(r[16:], h.wire)
	e.PutUint32(r[20:], h.capl)
	e.PutUint16(r[24:], h.vlan)
	r[26], r[27], r[28], r[29], r[30], r[31] = h.verdict, h.reason, h.flags, h.action, h.family, h.l4proto
	e.PutUint64(r[32:], h.flowPkts)
	e.PutUint16(r[40:], h.l3)
	e.PutUint16(r[42:], h.l4)
	r[44], r[45] = h.trust, h.modelClass
	e.PutUint16(r[46:], h.modelScore)
	copy(r[samples.HeaderLen:], data)
	return r
}

func TestDecode(t *testing.T) {
	payload := []byte("0123456789abcdef")
	good := hdr{ts: 1234567890123, ifindex: 7, rxq: 3, wire: 1500, capl: uint32(len(payload)), vlan: 42,
		verdict: bpf.VerdictWouldDrop, reason: bpf.ReasonRateSYN, flags: bpf.SampleNewFlow | bpf.SampleAnomaly, action: bpf.FlowBypass, family: 6, l4proto: 6, flowPkts: 1 << 40, l3: 18, l4: 58, trust: bpf.TrustVerified | bpf.TrustHopMismatch,
		modelClass: 3, modelScore: 7421}
	withCap := func(h hdr, c uint32) hdr { h.capl = c; return h }
	tests := []struct {
		name    string
		raw     []byte
		short   bool
		wantCap int
	}{
		{name: "empty", raw: nil, short: true},
		{name: "header minus one", raw: rec(good, nil)[:samples.HeaderLen-1], short: true},
		{name: "header only, cap 0", raw: rec(withCap(good, 0), nil), wantCap: 0},
		{name: "cap beyond record", raw: rec(withCap(good, 17), payload), short: true},
		{name: "cap beyond record, no data", raw: rec(withCap(good, 1), nil), short: true},
		{name: "cap over max snaplen", raw: rec(withCap(good, bpf.MaxSnaplen+1), make([]byte, bpf.MaxSnaplen+1)), short: true},
		{name: "cap max snaplen", raw: rec(withCap(good, bpf.MaxSnaplen), make([]byte, bpf.MaxSnaplen)), wantCap: bpf.MaxSnaplen},
		{name: "cap huge", raw: rec(withCap(good, 0xffffffff), payload), short: true},
		{name: "good", raw: rec(good, payload), wantCap: len(payload)},
		{name: "trailing bytes", raw: rec(withCap(good, 4), payload), wantCap: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s samples.Sample
			err := samples.Decode(tc.raw, &s)
			if tc.short {
				if !errors.Is(err, samples.ErrShort) {
					t.Fatalf("Decode = %v, want an error wrapping ErrShort", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			want := samples.Sample{TsNs: good.ts, Ifindex: good.ifindex, RxQueue: good.rxq, WireLen: good.wire, CapLen: uint32(tc.wantCap),
				VLAN: good.vlan, Verdict: good.verdict, Reason: good.reason, Flags: good.flags, Action: good.action, Family: good.family, L4Proto: good.l4proto, L3Off: good.l3, L4Off: good.l4, FlowPackets: good.flowPkts, Trust: uint32(good.trust),
				ModelClass: good.modelClass, ModelScore: good.modelScore}
			got := s
			got.Data = nil
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Decode = %+v, want %+v", got, want)
			}
			if len(s.Data) != tc.wantCap {
				t.Fatalf("len(Data) = %d, want %d", len(s.Data), tc.wantCap)
			}
			if !bytes.Equal(s.Data, tc.raw[samples.HeaderLen:samples.HeaderLen+tc.wantCap]) {
				t.Errorf("Data = %x, want the frame bytes", s.Data)
			}
			if tc.wantCap > 0 {
				// Data aliases the record: no copy.
				if &s.Data[0] != &tc.raw[samples.HeaderLen] {
					t.Error("Data does not alias the record")
				}
				tc.raw[samples.HeaderLen] ^= 0xff
				if s.Data[0] != tc.raw[samples.HeaderLen] {
					t.Error("a write to the record is not seen through Data")
				}
			}
		})
	}
}

func TestDecodeReuse(t *testing.T) {
	// A sample decoded twice keeps nothing of the first record.
	var s samples.Sample
	if err := samples.Decode(rec(hdr{ts: 1, capl: 3, vlan: 9, flowPkts: 5}, []byte{1, 2, 3}), &s); err != nil {
		t.Fatal(err)
	}
	if err := samples.Decode(rec(hdr{ts: 2, capl: 1}, []byte{4}), &s); err != nil {
		t.Fatal(err)
	}
	if s.TsNs != 2 || s.VLAN != 0 || s.FlowPackets != 0 || s.CapLen != 1 || !bytes.Equal(s.Data, []byte{4}) {
		t.Errorf("second decode = %+v", s)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add(rec(hdr{capl: 0}, nil))
	f.Add(rec(hdr{ts: 1, ifindex: 2, wire: 60, capl: 4, flowPkts: 3}, []byte{1, 2, 3, 4}))
	f.Add(rec(hdr{capl: 5}, []byte{1, 2, 3, 4}))
	f.Add(rec(hdr{capl: bpf.MaxSnaplen + 1}, make([]byte, bpf.MaxSnaplen+1)))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var s samples.Sample
		err := samples.Decode(raw, &s)
		if err != nil {
			if !errors.Is(err, samples.ErrShort) {
				t.Fatalf("error %v does not wrap ErrShort", err)
			}
			return
		}
		if len(s.Data) != int(s.CapLen) {
			t.Fatalf("len(Data) = %d, CapLen = %d", len(s.Data), s.CapLen)
		}
		if s.CapLen > bpf.MaxSnaplen || samples.HeaderLen+int(s.CapLen) > len(raw) {
			t.Fatalf("CapLen %d accepted from a %d-byte record", s.CapLen, len(raw))
		}
	})
}

func TestPcapWriter(t *testing.T) {
	var buf bytes.Buffer
	pw, err := samples.NewPcapWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	in := []struct {
		s  samples.Sample
		ts time.Time
		// wire length pcap must record: never below the captured length
		wantLen int
	}{
		{samples.Sample{WireLen: 1500, CapLen: 4, Ifindex: 2, Data: []byte{1, 2, 3, 4}}, base, 1500},
		{samples.Sample{WireLen: 3, CapLen: 5, Data: []byte{5, 6, 7, 8, 9}}, base.Add(1500 * time.Nanosecond), 5},
		{samples.Sample{WireLen: 60, CapLen: 60, Data: bytes.Repeat([]byte{0xab}, 60)}, base.Add(2 * time.Second), 60},
	}
	for i := range in {
		if err := pw.Write(&in[i].s, in[i].ts); err != nil {
			t.Fatal(err)
		}
	}
	if err := pw.Flush(); err != nil {
		t.Fatal(err)
	}
	r, err := pcapgo.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != layers.LinkTypeEthernet || r.Snaplen() != 1536 {
		t.Errorf("link type %v snaplen %d, want Ethernet 1536", r.LinkType(), r.Snaplen())
	}
	for i, want := range in {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !bytes.Equal(data, want.s.Data) {
			t.Errorf("record %d: data %x, want %x", i, data, want.s.Data)
		}
		if ci.CaptureLength != len(want.s.Data) || ci.Length != want.wantLen {
			t.Errorf("record %d: caplen %d len %d, want %d %d", i, ci.CaptureLength, ci.Length, len(want.s.Data), want.wantLen)
		}
		if !ci.Timestamp.Equal(want.ts) {
			t.Errorf("record %d: time %v, want %v", i, ci.Timestamp, want.ts)
		}
	}
	if _, _, err := r.ReadPacketData(); err == nil {
		t.Error("a fourth record was read")
	}
}
