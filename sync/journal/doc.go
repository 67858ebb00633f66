// Package journal is the till's durable payment journal: one SQLite file per
// till that holds every payment and refund before it is sent to the payment
// backend, and every answer after.
//
// # Write before send
//
// A payment is written (Create) before its code is sent, in state sending for
// an online payment or queued for an offline one, and is updated with every
// answer (ApplyOrder, SendFailed). Its order number is made here, inside the
// same transaction, and never changes: it is the backend's idempotency key, so
// a payment re-sent after a crash or a lost answer is charged at most once.
// After kill -9 at any point the journal reopens with every payment whose
// Create returned, in the state of its last committed change.
//
// # Durability
//
// The file is opened in WAL mode with synchronous=FULL. In WAL mode
// synchronous=NORMAL already survives a process crash, but a power cut or an
// OS crash may lose the last commits: the till would have told the cashier
// "paid" or "queued" (and let the customer go) for a payment the journal no
// longer has, so a queued payment would never be uploaded, and the order
// counter could go back and reuse an order number. FULL makes every commit
// wait for an fsync of the write-ahead log, one fsync per change; that is the
// price of confirming money on the strength of this write.
//
// # States
//
// A payment moves through these states; Transition refuses any other move
// with an error matching ErrIllegalTransition:
//
//	online:   sending ──► paid | declined | waiting_payer | cancelled
//	          sending ──► unknown (sent, no answer) ──► paid | declined | waiting_payer | cancelled
//	          sending ──► queued (the request never left the till; becomes offline)
//	          unknown ──► queued (no answer came; uploaded later under the same
//	                     order number, so a request that did arrive is answered
//	                     with its first result, never charged twice)
//	offline:  queued ──► forwarding (upload in flight) ──► settled | declined_late | waiting_payer | cancelled
//	          forwarding ──► queued (upload got no answer; re-sent later with the same bytes)
//	          queued ──► cancelled (voided before upload: the code was never presented)
//	both:     waiting_payer ──► paid | declined (online) or settled | declined_late (offline) | cancelled
//	          paid | settled ──► partially_refunded ──► refunded
//	          paid | settled ──► refunded
//
// unknown, waiting_payer and partially_refunded may also move to themselves
// (another attempt, poll or refund). declined, declined_late, cancelled and
// refunded are final. Each change is one transaction and appends a row to the
// append-only events table (order, from, to, reason, time).
//
// The full payment code is kept while the payment may still have to be sent
// (sending, unknown, queued, forwarding, waiting_payer); once the payment is
// final only the last four digits are kept (paycode-style masking).
//
// # Signatures
//
// Each record carries the terminal's record signature (api.RecordSignature
// over the PayRequest it stands for) and a seal over the fields that outlive
// the code's masking (order, amount, masked code, scan time). PayRequest
// verifies both before it returns a request, so an amount edited in the file
// is refused with ErrTampered instead of being uploaded; ZReport lists such
// records.
//
// # Order numbers
//
// Order numbers are <terminal>-<YYYYMMDD>-<NNNNNN>: the terminal id, the
// local calendar day the order was made, and a six-digit counter that starts
// at 000001 each day. The day and counter are stored in the journal and moved
// in the same transaction as the record they number, so they survive restarts
// and never go back: if the clock steps back to an earlier day, numbering
// continues on the latest day already used. Within one journal the numbers
// sort as text in creation order. (If a day ever ran out of its 999,999
// numbers, numbering would continue on the next day.) Refund request numbers
// are <order>-R<NN>, NN from 01 to 99 per order.
//
// # Storage failures
//
// A full disk, a read-only or damaged file or an I/O error is returned as an
// error matching ErrStorage (a *StorageError) whose text is a sentence for a
// person, and the failed write changes nothing. The till calls Check at start.
package journal
