package sqliteconn

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// bind binds args to st's parameters in order. It takes nil, the integer
// types, bool (as 0 or 1), float32 and float64, string (TEXT), []byte
// (BLOB; a nil slice is NULL), any driver.Valuer giving one of those, and
// pointers to string, int64, bool, []byte and sql.NullInt64, which it reads
// through (a nil pointer is NULL): a pointer into a value already on the
// heap goes into an interface without the allocation that a copy of a
// string or a large integer costs. Text and blobs are copied into the
// arena and bound without a further copy, so the statement must be reset
// before the arena is used again.
func (c *Conn) bind(st *stmt, args []any) error {
	if len(args) != st.params {
		return fmt.Errorf("sqlite: %d arguments for %d parameters", len(args), st.params)
	}
	args, err := resolveValuers(args)
	if err != nil {
		return err
	}
	need := 0
	for _, a := range args {
		switch v := a.(type) {
		case string:
			need += len(v)
		case []byte:
			need += len(v)
		case *string:
			if v != nil {
				need += len(*v)
			}
		case *[]byte:
			if v != nil {
				need += len(*v)
			}
		}
	}
	if err := c.reserve(need); err != nil {
		return err
	}
	off := 0
	for i, a := range args {
		var rc int32
		n := int32(i + 1)
		switch v := a.(type) {
		case nil:
			rc = c.null(st.p, n)
		case int64:
			rc = sqlite3.Xsqlite3_bind_int64(c.tls, st.p, n, v)
		case int:
			rc = sqlite3.Xsqlite3_bind_int64(c.tls, st.p, n, int64(v))
		case bool:
			rc = c.bindBool(st.p, n, v)
		case float64:
			rc = sqlite3.Xsqlite3_bind_double(c.tls, st.p, n, v)
		case float32:
			rc = sqlite3.Xsqlite3_bind_double(c.tls, st.p, n, float64(v))
		case string:
			rc = c.bindText(st.p, n, v, &off)
		case []byte:
			rc = c.bindBlob(st.p, n, v, &off)
		case *string:
			if rc = c.null(st.p, n); v != nil {
				rc = c.bindText(st.p, n, *v, &off)
			}
		case *[]byte:
			if rc = c.null(st.p, n); v != nil {
				rc = c.bindBlob(st.p, n, *v, &off)
			}
		case *int64:
			if rc = c.null(st.p, n); v != nil {
				rc = sqlite3.Xsqlite3_bind_int64(c.tls, st.p, n, *v)
			}
		case *bool:
			if rc = c.null(st.p, n); v != nil {
				rc = c.bindBool(st.p, n, *v)
			}
		case *sql.NullInt64:
			if rc = c.null(st.p, n); v != nil && v.Valid {
				rc = sqlite3.Xsqlite3_bind_int64(c.tls, st.p, n, v.Int64)
			}
		default:
			iv, err := otherInt(a)
			if err != nil {
				return fmt.Errorf("sqlite: argument %d: %w", i+1, err)
			}
			rc = sqlite3.Xsqlite3_bind_int64(c.tls, st.p, n, iv)
		}
		if rc != sqlite3.SQLITE_OK {
			return fmt.Errorf("sqlite: argument %d: %w", i+1, c.err(rc))
		}
	}
	return nil
}

// null binds NULL to parameter n; a pointer argument binds it first and
// then, if it points to a value, that value over it.
func (c *Conn) null(p uintptr, n int32) int32 {
	return sqlite3.Xsqlite3_bind_null(c.tls, p, n)
}

// bindBool binds b as 1 or 0.
func (c *Conn) bindBool(p uintptr, n int32, b bool) int32 {
	var v int64
	if b {
		v = 1
	}
	return sqlite3.Xsqlite3_bind_int64(c.tls, p, n, v)
}

// bindText copies v into the arena at *off and binds it as TEXT.
func (c *Conn) bindText(p uintptr, n int32, v string, off *int) int32 {
	at := c.arena + uintptr(*off)
	copy(libc.GoBytes(at, len(v)), v)
	*off += len(v)
	return sqlite3.Xsqlite3_bind_text(c.tls, p, n, at, int32(len(v)), sqlite3.SQLITE_STATIC)
}

