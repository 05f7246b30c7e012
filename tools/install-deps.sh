#!/usr/bin/env bash
# Installs the Debian 12 packages gst-sam3 builds, tests and runs with.
set -euo pipefail
packages=(
  meson ninja-build pkg-config g++ cmake python3
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  libjson-glib-dev gobject-introspection libgirepository1.0-dev
  python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0
  libopencv-dev libtorch-dev nlohmann-json3-dev zlib1g-dev
  libgtest-dev libgmock-dev
  libgstrtspserver-1.0-dev ffmpeg
  clang libclang-rt-14-dev
  python3-torch python3-numpy
)
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
