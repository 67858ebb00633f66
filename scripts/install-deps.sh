#!/usr/bin/env bash
# Installs the Debian packages tillpay needs to build (cgo, Fyne's OpenGL/X11
# headers) and test (Xvfb for the GUI checks, socat), if any are missing.
set -euo pipefail
need=(gcc libc6-dev pkg-config make git
      libgl-dev libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev
      xvfb xauth socat xdotool imagemagick libasound2-dev)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo_cmd apt-get update -q
$sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