// bindBlob copies v into the arena at *off and binds it as a BLOB: an
// empty one for an empty slice, NULL for a nil one.
func (c *Conn) bindBlob(p uintptr, n int32, v []byte, off *int) int32 {
	switch {
	case v == nil:
		return sqlite3.Xsqlite3_bind_null(c.tls, p, n)
	case len(v) == 0:
		return sqlite3.Xsqlite3_bind_zeroblob(c.tls, p, n, 0)
	}
	at := c.arena + uintptr(*off)
	copy(libc.GoBytes(at, len(v)), v)
	*off += len(v)
	return sqlite3.Xsqlite3_bind_blob(c.tls, p, n, at, int32(len(v)), sqlite3.SQLITE_STATIC)
}

// resolveValuers returns args with each driver.Valuer replaced by its value,
// in a copy (the caller's slice is left alone); args itself if it holds
// none. A *sql.NullInt64 stays: bind reads it without boxing its value.
func resolveValuers(args []any) ([]any, error) {
	var out []any
	for i, a := range args {
		v, ok := a.(driver.Valuer)
		if !ok || isNullInt64Ptr(a) {
			continue
		}
		val, err := v.Value()
		if err != nil {
			return nil, fmt.Errorf("sqlite: argument %d: %w", i+1, err)
		}
		if out == nil {
			out = slices.Clone(args)
		}
		out[i] = val
	}
	if out == nil {
		return args, nil
	}
	return out, nil
}

// isNullInt64Ptr reports whether a is a *sql.NullInt64, which bind reads
// itself rather than through its Value method.
func isNullInt64Ptr(a any) bool {
	_, ok := a.(*sql.NullInt64)
	return ok
}

// otherInt converts the integer types other than int64 and int.
func otherInt(a any) (int64, error) {
	v := reflect.ValueOf(a)
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32:
		return v.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if u := v.Uint(); u <= math.MaxInt64 {
			return int64(u), nil
		}
		return 0, fmt.Errorf("%d does not fit in a signed 64-bit integer", v.Uint())
	}
	return 0, fmt.Errorf("cannot bind a %T", a)
}

// maxArena is the most text and blob bytes one statement may bind: SQLite
// takes lengths as 32-bit integers.
const maxArena = math.MaxInt32

// reserve makes the arena hold at least n bytes (and never 0, so that an
// empty text binds as text, not NULL).
func (c *Conn) reserve(n int) error {
	if n <= c.arenaCap && c.arena != 0 {
		return nil
	}
	if n > maxArena {
		return fmt.Errorf("sqlite: %d bytes of text and blobs in one statement, more than %d", n, maxArena)
	}
	size := max(n, 2*c.arenaCap, 512)
	p := sqlite3.Xsqlite3_malloc64(c.tls, uint64(size))
	if p == 0 {
		return errors.New("sqlite: out of memory")
	}
	sqlite3.Xsqlite3_free(c.tls, c.arena)
	c.arena, c.arenaCap = p, size
	return nil
}

// scan stores column i of the current row in dest, which may be *int64,
// *int, *bool, *float64, *string, *[]byte, *sql.NullInt64, *sql.NullString,
// *any or any sql.Scanner. Numbers and text convert as in database/sql;
// NULL goes only into *[]byte (nil), *any (nil) and the nullable types.
func (c *Conn) scan(p uintptr, i int, dest any) error {
	col := int32(i)
	typ := sqlite3.Xsqlite3_column_type(c.tls, p, col)
	switch d := dest.(type) {
	case *int64:
		v, err := c.int64(p, col, typ)
		if err != nil {
			return colErr(i, typ, dest, err)
		}
		*d = v
	case *int:
		v, err := c.int64(p, col, typ)
		if err == nil && int64(int(v)) != v {
			err = errors.New("out of range")
		}
		if err != nil {
			return colErr(i, typ, dest, err)
		}
		*d = int(v)
	case *bool:
		v, err := c.int64(p, col, typ)
		if err != nil || (v != 0 && v != 1) {
			return colErr(i, typ, dest, err)
		}
		*d = v == 1
	case *float64:
		switch typ {
		case sqlite3.SQLITE_FLOAT, sqlite3.SQLITE_INTEGER:
			*d = sqlite3.Xsqlite3_column_double(c.tls, p, col)
		default:
			return colErr(i, typ, dest, nil)
		}
	case *string:
		if typ == sqlite3.SQLITE_NULL {
			return colErr(i, typ, dest, nil)
		}
		*d = c.text(p, col, typ)
	case *[]byte:
		if typ == sqlite3.SQLITE_NULL {
			*d = nil
			return nil
		}
		*d = c.bytes(p, col, typ)
	case *sql.NullInt64:
		if typ == sqlite3.SQLITE_NULL {
			*d = sql.NullInt64{}
			return nil
		}
		v, err := c.int64(p, col, typ)
		if err != nil {
			return colErr(i, typ, dest, err)
		}
		*d = sql.NullInt64{Int64: v, Valid: true}
	case *sql.NullString:
		if typ == sqlite3.SQLITE_NULL {
			*d = sql.NullString{}
			return nil
		}
		*d = sql.NullString{String: c.text(p, col, typ), Valid: true}
	case *any:
		*d = c.value(p, col, typ)
	case sql.Scanner:
		if err := d.Scan(c.value(p, col, typ)); err != nil {
			return colErr(i, typ, dest, err)
		}
	default:
		return fmt.Errorf("sqlite: column %d: cannot store into a %T", i, dest)
	}
	return nil
}

