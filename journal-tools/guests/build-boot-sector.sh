#!/usr/bin/env bash
# Builds out/boot.img: the boot-sector guest padded to a 1 MiB raw disk.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p out
command -v nasm >/dev/null || { echo "nasm is missing: apt-get install nasm" >&2; exit 1; }
nasm -f bin -o out/boot-sector.bin boot-sector.asm
cp out/boot-sector.bin out/boot.img.tmp
truncate -s 1M out/boot.img.tmp
mv out/boot.img.tmp out/boot.img
echo "$(pwd)/out/boot.img"
