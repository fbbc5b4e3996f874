package loader

import (
	"testing"

	"github.com/cilium/ebpf"

	"github.com/xdpids/xdpids/internal/testenv"
)

func TestLoadVerifies(t *testing.T) {
	testenv.RequireBPF(t)
	d, err := Load(Options{})
	if err != nil {
		t.Fatalf("%+v", err)
	}
	defer d.Close()
	if err := d.Maps().SetConfig(DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	in := make([]byte, 64)
	ret, err := d.Program().Run(&ebpf.RunOptions{Data: in})
	_ = ret
	if err != nil {
		t.Fatal(err)
	}
}
