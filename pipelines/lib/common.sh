# shellcheck shell=bash
# shellcheck disable=SC2034 # its variables are read by the scripts that source it
# Shared by the pipelines/*.sh scripts (sourced, not run): argument parsing, the build's
# plugin path, and the one place where the SAM 3 analysis chain is written.

sam3_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
sam3_build=${BUILD:-$sam3_root/build}

model=""
prompt="person"
device="cpu"
precision="fp32"
threshold="0.5"
interval="1"
dry_run=""

die() {
  echo "$(basename "$0"): $*" >&2
  exit 2
}

# Options every script takes: consumes the option at $1 and sets `used` to the number of
# words it took (0 = not a common option), for the caller to shift.
common_option() {
  used=2
  case "$1" in
    --model | --prompt | --device | --precision | --threshold | --interval)
      [ $# -ge 2 ] || die "$1 needs a value" ;;
  esac
  case "$1" in
    --model) model=$2 ;;
    --prompt) prompt=$2 ;;
    --device) device=$2 ;;
    --precision) precision=$2 ;;
    --threshold) threshold=$2 ;;
    --interval) interval=$2 ;;
    --dry-run) dry_run=1; used=1 ;;
    *) used=0 ;;
  esac
}

common_help() {
  cat <<'EOF'
Analysis options (all scripts):
  --model DIR        SAM 3 model folder (config.json, model.safetensors, tokenizer) [required]
  --prompt TEXT      concepts, ';'-separated (default "person")
  --device DEV       cpu, cuda, cuda:N (default cpu)
  --precision P      fp32, bf16, fp16 (default fp32; bf16/fp16 need CUDA)
  --threshold T      minimum score 0..1 (default 0.5)
  --interval N       run the detector on every N-th frame (default 1)
  --dry-run          print the pipeline and stop
Environment: BUILD=DIR  the meson build folder holding gst/ and tools/ (default build/)
EOF
}

# Options of the scripts that serve RTSP: what sam3-rtsp-server protects the streams with.
# Consumes the option at $1 like common_option and collects it in the array `serve_args`
# for the server's command line.
serve_args=()
serve_option() {
  used=2
  case "$1" in
    --address | --user | --users-file | --auth | --tls-cert | --tls-key)
      [ $# -ge 2 ] || die "$1 needs a value"
      serve_args+=("$1" "$2") ;;
    *) used=0 ;;
  esac
}

serve_help() {
  cat <<'EOF'
Serving options (sam3-rtsp-server):
  --address ADDR       interface to serve on (default 127.0.0.1: this host only; 0.0.0.0 = all)
  --user NAME:PASS     a user allowed to watch (repeatable); without users anyone who can
                       reach the address may watch
  --users-file FILE    users, one NAME:PASSWORD per line (keeps passwords out of ps)
  --auth digest|basic  how clients prove their password (default digest)
  --tls-cert PEM       serve rtsps:// only, with this certificate
  --tls-key PEM        its private key, when not in the --tls-cert file
EOF
}

# Makes the build's sam3 plugin visible and checks the model; call after parsing.
common_setup() {
  [ -n "$model" ] || die "--model DIR is required (see --help)"
  [ -e "$model" ] || die "model \"$model\" does not exist"
  if [ -d "$sam3_build/gst" ]; then
    export GST_PLUGIN_PATH="$sam3_build/gst${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
  fi
  if [ -z "$dry_run" ] && ! gst-inspect-1.0 sam3detect >/dev/null 2>&1; then
    die "the sam3 plugin is not found: build it (meson setup build && ninja -C build) or set BUILD"
  fi
}

# The model_type of the model's config.json ("sam3" image model, "sam3_video" tracker);
# empty when there is none to read (sam3detect then reports the actual problem).
model_type() {
  local config=$model
  [ -d "$config" ] && config=$config/config.json
  [ -f "$config" ] || config=$(dirname "$model")/config.json
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("model_type", ""))' \
    "$config" 2>/dev/null || true
}

# The analysis chain as gst-launch words (array `chain`), raw video in, annotated raw
# video out with sam3 metadata. $1 = live|file. Live input gets a one-frame leaky queue
# before inference and qos=true, so a slow model drops (and counts) frames instead of
# letting latency grow; a file must not lose frames, so it gets neither. sam3track is
# added only where it exists and the model can track.
# $2 = no-overlay leaves the frames undrawn, for results-only pipelines.
analysis_chain() {
  local mode=$1 overlay=${2:-overlay} type
  chain=(videoconvert)
  if [ "$mode" = live ]; then
    chain+=(! queue leaky=downstream max-size-buffers=1 max-size-bytes=0 max-size-time=0)
  fi
  chain+=(! sam3detect "model=$model" "prompt=$prompt" "device=$device" "precision=$precision"
    "threshold=$threshold" "interval=$interval")
  if [ "$mode" = live ]; then
    chain+=(qos=true)
  else
    chain+=(qos=false)
  fi
  type=$(model_type)
  if ! gst-inspect-1.0 sam3track >/dev/null 2>&1; then
    echo "note: no sam3track element in this build: detecting without tracking" >&2
  elif [ "$type" != sam3_video ]; then
    echo "note: model_type is \"$type\", not sam3_video: detecting without tracking" >&2
  else
    # sam3track's defaults fit both: no output delay and objects that left retired on a live
    # source, the official delay on a file.
    chain+=(! sam3track)
  fi
  if [ "$overlay" = overlay ]; then
    chain+=(! sam3overlay)
  fi
}

# H.264 for live re-streaming: no B-frames, no look-ahead, so the encoder adds no delay.
live_h264=(videoconvert ! x264enc tune=zerolatency speed-preset=veryfast key-int-max=30
  ! "video/x-h264,profile=baseline")

# Joins gst-launch words into one launch line (for sam3-rtsp-server), escaping what the
# parser would otherwise split on, as gst-launch-1.0 itself does with its arguments.
gst_join() {
  local out="" w
  for w in "$@"; do
    w=${w//\\/\\\\}
    w=${w//\"/\\\"}
    w=${w// /\\ }
    out+="${out:+ }$w"
  done
  printf '%s' "$out"
}

rtsp_server_bin() {
  local bin=$sam3_build/tools/sam3-rtsp-server
  if [ ! -x "$bin" ]; then
    bin=$(command -v sam3-rtsp-server || true)
  fi
  [ -n "$bin" ] || die "sam3-rtsp-server is not built (needs libgstrtspserver-1.0-dev; set BUILD)"
  echo "$bin"
}

# Prints a command, quoted so it can be pasted into a shell, and runs it in place of the
# script (signals then reach it directly) unless --dry-run.
run() {
  local line="+" a
  for a in "$@"; do
    if [[ "$a" =~ ^[A-Za-z0-9_./:=,+!-]+$ ]]; then
      line+=" $a"
    else
      line+=" '${a//\'/\'\\\'\'}'"
    fi
  done
  echo "$line"
  [ -n "$dry_run" ] && exit 0
  exec "$@"
}
