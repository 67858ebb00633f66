// Package e2e holds tillpay's end-to-end tests. They build the tillpay
// binary once and drive real processes: the payment backend
// (`tillpay paybackend serve`) on a loopback port, the till in headless mode
// (`tillpay --headless`) reading a scan gun on a pseudo-terminal, and the
// wallet emulator (`tillpay wallet`) making real payment codes. Commands go
// to the till's standard input and its JSON events are read from its
// standard output (docs/headless.md).
//
//	go test ./e2e            # every scenario, kill -9 rounds included
//	go test -short ./e2e     # fewer kill -9 rounds
//
// The package has no code outside its tests.
package e2e
