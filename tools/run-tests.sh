#!/usr/bin/env bash
# Configures (if needed), builds and runs every test suite, then prints
# "N passed, N failed" counted over individual test cases.
#
#   tools/run-tests.sh [BUILD_DIR]        (default build-tests)
#
# The test build is instrumented with AddressSanitizer (+ LeakSanitizer) and
# UndefinedBehaviorSanitizer, and any report fails its test; SANITIZE=none configures a
# plain build instead (SANITIZE only matters when BUILD_DIR is configured the first time).
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-tests}
sanitize=${SANITIZE:-address,undefined}

if [ ! -f "$build/build.ninja" ]; then
  options=()
  if [ "$sanitize" != none ]; then
    # -O1 keeps stack traces exact at a fraction of -O0's run time; plugins are shared
    # modules that resolve GStreamer's symbols at load time, hence b_lundef=false.
    options=(-Db_sanitize="$sanitize" -Db_lundef=false -Doptimization=1
             -Dc_args=-fno-sanitize-recover=all -Dcpp_args=-fno-sanitize-recover=all)
  fi
  meson setup "$build" "${options[@]}" || { echo "0 passed, 1 failed"; exit 1; }
fi
if ! ninja -C "$build"; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi
meson test -C "$build" --print-errorlogs --num-processes 2
status=$?
python3 tools/count-tests.py "$build/meson-logs" || status=1
exit $status
