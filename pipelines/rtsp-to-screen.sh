#!/usr/bin/env bash
# An RTSP camera -> analysis -> a window. Survives the camera disconnecting (sam3reconnectsrc).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

usage() {
  cat <<EOF2
usage: $(basename "$0") --model DIR --url rtsp://HOST[:PORT]/PATH [options]

Shows the camera with the prompt's concepts drawn on it. When the camera goes away the
window keeps its last frame and the source reconnects with exponential back-off.
  --url URL        the camera
  --latency MS     RTSP jitter buffer (default 200)
  --sink ELEMENT   video sink (default autovideosink)
EOF2
  common_help
}

url="" latency=200 sink=autovideosink
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --url) [ $# -ge 2 ] || die "--url needs a value"; url=$2; shift 2 ;;
    --latency) [ $# -ge 2 ] || die "--latency needs a value"; latency=$2; shift 2 ;;
    --sink) [ $# -ge 2 ] || die "--sink needs a value"; sink=$2; shift 2 ;;
    *) common_option "$@"; [ "$used" -gt 0 ] || die "unknown option \"$1\" (see --help)"; shift "$used" ;;
  esac
done
[ -n "$url" ] || die "--url is required"
common_setup

analysis_chain live
run gst-launch-1.0 -e sam3reconnectsrc "uri=$url" "latency=$latency" ! "${chain[@]}" \
  ! videoconvert ! "$sink"
