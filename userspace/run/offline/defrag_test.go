package offline_test

import (
	"bytes"
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/userspace/config"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/run/offline"
	"github.com/xdpids/xdpids/userspace/signature"
	"github.com/xdpids/xdpids/userspace/signature/rules"
)

// TestSignaturesOnFragments: content that only a later IPv4 fragment
// carries is found once the datagram is reassembled, on both paths.
func TestSignaturesOnFragments(t *testing.T) {
	path := filepath.Join(t.TempDir(), "frag.pcap")
	writeFragmentedUDP(t, path, []byte("FRAGMENTED-EVIL"))
	readBothModes(t, path, `alert udp any any -> any 9999 (msg:"evil in a fragmented datagram"; content:"FRAGMENTED-EVIL"; sid:9200001; rev:1;)`,
		func(t *testing.T, got map[uint32]int, _ *offline.Summary) {
			if len(got) != 1 || got[9200001] != 1 {
				t.Fatalf("alerts %v, want one of sid 9200001", got)
			}
		})
}

// readBothModes reads the capture at path with these rules (and the
// built-in default configuration) on the XDP path and the userspace one,
// and hands check the alert count by sid and the run's summary.
func readBothModes(t *testing.T, path, ruleText string, check func(t *testing.T, got map[uint32]int, sum *offline.Summary)) {
	t.Helper()
	set, skipped := rules.Parse(ruleText, "t.rules", rules.Vars{})
	if len(skipped) > 0 {
		t.Fatal(skipped)
	}
	eng, err := signature.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []offline.Mode{offline.ModeXDP, offline.ModeUserspace} {
		t.Run(string(mode), func(t *testing.T) {
			if mode == offline.ModeXDP {
				testenv.RequireBPF(t)
			}
			cfg := config.Default()
			got := map[uint32]int{}
			sum, err := offline.Run(offline.Options{Path: path, Mode: mode, Datapath: cfg.DatapathConfig(), Pipeline: cfg.PipelineConfig(),
				Respond: cfg.ResponseConfig(), Rules: eng, OnAlert: func(a *alert.Alert) { got[a.SID]++ }})
			if err != nil {
				t.Fatal(err)
			}
			check(t, got, sum)
		})
	}
}

// writeFragmentedUDP writes one UDP datagram to port 9999 whose payload
// ends with marker, cut into two IPv4 fragments so that only the second
// (which has no UDP header) carries the marker.
func writeFragmentedUDP(t *testing.T, path string, marker []byte) {
	t.Helper()
	payload := append(bytes.Repeat([]byte{'A'}, 1700), marker...)
	src, dst := net.IP{198, 51, 100, 7}, net.IP{192, 0, 2, 1}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: 4242, Protocol: layers.IPProtocolUDP, SrcIP: src, DstIP: dst}
	udp := &layers.UDP{SrcPort: 40000, DstPort: 9999}
	udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, udp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	l4 := buf.Bytes()  // UDP header + payload
	const first = 1480 // bytes of the L4 data in the first fragment (a multiple of 8)
	eth := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00}
	frag := func(data []byte, offset int, more bool) []byte {
		h := make([]byte, 20)
		h[0], h[8], h[9] = 0x45, 64, 17
		binary.BigEndian.PutUint16(h[2:], uint16(20+len(data)))
		binary.BigEndian.PutUint16(h[4:], 4242)
		fo := uint16(offset / 8)
		if more {
			fo |= 0x2000
		}
		binary.BigEndian.PutUint16(h[6:], fo)
		copy(h[12:], src.To4())
		copy(h[16:], dst.To4())
		var sum uint32
		for i := 0; i < 20; i += 2 {
			sum += uint32(binary.BigEndian.Uint16(h[i:]))
		}
		for sum > 0xffff {
			sum = sum&0xffff + sum>>16
		}
		binary.BigEndian.PutUint16(h[10:], ^uint16(sum))
		return append(append(append([]byte(nil), eth...), h...), data...)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for i, fr := range [][]byte{frag(l4[:first], 0, true), frag(l4[first:], first, false)} {
		ci := gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(fr), Length: len(fr)}
		if err := w.WritePacket(ci, fr); err != nil {
			t.Fatal(err)
		}
	}
}
