//go:build unix

package wallet

import (
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock beside the state file, so that
// two wallet processes (a watch and a code, say) do not lose each other's
// updates. The returned function releases it.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("wallet: locking state: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("wallet: locking state: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
