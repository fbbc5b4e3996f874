package config

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// CrowdSec configures the CrowdSec bouncer (userspace/fleet/crowdsec):
// the block list follows the ban decisions of a CrowdSec Local API.
// Off while lapi_url is empty.
type CrowdSec struct {
	LAPIURL      string        `yaml:"lapi_url"`      // e.g. http://127.0.0.1:8080
	APIKeyFile   string        `yaml:"api_key_file"`  // holds the key of `cscli bouncers add xdpids`
	PollInterval time.Duration `yaml:"poll_interval"` // between reads of the decision stream
}

// Enabled reports whether a LAPI is configured.
func (c CrowdSec) Enabled() bool { return c.LAPIURL != "" }

// MinCrowdSecPoll bounds poll_interval: a poll is an HTTP request and
// a database query on the LAPI.
const MinCrowdSecPoll = time.Second

func (f *File) validateCrowdSec() error {
	c := f.CrowdSec
	if !c.Enabled() {
		return nil
	}
	u, err := url.Parse(c.LAPIURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return f.errAt("crowdsec.lapi_url", "%q is not a LAPI address (want http://host:port or https://host:port)", c.LAPIURL)
	}
	if c.APIKeyFile == "" {
		return f.errAt("crowdsec.api_key_file", "required with crowdsec.lapi_url (a file holding the key of cscli bouncers add xdpids)")
	}
	if c.PollInterval < MinCrowdSecPoll {
		return f.errAt("crowdsec.poll_interval", "%v is too short (at least %v)", c.PollInterval, MinCrowdSecPoll)
	}
	return nil
}

// CrowdSecKey reads the bouncer's API key from api_key_file.
func (f *File) CrowdSecKey() (string, error) {
	b, err := os.ReadFile(f.CrowdSec.APIKeyFile)
	if err != nil {
		return "", fmt.Errorf("crowdsec.api_key_file: %w", err)
	}
	key := strings.TrimSpace(string(b))
	if key == "" || strings.ContainsAny(key, " \t\r\n") {
		return "", fmt.Errorf("crowdsec.api_key_file %s: want the key alone (cscli bouncers add xdpids -o raw > %s)", f.CrowdSec.APIKeyFile, f.CrowdSec.APIKeyFile)
	}
	return key, nil
}
