#!/usr/bin/env bash
# Performance of the cashier window in a real X server (Xvfb), one JSON
# object per line on stdout:
#
#   first_frame_ms        start of the process to the window mapped and drawn
#   idle_cpu_percent      CPU of the till process over IDLE_SECONDS of idling
#   payments              PAYMENTS payments made through a simulated scan gun
#   payment_shown_ms      till core's payment event to the result on screen,
#                         at a till's pace (PACED=100 scans, PACE=1 s apart),
#                         and back to back over the PAYMENTS
#   rss_mb                resident memory when idle, after the payments (sale
#                         screen, then with the history listing all of them),
#                         and how much of it is Mesa's software OpenGL
#
#   scripts/gui-perf.sh [OUTDIR]      (PAYMENTS=1000 IDLE_SECONDS=30)
#
# The till runs with its bundled backend and --fixed-amount, so that it
# arms itself after each result; each payment is a well-formed code of no
# enrolled wallet, which the backend declines: a full round trip through
# scan gun, till core, journal, backend and window, with no wallet limit
# on how many codes a minute can be made.
set -euo pipefail

out=${1:-$(mktemp -d)}
mkdir -p "$out"
root=$(cd "$(dirname "$0")/.." && pwd)
payments=${PAYMENTS:-1000}
idle=${IDLE_SECONDS:-30}
for tool in Xvfb xdotool import; do
  command -v "$tool" >/dev/null || { echo "gui-perf: $tool is not installed (bash scripts/install-deps.sh)" >&2; exit 3; }
done
# shellcheck source=scripts/lib-xvfb.sh
. "$root/scripts/lib-xvfb.sh"
till_binary
start_xvfb
export LANG=en_US.UTF-8 LANGUAGE= LC_ALL=
printf 'sound = false\n' >"$work/tillpay.toml"
log=$out/till.log

# First run, so that the bundled backend's demo set-up is not timed.
"$bin" --config "$work/tillpay.toml" --data-dir "$work/data" --headless </dev/null >/dev/null 2>&1 || true

ms() { echo $(( $(date +%s%N) / 1000000 )); }
t0=$(ms)
TILLPAY_GUI_PROBE=1 "$bin" --config "$work/tillpay.toml" --data-dir "$work/data" \
  --scanner 'sim:tcp=127.0.0.1:0?suffix=cr' --fixed-amount 0.01 2>"$log" >/dev/null &
till=$!
pids+=($till)
win=""
for _ in $(seq 1000); do
  win=$(xdotool search --onlyvisible --name 'tillpay' 2>/dev/null | head -1 || true)
  [ -n "$win" ] && break
  sleep 0.005
done
t_map=$(ms)
# Drawn: the window's pixels are no longer uniform.
for _ in $(seq 200); do
  sd=$(import -window "$win" -colorspace gray -format '%[fx:standard_deviation]' info: 2>/dev/null || echo 0)
  awk -v s="$sd" 'BEGIN{exit !(s>0.01)}' && break
  sleep 0.01
done
t_draw=$(ms)
printf '{"metric":"first_frame_ms","value":%d,"window_mapped_ms":%d,"limit":1500,"ok":%s}\n' \
  $((t_draw - t0)) $((t_map - t0)) "$([ $((t_draw - t0)) -le 1500 ] && echo true || echo false)"

count() { grep -c -- "$1" "$log" || true; }
wait_count() { # PATTERN N SECONDS
  local end=$(( $(ms) + ${3:-30} * 1000 ))
  while [ "$(count "$1")" -lt "$2" ]; do
    [ "$(ms)" -gt "$end" ] && { echo "gui-perf: timed out waiting for $1 ($2)" >&2; tail -5 "$log" >&2; exit 1; }
    kill -0 "$till" 2>/dev/null || { echo "gui-perf: the till exited" >&2; tail -20 "$log" >&2; exit 1; }
    sleep 0.005
  done
}
wait_count '"probe":"ready"' 1 60
wait_count '"probe":"armed"' 1 10
sleep 3 # let start-up work settle

