#!/usr/bin/env bash
# Configures (if needed), builds and runs every test suite, then prints
# "N passed, N failed" counted over individual test cases. Usage: tools/run-tests.sh [BUILD_DIR]
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" || { echo "0 passed, 1 failed"; exit 1; }
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
