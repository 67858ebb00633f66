//go:build !unix

package sim

import (
	"fmt"

	"tillpay/scanner"
)

// OpenPipe is not available on this system.
func OpenPipe(path string) (scanner.Source, error) {
	return nil, fmt.Errorf("%w: named pipes need a Unix system", scanner.ErrNotFound)
}
