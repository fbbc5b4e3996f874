package daemon

import (
	"log/slog"

	"github.com/xdpids/xdpids/loader"
	"github.com/xdpids/xdpids/userspace/config"
)

// sharePins gives pin_group read/write on the pinned maps, so its members
// run the CLI without root.
func sharePins(cfg *config.File) error {
	if cfg.PinGroup == "" || cfg.PinPath == "" {
		return nil
	}
	gid, err := config.LookupGroup(cfg.PinGroup)
	if err != nil {
		return err
	}
	warn, err := loader.ShareWithGroup(cfg.PinPath, gid)
	if err != nil {
		return err
	}
	if warn != "" {
		slog.Warn("pin_group: " + warn)
	}
	slog.Info("pinned maps shared with group", "pin_group", cfg.PinGroup, "gid", gid)
	return nil
}
