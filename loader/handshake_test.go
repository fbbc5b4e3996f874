package loader

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/xdpids/xdpids/bpf"
)

// Tests of verification by the host's own handshakes: the tcx egress
// program records the SYN-ACKs the host sends, and the XDP program's check
// of the client's final ACK against them, through BPF_PROG_TEST_RUN (the
// egress program runs on the SYN-ACK frame as if the host sent it).

const tcxNext = 0xffffffff // TCX_NEXT (-1): the egress program never acts

const serverISN = 0x7a31c0de

// handshakeKey is the handshakes map key of client's connection to server
// from port 40000 to 80.
func handshakeKey(client, server netip.Addr) bpf.XdpidsHandshakeKey {
	fk := FlowKey(client, server, 40000, 80, 6, 0)
	return bpf.XdpidsHandshakeKey{Src: fk.Src, Dst: fk.Dst, Sport: fk.Sport, Dport: fk.Dport, Family: fk.Family}
}

// serverSynAck is the host's SYN-ACK to client's SYN (seq 1000) with isn.
func serverSynAck(client, server netip.Addr, isn uint32) []byte {
	th := tcp(80, 40000, syn|ack)
	th.Seq, th.Ack = isn, 1001
	return frame(eth(), ipWithTTL(server, client, 64), th)
}

// egress runs frame through the egress program, which must pass it on.
func (r *cookieRun) egress(frame []byte) {
	r.t.Helper()
	got, err := r.d.EgressProgram().Run(&ebpf.RunOptions{Data: frame})
	if err != nil {
		r.t.Fatalf("egress run: %v", err)
	}
	if got != tcxNext {
		r.t.Fatalf("egress program returned %d, want TCX_NEXT", int32(got))
	}
}

// handshakeStats checks the handshake counters of slot 0.
func (r *cookieRun) handshakeStats(recorded, verified, badAck uint64) {
	r.t.Helper()
	st, err := r.d.Maps().SlotStats(0)
	if err != nil {
		r.t.Fatal(err)
	}
	if st.SynAcksRecorded != recorded || st.VerifiedHandshake != verified || st.HandshakeBadAck != badAck || st.VerifiedNew != 0 {
		r.t.Errorf("synacks_recorded %d verified_handshake %d handshake_bad_ack %d verified_new %d, want %d %d %d 0",
			st.SynAcksRecorded, st.VerifiedHandshake, st.HandshakeBadAck, st.VerifiedNew, recorded, verified, badAck)
	}
}

func (r *cookieRun) recorded(client, server netip.Addr) (bpf.XdpidsHandshake, bool) {
	k := handshakeKey(client, server)
	var h bpf.XdpidsHandshake
	err := r.d.Maps().Handshakes.Lookup(&k, &h)
	return h, err == nil
}

