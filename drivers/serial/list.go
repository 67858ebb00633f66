package serial

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// PortInfo describes a serial port of the machine.
type PortInfo struct {
	// Path is the device path, such as /dev/ttyACM0.
	Path string
	// USB is true for a USB serial port; the fields below are then set
	// as far as the device reports them.
	USB                   bool
	VID, PID              string // lower-case hexadecimal, such as "0c2e"
	SerialNumber          string
	Manufacturer, Product string
}

// Address returns the scanner address that opens this port: by USB
// identity when there is one (it survives a replug under a new name), by
// path otherwise.
func (p PortInfo) Address() string {
	if !p.USB || p.VID == "" || p.PID == "" {
		return Scheme + ":" + p.Path
	}
	a := fmt.Sprintf("%s:usb=%s:%s", Scheme, p.VID, p.PID)
	if p.SerialNumber != "" {
		a += "&serial=" + p.SerialNumber
	}
	return a
}

// Ports lists the serial ports of the machine, sorted by path.
// Pseudo-terminals are not listed.
func (d *Driver) Ports(ctx context.Context) ([]PortInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	details, err := d.list()
	if err != nil {
		return nil, fmt.Errorf("serial: list ports: %w", err)
	}
	out := make([]PortInfo, 0, len(details))
	for _, p := range details {
		if p == nil || p.Name == "" {
			continue
		}
		out = append(out, PortInfo{
			Path:         p.Name,
			USB:          p.IsUSB,
			VID:          strings.ToLower(p.VID),
			PID:          strings.ToLower(p.PID),
			SerialNumber: p.SerialNumber,
			Manufacturer: p.Manufacturer,
			Product:      p.Product,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// Ports lists the serial ports of the machine with the default driver
// settings.
func Ports(ctx context.Context) ([]PortInfo, error) { return New().Ports(ctx) }
