#!/usr/bin/env bash
# An RTSP camera -> analysis -> re-served as annotated H.264 RTSP, results as JSON Lines.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

usage() {
  cat <<EOF2
usage: $(basename "$0") --model DIR --url rtsp://CAMERA [--port 8554] [--mount /annotated] [--json FILE] [options]

Runs sam3-rtsp-server with one shared mount whose pipeline reads the camera (reconnecting),
segments, draws, writes the results to FILE and re-encodes: watch it with
  gst-play-1.0 rtsp://127.0.0.1:PORT/MOUNT   or   ffplay rtsp://127.0.0.1:PORT/MOUNT
The analysis runs while at least one client watches (one pipeline for all clients).
  --url URL       the camera
  --port N        port to serve on (default 8554)
  --mount PATH    path to serve (default /annotated)
  --json FILE     results file (default annotated.jsonl; rewritten when the first client connects)
  --latency MS    RTSP jitter buffer of the camera input (default 200)
EOF2
  serve_help
  common_help
}

url="" port=8554 mount=/annotated json=annotated.jsonl latency=200
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --url) [ $# -ge 2 ] || die "--url needs a value"; url=$2; shift 2 ;;
    --port) [ $# -ge 2 ] || die "--port needs a value"; port=$2; shift 2 ;;
    --mount) [ $# -ge 2 ] || die "--mount needs a value"; mount=$2; shift 2 ;;
    --json) [ $# -ge 2 ] || die "--json needs a value"; json=$2; shift 2 ;;
    --latency) [ $# -ge 2 ] || die "--latency needs a value"; latency=$2; shift 2 ;;
    *)
      serve_option "$@"
      [ "$used" -gt 0 ] || common_option "$@"
      [ "$used" -gt 0 ] || die "unknown option \"$1\" (see --help)"
      shift "$used" ;;
  esac
done
[ -n "$url" ] || die "--url is required"
common_setup
server=$(rtsp_server_bin)

analysis_chain live
launch=(sam3reconnectsrc "uri=$url" "latency=$latency" ! "${chain[@]}" ! sam3export "location=$json"
  ! "${live_h264[@]}" ! rtph264pay name=pay0 config-interval=1)
run "$server" "${serve_args[@]}" --port "$port" --mount "$mount" "$(gst_join "${launch[@]}")"