// TestHandshakeVerify: the egress program records the host's SYN-ACKs;
// the client's final ACK acknowledging one verifies the client with its
// TTL and removes the record; a wrong ack number, an unknown flow, or an
// ACK nobody was sent a SYN-ACK for verify nothing.
func TestHandshakeVerify(t *testing.T) {
	type step func(r *cookieRun, client, server netip.Addr)
	syn1 := func(r *cookieRun, c, s netip.Addr) { r.run(segment(c, s, 57, syn, 1000, 0, 0), actPass) }
	synAckOut := func(r *cookieRun, c, s netip.Addr) { r.egress(serverSynAck(c, s, serverISN)) }
	finalAck := func(ackNum uint32) step {
		return func(r *cookieRun, c, s netip.Addr) { r.run(segment(c, s, 57, ack, 1001, ackNum, 0), actPass) }
	}
	for _, tc := range []struct {
		name                   string
		monitor                bool
		steps                  []step
		verified               bool
		recorded, counted, bad uint64
		recordLeft             bool
		wantTrust              []uint32 // trust bits of the client's samples, in order
	}{
		{name: "syn-ack recorded", steps: []step{syn1, synAckOut}, recorded: 1, recordLeft: true, wantTrust: []uint32{0}},
		{name: "final ack verifies", steps: []step{syn1, synAckOut, finalAck(serverISN + 1)}, verified: true, recorded: 1, counted: 1,
			wantTrust: []uint32{0, bpf.TrustVerified | bpf.TrustHandshake}},
		{name: "monitor mode verifies", monitor: true, steps: []step{syn1, synAckOut, finalAck(serverISN + 1)}, verified: true, recorded: 1, counted: 1,
			wantTrust: []uint32{0, bpf.TrustVerified | bpf.TrustHandshake}},
		{name: "ack carrying data verifies", steps: []step{syn1, synAckOut, func(r *cookieRun, c, s netip.Addr) {
			r.run(segment(c, s, 57, ack|psh, 1001, serverISN+1, 40), actPass)
		}}, verified: true, recorded: 1, counted: 1, wantTrust: []uint32{0, bpf.TrustVerified | bpf.TrustHandshake}},
		{name: "wrong ack number", steps: []step{syn1, synAckOut, finalAck(serverISN), finalAck(serverISN + 2)}, recorded: 1, bad: 2,
			recordLeft: true, wantTrust: []uint32{0, 0, 0}},
		{name: "right ack after a wrong one", steps: []step{syn1, synAckOut, finalAck(serverISN + 7), finalAck(serverISN + 1)},
			verified: true, recorded: 1, counted: 1, bad: 1, wantTrust: []uint32{0, 0, bpf.TrustVerified | bpf.TrustHandshake}},
		{name: "unknown flow", steps: []step{syn1, finalAck(serverISN + 1)}, wantTrust: []uint32{0, 0}},
		{name: "forged ack, no syn-ack", steps: []step{finalAck(serverISN + 1)}, wantTrust: []uint32{0}},
		{name: "ack from another port", steps: []step{syn1, synAckOut, func(r *cookieRun, c, s netip.Addr) {
			th := tcp(40001, 80, ack)
			th.Seq, th.Ack = 1001, serverISN+1
			r.run(frame(eth(), ipWithTTL(c, s, 57), th), actPass)
		}}, recorded: 1, recordLeft: true, wantTrust: []uint32{0, 0}},
		{name: "syn-ack on ingress is not recorded", steps: []step{func(r *cookieRun, c, s netip.Addr) {
			r.run(serverSynAck(c, s, serverISN), actPass)
		}, finalAck(serverISN + 1)}, wantTrust: []uint32{0}},
		{name: "egress records only syn-acks", steps: []step{func(r *cookieRun, c, s netip.Addr) {
			for _, fl := range []uint8{syn, ack, rst | ack, syn | ack | rst, fin | ack, syn | ack | fin} {
				th := tcp(80, 40000, fl)
				th.Seq, th.Ack = serverISN, 1001
				r.egress(frame(eth(), ipWithTTL(s, c, 64), th))
			}
			r.egress(frame(eth(), ipWithTTL(s, c, 64), udp(80, 40000), payload(8)))
		}, finalAck(serverISN + 1)}, wantTrust: []uint32{0}},
		{name: "stale record", steps: []step{syn1, synAckOut, func(r *cookieRun, c, s netip.Addr) {
			k := handshakeKey(c, s)
			h, _ := r.recorded(c, s)
			h.SentNs -= 80e9 // past HANDSHAKE_NS
			if err := r.d.Maps().Handshakes.Update(&k, &h, ebpf.UpdateExist); err != nil {
				t.Fatal(err)
			}
		}, finalAck(serverISN + 1)}, recorded: 1, wantTrust: []uint32{0, 0}},
	} {
		for _, fam := range []struct {
			name           string
			client, server netip.Addr
		}{{"ipv4", srcA, dst4}, {"ipv6", src6A, dst6}} {
			t.Run(tc.name+"/"+fam.name, func(t *testing.T) {
				r := newCookieRun(t, func(c *Config) { c.Monitor = tc.monitor; c.FlowSamples = 4; c.SampleMask = bpf.SampleNewFlow })
				rd, err := ringbuf.NewReader(r.d.SamplesMap())
				if err != nil {
					t.Fatal(err)
				}
				defer rd.Close()
				for _, s := range tc.steps {
					s(r, fam.client, fam.server)
				}
				if tc.verified {
					verifiedTTL(t, r.d, fam.client, 57, 0)
				} else {
					notVerified(t, r.d, fam.client)
				}
				r.handshakeStats(tc.recorded, tc.counted, tc.bad)
				h, left := r.recorded(fam.client, fam.server)
				if left != tc.recordLeft {
					t.Errorf("record left %v (%+v), want %v", left, h, tc.recordLeft)
				}
				if left && h.AckWant != serverISN+1 {
					t.Errorf("record wants ack %#x, want %#x", h.AckWant, serverISN+1)
				}
				var trust []uint32
				for _, s := range readSamples(t, rd) {
					if sampleSrc(s) == fam.client {
						trust = append(trust, uint32(s.hdr.Trust))
					}
				}
				if len(trust) != len(tc.wantTrust) {
					t.Fatalf("client sample trust bits %v, want %v", trust, tc.wantTrust)
				}
				for i := range trust {
					if trust[i] != tc.wantTrust[i] {
						t.Errorf("client sample trust bits %v, want %v", trust, tc.wantTrust)
						break
					}
				}
			})
		}
	}
}

