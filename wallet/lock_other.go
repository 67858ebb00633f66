//go:build !unix

package wallet

// lockFile is a no-op where advisory file locks are not available; there
// one wallet process at a time should use a state file.
func lockFile(string) (func(), error) { return func() {}, nil }
