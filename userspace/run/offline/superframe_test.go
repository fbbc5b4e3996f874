package offline_test

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/xdpids/xdpids/userspace/run/offline"
)

// TestSuperFrames: a capture taken on a host with TSO or GRO holds TCP
// segments longer than any sample the kernel sends (bpf.MaxSnaplen);
// read takes them whole, on both paths, so content past the sample
// length is inspected and the stream has no gap (the next segment's
// content is found too).
func TestSuperFrames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tso.pcap")
	writeTSOConn(t, path)
	readBothModes(t, path, `alert tcp any any -> any 8080 (msg:"deep in a TSO segment"; flow:established,to_server; content:"DEEP-MARKER"; sid:9200101; rev:1;)
alert tcp any any -> any 8080 (msg:"after the TSO segment"; flow:established,to_server; content:"NEXT-MARKER"; sid:9200102; rev:1;)`,
		func(t *testing.T, got map[uint32]int, sum *offline.Summary) {
			if got[9200101] != 1 || got[9200102] != 1 {
				t.Errorf("alerts %v, want one each of 9200101 and 9200102", got)
			}
			if g := sum.Pipeline.Stream.Gaps; g != 0 {
				t.Errorf("%d reassembly gaps, want 0", g)
			}
		})
}

// writeTSOConn writes a TCP connection whose client sends one 30 000-byte (a GRO segment)
// segment (DEEP-MARKER at byte 25 000) and then an ordinary one.
func writeTSOConn(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	cli, srv := net.IP{198, 51, 100, 7}, net.IP{192, 0, 2, 1}
	cmac, smac := net.HardwareAddr{2, 0, 0, 0, 0, 1}, net.HardwareAddr{2, 0, 0, 0, 0, 2}
	at := time.Unix(1700000000, 0)
	cseq, sseq := uint32(1000), uint32(5000)
	put := func(fromCli bool, tcp layers.TCP, payload []byte) {
		t.Helper()
		src, dst, smac2, dmac := cli, srv, cmac, smac
		tcp.SrcPort, tcp.DstPort = 40000, 8080
		if !fromCli {
			src, dst, smac2, dmac = srv, cli, smac, cmac
			tcp.SrcPort, tcp.DstPort = 8080, 40000
		}
		tcp.Window = 64240
		eth := &layers.Ethernet{SrcMAC: smac2, DstMAC: dmac, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: dst, Flags: layers.IPv4DontFragment}
		tcp.SetNetworkLayerForChecksum(ip)
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, &tcp, gopacket.Payload(payload)); err != nil {
			t.Fatal(err)
		}
		at = at.Add(time.Millisecond)
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: at, CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}, buf.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	put(true, layers.TCP{SYN: true, Seq: cseq}, nil)
	put(false, layers.TCP{SYN: true, ACK: true, Seq: sseq, Ack: cseq + 1}, nil)
	cseq, sseq = cseq+1, sseq+1
	put(true, layers.TCP{ACK: true, Seq: cseq, Ack: sseq}, nil)
	big := bytes.Repeat([]byte{'a'}, 30000)
	copy(big[25000:], "DEEP-MARKER")
	put(true, layers.TCP{ACK: true, PSH: true, Seq: cseq, Ack: sseq}, big)
	cseq += uint32(len(big))
	put(false, layers.TCP{ACK: true, Seq: sseq, Ack: cseq}, nil)
	next := []byte("then NEXT-MARKER in an ordinary segment")
	put(true, layers.TCP{ACK: true, PSH: true, Seq: cseq, Ack: sseq}, next)
	cseq += uint32(len(next))
	put(false, layers.TCP{ACK: true, Seq: sseq, Ack: cseq}, nil)
	put(true, layers.TCP{FIN: true, ACK: true, Seq: cseq, Ack: sseq}, nil)
	put(false, layers.TCP{FIN: true, ACK: true, Seq: sseq, Ack: cseq + 1}, nil)
	put(true, layers.TCP{ACK: true, Seq: cseq + 1, Ack: sseq + 1}, nil)
}
