# Shared by the GUI scripts (source it, with $root set to the repository):
# a scratch directory $work and the array pids of processes to stop on exit,
# both cleaned up then; building the till unless TILLPAY_BIN names one; and
# a display of our own.

work=$(mktemp -d)
pids=()
# cleanup stops the processes, last started first (resuming any a script
# stopped, so that they can end), and removes the scratch directory.
cleanup() {
  for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; done
  for ((i=${#pids[@]}-1; i>=0; i--)); do kill "${pids[$i]}" 2>/dev/null || true; wait "${pids[$i]}" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# till_binary sets bin to the till to run.
till_binary() {
  bin=${TILLPAY_BIN:-}
  if [ -z "$bin" ]; then
    bin=$work/tillpay
    make -s -C "$root" till BIN="$work" >/dev/null # as `make build` makes it
  fi
}

# start_xvfb starts Xvfb on a free display number (it writes the number to
# fd 4) and exports DISPLAY.
start_xvfb() {
  Xvfb -displayfd 4 -screen 0 1024x768x24 -nolisten tcp 4>"$work/display" 2>"$work/xvfb.log" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$work/display" ] && break; sleep 0.05; done
  export DISPLAY=:$(head -1 "$work/display")
}
