package pcapfile

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// hx decodes hex with spaces (for readable frames).
func hx(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The edge cases of the normaliser, byte for byte; the round trip of
// whole connections in every encoding is in capture_linktype_test.go.
func TestNormalize(t *testing.T) {
	const (
		zero = "000000000000"
		mac  = "00005e005301"
		ip4  = "4500001c000100004011f7a8c6336401c0000201 9c40270f00080000" // 28 bytes: IPv4 + UDP header
		arp  = "0001080006040001" + mac + "c6336401" + zero + "c0000201"
	)
	cases := []struct {
		name string
		link layers.LinkType
		in   string
		want string
	}{
		{"sll arp keeps its ethertype and source MAC", layers.LinkTypeLinuxSLL,
			"0000 0001 0006 " + mac + "0000 0806 " + arp, zero + mac + "0806" + arp},
		{"sll of a non-Ethernet device: zero MAC", layers.LinkTypeLinuxSLL,
			"0000 0304 0006 " + mac + "0000 0800 " + ip4, zero + zero + "0800" + ip4},
		{"sll vlan tag kept", layers.LinkTypeLinuxSLL,
			"0004 0001 0006 " + mac + "0000 8100 6064 0800 " + ip4, zero + mac + "8100 6064 0800" + ip4},
		{"sll of pppoe becomes ip", layers.LinkTypeLinuxSLL,
			"0000 0001 0006 " + mac + "0000 8864 1100 2a17 001e 0021 " + ip4, zero + mac + "0800" + ip4},
		{"sll cut short", layers.LinkTypeLinuxSLL, "0000 0001 0006 " + mac, zero + zero + "0000" + "0000 0001 0006 " + mac},
		{"sll address length 9", layers.LinkTypeLinuxSLL,
			"0000 0001 0009 " + mac + "0000 0800 " + ip4, zero + zero + "0000" + "0000 0001 0009 " + mac + "0000 0800 " + ip4},
		{"sll2 ipv4", layers.LinkTypeLinuxSLL2,
			"0800 0000 00000002 0001 00 06 " + mac + "0000" + ip4, zero + mac + "0800" + ip4},
		{"sll2 cut short", layers.LinkTypeLinuxSLL2, "0800 0000", zero + zero + "0000" + "0800 0000"},
		{"raw empty", layers.LinkTypeRaw, "", zero + zero + "0000"},
		{"raw version 5", 12, "5500", zero + zero + "0000" + "5500"},
		{"raw ipv4", 14, ip4, zero + zero + "0800" + ip4},
		{"ipv6 link type trusts the link", layers.LinkTypeIPv6, "45", zero + zero + "86dd" + "45"},
		{"null unknown family (AF_ISO)", layers.LinkTypeNull, "07000000 abcd", zero + zero + "0000" + "abcd"},
		{"null family not a family", layers.LinkTypeNull, "01020304 abcd", zero + zero + "0000" + "01020304 abcd"},
		{"null cut short", layers.LinkTypeNull, "0200", zero + zero + "0000" + "0200"},
		{"loop ipv6 freebsd, network order", layers.LinkTypeLoop, "0000001c 60", zero + zero + "86dd" + "60"},
		{"ppp lcp: ethertype ppp, protocol kept", layers.LinkTypePPP, "c021 0101", zero + zero + "880b" + "c021 0101"},
		{"ppp hdlc lcp: address and control dropped", layers.LinkTypePPP, "ff03 c021 0101", zero + zero + "880b" + "c021 0101"},
		{"ppp compressed ipv6", layers.LinkTypePPP_HDLC, "ff03 57 60", zero + zero + "86dd" + "60"},
		{"ppp empty", layers.LinkTypePPP, "", zero + zero + "0000"},
		{"ppp protocol cut short", layers.LinkTypePPP_HDLC, "ff03 00", zero + zero + "0000" + "ff03 00"},
		{"cisco hdlc slarp", layers.LinkTypeC_HDLC, "8f00 8035 00000002", zero + zero + "8035" + "00000002"},
		{"cisco hdlc in 50", layers.LinkTypePPP_HDLC, "0f00 0800 " + ip4, zero + zero + "0800" + ip4},
		{"cisco hdlc cut short", layers.LinkTypeC_HDLC, "0f00 08", zero + zero + "0000" + "0f00 08"},
		{"ethernet ipv4 unchanged", layers.LinkTypeEthernet, mac + mac + "0800" + ip4, mac + mac + "0800" + ip4},
		{"ethernet cut short unchanged", layers.LinkTypeEthernet, mac + "0000", mac + "0000"},
		{"pppoe lcp unchanged", layers.LinkTypeEthernet, mac + mac + "8864 1100 2a17 0004 c021 0101", mac + mac + "8864 1100 2a17 0004 c021 0101"},
		{"pppoe discovery unchanged", layers.LinkTypeEthernet, mac + mac + "8863 1109 0000 0000", mac + mac + "8863 1109 0000 0000"},
		{"pppoe version 2 unchanged", layers.LinkTypeEthernet, mac + mac + "8864 2100 2a17 001e 0021" + ip4, mac + mac + "8864 2100 2a17 001e 0021" + ip4},
		{"pppoe cut short unchanged", layers.LinkTypeEthernet, mac + mac + "8864 1100 2a", mac + mac + "8864 1100 2a"},
		{"pppoe in qinq, compressed ipv6", layers.LinkTypeEthernet,
			mac + mac + "88a8 0064 8100 0007 8864 1100 2a17 0002 57 60",
			mac + mac + "88a8 0064 8100 0007 86dd 60"},
		{"three tags: pppoe past the parsed depth unchanged", layers.LinkTypeEthernet,
			mac + mac + "8100 0001 8100 0002 8100 0003 8864 1100 2a17 0002 0021 45",
			mac + mac + "8100 0001 8100 0002 8100 0003 8864 1100 2a17 0002 0021 45"},
	}
	n := newNormalizer()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := n.normalize(c.link, hx(t, c.in))
			if want := hx(t, c.want); !bytes.Equal(got, want) {
				t.Errorf("normalize(%d, %s)\n got %x\nwant %x", c.link, c.in, got, want)
			}
		})
	}
}

