#!/usr/bin/env bash
# Per-stream throughput of pipelines/multi-mqtt.sh: N video files through one shared model
# to one MQTT broker, for N = 1, 2, 4 (--streams to change). Each stream's rate is measured
# where its results arrive: a mosquitto_sub on the broker this script starts takes the
# time of every message, and a stream's fps is (messages - 1) / (last - first), so model
# loading and start-up do not count.
#
#   bench/bench_multi_camera.sh [--model DIR] [--frames 300] [--streams "1 2 4"]
#                               [--size 320x240] [--device cpu] [--precision fp32]
#
# Without --model it generates a tiny sam3_video model with random weights (the pipeline
# then detects and tracks for real, but what it finds is meaningless). BUILD=DIR names the
# meson build folder (default build/). Needs mosquitto and mosquitto-clients.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}

model="" frames=300 streams="1 2 4" size=320x240 device=cpu precision=fp32
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --model) model=$2; shift 2 ;;
    --frames) frames=$2; shift 2 ;;
    --streams) streams=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --precision) precision=$2; shift 2 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
broker_bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)
[ -x "$broker_bin" ] || { echo "mosquitto is not installed" >&2; exit 2; }
command -v mosquitto_sub >/dev/null || { echo "mosquitto_sub is not installed" >&2; exit 2; }

work=$(mktemp -d)
broker_pid=""
cleanup() {
  [ -z "$broker_pid" ] || kill "$broker_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

if [ -z "$model" ]; then
  model=$work/tiny-video
  "$build/tools/sam3-make-test-model" --preset tiny-video "$model" >/dev/null
  model_note="tiny-video, random weights"
else
  model_note=$model
fi
export GST_PLUGIN_PATH="$build/gst${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
gst-launch-1.0 -q videotestsrc "num-buffers=$frames" pattern=ball \
  ! "video/x-raw,width=${size%x*},height=${size#*x},framerate=15/1" \
  ! x264enc speed-preset=ultrafast ! mp4mux ! filesink "location=$work/clip.mp4"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\nuser %s\n' "$port" "$(id -un)" \
  >"$work/mosquitto.conf"
"$broker_bin" -c "$work/mosquitto.conf" >"$work/broker.log" 2>&1 &
broker_pid=$!
sleep 0.5

echo "model: $model_note; $frames frames of ${size} per stream; device $device, $precision;" \
  "$(nproc) CPU cores"
echo
echo "| streams | stream | frames | fps | all streams fps | wall s |"
echo "| ---: | --- | ---: | ---: | ---: | ---: |"
for n in $streams; do
  inputs=()
  for ((i = 0; i < n; i++)); do
    inputs+=(--input "s$i=$work/clip.mp4")
  done
  mosquitto_sub -h 127.0.0.1 -p "$port" -t "bench/$n/#" -q 1 -F '%U %t' -C $((n * frames)) \
    -W 600 >"$work/arrivals-$n.txt" &
  sub_pid=$!
  sleep 0.5
  start=$(date +%s.%N)
  BUILD=$build bash "$root/pipelines/multi-mqtt.sh" --model "$model" --device "$device" \
    --precision "$precision" --broker "127.0.0.1:$port" --topic "bench/$n/{stream}" \
    "${inputs[@]}" >"$work/pipeline-$n.log" 2>&1 ||
    { echo "the pipeline failed:"; tail -n 20 "$work/pipeline-$n.log"; exit 1; }
  end=$(date +%s.%N)
  wait "$sub_pid" || true
  python3 - "$work/arrivals-$n.txt" "$n" "$start" "$end" <<'EOF'
import collections, sys
arrivals = collections.defaultdict(list)
for line in open(sys.argv[1]):
    stamp, topic = line.split()
    arrivals[topic.rsplit("/", 1)[1]].append(float(stamp))
rows, total = [], 0.0
for stream in sorted(arrivals):
    t = arrivals[stream]
    fps = (len(t) - 1) / (t[-1] - t[0]) if len(t) > 1 and t[-1] > t[0] else 0.0
    total += fps
    rows.append((stream, len(t), fps))
wall = float(sys.argv[4]) - float(sys.argv[3])
for i, (stream, count, fps) in enumerate(rows):
    first = (sys.argv[2], f"{total:.1f}", f"{wall:.1f}") if i == 0 else ("", "", "")
    print(f"| {first[0]} | {stream} | {count} | {fps:.1f} | {first[1]} | {first[2]} |")
EOF
done
