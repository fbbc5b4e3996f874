package signature_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/packet/decode"
	"github.com/xdpids/xdpids/userspace/signature"
)

func writeRules(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "local.rules")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadBuiltin(t *testing.T) {
	spec := signature.Spec{Builtin: true}
	if !spec.Active() {
		t.Error("Active() = false with Builtin")
	}
	res, err := signature.Load(spec)
	if err != nil {
		t.Fatal(err)
	}
	if res.Engine == nil || res.Loaded == 0 {
		t.Fatalf("builtin: engine %v, %d loaded", res.Engine, res.Loaded)
	}
	if len(res.Skipped) != 0 {
		t.Errorf("builtin rules skipped: %v", res.Skipped)
	}
	res.Log() // must not panic
}

func TestLoadNone(t *testing.T) {
	spec := signature.Spec{Addr: map[string]string{"HOME_NET": "10.0.0.0/8"}}
	if spec.Active() {
		t.Error("Active() = true with no rules")
	}
	res, err := signature.Load(spec)
	if err != nil {
		t.Fatal(err)
	}
	if res.Engine != nil || res.Loaded != 0 || len(res.Skipped) != 0 {
		t.Errorf("no rules: %+v", res)
	}
}

func TestLoadFileWithSkipped(t *testing.T) {
	path := writeRules(t, strings.Join([]string{
		"# local rules",
		`alert udp any any -> any 53 (msg:"good"; content:"evil"; sid:1000001; rev:1;)`,
		"",
		`alert tcp any any -> any any (msg:"int"; flow:established; flowint:a,+,1; sid:1000002; rev:1;)`,
	}, "\n"))
	res, err := signature.Load(signature.Spec{Files: []string{path}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Engine == nil || res.Loaded != 1 {
		t.Fatalf("engine %v, %d loaded, want 1", res.Engine, res.Loaded)
	}
	if len(res.Skipped) != 1 {
		t.Fatalf("skipped %v, want one", res.Skipped)
	}
	sk := res.Skipped[0]
	if sk.File != path || sk.Line != 4 || sk.SID != 1000002 {
		t.Errorf("skipped at %s:%d sid %d, want %s:4 sid 1000002", sk.File, sk.Line, sk.SID, path)
	}
	if !strings.Contains(sk.Reason, "flowint") {
		t.Errorf("reason %q does not name flowint", sk.Reason)
	}
	if !strings.HasPrefix(sk.Error(), path+":4:") {
		t.Errorf("Error() = %q, want a file:line prefix", sk.Error())
	}

	// With the builtin set too, both load.
	both, err := signature.Load(signature.Spec{Builtin: true, Files: []string{path}})
	if err != nil {
		t.Fatal(err)
	}
	builtin, _ := signature.Load(signature.Spec{Builtin: true})
	if both.Loaded != builtin.Loaded+1 || len(both.Skipped) != 1 {
		t.Errorf("builtin+file: %d loaded, %d skipped; want %d and 1", both.Loaded, len(both.Skipped), builtin.Loaded+1)
	}
}

func TestLoadOnlyUnsupported(t *testing.T) {
	path := writeRules(t, `alert tcp any any -> any any (flow:established; flowint:a,+,1; sid:5;)`+"\n")
	res, err := signature.Load(signature.Spec{Files: []string{path}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Engine != nil || res.Loaded != 0 || len(res.Skipped) != 1 {
		t.Errorf("only an unsupported rule: engine %v, %d loaded, %d skipped", res.Engine, res.Loaded, len(res.Skipped))
	}
}

func TestLoadMissingFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.rules")
	res, err := signature.Load(signature.Spec{Builtin: true, Files: []string{missing}})
	if err == nil {
		t.Fatal("a missing rule file loaded")
	}
	if !strings.Contains(err.Error(), "nope.rules") {
		t.Errorf("error %q does not name the file", err)
	}
	if res.Engine != nil {
		t.Error("an engine came back with the error")
	}
}

// udpPacket decodes a UDP datagram from src to dst port 53 carrying payload.
func udpPacket(t *testing.T, src, dst string, payload string) (*decode.Packet, []byte) {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
	udp := &layers.UDP{SrcPort: 40000, DstPort: 53}
	udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	frame := buf.Bytes()
	var pk decode.Packet
	if err := decode.NewDecoder().Decode(frame, &pk); err != nil {
		t.Fatal(err)
	}
	return &pk, frame
}

func sids(e *signature.Engine, pk *decode.Packet, frame []byte) []uint32 {
	var out []uint32
	e.MatchPacket(&signature.Input{P: pk, Frame: frame}, func(a *alert.Alert) { out = append(out, a.SID) })
	return out
}

func TestLoadVarsOverride(t *testing.T) {
	path := writeRules(t, `alert udp $HOME_NET any -> any 53 (msg:"home dns"; content:"evil"; sid:1000010; rev:1;)`+"\n")
	const src = "203.0.113.7" // TEST-NET-3: in no default HOME_NET
	pk, frame := udpPacket(t, src, "198.51.100.53", "xx evil xx")

	def, err := signature.Load(signature.Spec{Files: []string{path}})
	if err != nil || def.Engine == nil {
		t.Fatalf("default vars: %v %+v", err, def)
	}
	if got := sids(def.Engine, pk, frame); len(got) != 0 {
		t.Errorf("default HOME_NET: alerts %v, want none for %s", got, src)
	}

	over, err := signature.Load(signature.Spec{Files: []string{path}, Addr: map[string]string{"HOME_NET": "[203.0.113.0/24]"}})
	if err != nil || over.Engine == nil {
		t.Fatalf("override: %v %+v", err, over)
	}
	if got := sids(over.Engine, pk, frame); len(got) != 1 || got[0] != 1000010 {
		t.Errorf("HOME_NET override: alerts %v, want [1000010]", got)
	}
	// The override does not make other sources match.
	pk2, frame2 := udpPacket(t, "192.0.2.1", "198.51.100.53", "xx evil xx")
	if got := sids(over.Engine, pk2, frame2); len(got) != 0 {
		t.Errorf("HOME_NET override, outside source: alerts %v", got)
	}
}
