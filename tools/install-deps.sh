#!/usr/bin/env bash
# Installs what gst-sam3 builds, tests and runs with on Debian 12:
#  - Debian packages (GStreamer, OpenCV, GoogleTest, the compilers, mosquitto, ...), by name;
#  - .venv at the project root from tools/requirements.txt (every version pinned with ==):
#    the torch wheel is the LibTorch the C++ code builds and runs against, transformers is
#    the parity reference, and the rest serves the Python tools and tests.
# Re-running it checks both and changes nothing when they are already there.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  meson ninja-build pkg-config g++ cmake ccache python3 python3-venv
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  libjson-glib-dev gobject-introspection libgirepository1.0-dev
  python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0
  libopencv-dev nlohmann-json3-dev zlib1g-dev
  libgtest-dev libgmock-dev
  libgstrtspserver-1.0-dev ffmpeg
  libmosquitto-dev mosquitto mosquitto-clients openssl
  clang libclang-rt-14-dev
)
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The venv sees the system site-packages for python3-gi (PyGObject is Debian's, built for
# /usr/bin/python3); everything pinned in requirements.txt is installed inside the venv.
venv=.venv
requirements=tools/requirements.txt
stamp=$venv/.sam3-requirements.sha256
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
echo "creating $venv from $requirements: downloads about 2.8 GB (torch 2.11.0 with its CUDA 13"
echo "libraries and triton, 2.7 GB; transformers and the rest, 0.07 GB), about 5 GB on disk"
/usr/bin/python3 -m venv --system-site-packages "$venv"
"$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$requirements"
"$venv/bin/python" -c 'import torch, transformers; print("venv: torch", torch.__version__, "transformers", transformers.__version__)'
echo "$want" > "$stamp"
