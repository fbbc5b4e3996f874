package detect_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/xdpids/xdpids/userspace/config"
	"github.com/xdpids/xdpids/userspace/detect"
)

// The shipped default.yaml agrees with DefaultConfig, and the config
// loader still validates detector keys by their YAML names.
func TestDefaultYAMLAgrees(t *testing.T) {
	if got := config.Default().Detect; !reflect.DeepEqual(got, detect.DefaultConfig()) {
		t.Errorf("default.yaml detectors\n%+v\nDefaultConfig\n%+v", got, detect.DefaultConfig())
	}
	f, err := config.Parse([]byte("detectors:\n  scan_vertical_ports: 30\n  brute_force_connections: 4\n"), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if f.Detect.ScanVerticalPorts != 30 || f.Detect.BruteConnections != 4 || f.Detect.ScanHorizontalHosts != 25 {
		t.Errorf("detectors %+v", f.Detect)
	}
	_, err = config.Parse([]byte("detectors:\n  scan_vertical_ports: 0\n"), "x.yaml")
	if err == nil || !strings.Contains(err.Error(), "detectors.scan_vertical_ports") {
		t.Errorf("scan_vertical_ports: 0: %v", err)
	}
}
