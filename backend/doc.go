// Package backend is tillpay's payment backend: it keeps payers, merchants
// and terminals in one SQLite database, verifies payment codes (with one-time
// use and throttling of wrong guesses), moves money with double-entry
// transfers, takes payments online and uploaded later from offline tills,
// asks payers to confirm large payments, refunds and cancels, notifies
// payers, and serves all of it over the HTTP/JSON protocol of
// tillpay/backend/api (docs/api.md).
//
// Every write goes through one writer goroutine that groups the operations
// waiting at the same moment into one SQLite transaction (group commit) and
// answers each only after that transaction is durable: a syncer goroutine
// fsyncs the WAL once for all the groups committed meanwhile, and while the
// disk works the writer keeps running new operations into the next group.
// Payments leave their transfers, balance changes and notifications to the
// end of the group, written with a few multi-row statements (the merchant
// is credited once per group), still one transfer row per payment.
// Checkpoints run beside the writer on their own connection. Reads use a
// separate pool of read-only connections (SQLite WAL lets them run beside
// the writer) and wait, before answering, until what they read is durable.
// Verifying a code needs no read when its enrolment is in a bounded cache
// of sealed seeds.
//
// Seeds and terminal keys are stored sealed with AES-256-GCM under a master
// key (see LoadMasterKey); payer passwords as salted PBKDF2-SHA-256 hashes.
package backend
