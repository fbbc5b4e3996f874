package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/learn/xdptree"
	"github.com/xdpids/xdpids/userspace/run/pipeline"
)

// TestXDPModelReload: a good xdp_model file goes into the kernel; a bad or
// truncated one is one error line at load and the kernel keeps the tree
// it runs (reload loads the file before installing anything); none
// turns it off.
func TestXDPModelReload(t *testing.T) {
	testenv.RequireBPF(t)
	ds := &xdptree.Dataset{Classes: []string{xdptree.Benign, "dos"}}
	for i := range 20 {
		ds.X = append(ds.X, xdptree.Vector{xdptree.Bytes: uint32(i)})
		ds.Y = append(ds.Y, i%2)
	}
	m, err := xdptree.Train(ds, xdptree.Options{Packets: 5, Trees: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.json"), filepath.Join(dir, "bad.json")
	if err := os.WriteFile(good, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, b[:len(b)/3], 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := loader.Load(loader.Options{})
	if err != nil {
		t.Fatalf("%+v", err)
	}
	defer d.Close()
	live := func() uint32 {
		n, err := d.Maps().TreeLive()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	xm, err := loadXDPModel(good)
	if err != nil {
		t.Fatal(err)
	}
	pipe := pipeline.New(pipeline.DefaultConfig(), nil)
	if err := installXDPModel(d.Maps(), pipe, xm); err != nil || live() != 5 {
		t.Fatalf("install: %v, live at packet %d", err, live())
	}
	if km := pipe.KernelModel(); km == nil || len(km.Classes) != 2 || km.Classes[1] != "dos" || km.Threshold != m.Threshold {
		t.Fatalf("the pipeline names the kernel's verdicts %+v, want the model's", km)
	}
	_, err = loadXDPModel(bad)
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "bad.json") {
		t.Fatalf("truncated file: error %v, want one line naming the file", err)
	}
	if live() != 5 {
		t.Fatal("a bad file changed the running tree")
	}
	xm, err = loadXDPModel("none")
	if err != nil || xm != nil {
		t.Fatalf("none: %v %v", xm, err)
	}
	if err := installXDPModel(d.Maps(), pipe, nil); err != nil || live() != 0 || pipe.KernelModel() != nil {
		t.Fatalf("off: %v, live at %d, verdicts named %+v", err, live(), pipe.KernelModel())
	}
}
