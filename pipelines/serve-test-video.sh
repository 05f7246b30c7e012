#!/usr/bin/env bash
# Serves test video as an RTSP "camera" (H.264): a folder of numbered JPEG frames, looped, or
# videotestsrc. For trying the rtsp-* scripts without a camera.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

usage() {
  cat <<EOF2
usage: $(basename "$0") [--port 8554] [--mount /test] [--frames DIR | --pattern]

Serves rtsp://127.0.0.1:PORT/MOUNT. --frames DIR serves DIR/0.jpg, DIR/1.jpg, ... looped at
30 fps; --pattern (the default) videotestsrc's moving ball at 640x480.
  --dry-run        print the command and stop
EOF2
  serve_help
}

port=8554 mount=/test frames=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --port) [ $# -ge 2 ] || die "--port needs a value"; port=$2; shift 2 ;;
    --mount) [ $# -ge 2 ] || die "--mount needs a value"; mount=$2; shift 2 ;;
    --frames) [ $# -ge 2 ] || die "--frames needs a folder"; frames=$2; shift 2 ;;
    --pattern) frames=""; shift ;;
    --dry-run) dry_run=1; shift ;;
    *)
      serve_option "$@"
      [ "$used" -gt 0 ] || die "unknown option \"$1\" (see --help)"
      shift "$used" ;;
  esac
done
server=$(rtsp_server_bin)
if [ -n "$frames" ]; then
  [ -f "$frames/0.jpg" ] || die "--frames $frames: no 0.jpg there (frames are 0.jpg, 1.jpg, ...)"
  # jpegparse timestamps the frames from the framerate (multifilesrc gives none), and
  # identity sync=true then paces them in real time like a camera.
  count=$(find "$frames" -maxdepth 1 -name '*.jpg' | wc -l)
  launch=(multifilesrc "location=$frames/%d.jpg" index=0 "stop-index=$((count - 1))" loop=true
    "caps=image/jpeg,framerate=30/1" ! jpegparse ! jpegdec ! videoconvert ! identity sync=true)
else
  launch=(videotestsrc is-live=true pattern=ball ! "video/x-raw,width=640,height=480,framerate=30/1")
fi
launch+=(! "${live_h264[@]}" ! rtph264pay name=pay0 config-interval=1)
run "$server" "${serve_args[@]}" --port "$port" --mount "$mount" "$(gst_join "${launch[@]}")"
