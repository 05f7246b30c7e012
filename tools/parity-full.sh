#!/usr/bin/env bash
# Detector parity at SAM 3's full size (1008 x 1008, 32-layer ViT, ~860M parameters, seeded
# weights) on the CPU: the parity_detector cases that compare every stage with transformers
# (fp32) and the best instances and their masks (bf16), on a generated full-size model instead
# of the tiny one. SAM3_PARITY_FILTER picks cases (a gtest filter). Not part of the suite (it needs
# ~10 GB of memory and several minutes); docs/parity.md holds its measured table.
#
#   tools/parity-full.sh [BUILD_DIR] [MODEL_DIR]     (default build, /tmp/sam3-parity-full)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
model=${2:-/tmp/sam3-parity-full}
ninja -C "$build" tests/test_parity_detector tools/sam3-make-test-model >/dev/null
[ -f "$model/model.safetensors" ] || "$build/tools/sam3-make-test-model" --preset full --seed 0 "$model"
SAM3_PARITY_MODEL=$model SAM3_PYTHON=$PWD/.venv/bin/python SAM3_SOURCE_ROOT=$PWD \
  "$build/tests/test_parity_detector" \
  --gtest_filter="${SAM3_PARITY_FILTER:-DetectorParity.EveryStageMatchesTransformers:DetectorParity.OfficialBehaviour*:DetectorParity.Bf16*}"
