#!/usr/bin/env bash
# Builds the Linux guest from Debian packages: out/vmlinuz (linux-image-cloud-amd64)
# and out/initrd.gz (busybox-static, with an /init that runs a workload).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p out
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The kernel: the versioned package the cloud metapackage depends on.
pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
if [ -z "$pkg" ]; then
  [ "$(id -u)" = 0 ] && apt-get update -qq
  pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
fi
(cd "$work" && apt-get download "$pkg" >/dev/null)
dpkg-deb -x "$work"/*.deb "$work/kernel"
cp "$work"/kernel/boot/vmlinuz-* out/vmlinuz.tmp && mv out/vmlinuz.tmp out/vmlinuz

# The initramfs: busybox and an init that counts on the console and dirties memory and disk.
command -v busybox >/dev/null || { echo "busybox is missing: apt-get install busybox-static" >&2; exit 1; }
root="$work/root"
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,mnt}
cp "$(command -v busybox)" "$root/bin/busybox"
for a in sh mount echo cat sleep dd seq head mkdir date uptime poweroff sync; do ln -s busybox "$root/bin/$a"; done
cat > "$root/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmp /tmp
echo "ttj linux guest up at $(cat /proc/uptime)"
n=0
while true; do
  n=$((n + 1))
  echo "tick $n"
  # dirty memory: rewrite a slice of a 16 MiB tmpfs file each tick
  dd if=/dev/urandom of=/tmp/work bs=64k count=4 seek=$(( (n * 4) % 256 )) conv=notrunc 2>/dev/null
  # and a disk, when there is one
  for d in /dev/vda /dev/sda; do
    [ -b "$d" ] && echo "tick $n" | dd of="$d" bs=512 seek=$(( 2048 + n % 1024 )) conv=notrunc,fsync 2>/dev/null && break
  done
  sleep 0.2
done
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > out/initrd.gz.tmp
mv out/initrd.gz.tmp out/initrd.gz
echo "$(pwd)/out/vmlinuz $(pwd)/out/initrd.gz"
