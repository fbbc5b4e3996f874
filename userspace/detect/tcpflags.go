package detect

import (
	"fmt"
	"time"

	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/packet/decode"
)

// TCPFlagsConfig is tcp_flags' section. Illegal TCP flag sets (NULL, XMAS,
// SYN+FIN, FIN without ACK, SYN+RST) are never sent by a real TCP stack
// (RFC 9293), so one packet is enough; one alert per source and kind per
// suppression window, and a 10-minute ban.
type TCPFlagsConfig struct {
	FlagsBanTTL time.Duration `yaml:"flags_ban_ttl"`
}

func (c *TCPFlagsConfig) setDefaults() { c.FlagsBanTTL = 10 * time.Minute }

// tcpFlags alerts on TCP flag combinations no stack sends.
type tcpFlags struct{ cfg *Config }

func newTCPFlags(_ *state, cfg *Config) Detector { return &tcpFlags{cfg} }

func (d *tcpFlags) Name() string   { return "tcp_flags" }
func (d *tcpFlags) Classes() Class { return AnyTCP }
func (d *tcpFlags) Expire(int64)   {}

func (d *tcpFlags) Describe() Description {
	return Description{Name: d.Name(), Config: &d.cfg.TCPFlagsConfig,
		Signatures: []alert.Signature{alert.FlagsNull, alert.FlagsXmas, alert.FlagsSynFin, alert.FlagsFinNoAck, alert.FlagsSynRst}}
}

func (d *tcpFlags) Observe(in *Input, c *Ctx) {
	fl := in.P.TCPFlags
	var sig alert.Signature
	switch {
	case fl&0x3f == 0:
		sig = alert.FlagsNull
	case fl&(decode.FlagFIN|decode.FlagPSH|decode.FlagURG) == decode.FlagFIN|decode.FlagPSH|decode.FlagURG:
		sig = alert.FlagsXmas
	case fl&(decode.FlagSYN|decode.FlagFIN) == decode.FlagSYN|decode.FlagFIN:
		sig = alert.FlagsSynFin
	case fl&(decode.FlagSYN|decode.FlagRST) == decode.FlagSYN|decode.FlagRST:
		sig = alert.FlagsSynRst
	case fl&(decode.FlagFIN|decode.FlagACK) == decode.FlagFIN:
		sig = alert.FlagsFinNoAck
	default:
		return
	}
	c.fire(in, sig, in.P.Src, false, int64(d.cfg.FlagsBanTTL),
		func() map[string]string { return map[string]string{"tcp_flags": fmt.Sprintf("0x%02x", fl)} })
}
