#!/usr/bin/env bash
# The main job: build gst-sam3 and run  sam3detect ! sam3track ! sam3overlay ! sam3export  on
# a video, writing an annotated MP4 and a JSON Lines file with a track id per instance.
#
#   pipelines/run-sample.sh [VIDEO_FILE_OR_URI]
#
# Input: the argument, else a generated 9 s clip (videotestsrc's moving ball, 1280x720, 30 fps).
# Environment:
#   MODEL=DIR      a SAM 3 release folder (Hugging Face or ModelScope "facebook/sam3");
#                  unset: a generated tiny video model with RANDOM weights is used. An
#                  image-only model (model_type "sam3") runs without sam3track.
#   PROMPT=TEXT    concepts, ';'-separated (default "person")
#   DEVICE=cpu|cuda[:N], PRECISION=fp32|bf16|fp16, THRESHOLD=0..1
#   OUT=DIR        where results go (default out/)
#   SKIP_INSTALL=1 do not run tools/install-deps.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# model_type() reads the model folder's config.json.
# shellcheck source=lib/common.sh
source pipelines/lib/common.sh

input=${1:-}
prompt=${PROMPT:-person}
device=${DEVICE:-cpu}
precision=${PRECISION:-fp32}
out=${OUT:-$root/out}
build=${BUILD:-$root/build}

if [ -z "${SKIP_INSTALL:-}" ]; then
  bash tools/install-deps.sh
fi
echo "== building in $build"
# Only what this job runs: the plugin (with libsam3) and the test-model generator; the
# tests, benchmarks and other tools are built by tools/run-tests.sh.
[ -f "$build/build.ninja" ] || meson setup "$build" --buildtype=release >/dev/null
ninja -C "$build" gst/libgstsam3.so tools/sam3-make-test-model

mkdir -p "$out"
model=${MODEL:-}
threshold=${THRESHOLD:-}
if [ -z "$model" ]; then
  model="$out/test-video-model"
  if [ ! -f "$model/model.safetensors" ]; then
    "$build/tools/sam3-make-test-model" --preset tiny-video --seed 1 "$model"
  fi
  # Random weights give random scores (at most about 0.1 with the official prompt composition:
  # the geometry CLS token joins a text-only prompt); a low threshold makes the machinery visible.
  threshold=${threshold:-0.05}
  cat >&2 <<'WARN'

  ******************************************************************************
  *  NO MODEL GIVEN: using a generated test model with RANDOM WEIGHTS.         *
  *  The pipeline, metadata, overlay and JSON are real; the detections are not. *
  *  For real results download the SAM 3 release (Hugging Face "facebook/sam3", *
  *  gated; or ModelScope "facebook/sam3") and run with MODEL=/path/to/sam3.    *
  ******************************************************************************

WARN
fi
threshold=${threshold:-0.5}

if [ -n "$input" ]; then
  case "$input" in
    *://*) uri="$input" ;;
    *) uri="file://$(realpath "$input")" ;;
  esac
  source="uridecodebin uri=$uri"
  name=$(basename "${input%.*}")
else
  source="videotestsrc pattern=ball num-buffers=270 ! video/x-raw,width=1280,height=720,framerate=30/1"
  name=sample
fi

track="! sam3track"
if [ "$(model_type)" != sam3_video ]; then
  echo "== $model is an image-only SAM 3 model: detecting without tracking" >&2
  track=""
elif [ -z "${MODEL:-}" ]; then
  # Random detections rarely reach the reference's 0.7 birth score, and a random tracker
  # loses every object at once (its object-score head calls them absent): retire lost
  # objects so they do not pile up.
  track="! sam3track new-object-threshold=$threshold detection-threshold=$threshold max-lost-frames=15"
fi

export GST_PLUGIN_PATH="$build/gst${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
echo "== running on $name with prompt \"$prompt\" ($device, $precision, threshold $threshold)"
# shellcheck disable=SC2086
gst-launch-1.0 -e $source ! videoconvert \
  ! sam3detect model="$model" prompt="$prompt" device="$device" precision="$precision" threshold="$threshold" \
  $track ! sam3overlay ! sam3export location="$out/$name.jsonl" \
  ! videoconvert ! x264enc speed-preset=veryfast ! mp4mux ! filesink location="$out/$name.mp4"

frames_written=$(wc -l < "$out/$name.jsonl")
instances=$(grep -o '"instance_id"' "$out/$name.jsonl" | wc -l || true)
tracks=$(grep -o '"track_id": *[1-9][0-9]*' "$out/$name.jsonl" | sort -u | wc -l || true)
echo "== wrote $out/$name.mp4 and $out/$name.jsonl ($frames_written frames, $instances instances, $tracks track ids)"
