package detect

import (
	"reflect"
	"slices"
	"testing"

	"github.com/xdpids/xdpids/userspace/detect/alert"
)

// The registry lists every built-in sid exactly once, with its message,
// and no sid that alert.Builtin does not list.
func TestRegistryListsEveryBuiltinSIDOnce(t *testing.T) {
	e := New(DefaultConfig(), func(*alert.Alert) {})
	builtin := map[uint32]alert.Signature{}
	for _, s := range alert.Builtin {
		builtin[s.SID] = s
	}
	seen := map[uint32]string{}
	names := map[string]bool{}
	for _, d := range e.Detectors() {
		if d.Name == "" || names[d.Name] {
			t.Errorf("detector name %q empty or twice", d.Name)
		}
		names[d.Name] = true
		if len(d.Signatures) == 0 {
			t.Errorf("%s describes no signature", d.Name)
		}
		for _, s := range d.Signatures {
			if prev, ok := seen[s.SID]; ok {
				t.Errorf("sid %d listed by %s and %s", s.SID, prev, d.Name)
			}
			seen[s.SID] = d.Name
			if b, ok := builtin[s.SID]; !ok || b != s {
				t.Errorf("%s: sid %d %q is not in alert.Builtin as such", d.Name, s.SID, s.Msg)
			}
		}
	}
	for _, s := range alert.Builtin {
		if s == alert.ModelSupervised || s == alert.ModelAnomaly || s == alert.ModelKernel {
			continue // the learned models' (userspace/learn, the XDP program's), not a detector's
		}
		if _, ok := seen[s.SID]; !ok {
			t.Errorf("sid %d %q: no detector lists it", s.SID, s.Msg)
		}
	}
}

// Every section of Config but SharedConfig is one detector's, and each
// detector's Config points at the engine's own section (so Reconfigure
// reaches it); each detector asks for some packet class.
func TestRegistrySections(t *testing.T) {
	e := New(DefaultConfig(), func(*alert.Alert) {})
	owner := map[uintptr]string{}
	for _, u := range e.units {
		if u.d.Classes() == 0 || u.d.Classes()>>numClasses != 0 {
			t.Errorf("%s: classes %b", u.name, u.d.Classes())
		}
		d := u.d.Describe()
		if d.Name != u.name {
			t.Errorf("Describe().Name %q, Name() %q", d.Name, u.name)
		}
		if d.Config == nil {
			continue
		}
		p := reflect.ValueOf(d.Config).Pointer()
		if prev, ok := owner[p]; ok {
			t.Errorf("%s and %s share a config section", prev, d.Name)
		}
		owner[p] = d.Name
	}
	v := reflect.ValueOf(&e.cfg).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if !f.Anonymous || f.Tag.Get("yaml") != ",inline" {
			t.Errorf("Config.%s is not an inline section", f.Name)
		}
		if f.Name == "SharedConfig" {
			continue
		}
		if _, ok := owner[v.Field(i).Addr().Pointer()]; !ok {
			t.Errorf("Config.%s belongs to no detector", f.Name)
		}
	}
	if len(owner) != v.NumField()-1 {
		t.Errorf("%d detector sections, Config has %d", len(owner), v.NumField()-1)
	}
}

// The order detectors see a packet: the ones publishing facts in Ctx come
// before the ones reading them, and the order is the same on every engine.
func TestRegistryOrder(t *testing.T) {
	e := New(DefaultConfig(), func(*alert.Alert) {})
	var names []string
	for _, d := range e.Detectors() {
		names = append(names, d.Name)
	}
	for _, before := range [][2]string{
		{"amplification", "dhcp_flood"}, // Response
		{"amplification", "port_scan"},  // Response, NotProbe
		{"dhcp_flood", "port_scan"},     // NotProbe
	} {
		if a, b := slices.Index(names, before[0]), slices.Index(names, before[1]); a < 0 || b < 0 || a > b {
			t.Errorf("%s must see packets before %s: %v", before[0], before[1], names)
		}
	}
	e2 := New(DefaultConfig(), func(*alert.Alert) {})
	for c := range numClasses {
		if !slices.Equal(e.names[c], e2.names[c]) || len(e.by[c]) != len(e.names[c]) {
			t.Errorf("class %d: order differs between engines", c)
		}
	}
}
