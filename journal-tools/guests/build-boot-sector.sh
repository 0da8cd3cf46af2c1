#!/usr/bin/env bash
# Builds out/boot.img: the boot-sector guest (boot-sector.asm, nasm) as the first
# sector of a 1 MiB raw disk image (2048 sectors; the guest writes sectors 64..127).
# Boot it with: -drive file=boot.img,format=raw  (IDE primary master).
# Prints the image's path. Idempotent: out/boot.img.sha256 records the source hash.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p out
command -v nasm >/dev/null || { echo "nasm is missing: apt-get install nasm" >&2; exit 1; }
src_hash=$(sha256sum boot-sector.asm | cut -d' ' -f1)
if [ -f out/boot.img ] && [ "$(cat out/boot.img.sha256 2>/dev/null)" = "$src_hash" ] && [ "${1:-}" != "--force" ]; then
  echo "$(pwd)/out/boot.img"
  exit 0
fi
nasm -f bin -o out/boot-sector.bin.tmp boot-sector.asm
size=$(stat -c %s out/boot-sector.bin.tmp)
[ "$size" = 512 ] || { echo "boot sector is $size bytes, not 512" >&2; exit 1; }
mv out/boot-sector.bin.tmp out/boot-sector.bin
cp out/boot-sector.bin out/boot.img.tmp
truncate -s 1M out/boot.img.tmp
mv out/boot.img.tmp out/boot.img
echo "$src_hash" > out/boot.img.sha256
echo "$(pwd)/out/boot.img"
