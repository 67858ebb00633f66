//go:build unix

package sim

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"tillpay/scanner"
)

// OpenPipe opens the named pipe at path as a scan gun, creating it (mode
// 0600) when missing. It is opened for reading and writing so that writers
// may come and go ("echo 123 > fifo" again and again) without ending the
// stream.
func OpenPipe(path string) (scanner.Source, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		if err := syscall.Mkfifo(path, 0o600); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("simulated scanner: create named pipe %s: %w", path, classify(err))
		}
	} else if err != nil {
		return nil, fmt.Errorf("simulated scanner: %s: %w", path, classify(err))
	} else if fi.Mode()&os.ModeNamedPipe == 0 {
		return nil, fmt.Errorf("%w: %s is not a named pipe", scanner.ErrAddress, path)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("simulated scanner: open %s: %w", path, classify(err))
	}
	return newReaderSource(f, path), nil
}
