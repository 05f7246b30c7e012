#!/usr/bin/env bash
# Any video file (any container decodebin reads) -> annotated H.264 file + JSON Lines results.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

usage() {
  cat <<EOF2
usage: $(basename "$0") --model DIR --input FILE --output OUT.mp4|OUT.mkv [--json OUT.jsonl] [options]

Decodes FILE, segments the prompt's concepts on every frame, draws them, and writes OUT
(H.264 in MP4 or Matroska, chosen by the extension) and the per-frame results as JSON
Lines (default: OUT with .jsonl). No frame is dropped: this is not a live pipeline.
  --input FILE    video to read
  --output FILE   annotated video to write (.mp4 or .mkv)
  --json FILE     results file (default OUT.jsonl)
EOF2
  common_help
}

input="" output="" json=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --input) [ $# -ge 2 ] || die "--input needs a value"; input=$2; shift 2 ;;
    --output) [ $# -ge 2 ] || die "--output needs a value"; output=$2; shift 2 ;;
    --json) [ $# -ge 2 ] || die "--json needs a value"; json=$2; shift 2 ;;
    *) common_option "$@"; [ "$used" -gt 0 ] || die "unknown option \"$1\" (see --help)"; shift "$used" ;;
  esac
done
[ -n "$input" ] || die "--input FILE is required"
[ -f "$input" ] || die "input \"$input\" is not a file"
[ -n "$output" ] || die "--output FILE is required"
case "$output" in
  *.mp4) mux=mp4mux ;;
  *.mkv) mux=matroskamux ;;
  *) die "--output must end in .mp4 or .mkv" ;;
esac
json=${json:-${output%.*}.jsonl}
common_setup

analysis_chain file
run gst-launch-1.0 -e filesrc "location=$input" ! decodebin ! "${chain[@]}" \
  ! sam3export "location=$json" ! videoconvert ! x264enc speed-preset=veryfast ! h264parse \
  ! "$mux" ! filesink "location=$output"
