#!/usr/bin/env bash
# Builds the Linux guest from Debian packages:
#   out/vmlinuz    the kernel of linux-image-cloud-amd64 (the versioned package the
#                  metapackage depends on, fetched with apt-get download)
#   out/initrd.gz  an initramfs (cpio newc, gzip): busybox-static, the kernel's
#                  virtio-blk and ata_piix/sd_mod modules, and an /init workload.
# Boot: -kernel out/vmlinuz -initrd out/initrd.gz -append "console=ttyS0 quiet"
# The workload prints "tick N" on ttyS0 every ~200 ms and "second S uptime U" every
# 5 ticks, rewrites 256 KiB of a 16 MiB file in /dev/shm every tick (dirty memory),
# and, when /dev/vda or /dev/sda exists, writes "ttj tick N" to sector 2048 + (S mod 1024)
# every second.
# Idempotent: out/linux.stamp records the kernel package and this script's hash.
# Prints "KERNEL INITRD".
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$self")"
mkdir -p out
command -v busybox >/dev/null || { echo "busybox is missing: apt-get install busybox-static" >&2; exit 1; }
command -v cpio >/dev/null || { echo "cpio is missing: apt-get install cpio" >&2; exit 1; }

# The kernel: the versioned package the cloud metapackage depends on.
resolve() { apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}'; }
pkg=$(resolve || true)
if [ -z "$pkg" ] && [ "$(id -u)" = 0 ]; then apt-get update -qq >&2; pkg=$(resolve || true); fi
[ -n "$pkg" ] || { echo "cannot resolve linux-image-cloud-amd64 (apt-get update?)" >&2; exit 1; }

stamp="$pkg $(sha256sum "$self" | cut -d' ' -f1)"
if [ -f out/vmlinuz ] && [ -f out/initrd.gz ] && [ "$(cat out/linux.stamp 2>/dev/null)" = "$stamp" ] && [ "${1:-}" != "--force" ]; then
  echo "$(pwd)/out/vmlinuz $(pwd)/out/initrd.gz"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download "$pkg" >/dev/null 2>"$work/apt.log") || { cat "$work/apt.log" >&2; exit 1; }
dpkg-deb -x "$work"/*.deb "$work/kernel"
kver=$(ls "$work/kernel/lib/modules" | head -1)
moddir="$work/kernel/lib/modules/$kver"

root="$work/root"
mkdir -p "$root"/{bin,proc,sys,dev,tmp,lib/modules}
cp "$(command -v busybox)" "$root/bin/busybox"
for a in sh mount mkdir cat cut echo sleep dd insmod ls sync poweroff; do ln -s busybox "$root/bin/$a"; done

# Modules for disks (virtio-blk; IDE/SATA via ata_piix + sd_mod), in load order: each after its dependencies.
declare -A done_mods=()
order=()
add_mod() {
  local name=$1 f deps d
  [ -n "${done_mods[$name]:-}" ] && return 0
  done_mods[$name]=1
  f=$(find "$moddir" -name "$name.ko" -o -name "${name//_/-}.ko" | head -1)
  [ -n "$f" ] || { echo "module $name not found in $pkg" >&2; return 1; }
  deps=$(grep -a -o 'depends=[A-Za-z0-9_,-]*' "$f" | head -1 | cut -d= -f2 | tr ',' ' ')
  for d in $deps; do add_mod "$d"; done
  cp "$f" "$root/lib/modules/$name.ko"
  order+=("$name")
}
for m in virtio_pci virtio_blk ata_piix sd_mod; do add_mod "$m"; done
printf '%s\n' "${order[@]}" > "$root/lib/modules/load-order"

cat > "$root/init" <<'INIT'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/shm
mount -t tmpfs shm /dev/shm
for m in $(cat /lib/modules/load-order); do insmod /lib/modules/$m.ko 2>/dev/null; done
disk=
for i in 1 2 3 4 5 6 7 8 9 10; do
  for d in /dev/vda /dev/sda; do [ -b "$d" ] && disk=$d && break 2; done
  sleep 0.1
done
echo "ttj linux guest up at $(cut -d' ' -f1 /proc/uptime)s, disk ${disk:-none}"
n=0
while true; do
  n=$((n + 1))
  echo "tick $n"
  # dirty memory: rewrite 256 KiB of a 16 MiB tmpfs file each tick
  dd if=/dev/urandom of=/dev/shm/work bs=64k count=4 seek=$(( (n * 4) % 256 )) conv=notrunc 2>/dev/null
  if [ $((n % 5)) = 0 ]; then
    s=$((n / 5))
    echo "second $s uptime $(cut -d' ' -f1 /proc/uptime)"
    [ -n "$disk" ] && echo "ttj tick $n" | dd of="$disk" bs=512 count=1 seek=$(( 2048 + s % 1024 )) conv=notrunc,fsync 2>/dev/null
  fi
  sleep 0.2
done
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -6) > out/initrd.gz.tmp
cp "$work"/kernel/boot/vmlinuz-* out/vmlinuz.tmp
mv out/vmlinuz.tmp out/vmlinuz
mv out/initrd.gz.tmp out/initrd.gz
echo "$stamp" > out/linux.stamp
echo "$(pwd)/out/vmlinuz $(pwd)/out/initrd.gz"
