package backend

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// A migration brings one part of a database written by an earlier version
// of the backend to the current layout.
type migration struct {
	name string
	// needed reports whether the database still has the earlier layout.
	needed string // a query giving one boolean
	// check, if set, gives the number of rows the migration could not
	// carry over; any refuses it, and nothing changes.
	check string
	steps []string
}

// migrations, oldest first.
var migrations = []migration{
	// Earlier versions marked each notification delivered to the inbox
	// with a flag (outbox.inbox_done, with a partial index), set by the
	// notifier in a second write of every row. Now one mark in meta says
	// that every notification up to it is in the inboxes. Each pass
	// delivered all that were pending, so the undelivered ones follow all
	// delivered ones and the mark goes just below the first of them.
	{
		name:   "inbox mark",
		needed: "SELECT EXISTS (SELECT 1 FROM pragma_table_info('outbox') WHERE name = 'inbox_done')",
		steps: []string{
			`INSERT OR REPLACE INTO meta(key, value) VALUES ('inbox_delivered',
				COALESCE((SELECT MIN(id) - 1 FROM outbox WHERE inbox_done = 0), (SELECT MAX(id) FROM outbox), 0))`,
			"DROP INDEX IF EXISTS outbox_inbox",
			"ALTER TABLE outbox DROP COLUMN inbox_done",
		},
	},
	// Earlier versions copied each notification's body into the inbox
	// (keyed by id, with an index on payer and id). Now the inbox holds the
	// payer and the outbox id, keyed by both, and reads the body from the
	// outbox, which keeps every row. Each copied body must still be its
	// outbox row's.
	{
		name:   "inbox by reference",
		needed: "SELECT EXISTS (SELECT 1 FROM pragma_table_info('inbox') WHERE name = 'body')",
		check: `SELECT COUNT(*) FROM inbox i LEFT JOIN outbox o ON o.id = i.id
			WHERE o.id IS NULL OR o.payer <> i.payer OR o.body <> i.body`,
		steps: []string{
			`CREATE TABLE inbox_by_reference (
				payer TEXT NOT NULL,
				id    INTEGER NOT NULL,
				PRIMARY KEY (payer, id)
			) WITHOUT ROWID`,
			"INSERT INTO inbox_by_reference(payer, id) SELECT payer, id FROM inbox",
			"DROP TABLE inbox", // and its index inbox_payer
			"ALTER TABLE inbox_by_reference RENAME TO inbox",
		},
	},
	// Earlier versions could not revoke a terminal. Now terminals.revoked
	// holds when one was revoked (NULL while active); every existing
	// terminal stays active.
	{
		name:   "terminal revocation",
		needed: "SELECT NOT EXISTS (SELECT 1 FROM pragma_table_info('terminals') WHERE name = 'revoked')",
		steps:  []string{"ALTER TABLE terminals ADD COLUMN revoked INTEGER"},
	},
	// Earlier versions kept the currency only in each account (and took it
	// from the command line, which could differ). Now meta records it; a
	// database with accounts takes theirs, which must be one currency: the
	// check counts the accounts in another currency than the first. A
	// database without accounts gets the one it is opened with (see Open).
	{
		name: "currency in meta",
		needed: `SELECT NOT EXISTS (SELECT 1 FROM meta WHERE key = 'currency')
			AND EXISTS (SELECT 1 FROM accounts)`,
		check: `SELECT COUNT(*) FROM accounts
			WHERE currency <> (SELECT currency FROM accounts ORDER BY id LIMIT 1)`,
		steps: []string{
			`INSERT INTO meta(key, value)
				SELECT 'currency', currency FROM accounts ORDER BY id LIMIT 1`,
		},
	},
}

// migrate brings a database written by an earlier version of the backend
// to the current layout, in one transaction; a current one is left as it
// is.
func migrate(ctx context.Context, conn *sql.Conn) (err error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, tx.Rollback())
		}
	}()
	changed := false
	for _, m := range migrations {
		var needed bool
		if err := tx.QueryRowContext(ctx, m.needed).Scan(&needed); err != nil {
			return fmt.Errorf("migration %q: %w", m.name, err)
		}
		if !needed {
			continue
		}
		if m.check != "" {
			var bad int64
			if err := tx.QueryRowContext(ctx, m.check).Scan(&bad); err != nil {
				return fmt.Errorf("migration %q: %w", m.name, err)
			}
			if bad > 0 {
				return fmt.Errorf("migration %q: %d rows cannot be carried over; the database is left as it was", m.name, bad)
			}
		}
		for _, q := range m.steps {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("migration %q: %w", m.name, err)
			}
		}
		changed = true
	}
	if !changed {
		return tx.Rollback()
	}
	return tx.Commit()
}
