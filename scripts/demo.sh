#!/usr/bin/env bash
# One payment end to end on this machine: the till runs headless with its
# bundled payment backend, the demo payer's wallet makes a one-time code and
# "shows" it to a simulated scan gun, and the till's events are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${TILLPAY_BIN:-bin/tillpay}
data=$(mktemp -d "${TMPDIR:-/tmp}/tillpay-demo.XXXXXX")
port=""
for p in $(seq 7000 7100); do
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { echo "demo: no free port in 7000-7100" >&2; exit 1; }

mkfifo "$data/in"
"$bin" --headless --data-dir "$data" --scanner "sim:tcp=127.0.0.1:$port" <"$data/in" >"$data/events" 2>"$data/till.log" &
till=$!
exec 3>"$data/in"
cleanup() { echo quit >&3 2>/dev/null || true; wait "$till" 2>/dev/null || true; }
trap cleanup EXIT

await() { # await PATTERN: wait until an event line matches
  for _ in $(seq 1 300); do
    grep -q "$1" "$data/events" 2>/dev/null && return 0
    kill -0 "$till" 2>/dev/null || { echo "demo: the till exited; see $data/till.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "demo: timed out waiting for $1; see $data/till.log" >&2; exit 1
}

await '"event":"ready"'
echo "== till ready (data in $data)"
echo "charge 12.50" >&3
await '"event":"armed"'
echo "== the cashier charged 12.50; the payer shows this code:"
"$bin" wallet show --state "$data/wallet.json" --plain || true
code=$("$bin" wallet code --state "$data/wallet.json")
printf '%s\r' "$code" >"/dev/tcp/127.0.0.1/$port"
await '"event":"payment"'
echo "== the till's events:"
cat "$data/events"
echo "== the payer's balance:"
"$bin" wallet balance --state "$data/wallet.json"