// int64 reads an INTEGER column, or a TEXT one holding a decimal integer.
func (c *Conn) int64(p uintptr, col, typ int32) (int64, error) {
	switch typ {
	case sqlite3.SQLITE_INTEGER:
		return sqlite3.Xsqlite3_column_int64(c.tls, p, col), nil
	case sqlite3.SQLITE_TEXT:
		return strconv.ParseInt(c.text(p, col, typ), 10, 64)
	}
	return 0, errNotInteger
}

var errNotInteger = errors.New("not an integer")

// text reads a column as text: TEXT and BLOB as they are, numbers in
// decimal.
func (c *Conn) text(p uintptr, col, typ int32) string {
	switch typ {
	case sqlite3.SQLITE_INTEGER:
		return strconv.FormatInt(sqlite3.Xsqlite3_column_int64(c.tls, p, col), 10)
	case sqlite3.SQLITE_FLOAT:
		return strconv.FormatFloat(sqlite3.Xsqlite3_column_double(c.tls, p, col), 'g', -1, 64)
	}
	z := sqlite3.Xsqlite3_column_text(c.tls, p, col)
	n := int(sqlite3.Xsqlite3_column_bytes(c.tls, p, col))
	if z == 0 || n == 0 {
		return ""
	}
	return string(libc.GoBytes(z, n))
}

// bytes reads a column as a new byte slice (empty, not nil, for an empty
// value).
func (c *Conn) bytes(p uintptr, col, typ int32) []byte {
	if typ != sqlite3.SQLITE_BLOB {
		return []byte(c.text(p, col, typ))
	}
	z := sqlite3.Xsqlite3_column_blob(c.tls, p, col)
	n := int(sqlite3.Xsqlite3_column_bytes(c.tls, p, col))
	out := make([]byte, n)
	if z != 0 && n > 0 {
		copy(out, libc.GoBytes(z, n))
	}
	return out
}

// value reads a column as database/sql's drivers give it: int64, float64,
// string, []byte or nil.
func (c *Conn) value(p uintptr, col, typ int32) any {
	switch typ {
	case sqlite3.SQLITE_INTEGER:
		return sqlite3.Xsqlite3_column_int64(c.tls, p, col)
	case sqlite3.SQLITE_FLOAT:
		return sqlite3.Xsqlite3_column_double(c.tls, p, col)
	case sqlite3.SQLITE_TEXT:
		return c.text(p, col, typ)
	case sqlite3.SQLITE_BLOB:
		return c.bytes(p, col, typ)
	}
	return nil
}

// colErr describes a column that cannot go into dest.
func colErr(i int, typ int32, dest any, cause error) error {
	names := map[int32]string{sqlite3.SQLITE_INTEGER: "INTEGER", sqlite3.SQLITE_FLOAT: "REAL",
		sqlite3.SQLITE_TEXT: "TEXT", sqlite3.SQLITE_BLOB: "BLOB", sqlite3.SQLITE_NULL: "NULL"}
	msg := fmt.Sprintf("sqlite: column %d: cannot store %s in a %T", i, names[typ], dest)
	if cause != nil {
		return fmt.Errorf("%s: %w", msg, cause)
	}
	return errors.New(msg)
}
