#!/usr/bin/env bash
# A local V4L2 camera -> analysis -> a window (or any sink), results as JSON Lines.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

usage() {
  cat <<EOF2
usage: $(basename "$0") --model DIR [--camera /dev/video0] [--size WxH] [--json FILE] [options]

  --camera DEV    V4L2 device (default /dev/video0)
  --size WxH      capture size to ask the camera for (default: the camera's choice)
  --json FILE     also write the results as JSON Lines
  --sink ELEMENT  video sink (default autovideosink)
EOF2
  common_help
}

camera=/dev/video0 size="" json="" sink=autovideosink
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --camera) [ $# -ge 2 ] || die "--camera needs a value"; camera=$2; shift 2 ;;
    --size) [ $# -ge 2 ] || die "--size needs a value"; size=$2; shift 2 ;;
    --json) [ $# -ge 2 ] || die "--json needs a value"; json=$2; shift 2 ;;
    --sink) [ $# -ge 2 ] || die "--sink needs a value"; sink=$2; shift 2 ;;
    *) common_option "$@"; [ "$used" -gt 0 ] || die "unknown option \"$1\" (see --help)"; shift "$used" ;;
  esac
done
[ -n "$dry_run" ] || [ -e "$camera" ] || die "camera \"$camera\" does not exist"
common_setup

launch=(v4l2src "device=$camera")
if [ -n "$size" ]; then
  [[ "$size" =~ ^([0-9]+)x([0-9]+)$ ]] || die "--size must be WIDTHxHEIGHT"
  launch+=(! "video/x-raw,width=${BASH_REMATCH[1]},height=${BASH_REMATCH[2]}")
fi
analysis_chain live
launch+=(! "${chain[@]}")
[ -n "$json" ] && launch+=(! sam3export "location=$json")
run gst-launch-1.0 -e "${launch[@]}" ! videoconvert ! "$sink"