ticks() { awk '{print $14 + $15}' "/proc/$till/stat"; }
rss() { awk '/VmRSS/{print $2}' "/proc/$till/status"; }
# Resident size of Mesa's software OpenGL (llvmpipe: libLLVM, the swrast
# driver), which Xvfb needs and a till with a GPU driver does not load.
gl_kb() { awk '/^[0-9a-f]+-/{name=$6} /^Rss:/{ if (name ~ /libLLVM|dri\/|libgallium/) s+=$2 } END{print s+0}' "/proc/$till/smaps"; }
hz=$(getconf CLK_TCK)
c0=$(ticks); s0=$(ms)
sleep "$idle"
c1=$(ticks); s1=$(ms)
r0=$(rss)
awk -v c=$((c1 - c0)) -v hz="$hz" -v ms=$((s1 - s0)) 'BEGIN{
  p = 100 * c / hz / (ms / 1000); printf "{\"metric\":\"idle_cpu_percent\",\"value\":%.2f,\"seconds\":%.1f,\"limit\":1,\"ok\":%s}\n", p, ms/1000, (p <= 1 ? "true" : "false") }'

gun=$(grep 'simulated scanner listening' "$log" | grep -o '127\.0\.0\.1:[0-9]*' | head -1)
exec 5>"/dev/tcp/${gun%:*}/${gun#*:}"
base=$(count '"probe":"payment_shown"')
armed=$(count '"probe":"armed"')
p0=$(ms)
for i in $(seq 1 "$payments"); do
  wait_count '"probe":"armed"' $((armed + i - 1)) 30
  printf '71%07d00%07d\r' $((9000000 + i % 1000000)) "$i" >&5
  wait_count '"probe":"payment_shown"' $((base + i)) 30
done
p1=$(ms)
printf '{"metric":"payments","value":%d,"seconds":%.1f}\n' "$payments" "$(awk -v d=$((p1 - p0)) 'BEGIN{print d/1000}')"
latency() { # METRIC N LIMIT: percentiles of the last N payment_shown probes
  grep '"probe":"payment_shown"' "$log" | tail -n "$2" | grep -o '"latency_us":[0-9]*' | cut -d: -f2 | sort -n |
    awk -v m="$1" -v lim="$3" '{a[NR]=$1} END{ p50=a[int(NR*0.5)+1]/1000; p95=a[int(NR*0.95)+1]/1000; mx=a[NR]/1000;
      ok = (lim == "" ? "null" : (p95 <= lim ? "true" : "false"));
      printf "{\"metric\":\"%s\",\"p50\":%.2f,\"p95\":%.2f,\"max\":%.2f,\"n\":%d,\"limit\":%s,\"ok\":%s}\n", m, p50, p95, mx, NR, (lim == "" ? "null" : lim), ok }'
}
# Back to back (each scan as soon as the till re-arms): a stress figure.
latency payment_shown_ms_back_to_back "$payments" ""
# At a till's pace (a scan every PACE seconds): the figure to hold to 50 ms.
paced=${PACED:-100}
pace=${PACE:-1}
base=$(count '"probe":"payment_shown"')
armed=$(count '"probe":"armed"')
for i in $(seq 1 "$paced"); do
  wait_count '"probe":"armed"' $((armed + i - 1)) 30
  sleep "$pace"
  printf '71%07d01%07d\r' $((8000000 + i)) "$i" >&5
  wait_count '"probe":"payment_shown"' $((base + i)) 30
done
latency payment_shown_ms "$paced" 50
sleep 2
r1=$(rss)
xdotool key F2
sleep 3
r2=$(rss)
import -window root "$out/history-after-payments.png" 2>/dev/null || true
gl=$(gl_kb)
awk -v i="$r0" -v a="$r1" -v b="$r2" -v g="$gl" -v n="$payments" 'BEGIN{ m = (a > b ? a : b) / 1024;
  printf "{\"metric\":\"rss_mb\",\"idle\":%.1f,\"after_payments\":%.1f,\"with_history\":%.1f,\"software_gl\":%.1f,\"without_software_gl\":%.1f,\"payments\":%d,\"limit\":150,\"ok\":%s}\n",
    i/1024, a/1024, b/1024, g/1024, m - g/1024, n, (m <= 150 ? "true" : "false") }'
