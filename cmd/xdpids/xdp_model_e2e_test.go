package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/userspace/learn/xdptree"
)

// TestXDPModelEndToEnd: `run --xdp-model` with a drop model puts the tree
// in the kernel, which drops a real TCP connection's client direction
// at its 4th packet (the model: destination port 9001 is "attack") with
// no userspace round trip, while a connection to another port goes on;
// `xdpids stats` counts the verdicts and the model's drops, and the EVE
// file has the verdict's alert (sid 8600003, detector model, class
// attack, blocked) and a drop event (reason model) for the connection it
// cut, and neither for the other.
func TestXDPModelEndToEnd(t *testing.T) {
	testenv.Short(t)
	l := newLab(t)
	m := &xdptree.Model{Format: xdptree.Format, Version: xdptree.Version, Kind: xdptree.Kind, Features: xdptree.Names[:],
		Classes: []string{xdptree.Benign, "attack"}, Packets: 4, Threshold: 0.5, Action: xdptree.ActionDrop,
		Trees: []xdptree.Tree{{Feature: []int8{xdptree.DstPort, -1, -1}, Threshold: []uint32{9001, 0, 0},
			Left: []int32{1, 0, 0}, Right: []int32{2, 0, 0}, Class: []uint8{0, 0, 1}, Score: []uint16{0, 0, 1000}}}}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "xdp.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := l.serverEnds["c"].IP()
	l.listen(t, net.JoinHostPort(srv, "9001"), echoConn)
	l.listen(t, net.JoinHostPort(srv, "8001"), echoConn)
	d := l.start(t, "", "--xdp-model", path)

	// echo n messages; returns how many came back
	echo := func(port string, n int) int {
		c, err := l.dial("c", net.JoinHostPort(srv, port))
		if err != nil {
			return 0
		}
		defer c.Close()
		buf := make([]byte, 16)
		for i := range n {
			if _, err := c.Write([]byte("hello\n")); err != nil {
				return i
			}
			_ = c.SetReadDeadline(time.Now().Add(700 * time.Millisecond))
			if _, err := c.Read(buf); err != nil {
				return i
			}
		}
		return n
	}
	// the client direction: SYN, ACK, then data and ACKs; its 4th packet
	// is judged, so at most 2 echoes come back before the drop
	if got := echo("9001", 6); got > 2 {
		t.Errorf("port 9001: %d of 6 echoes came back; the model should have dropped the flow", got)
	}
	if got := echo("8001", 6); got != 6 {
		t.Errorf("port 8001: %d of 6 echoes came back, want all", got)
	}
	st := l.stats(t)[l.serverEnds["c"].Name]
	if len(st.ModelVerdicts) != 2 || st.ModelVerdicts[0] == 0 || st.ModelVerdicts[1] == 0 {
		t.Errorf("model verdicts %v, want benign and attack both counted", st.ModelVerdicts)
	}
	if st.Verdicts["drop"].Reasons["model"].Packets == 0 {
		t.Errorf("no packet dropped for reason model: %+v", st.Verdicts["drop"])
	}
	waitFor(t, d.eve, `"signature_id":8600003`, 5*time.Second)
	var got []modelEVE
	for _, a := range readModelEVE(t, d.eve) {
		if a.Alert.SignatureID == 8600003 {
			got = append(got, a)
		}
	}
	client := l.clientEnds["c"].IP()
	if len(got) != 1 {
		t.Fatalf("%d in-kernel model alerts %+v, want the one of the connection to 9001", len(got), got)
	}
	a := got[0]
	v := a.vars()
	if a.SrcIP != client || a.DestIP != srv || a.DestPort != 9001 || a.Proto != "TCP" || a.Alert.Action != "blocked" ||
		v["xdpids.detector"] != "model" || v["xdpids.class"] != "attack" || v["xdpids.engine"] != "xdp" ||
		v["xdpids.threshold"] != "0.5000" || v["xdpids.score"] != "1.0000" || v["xdpids.trust"] != "verified" {
		t.Errorf("in-kernel model alert %+v %v: want %s -> %s:9001 TCP blocked, detector model, class attack, engine xdp, score 1, threshold 0.5, trust verified (the host answered its handshake)",
			a, v, client, srv)
	}
	waitFor(t, d.eve, `"reason":"model"`, 5*time.Second) // written after the alert
	var drops []modelEVE
	for _, e := range readEVEOfType(t, d.eve, "drop") {
		if e.Drop.Reason == "model" {
			drops = append(drops, e)
		}
	}
	if len(drops) != 1 || drops[0].SrcIP != client || drops[0].DestPort != 9001 || drops[0].Proto != "TCP" {
		t.Errorf("model drop events %+v, want one: %s -> %s:9001 TCP", drops, client, srv)
	}
}

// modelEVE is an EVE alert with its 5-tuple and metadata.
type modelEVE struct {
	EventType string `json:"event_type"`
	SrcIP     string `json:"src_ip"`
	DestIP    string `json:"dest_ip"`
	SrcPort   uint16 `json:"src_port"`
	DestPort  uint16 `json:"dest_port"`
	Proto     string `json:"proto"`
	Alert     struct {
		Action      string `json:"action"`
		SignatureID uint32 `json:"signature_id"`
	} `json:"alert"`
	Metadata struct {
		Flowvars []map[string]string `json:"flowvars"`
	} `json:"metadata"`
	Drop struct {
		Reason string `json:"reason"`
	} `json:"drop"`
}

func (a *modelEVE) vars() map[string]string {
	v := map[string]string{}
	for _, fv := range a.Metadata.Flowvars {
		maps.Copy(v, fv)
	}
	return v
}

// readModelEVE returns the alerts of the EVE file at path.
func readModelEVE(t *testing.T, path string) []modelEVE {
	t.Helper()
	return readEVEOfType(t, path, "alert")
}

// readEVEOfType returns the events of one type of the EVE file at path.
func readEVEOfType(t *testing.T, path, typ string) []modelEVE {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []modelEVE
	for _, line := range bytes.Split(b, []byte("\n")) {
		var a modelEVE
		if len(line) == 0 || json.Unmarshal(line, &a) != nil || a.EventType != typ {
			continue
		}
		out = append(out, a)
	}
	return out
}
