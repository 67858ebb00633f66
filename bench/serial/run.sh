#!/usr/bin/env bash
# Serial scan latency: tillpay's serial stack against Node's serialport with
# its readline parser, on the same feed through pseudo-terminals. Prints one
# JSON object per implementation. Extra arguments go to the Go harness
# (for example -n 2000, or -impl go).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

impl=both
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo '{"impl":"node-serialport","skipped":"node or npm not installed"}'
	impl=go
elif [ ! -f "$here/node_modules/serialport/package.json" ] ||
	[ ! -f "$here/node_modules/@serialport/parser-readline/package.json" ]; then
	(cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi

cd "$root"
exec go run ./bench/serial -impl "$impl" -peerdir "$here" "$@"
