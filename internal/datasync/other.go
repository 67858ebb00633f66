//go:build !linux

package datasync

import "os"

// aio is not available here: File makes plain calls.
type aio struct{}

func openAIO(*os.File) *aio { return nil }

func (*aio) sync() (error, bool) { return errUnsupported, false }

func (*aio) close() error { return nil }

// plainSync is fsync: the data and the metadata needed to read it back.
func plainSync(f *os.File) error { return f.Sync() }
