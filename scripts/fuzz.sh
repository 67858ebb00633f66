#!/usr/bin/env bash
# Runs every fuzz target of the given packages for FUZZTIME each (a
# duration such as 30s, or an execution count such as 200000x).
#
# A target fails when it finds a failing input, which `go test -fuzz` writes
# under the package's testdata/fuzz/<target>/. Go 1.26's fuzzing coordinator
# can also end a duration-bounded run with a bare "context deadline exceeded"
# just as the time is up, with no failing input (go.dev/issue/75804, fixed in
# Go 1.27): that run is reported and counted as such, not as a failure.
set -uo pipefail

fuzztime=${FUZZTIME:-30s}
go=${GO:-go}
failed=0 passed=0 races=0

for pkg in $("$go" list "$@"); do
  dir=$("$go" list -f '{{.Dir}}' "$pkg")
  for target in $("$go" test -list '^Fuzz' "$pkg" | grep '^Fuzz'); do
    echo "== $pkg $target"
    corpus="$dir/testdata/fuzz/$target"
    before=$(ls "$corpus" 2>/dev/null | sort)
    out=$("$go" test -run '^$' -fuzz "^$target\$" -fuzztime "$fuzztime" "$pkg" 2>&1)
    rc=$?
    echo "$out" | tail -n 4
    if [ $rc -eq 0 ]; then
      passed=$((passed + 1))
      continue
    fi
    after=$(ls "$corpus" 2>/dev/null | sort)
    if [ "$before" = "$after" ] && echo "$out" | grep -q 'context deadline exceeded'; then
      echo "   (no failing input: the Go fuzzing coordinator's deadline race, go.dev/issue/75804)"
      races=$((races + 1))
      continue
    fi
    echo "$out"
    failed=$((failed + 1))
  done
done
echo "fuzz: $passed passed, $failed failed, $races ended by the coordinator's deadline race"
[ $failed -eq 0 ]
