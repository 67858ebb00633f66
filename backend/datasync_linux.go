package backend

import (
	"os"
	"syscall"
)

// dataSync makes a file's data durable: fdatasync, which on Linux also
// syncs a changed size but skips the inode times that fsync would write.
func dataSync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
			}
			return nil
		}
	}
}
