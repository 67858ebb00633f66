#!/usr/bin/env bash
# Screenshots of the cashier window in a real X server (Xvfb): the till runs
# with its bundled backend and a simulated TCP scan gun; payments are made
# by typing the demo wallet's code into that gun, as a scan would.
#
#   scripts/screenshots.sh OUTDIR
#
# Writes to OUTDIR: sale-idle.png, sale-armed.png, sale-paid.png,
# sale-declined.png, sale-offline.png, history.png, report.png,
# settings.png, wallet.png (the demo payer's wallet window), till.log
# (the till's log) and idle-wait: "waiting" if the idle window's main
# thread rests in poll(2) (the build's idle event loop, tools/fynepatch),
# "ticking" if it does not, "unknown" where that cannot be read. Needs Xvfb, xdotool and
# ImageMagick's import (see scripts/install-deps.sh). TILLPAY_BIN may name
# a built binary; otherwise one is built.
set -euo pipefail

out=${1:?usage: scripts/screenshots.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
for tool in Xvfb xdotool import; do
  command -v "$tool" >/dev/null || { echo "screenshots: $tool is not installed (bash scripts/install-deps.sh)" >&2; exit 3; }
done

# shellcheck source=scripts/lib-xvfb.sh
. "$root/scripts/lib-xvfb.sh"
till_binary

start_xvfb
export LANG=${SCREENSHOT_LANG:-en_US.UTF-8} LANGUAGE= LC_ALL=

cat >"$work/tillpay.toml" <<TOML
sound = false
[payment]
request_timeout = "2s"
poll_interval = "1s"
TOML

log=$out/till.log
TILLPAY_GUI_PROBE=1 "$bin" --config "$work/tillpay.toml" --data-dir "$work/data" \
  --scanner 'sim:tcp=127.0.0.1:0?suffix=cr' --log-level info 2>"$log" >/dev/null &
till=$!
pids+=($till)

# wait_log PATTERN COUNT [SECONDS]: until the log has COUNT lines matching.
wait_log() {
  local pat=$1 n=$2 secs=${3:-30}
  for _ in $(seq $((secs * 20))); do
    [ "$(grep -c -- "$pat" "$log" || true)" -ge "$n" ] && return 0
    kill -0 "$till" 2>/dev/null || { echo "screenshots: the till exited" >&2; tail -20 "$log" >&2; exit 1; }
    sleep 0.05
  done
  echo "screenshots: timed out waiting for $pat" >&2; tail -20 "$log" >&2; exit 1
}
shot() { sleep "${2:-0.8}"; import -window root "$out/$1.png"; echo "wrote $out/$1.png"; }
# idle_wait writes $out/idle-wait: "waiting" once the till's main thread is
# seen in poll(2)/ppoll(2) three samples in a row (within 10 s), else
# "ticking"; "unknown" if /proc does not say.
idle_wait() {
  local nrs nr in_a_row=0 state=ticking
  case $(uname -m) in
    x86_64) nrs=" 7 271 " ;;
    aarch64) nrs=" 73 " ;;
    *) echo unknown >"$out/idle-wait"; return ;;
  esac
  for _ in $(seq 100); do
    nr=$(cut -d' ' -f1 "/proc/$till/syscall" 2>/dev/null) || { state=unknown; break; }
    if [[ $nrs == *" $nr "* ]]; then in_a_row=$((in_a_row + 1)); else in_a_row=0; fi
    [ "$in_a_row" -ge 3 ] && { state=waiting; break; }
    sleep 0.1
  done
  echo "$state" >"$out/idle-wait"
}
shown=0
pay() { # pay CODE: type it into the simulated scan gun, wait for the result
  shown=$((shown + 1))
  printf '%s\r' "$1" >"/dev/tcp/$gun_host/$gun_port"
  wait_log '"probe":"payment_shown"' "$shown" 40
}

wait_log '"probe":"ready"' 1 60
wait_log 'simulated scanner listening' 1 10
gun=$(grep 'simulated scanner listening' "$log" | grep -o '127\.0\.0\.1:[0-9]*' | head -1)
gun_host=${gun%:*} gun_port=${gun#*:}
xdotool search --sync --name 'tillpay' >/dev/null
shot sale-idle 1.5
idle_wait

# Paid: a slow cashier's typing reaches the amount; the scan does not.
xdotool type --delay 180 '12.50'
xdotool key Return
sleep 0.5
shot sale-armed 0.3
pay "$("$bin" wallet code --state "$work/data/wallet.json")"
shot sale-paid

# Declined: a well-formed code of no enrolled wallet.
xdotool type --delay 180 '8'
xdotool key Return
sleep 0.5
pay 719999999001234567
shot sale-declined

# Offline: the bundled backend stops answering (SIGSTOP); the payment is
# queued on the till.
backend=$(pgrep -P "$till" | head -1)
kill -STOP "$backend"
pids+=($backend)
xdotool type --delay 180 '5'
xdotool key Return
sleep 0.5
pay "$("$bin" wallet code --state "$work/data/wallet.json" --offline --next)"
shot sale-offline 1.5
kill -CONT "$backend"

xdotool key F2
sleep 1
xdotool mousemove 200 240 click 1   # the first sale (paid): its details and refund buttons
shot history 1.0
xdotool key F3
shot report 1.5
xdotool key F4
shot settings 1.0

# The demo payer's phone: the wallet window, opened from the status bar.
xdotool key F1
sleep 0.3
xdotool mousemove 970 740 click 1
xdotool search --sync --name 'tillpay wallet' >/dev/null
shot wallet 1.5
