package backend

import (
	"context"
	"database/sql"
	"errors"
)

// migrate brings a database written by an earlier version of the backend
// to the current layout, in one transaction; a current one is left as it
// is.
//
// Earlier versions marked each notification delivered to the inbox with a
// flag (outbox.inbox_done, with a partial index), set by the notifier in a
// second write of every row. Now one mark in meta says that every
// notification up to it is in the inboxes. Each pass delivered all that
// were pending, so the undelivered ones follow all delivered ones and the
// mark goes just below the first of them.
func migrate(ctx context.Context, conn *sql.Conn) (err error) {
	var flagged bool
	if err := conn.QueryRowContext(ctx,
		"SELECT EXISTS (SELECT 1 FROM pragma_table_info('outbox') WHERE name = 'inbox_done')").Scan(&flagged); err != nil {
		return err
	}
	if !flagged {
		return nil
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, tx.Rollback())
		}
	}()
	for _, q := range []string{
		`INSERT OR REPLACE INTO meta(key, value) VALUES ('inbox_delivered',
			COALESCE((SELECT MIN(id) - 1 FROM outbox WHERE inbox_done = 0), (SELECT MAX(id) FROM outbox), 0))`,
		"DROP INDEX IF EXISTS outbox_inbox",
		"ALTER TABLE outbox DROP COLUMN inbox_done",
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return tx.Commit()
}
