#!/usr/bin/env bash
# Builds out/boot.img: the boot-sector guest (boot-sector.asm, nasm) as the first
# sector of a 1 MiB raw disk image (2048 sectors; the guest writes sectors 64..127).
# Boot it with: -drive file=boot.img,format=raw  (IDE primary master).
# With --tone: out/boot-tone.img, the same guest assembled with -DTONE (it also plays a
# steady 879.9 Hz square wave on the PC speaker; see boot-sector.asm).
# Prints the image's path. Idempotent: out/<image>.sha256 records the source hash.
# Usage: build-boot-sector.sh [--tone] [--force]
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p out
command -v nasm >/dev/null || { echo "nasm is missing: apt-get install nasm" >&2; exit 1; }
name=boot
defines=()
force=
for a in "$@"; do
  case "$a" in
    --tone) name=boot-tone; defines=(-DTONE) ;;
    --force) force=1 ;;
    *) echo "unknown argument $a" >&2; exit 2 ;;
  esac
done
src_hash=$(sha256sum boot-sector.asm | cut -d' ' -f1)
[ -z "${defines[*]:-}" ] || src_hash=$(echo "$src_hash ${defines[*]}" | sha256sum | cut -d' ' -f1)
if [ -f "out/$name.img" ] && [ "$(cat "out/$name.img.sha256" 2>/dev/null)" = "$src_hash" ] && [ -z "$force" ]; then
  echo "$(pwd)/out/$name.img"
  exit 0
fi
nasm -f bin "${defines[@]}" -o "out/$name-sector.bin.tmp" boot-sector.asm
size=$(stat -c %s "out/$name-sector.bin.tmp")
[ "$size" = 512 ] || { echo "boot sector is $size bytes, not 512" >&2; exit 1; }
mv "out/$name-sector.bin.tmp" "out/$name-sector.bin"
cp "out/$name-sector.bin" "out/$name.img.tmp"
truncate -s 1M "out/$name.img.tmp"
mv "out/$name.img.tmp" "out/$name.img"
echo "$src_hash" > "out/$name.img.sha256"
echo "$(pwd)/out/$name.img"
