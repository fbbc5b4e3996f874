package offline_test

import (
	"errors"
	"github.com/xdpids/xdpids/userspace/capture/pcapfile"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/xdpids/xdpids/bpf"
	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/capture/samples"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

// TestParseAgreesOnCorpus: on every frame of the corpus's captures (real
// traffic, odd frames included), the XDP program's parse in the sample
// header (family, L4 protocol, L3 and L4 offsets) and the Go decoder's
// agree, outside tunnels (where the decoder describes the inner packet).
func TestParseAgreesOnCorpus(t *testing.T) {
	testenv.RequireBPF(t)
	dirs := []string{testenv.Corpus(t, "attack-pcaps"), testenv.Corpus(t, "suricata-verify")}
	dp, err := loader.Load(loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dp.Close()
	cfg := loader.DefaultConfig()
	cfg.Snaplen, cfg.FlowSamples, cfg.SampleRate = bpf.MaxSnaplen, bpf.FlowSamplesAll, 0
	cfg.SYN, cfg.UDP, cfg.ICMP = loader.Bucket{}, loader.Bucket{}, loader.Bucket{}
	if err := dp.Maps().SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	rd, err := samples.NewReader(dp.SamplesMap())
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	rd.SetDeadline(time.Unix(1, 0))
	dec := decode.NewDecoder()
	var s samples.Sample
	checked, bad := 0, 0
	for _, dir := range dirs {
		_ = filepath.WalkDir(dir, func(path string, de os.DirEntry, err error) error {
			if err != nil || de.IsDir() || !(strings.HasSuffix(path, ".pcap") || strings.HasSuffix(path, ".pcapng")) {
				return nil
			}
			c, err := pcapfile.Open(path)
			if err != nil {
				return nil
			}
			defer c.Close()
			for n := 0; ; n++ {
				frame, _, _, err := c.Next()
				if errors.Is(err, io.EOF) || err != nil {
					return nil
				}
				if len(frame) < 14 {
					continue
				}
				if _, err := dp.Program().Run(&ebpf.RunOptions{Data: frame}); err != nil {
					t.Fatal(err)
				}
				for rd.AvailableBytes() > 0 {
					raw, err := rd.ReadRaw()
					if err != nil || samples.Decode(raw, &s) != nil {
						break
					}
					var p decode.Packet
					p.WireLen, p.CapLen = s.WireLen, s.CapLen
					_ = dec.Decode(s.Data, &p)
					if p.Depth > 0 {
						continue
					}
					l3, l4 := uint32(0), uint32(0)
					if p.Family != 0 {
						l3 = p.L3Off
					}
					if p.HasL4 {
						l4 = p.L4Off
					}
					checked++
					if s.Family != p.Family || uint32(s.L3Off) != l3 || uint32(s.L4Off) != l4 || (p.Family != 0 && s.L4Proto != p.Proto) {
						bad++
						if bad < 20 {
							t.Errorf("%s frame %d: program family %d proto %d l3 %d l4 %d; decoder family %d proto %d l3 %d l4 %d",
								filepath.Base(path), n+1, s.Family, s.L4Proto, s.L3Off, s.L4Off, p.Family, p.Proto, l3, l4)
						}
					}
				}
			}
		})
	}
	t.Logf("%d samples checked, %d disagree", checked, bad)
}