// TestHandshakeLRUBound: the handshakes map is bounded: full, a new
// SYN-ACK is still recorded (the oldest is evicted) and it never holds
// more than its max_entries.
func TestHandshakeLRUBound(t *testing.T) {
	r := newCookieRun(t, func(*Config) {})
	m := r.d.Maps().Handshakes
	max := int(m.MaxEntries())
	keys := make([]bpf.XdpidsHandshakeKey, max+max/8)
	vals := make([]bpf.XdpidsHandshake, len(keys))
	for i := range keys {
		c := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		keys[i] = handshakeKey(c, dst4)
		keys[i].Sport = uint16(i >> 16)
		vals[i] = bpf.XdpidsHandshake{SentNs: 1, AckWant: uint32(i)}
	}
	for i := range keys {
		// one by one: an LRU map evicts on update, BatchUpdate would stop at full
		if err := m.Update(&keys[i], &vals[i], ebpf.UpdateAny); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	r.egress(serverSynAck(srcA, dst4, serverISN))
	if _, ok := r.recorded(srcA, dst4); !ok {
		t.Errorf("a SYN-ACK into the full map was not recorded")
	}
	n := 0
	var k bpf.XdpidsHandshakeKey
	var v bpf.XdpidsHandshake
	it := m.Iterate()
	for it.Next(&k, &v) {
		n++
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if n > max {
		t.Errorf("handshakes map holds %d entries, max_entries %d", n, max)
	}
	t.Logf("%d entries written, %d held (max_entries %d)", len(keys)+1, n, max)
	r.handshakeStats(1, 0, 0)
	// the new record works as any other
	r.run(segment(srcA, dst4, 57, ack, 1001, serverISN+1, 0), actPass)
	verifiedTTL(t, r.d, srcA, 57, 0)
}

// sampleSrc is the source address of a sampled IP frame.
func sampleSrc(s sample) netip.Addr {
	l3 := int(s.hdr.L3Off)
	switch {
	case s.hdr.Family == 4 && len(s.data) >= l3+16:
		return netip.AddrFrom4([4]byte(s.data[l3+12 : l3+16]))
	case s.hdr.Family == 6 && len(s.data) >= l3+24:
		return netip.AddrFrom16([16]byte(s.data[l3+8 : l3+24]))
	}
	return netip.Addr{}
}

// TestEgressSamples: with Config.EgressSamples the egress program streams
// the host's own packets of a flow under inspection to the ring, marked
// TrustEgress, counted in their direction's flow entry (not in flows_new);
// a bypassed direction sends only its milestones; and with the option off
// it samples nothing but still records SYN-ACKs.
func TestEgressSamples(t *testing.T) {
	for _, fam := range []struct {
		name           string
		client, server netip.Addr
	}{{"ipv4", srcA, dst4}, {"ipv6", src6A, dst6}} {
		t.Run(fam.name, func(t *testing.T) {
			for _, on := range []bool{true, false} {
				r := newCookieRun(t, func(c *Config) { c.FlowSamples = 4; c.EgressSamples = on })
				rd, err := ringbuf.NewReader(r.d.SamplesMap())
				if err != nil {
					t.Fatal(err)
				}
				synAck := serverSynAck(fam.client, fam.server, serverISN)
				r.egress(synAck)
				got := readSamples(t, rd)
				if _, ok := r.recorded(fam.client, fam.server); !ok {
					t.Errorf("egress samples %v: SYN-ACK not recorded", on)
				}
				if !on {
					if len(got) != 0 {
						t.Errorf("egress samples off: %d samples", len(got))
					}
					rd.Close()
					continue
				}
				if len(got) != 1 {
					t.Fatalf("%d samples of the host's SYN-ACK, want 1", len(got))
				}
				s := got[0]
				if s.hdr.Trust != bpf.TrustEgress || s.hdr.Flags&bpf.SampleNewFlow == 0 || s.hdr.FlowPackets != 1 ||
					s.hdr.Verdict != bpf.VerdictPass || !bytes.Equal(s.data, synAck) || sampleSrc(s) != fam.server {
					t.Errorf("sample %+v (from %s), want the SYN-ACK from %s, trust egress, new flow, flow packet 1",
						s.hdr, sampleSrc(s), fam.server)
				}
				key := FlowKey(fam.server, fam.client, 80, 40000, 6, 0)
				var fs bpf.XdpidsFlowStats
				if err := r.d.Maps().Flows.Lookup(&key, &fs); err != nil || fs.Packets != 1 {
					t.Errorf("flow entry of the host's direction: %+v, %v; want 1 packet", fs, err)
				}
				st, err := r.d.Maps().SlotStats(0)
				if err != nil {
					t.Fatal(err)
				}
				if st.FlowsNew != 0 || st.SamplesSent != 1 {
					t.Errorf("flows_new %d samples_sent %d, want 0 and 1", st.FlowsNew, st.SamplesSent)
				}
				// Bypassed: packets 2..16 send nothing, the 17th (16 before it) is a milestone.
				if err := r.d.Maps().SetFlowAction(key, bpf.FlowBypass, 0); err != nil {
					t.Fatal(err)
				}
				data := frame(eth(), ipWithTTL(fam.server, fam.client, 64), tcp(80, 40000, ack))
				for range 16 {
					r.egress(data)
				}
				got = readSamples(t, rd)
				if len(got) != 1 || got[0].hdr.Flags != bpf.SampleMilestone || got[0].hdr.FlowPackets != 17 ||
					got[0].hdr.Action != bpf.FlowBypass {
					t.Errorf("bypassed direction: %d samples (%+v), want its 17th packet's milestone", len(got), got)
				}
				rd.Close()
			}
		})
	}
}
