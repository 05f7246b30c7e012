#!/usr/bin/env bash
# Several cameras or files analysed in ONE process with ONE loaded model, every stream's
# results published to ONE MQTT broker on a topic of its own.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

usage() {
  cat <<EOF2
usage: $(basename "$0") --model DIR --input [NAME=]SOURCE --input [NAME=]SOURCE ... [options]

Runs one gst-launch-1.0 with a branch per --input: SOURCE is a camera URI (rtsp://...,
read with sam3reconnectsrc, so a camera that drops is reconnected) or a video file (read
whole, no frame dropped). NAME (default camN, N from 0) is the stream's name in the topic.
Every branch's sam3detect names the same model, device and precision, so the process loads
the weights once and all streams share them (inference is serialised per model). Each
frame's results go to the broker as one JSON message (schema gst-sam3/1) on the stream's
topic; a broker that is down or goes away never stops the analysis (sam3export queues up
to --max-queued messages per stream and reconnects).
  --input [NAME=]SOURCE  a camera URI or a video file (repeat)
  --broker HOST:PORT     the MQTT broker (default 127.0.0.1:1883; 8883 is usual with TLS)
  --topic PATTERN        topic per stream, {stream} = NAME (default sam3/{stream})
  --mqtt-qos 0|1|2       MQTT delivery (default 1: at least once)
  --max-queued N         messages kept per stream while the broker is away (default 1000)
  --mqtt-user NAME       log in to the broker as NAME ...
  --mqtt-password PASS   ... with PASS (visible in the process list: prefer client certificates)
  --mqtt-ca PEM          TLS to the broker, trusting this CA
  --mqtt-cert PEM        client certificate for TLS (with --mqtt-key)
  --mqtt-key PEM         its private key
  --latency MS           RTSP jitter buffer of camera inputs (default 200)
EOF2
  common_help
}

inputs=() names=() broker=127.0.0.1:1883 topic="sam3/{stream}" mqtt_qos=1 max_queued=1000
latency=200 mqtt=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --input | --broker | --topic | --mqtt-qos | --max-queued | --mqtt-user | --mqtt-password | \
      --mqtt-ca | --mqtt-cert | --mqtt-key | --latency)
      [ $# -ge 2 ] || die "$1 needs a value" ;;&
    --input)
      # NAME=SOURCE only when what precedes the first '=' is a plain name (a URI or path
      # has ':' or '/' there).
      if [[ "$2" =~ ^([A-Za-z0-9_-]+)=(.+)$ ]]; then
        names+=("${BASH_REMATCH[1]}")
        inputs+=("${BASH_REMATCH[2]}")
      else
        names+=("cam${#inputs[@]}")
        inputs+=("$2")
      fi
      shift 2 ;;
    --broker) broker=$2; shift 2 ;;
    --topic) topic=$2; shift 2 ;;
    --mqtt-qos) mqtt_qos=$2; shift 2 ;;
    --max-queued) max_queued=$2; shift 2 ;;
    --mqtt-user) mqtt+=("username=$2"); shift 2 ;;
    --mqtt-password) mqtt+=("password=$2"); shift 2 ;;
    --mqtt-ca) mqtt+=("tls-ca-file=$2"); shift 2 ;;
    --mqtt-cert) mqtt+=("tls-cert-file=$2"); shift 2 ;;
    --mqtt-key) mqtt+=("tls-key-file=$2"); shift 2 ;;
    --latency) latency=$2; shift 2 ;;
    *) common_option "$@"; [ "$used" -gt 0 ] || die "unknown option \"$1\" (see --help)"; shift "$used" ;;
  esac
done
[ ${#inputs[@]} -gt 0 ] || die "give at least one --input"
common_setup

launch=()
for i in "${!inputs[@]}"; do
  input=${inputs[$i]}
  if [[ "$input" =~ ^[A-Za-z][A-Za-z0-9+.-]*:// ]] && [[ ! "$input" =~ ^file:// ]]; then
    # A camera: frames the model cannot keep up with are dropped (and counted), and the
    # synchronised sink is what reports them late.
    analysis_chain live no-overlay
    source=(sam3reconnectsrc "uri=$input" "latency=$latency")
    sink=(fakesink sync=true)
  else
    file=${input#file://}
    [ -f "$file" ] || die "input \"$input\" is neither a camera URI nor a file"
    analysis_chain file no-overlay
    source=(filesrc "location=$file" ! decodebin)
    sink=(fakesink sync=false)
  fi
  launch+=("${source[@]}" ! "${chain[@]}" ! sam3export name="export_${names[$i]}" method=mqtt
    "address=$broker" "topic=$topic" "stream-name=${names[$i]}" "mqtt-qos=$mqtt_qos"
    "max-queued=$max_queued" "${mqtt[@]}" ! "${sink[@]}")
done
run gst-launch-1.0 -e "${launch[@]}"
