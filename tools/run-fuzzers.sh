#!/usr/bin/env bash
# Builds the libFuzzer targets in tests/fuzz with Debian's clang (ASAN + UBSAN) and runs each
# for a fixed time from a seed corpus made from a generated model. Fails when a fuzzer finds a
# crash, a leak or undefined behaviour (the input is kept in OUT/<fuzzer>/ for a unit test).
#   tools/run-fuzzers.sh BUILD_DIR [SECONDS_EACH] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(realpath "$1")
seconds=${2:-15}
out=${3:-$build/fuzz}

command -v clang++ >/dev/null || { echo "clang++ not found (apt install clang)"; exit 77; }
# The LibTorch the build uses (tests/meson.build passes it), else the .venv's torch wheel.
torch_dir=${SAM3_TORCH_DIR:-$(.venv/bin/python -c 'import os, torch; print(os.path.dirname(torch.__file__))')}
mkdir -p "$out"
flags=(-std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -Isrc -Igst/sam3meta -isystem "$torch_dir/include"
       -isystem "$torch_dir/include/torch/csrc/api/include")
torch=(-L"$torch_dir/lib" -Wl,-rpath,"$torch_dir/lib" -ltorch -ltorch_cpu -lc10)
gst=($(pkg-config --cflags --libs gstreamer-1.0 gstreamer-video-1.0 json-glib-1.0))

build_fuzzer() {
  local name=$1
  shift
  echo "== building $name"
  clang++ "${flags[@]}" "tests/fuzz/$name.cpp" "$@" -o "$out/$name"
}

build_fuzzer fuzz_config src/model/config.cpp
build_fuzzer fuzz_prompts src/image/prompts.cpp "${torch[@]}"
build_fuzzer fuzz_safetensors src/io/safetensors.cpp "${torch[@]}"
build_fuzzer fuzz_tokenizer src/text/tokenizer.cpp "${torch[@]}" -lz
meta_objects=()
for source in gst/sam3meta/*.c; do
  meta_objects+=("$out/$(basename "$source" .c).o")
  clang -g -O1 -fsanitize=fuzzer-no-link,address,undefined -DBUILDING_GST_SAM3_META \
    $(pkg-config --cflags gstreamer-1.0 gstreamer-video-1.0 json-glib-1.0) \
    -c "$source" -o "${meta_objects[-1]}"
done
build_fuzzer fuzz_meta_json "${meta_objects[@]}" "${gst[@]}" -lm

# Seeds: the files a generated model consists of, and what sam3export writes for it.
seeds=$out/seeds
if [ ! -d "$seeds" ]; then
  mkdir -p "$seeds"/{config,prompts,safetensors,tokenizer,meta_json}
  "$build/tools/sam3-make-test-model" --preset tiny-video "$seeds/model" >/dev/null
  cp "$seeds/model/config.json" "$seeds/config/"
  printf 'person;red car; ;' >"$seeds/prompts/1"
  printf '10,20,30,40;1.5,2,3,4,neg' >"$seeds/prompts/2"
  printf '10,20;5.5,6,neg' >"$seeds/prompts/3"
  /usr/bin/python3 - "$seeds/safetensors/1" <<'PY'
import json, struct, sys
header = json.dumps({"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
                     "b": {"dtype": "BF16", "shape": [3], "data_offsets": [16, 22]},
                     "__metadata__": {"format": "pt"}}).encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(header)) + header + bytes(range(22)))
PY
  { head -c 2000 "$seeds/model/vocab.json"; printf '\0'; head -c 500 "$seeds/model/merges.txt"; printf '\0a photo of a cat'; } >"$seeds/tokenizer/1"
  # A sanitizer build's plugin needs its ASAN runtime loaded first into gst-launch-1.0.
  asan=$(ldd "$build/gst/libgstsam3.so" | grep -o '/[^ ]*libasan\.so[^ ]*' || true)
  LD_PRELOAD=$asan ASAN_OPTIONS=detect_leaks=0 \
  GST_PLUGIN_PATH="$build/gst" gst-launch-1.0 -q videotestsrc num-buffers=2 \
    ! video/x-raw,width=64,height=48 ! sam3detect model="$seeds/model" prompt="cat;dog" threshold=0 \
    ! sam3track detection-threshold=0 new-object-threshold=0 \
    ! sam3export location="$seeds/meta.jsonl" masks=true ! fakesink
  split -l 1 "$seeds/meta.jsonl" "$seeds/meta_json/frame-"
fi

status=0
for name in config prompts safetensors tokenizer meta_json; do
  work=$out/fuzz_$name.run
  rm -rf "$work"
  mkdir -p "$work/corpus"
  cp "$seeds/$name"/* "$work/corpus/"
  # Leaks are not judged here: LibTorch and GLib keep process-lifetime caches that
  # LeakSanitizer would report at exit (the leak check of a real pipeline is its own job).
  if (cd "$work" && ASAN_OPTIONS=detect_leaks=0 "$out/fuzz_$name" -max_total_time="$seconds" \
        -max_len=65536 -print_final_stats=1 corpus >log 2>&1); then
    echo "fuzz_$name: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log" | grep -o '[0-9]*$') executions, no failure"
  else
    echo "fuzz_$name: FAILED, input kept in $work:"
    tail -30 "$work/log"
    status=1
  fi
done
exit $status
