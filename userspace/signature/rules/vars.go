package rules

import (
	"fmt"
	"maps"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Vars are the address and port variables rules refer to ($HOME_NET,
// $HTTP_PORTS, ...), names without the '$'.
type Vars struct {
	Addr map[string]string
	Port map[string]string
}

// DefaultVars returns the variables of Suricata's stock suricata.yaml, so
// rule sets written for it (ET Open) load without a vars file.
func DefaultVars() Vars {
	return Vars{
		Addr: map[string]string{
			"HOME_NET":       "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]",
			"EXTERNAL_NET":   "!$HOME_NET",
			"HTTP_SERVERS":   "$HOME_NET",
			"SMTP_SERVERS":   "$HOME_NET",
			"SQL_SERVERS":    "$HOME_NET",
			"DNS_SERVERS":    "$HOME_NET",
			"TELNET_SERVERS": "$HOME_NET",
			"AIM_SERVERS":    "$EXTERNAL_NET",
			"DC_SERVERS":     "$HOME_NET",
			"DNP3_SERVER":    "$HOME_NET",
			"DNP3_CLIENT":    "$HOME_NET",
			"MODBUS_CLIENT":  "$HOME_NET",
			"MODBUS_SERVER":  "$HOME_NET",
			"ENIP_CLIENT":    "$HOME_NET",
			"ENIP_SERVER":    "$HOME_NET",
		},
		Port: map[string]string{
			"HTTP_PORTS":      "80",
			"SHELLCODE_PORTS": "!80",
			"ORACLE_PORTS":    "1521",
			"SSH_PORTS":       "22",
			"DNP3_PORTS":      "20000",
			"MODBUS_PORTS":    "502",
			"FILE_DATA_PORTS": "[$HTTP_PORTS,110,143]",
			"FTP_PORTS":       "21",
			"GENEVE_PORTS":    "6081",
			"VXLAN_PORTS":     "4789",
			"TEREDO_PORTS":    "3544",
			"SIP_PORTS":       "[5060,5061]",
		},
	}
}

func (v *Vars) addr(name string) (string, bool) {
	if v == nil || v.Addr == nil {
		d := DefaultVars()
		v = &d
	}
	s, ok := v.Addr[name]
	return s, ok
}

func (v *Vars) port(name string) (string, bool) {
	if v == nil || v.Port == nil {
		d := DefaultVars()
		v = &d
	}
	s, ok := v.Port[name]
	return s, ok
}

// With returns a copy of v (defaults when empty) with o's variables
// added or replaced.
func (v Vars) With(o Vars) Vars {
	r := Vars{Addr: maps.Clone(v.Addr), Port: maps.Clone(v.Port)}
	if r.Addr == nil {
		r.Addr = map[string]string{}
	}
	if r.Port == nil {
		r.Port = map[string]string{}
	}
	maps.Copy(r.Addr, o.Addr)
	maps.Copy(r.Port, o.Port)
	return r
}

type varsYAML struct {
	AddressGroups map[string]any `yaml:"address-groups"`
	PortGroups    map[string]any `yaml:"port-groups"`
}

// ParseVars reads variables from YAML as suricata.yaml writes them: a
// "vars:" map holding "address-groups:" and "port-groups:" (or those two
// at the top level). The result holds only what the YAML defines: merge
// it over DefaultVars with With.
func ParseVars(data []byte) (Vars, error) {
	var doc struct {
		Vars     *varsYAML `yaml:"vars"`
		varsYAML `yaml:",inline"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Vars{}, fmt.Errorf("parse vars: %w", err)
	}
	src := doc.varsYAML
	if doc.Vars != nil {
		src = *doc.Vars
	}
	v := Vars{Addr: map[string]string{}, Port: map[string]string{}}
	for k, x := range src.AddressGroups {
		v.Addr[strings.TrimPrefix(k, "$")] = fmt.Sprint(x)
	}
	for k, x := range src.PortGroups {
		v.Port[strings.TrimPrefix(k, "$")] = fmt.Sprint(x)
	}
	if len(v.Addr) == 0 && len(v.Port) == 0 {
		return Vars{}, fmt.Errorf("parse vars: no address-groups or port-groups found")
	}
	return v, nil
}

// LoadVarsFile reads a YAML vars file and returns DefaultVars with the
// file's variables added or replaced.
func LoadVarsFile(path string) (Vars, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Vars{}, fmt.Errorf("read vars: %w", err)
	}
	v, err := ParseVars(data)
	if err != nil {
		return Vars{}, fmt.Errorf("%s: %w", path, err)
	}
	return DefaultVars().With(v), nil
}
