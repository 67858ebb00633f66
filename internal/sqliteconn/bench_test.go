package sqliteconn

import (
	"context"
	"database/sql"
	"testing"
)

// BenchmarkStatements runs the same insert and the same lookup by key
// through a Conn and through database/sql with the modernc.org/sqlite
// driver (one connection, prepared statements), each inside one open
// transaction, so that the figures differ by the call path alone.
func BenchmarkStatements(b *testing.B) {
	const (
		insert = "INSERT INTO t(n, f, s, b, flag) VALUES (?, ?, ?, ?, ?)"
		lookup = "SELECT n, s, b FROM t WHERE id = ?"
	)
	blob := []byte("0123456789abcdef0123456789abcdef")
	var (
		n  int64
		s  string
		bl []byte
	)
	// run measures ins(i) and look(i); the lookups find the first 1,000
	// rows inserted.
	run := func(b *testing.B, ins, look func(i int) error) {
		for _, step := range []struct {
			name string
			f    func(int) error
		}{{"insert", ins}, {"lookup", look}} {
			b.Run(step.name, func(b *testing.B) {
				for i := range b.N {
					if err := step.f(i); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
	b.Run("conn", func(b *testing.B) {
		c, _ := open(b)
		if _, err := c.Exec("BEGIN"); err != nil {
			b.Fatal(err)
		}
		run(b, func(i int) error {
			_, err := c.Exec(insert, int64(i), 1.5, "merchant-order-000001", blob, true)
			return err
		}, func(i int) error {
			return c.QueryRow(lookup, []any{int64(i%1000 + 1)}, &n, &s, &bl)
		})
	})
	b.Run("database-sql", func(b *testing.B) {
		_, path := open(b)
		db, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		db.SetMaxOpenConns(1)
		tx, err := db.BeginTx(context.Background(), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer tx.Rollback()
		ins, err := tx.Prepare(insert)
		if err != nil {
			b.Fatal(err)
		}
		look, err := tx.Prepare(lookup)
		if err != nil {
			b.Fatal(err)
		}
		run(b, func(i int) error {
			_, err := ins.Exec(int64(i), 1.5, "merchant-order-000001", blob, true)
			return err
		}, func(i int) error {
			return look.QueryRow(int64(i%1000+1)).Scan(&n, &s, &bl)
		})
	})
}
