// Package till is the till's core, free of any user interface: the sale
// state machine, the offline policy and its limits, and the events that the
// faces (the Fyne GUI, the headless mode) render.
//
// A sale goes through these states:
//
//	idle ─Charge─► armed ─scan─► submitting ─► paid | declined | queued
//	                 ▲              │          └► waiting_payer ─► paid | declined | cancelled
//	                 └─ foreign or  └► unknown ─► queued (prefer-online) or reversed later
//	                    garbage code
//
// One scan pays one sale: the scanners are armed for one code (UnifiedPOS
// AutoDisable) and every scan after that is reported, never charged.
// Every payment is written to the journal before it is sent, with its
// merchant order number, the idempotency key of every request about it.
//
// Faces call the command methods (Charge, Cancel, Refund, Query, Sync,
// Status) and read events from Subscribe. The core never blocks on a face.
package till
