package journal

import (
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Errors of the journal; match them with errors.Is.
var (
	// ErrStorage is wrapped by every failure of the journal file itself (a
	// *StorageError): full disk, read-only file, I/O error, damaged file.
	ErrStorage = errors.New("payment journal storage failure")
	// ErrNotFound: no payment or refund with that number.
	ErrNotFound = errors.New("not in the payment journal")
	// ErrIllegalTransition: the state machine does not allow the change.
	ErrIllegalTransition = errors.New("illegal payment state change")
	// ErrTampered: a record's signature or seal does not match its fields;
	// the file was edited outside the journal.
	ErrTampered = errors.New("payment journal record was altered")
	// ErrCodeErased: the payment is final and its full code is gone, so it
	// cannot be sent again.
	ErrCodeErased = errors.New("payment code no longer kept")
	// ErrInvalid: bad input (amount, code, time, number); nothing changed.
	ErrInvalid = errors.New("invalid journal input")
	// ErrMismatch: a backend answer does not match the record (another
	// order number, amount or currency); nothing changed.
	ErrMismatch = errors.New("backend answer does not match the journal record")
	// ErrTerminalMismatch: the journal file belongs to another terminal.
	ErrTerminalMismatch = errors.New("payment journal belongs to another terminal")
	// ErrRefundExcess: refunds would exceed the amount paid.
	ErrRefundExcess = errors.New("refunds would exceed the amount paid")
	// ErrSchemaTooNew: the file was written by a newer version of the till.
	ErrSchemaTooNew = errors.New("payment journal was made by a newer version of the till")
)

// StorageError is a failure of the journal file. Its Error text is a sentence
// for a person ("The payment journal could not be written: the disk is
// full."); Err holds the underlying SQLite error for logs.
type StorageError struct {
	Op     string // "written", "read" or "opened"
	Reason string // such as "the disk is full"
	Err    error
}

func (e *StorageError) Error() string {
	return fmt.Sprintf("The payment journal could not be %s: %s.", e.Op, e.Reason)
}

// Unwrap returns ErrStorage and the underlying error.
func (e *StorageError) Unwrap() []error { return []error{ErrStorage, e.Err} }

// storageReason says in words what a SQLite error code means for the file, or
// "" when the error is not a storage failure (a constraint, a bug).
func storageReason(err error) string {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return ""
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_FULL:
		return "the disk is full"
	case sqlite3.SQLITE_READONLY:
		return "the journal file is read-only"
	case sqlite3.SQLITE_IOERR:
		return "the disk reported an input/output error"
	case sqlite3.SQLITE_CANTOPEN:
		return "the journal file cannot be opened"
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return "the journal file is damaged"
	case sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH:
		return "access to the journal file was denied"
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return "the journal file is locked by another program"
	case sqlite3.SQLITE_NOMEM:
		return "the till is out of memory"
	case sqlite3.SQLITE_NOLFS, sqlite3.SQLITE_TOOBIG:
		return "the journal file is too large"
	}
	return ""
}

// wrapStorage turns a storage failure into a *StorageError and leaves other
// errors alone.
func wrapStorage(op string, err error) error {
	if err == nil {
		return nil
	}
	var already *StorageError
	if errors.As(err, &already) {
		return err
	}
	if r := storageReason(err); r != "" {
		return &StorageError{Op: op, Reason: r, Err: err}
	}
	return err
}
