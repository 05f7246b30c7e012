#!/usr/bin/env bash
# meson setup with a wrong LibTorch must stop with one sentence that says how to get one:
# a folder that is no LibTorch, and a LibTorch older than 2.x.
set -uo pipefail
source_root=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

expect_error() {
  local name=$1 dir=$2 expected=$3
  local log
  if log=$(meson setup "$tmp/build-$name" "$source_root" -Dtorch-dir="$dir" 2>&1); then
    echo "FAIL $name: meson setup succeeded with -Dtorch-dir=$dir"
    status=1
  elif ! grep -q "ERROR: Problem encountered: .*$expected.*run \"bash tools/install-deps.sh\"" <<<"$log"; then
    echo "FAIL $name: no clear error; meson said:"
    grep ERROR <<<"$log"
    status=1
  else
    echo "ok $name: $(grep ERROR <<<"$log")"
  fi
}

expect_error missing "$tmp/nothing-here" "is not a LibTorch"
mkdir -p "$tmp/old/include/torch/csrc/api/include/torch"
printf '#define TORCH_VERSION_MAJOR 1\n#define TORCH_VERSION_MINOR 13\n#define TORCH_VERSION_PATCH 0\n' \
  >"$tmp/old/include/torch/csrc/api/include/torch/version.h"
expect_error old "$tmp/old" "is not LibTorch 2.x"
exit $status
