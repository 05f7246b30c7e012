#!/usr/bin/env bash
# Several RTSP cameras analysed in ONE process with ONE loaded model, each re-served.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

usage() {
  cat <<EOF2
usage: $(basename "$0") --model DIR --url rtsp://CAM1 --url rtsp://CAM2 ... [--port 8554] [--json-dir DIR] [options]

Runs one sam3-rtsp-server with a mount /camN per --url (N from 0). Every mount's sam3detect
names the same model, device and precision, so the process loads the weights once and all
streams share them (inference is serialised per model). Results: DIR/camN.jsonl.
  --url URL        a camera (repeat)
  --port N         port to serve on (default 8554)
  --json-dir DIR   where the results go (default .)
  --latency MS     RTSP jitter buffer of the inputs (default 200)
EOF2
  serve_help
  common_help
}

urls=() port=8554 json_dir=. latency=200
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --url) [ $# -ge 2 ] || die "--url needs a value"; urls+=("$2"); shift 2 ;;
    --port) [ $# -ge 2 ] || die "--port needs a value"; port=$2; shift 2 ;;
    --json-dir) [ $# -ge 2 ] || die "--json-dir needs a value"; json_dir=$2; shift 2 ;;
    --latency) [ $# -ge 2 ] || die "--latency needs a value"; latency=$2; shift 2 ;;
    *)
      serve_option "$@"
      [ "$used" -gt 0 ] || common_option "$@"
      [ "$used" -gt 0 ] || die "unknown option \"$1\" (see --help)"
      shift "$used" ;;
  esac
done
[ ${#urls[@]} -gt 0 ] || die "give at least one --url"
common_setup
server=$(rtsp_server_bin)
mkdir -p "$json_dir"

analysis_chain live
mounts=()
for i in "${!urls[@]}"; do
  launch=(sam3reconnectsrc "uri=${urls[$i]}" "latency=$latency" ! "${chain[@]}"
    ! sam3export "location=$json_dir/cam$i.jsonl" ! "${live_h264[@]}" ! rtph264pay name=pay0
    config-interval=1)
  mounts+=(--mount "/cam$i" "$(gst_join "${launch[@]}")")
done
run "$server" "${serve_args[@]}" --port "$port" "${mounts[@]}"
