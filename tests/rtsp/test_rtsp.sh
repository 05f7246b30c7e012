#!/usr/bin/env bash
# End to end on loopback, for real:
#   sam3-rtsp-server (videotestsrc, H.264)                         = the "camera"
#   sam3-rtsp-server (sam3reconnectsrc ! sam3detect ! sam3overlay ! sam3export ! x264enc)
#   a client (rtspsrc ! decode ! one JPEG file per frame) and ffprobe read the result;
# then the camera server is killed and restarted and frames must flow to the same client
# again. Exit 77 (meson: skipped) only when a needed plugin or program is missing.
set -euo pipefail

build=${SAM3_BUILD_ROOT:?SAM3_BUILD_ROOT must name the meson build folder}
server_bin=$build/tools/sam3-rtsp-server
make_model=$build/tools/sam3-make-test-model

skip() {
  echo "SKIP: $*"
  exit 77
}
fail() {
  echo "FAIL: $*"
  for f in camera.err analysis.err client.log; do
    [ -f "$work/$f" ] && { echo "--- $f (tail)"; tail -n 15 "$work/$f"; }
  done
  exit 1
}

# One registry listing ("plugin:  element: description" lines) instead of one gst-inspect
# per element, each of which would load the sam3 plugin and LibTorch again.
available=$(gst-inspect-1.0 2>/dev/null)
for element in videotestsrc x264enc rtph264pay rtspsrc rtph264depay h264parse avdec_h264 \
  uridecodebin jpegenc multifilesink sam3detect sam3overlay sam3export sam3reconnectsrc; do
  grep -q ":  $element: " <<<"$available" || skip "GStreamer element $element is not installed"
done
[ -x "$server_bin" ] || skip "sam3-rtsp-server was not built (gstreamer-rtsp-server-1.0 missing)"
command -v ffprobe >/dev/null || skip "ffprobe (ffmpeg) is not installed"
command -v python3 >/dev/null || skip "python3 is needed to pick free ports"

work=$(mktemp -d)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until "$@" succeeds, at most $1 seconds (polling every 0.2 s).
wait_for() {
  local limit=$1 start=$SECONDS
  shift
  until "$@"; do
    [ $((SECONDS - start)) -lt "$limit" ] || return 1
    sleep 0.2
  done
}

frames() { find "$work/frames" -name '*.jpg' | wc -l; }
frames_above() { [ "$(frames)" -gt "$1" ]; }
listening() { [ -s "$1" ]; }

"$make_model" --preset tiny --seed 3 "$work/model" >/dev/null

camera_port=$(free_port)
analysis_port=$(free_port)
camera_launch="videotestsrc is-live=true pattern=ball ! video/x-raw,width=160,height=120,framerate=10/1
  ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 ! rtph264pay name=pay0 config-interval=1"
start_camera() {
  "$server_bin" --address 127.0.0.1 --port "$camera_port" --mount /cam "$camera_launch" \
    >"$work/camera.out" 2>>"$work/camera.err" &
  camera_pid=$!
  pids+=("$camera_pid")
  wait_for 10 listening "$work/camera.out" || fail "the camera server did not start"
}

start_camera
GST_DEBUG=sam3reconnectsrc:4 "$server_bin" --address 127.0.0.1 --port "$analysis_port" \
  --mount /annotated \
  "sam3reconnectsrc uri=rtsp://127.0.0.1:$camera_port/cam latency=100 timeout=3000 retry-delay=200
   max-retry-delay=1000 ! videoconvert ! queue leaky=downstream max-size-buffers=1
   ! sam3detect model=$work/model prompt=person threshold=0 qos=true ! sam3overlay
   ! sam3export location=$work/results.jsonl ! videoconvert
   ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 ! rtph264pay name=pay0
   config-interval=1" >"$work/analysis.out" 2>"$work/analysis.err" &
pids+=($!)
wait_for 10 listening "$work/analysis.out" || fail "the analysis server did not start"
annotated=rtsp://127.0.0.1:$analysis_port/annotated

mkdir "$work/frames"
gst-launch-1.0 rtspsrc location="$annotated" latency=100 ! rtph264depay ! h264parse ! avdec_h264 \
  ! videoconvert ! jpegenc ! multifilesink location="$work/frames/%05d.jpg" \
  >"$work/client.log" 2>&1 &
client_pid=$!
pids+=("$client_pid")

started=$SECONDS
wait_for 30 frames_above 10 || fail "the client got $(frames) annotated frames in 30 s, wanted > 10"
echo "client: $(frames) annotated frames $((SECONDS - started)) s after connecting"

probe=$(timeout 15 ffprobe -v error -rtsp_transport tcp -select_streams v:0 \
  -show_entries stream=codec_name,width,height -of csv=p=0 "$annotated") ||
  fail "ffprobe could not read $annotated"
[ "$probe" = "h264,160,120" ] || fail "ffprobe saw \"$probe\", wanted h264,160,120"
echo "ffprobe: $probe"

grep -q '"instances"' "$work/results.jsonl" || fail "sam3export wrote no results"
# threshold=0 keeps every query of the random model, so drawn frames must carry instances.
grep -q '"instance_id"' "$work/results.jsonl" || fail "no instance in the results"

# The camera dies (SIGKILL: no RTSP TEARDOWN, as with a pulled cable or a crash).
kill -9 "$camera_pid"
wait "$camera_pid" 2>/dev/null || true
sleep 2
kill -0 "$client_pid" 2>/dev/null || fail "the client stopped while the camera was away"
before=$(frames)
: >"$work/camera.out"
restarted=$SECONDS
start_camera
wait_for 30 frames_above $((before + 10)) ||
  fail "no frames after the camera came back: $(frames) frames, $before before the restart"
echo "recovered: frames flow again $((SECONDS - restarted)) s after the camera restarted"
kill -0 "$client_pid" 2>/dev/null || fail "the client ended"
grep -q "reconnected" "$work/analysis.err" || fail "sam3reconnectsrc did not report a reconnection"
if grep -q "ERROR" "$work/client.log"; then
  fail "the client saw an error"
fi
echo "PASS"
