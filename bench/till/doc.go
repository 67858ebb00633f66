// Package tillbench measures the till through its real stack, in one
// process: a scan gun on a pseudo-terminal, drivers/serial, the scanner
// manager, the till core, the SQLite journal, HTTP on loopback and the
// payment backend. It holds benchmarks only; they run with -bench and
// report percentiles as custom metrics (p50-µs, p99-µs, …):
//
//	go test -run '^$' -bench . -benchtime 2000x ./bench/till     # scan → paid, scan → queued
//	go test -run '^$' -bench Drain -benchtime 1x ./bench/till     # drain 10,000 queued payments
package tillbench