// fuzzLinks are the link types FuzzNormalize picks from.
var fuzzLinks = []layers.LinkType{
	layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2,
	linkTypeRaw12, linkTypeRaw14, layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6,
	layers.LinkTypeNull, layers.LinkTypeLoop, layers.LinkTypePPP, layers.LinkTypePPP_HDLC, layers.LinkTypeC_HDLC,
}

func TestFuzzLinksAreSupported(t *testing.T) {
	for _, l := range fuzzLinks {
		if !supportedLink(l) {
			t.Errorf("%d in fuzzLinks but not supported", l)
		}
	}
}

// maxHeaderCut is the most a normalised frame can lose from its start:
// an SLL2 header (20) with two VLAN tags (8), PPPoE (6) and PPP (2).
const maxHeaderCut = 20 + 8 + 6 + 2

// FuzzNormalize: for any frame of any supported link type, normalize
// neither panics nor reads or writes out of bounds, gives an Ethernet
// frame (at least a header, except an Ethernet input too short for one)
// that a second pass leaves as it is, changes the length by at most one
// Ethernet header either way, and keeps everything past the longest
// link-layer header it may rewrite.
func FuzzNormalize(f *testing.F) {
	f.Add(uint8(1), hx(f, "0000 0001 0006 00005e005301 0000 0800 45000014"))
	f.Add(uint8(0), hx(f, "00005e005301 00005e005302 88a8 0064 8100 0007 8864 1100 2a17 0002 57 60"))
	f.Add(uint8(2), hx(f, "8864 0000 00000002 0001 00 06 00005e005301 0000 1100 2a17 0003 0021 45"))
	f.Add(uint8(8), hx(f, "1e000000 60000000"))
	f.Add(uint8(10), hx(f, "ff03 c021 0101"))
	f.Add(uint8(12), hx(f, "0f00 86dd 60"))
	n := newNormalizer()
	f.Fuzz(func(t *testing.T, pick uint8, in []byte) {
		link := fuzzLinks[int(pick)%len(fuzzLinks)]
		orig := bytes.Clone(in)
		out := bytes.Clone(n.normalize(link, bytes.Clone(in)))
		if link != layers.LinkTypeEthernet && len(out) < ethLen {
			t.Fatalf("%d-byte frame from link type %d", len(out), link)
		}
		if d := len(out) - len(orig); d < -ethLen || d > ethLen {
			t.Fatalf("length %d -> %d", len(orig), len(out))
		}
		if k := len(orig) - maxHeaderCut; k > 0 && !bytes.Equal(out[len(out)-k:], orig[len(orig)-k:]) {
			t.Fatalf("payload changed:\n in %x\nout %x", orig, out)
		}
		if again := n.normalize(layers.LinkTypeEthernet, bytes.Clone(out)); !bytes.Equal(again, out) {
			t.Fatalf("not idempotent:\nonce  %x\ntwice %x", out, again)
		}
	})
}

// BenchmarkNormalize measures the per-frame cost for the header
// rewrites that copy (raw IP) and those done in place (SLL).
func BenchmarkNormalize(b *testing.B) {
	ip := make([]byte, 1500)
	ip[0] = 0x45
	sll := append(hx(b, "0000 0001 0006 00005e005301 0000 0800"), ip...)
	for _, c := range []struct {
		name string
		link layers.LinkType
		in   []byte
	}{{"raw", layers.LinkTypeRaw, ip}, {"sll", layers.LinkTypeLinuxSLL, sll}} {
		b.Run(c.name, func(b *testing.B) {
			n := newNormalizer()
			buf := make([]byte, len(c.in))
			b.ReportAllocs()
			b.SetBytes(int64(len(c.in)))
			for b.Loop() {
				copy(buf, c.in) // the reader's fresh frame (SLL is rewritten in place)
				n.normalize(c.link, buf)
			}
		})
	}
}
