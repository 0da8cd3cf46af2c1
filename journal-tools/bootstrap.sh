#!/usr/bin/env bash
# Installs the Debian packages ttj's tests and demo use, when missing.
# Usage: journal-tools/bootstrap.sh [--bench]   (--bench adds borgbackup and restic)
set -euo pipefail
pkgs=(qemu-system-x86 qemu-utils libnbd-bin nasm busybox-static zstd cpio postgresql-15 binutils ffmpeg chromium chromium-driver fio)
if [ "${1:-}" = "--bench" ]; then pkgs+=(borgbackup restic); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "ttj: missing Debian packages: ${missing[*]}; run as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "ttj: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
