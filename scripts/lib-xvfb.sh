# Shared by the GUI scripts (source it): build the till unless TILLPAY_BIN
# names one, and start a display of our own. Both expect $root (the
# repository), $work (a scratch directory) and the array pids (processes
# to stop on exit) to be set.

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
