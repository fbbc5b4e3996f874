package xdptree

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/xdpids/xdpids/bpf"
)

// TestFeaturesMatchBTF: the Go feature indexes are enum tree_feature.
func TestFeaturesMatchBTF(t *testing.T) {
	spec, err := bpf.LoadXdpids()
	if err != nil {
		t.Fatal(err)
	}
	var e *btf.Enum
	if err := spec.Types.TypeByName("tree_feature", &e); err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"TF_PROTO": Proto, "TF_SPORT": SrcPort, "TF_DPORT": DstPort, "TF_BYTES": Bytes,
		"TF_LEN_MIN": LenMin, "TF_LEN_MAX": LenMax, "TF_DURATION": Duration, "TF_IAT_MAX": IATMax, "TF_SYN": SYN,
		"TF_FIN": FIN, "TF_RST": RST, "TF_PSH": PSH, "TF_ACK": ACK, "TF_URG": URG, "TF_FIRST_FLAGS": FirstFlags,
		"TF_WIN_FIRST": WinFirst, "TF_MAX": NumFeatures}
	if len(e.Values) != len(want) {
		t.Fatalf("C has %d features, Go %d", len(e.Values), len(want))
	}
	for _, v := range e.Values {
		if w, ok := want[v.Name]; !ok || w != v.Value {
			t.Errorf("%s: C %d, Go %d (%v)", v.Name, v.Value, w, ok)
		}
	}
}

// TestTrackerHandComputed: the vector of a hand-made flow, against values
// worked out by hand.
func TestTrackerHandComputed(t *testing.T) {
	tr := NewTracker(3)
	frames := [][]byte{tcpFrame(40000, 22, 0x02, 0), tcpFrame(40000, 22, 0x10, 0), tcpFrame(40000, 22, 0x18, 100),
		tcpFrame(40000, 22, 0x11, 0)}
	times := []uint64{1_000_000, 1_010_240, 1_030_720, 9_000_000}
	var d *Direction
	var judged bool
	for i, f := range frames {
		var j bool
		d, j = tr.Packet(f, times[i])
		if i == 2 {
			judged = j
		} else if j {
			t.Fatalf("judged at packet %d", i+1)
		}
	}
	if !judged {
		t.Fatal("not judged at packet 3")
	}
	// 54-byte frames (14 + 20 + 20, which gopacket pads to Ethernet's 60)
	// and one of 154; gaps 10 240 and 20 480 ns.
	want := Vector{Proto: 6, SrcPort: 40000, DstPort: 22, Bytes: 60 + 60 + 154, LenMin: 60, LenMax: 154,
		Duration: 30720 >> 10, IATMax: 20480 >> 10, SYN: 1, ACK: 2, PSH: 1, FirstFlags: 0x02, WinFirst: 1024}
	if d.Vec != want {
		t.Errorf("vector\n got %v\nwant %v", d.Vec, want)
	}
	if d.Packets() != 4 || !d.Orig {
		t.Errorf("packets %d, orig %v", d.Packets(), d.Orig)
	}
}

func tinyModel() *Model {
	ds := &Dataset{Classes: []string{Benign, "scan"}}
	for i := range 40 {
		v := Vector{Proto: 6, DstPort: uint32(i % 5), Bytes: uint32(100 + i)}
		y := 0
		if i%2 == 1 {
			v[SYN], y = 8, 1
		}
		ds.X = append(ds.X, v)
		ds.Y = append(ds.Y, y)
	}
	m, err := Train(ds, Options{Packets: 8, Trees: 3, Seed: 7})
	if err != nil {
		panic(err)
	}
	return m
}

func TestTrainDeterministicAndRoundTrip(t *testing.T) {
	a, b := tinyModel(), tinyModel()
	ja, _ := a.Marshal()
	jb, _ := b.Marshal()
	if !bytes.Equal(ja, jb) {
		t.Fatal("the same data and seed gave two models")
	}
	m, err := Parse(ja)
	if err != nil {
		t.Fatal(err)
	}
	jm, _ := m.Marshal()
	if !bytes.Equal(ja, jm) {
		t.Fatal("model file does not round-trip")
	}
	if err := m.Compile().Check(); err != nil {
		t.Fatalf("compiled model refused: %v", err)
	}
	// it learned the split
	if c := Classify(m.Compile(), &Vector{Proto: 6, SYN: 8}); c != 1 {
		t.Errorf("8 SYNs: class %d, want scan", c)
	}
	if c := Classify(m.Compile(), &Vector{Proto: 6}); c != 0 {
		t.Errorf("no SYN: class %d, want benign", c)
	}
}

func TestParseErrors(t *testing.T) {
	good, _ := tinyModel().Marshal()
	cases := []struct{ name, edit, want string }{
		{"truncated", string(good[:len(good)/2]), "bad xdp model file"},
		{"other kind", strings.Replace(string(good), `"xdp-forest"`, `"forest"`, 1), `kind "forest"`},
		{"unknown field", strings.Replace(string(good), `"packets"`, `"pakets"`, 1), "unknown field"},
		{"packet 0", strings.Replace(string(good), `"packets": 8`, `"packets": 0`, 1), "judged at packet 0"},
		{"action", strings.Replace(string(good), `"action": "alert"`, `"action": "ban"`, 1), `action "ban"`},
		{"feature renamed", strings.Replace(string(good), `"win_first"`, `"win"`, 1), "retrain"},
		{"trailing", string(good) + "{}", "data after"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.edit))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
		if err != nil && strings.Count(err.Error(), "\n") > 0 {
			t.Errorf("%s: error on several lines", c.name)
		}
	}
	// too deep: a chain of TreeMaxDepth+1 splits
	m := tinyModel()
	tr := Tree{}
	for i := range bpf.TreeMaxDepth + 1 {
		tr.Feature = append(tr.Feature, Bytes, -1)
		tr.Threshold = append(tr.Threshold, 5, 0)
		tr.Left = append(tr.Left, int32(2*i+2), 0)
		tr.Right = append(tr.Right, int32(2*i+1), 0)
		tr.Class = append(tr.Class, 0, 0)
		tr.Score = append(tr.Score, 0, 0)
	}
	tr.Feature = append(tr.Feature, -1)
	tr.Threshold = append(tr.Threshold, 0)
	tr.Left, tr.Right = append(tr.Left, 0), append(tr.Right, 0)
	tr.Class, tr.Score = append(tr.Class, 1), append(tr.Score, 1000)
	m.Trees = []Tree{tr}
	if err := m.Check(); err == nil || !strings.Contains(err.Error(), "deeper") {
		t.Errorf("too deep: %v", err)
	}
	m.Trees[0].Feature = m.Trees[0].Feature[:len(m.Trees[0].Feature)-2]
	if err := m.Check(); err == nil {
		t.Error("ragged arrays accepted")
	}
}

// FuzzParse: any bytes are a model the program can run, or one error.
func FuzzParse(f *testing.F) {
	good, _ := tinyModel().Marshal()
	f.Add(good)
	f.Add([]byte(`{"format":"xdpids-model","version":1,"kind":"xdp-forest"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		tree := m.Compile()
		if err := tree.Check(); err != nil {
			t.Fatalf("parsed model the loader refuses: %v", err)
		}
		_ = Classify(tree, &Vector{})
	})
}
