#!/usr/bin/env bash
# bench/image.sh [--boot] [OUT]: the firmware image's figures for docs/performance.md.
#   sizes     the disk, the slot image, each component (always)
#   --boot    the lab must be up and the caller hold /run/kglab.lock: boots
#             the image through tests/integration/test_image.sh, which records
#             power-on to the VIP answering and each daemon's RSS at idle
# Figures, never pass/fail.
set -uo pipefail
cd "$(dirname "$0")/.."
boot=0; [ "${1:-}" = --boot ] && { boot=1; shift; }
out=${1:-output}
t=$out/target img=$out/images
[ -r "$img/disk.img" ] || { echo "bench/image.sh: no $img/disk.img (make image)" >&2; exit 1; }
kib() { echo $(( ($(stat -c %s "$1") + 1023) / 1024 )); }
du_kib() { du -sk --apparent-size "$@" 2>/dev/null | awk '{n += $1} END {print n + 0}'; }

echo "## image sizes (KiB)"
echo "disk.img apparent $(kib "$img/disk.img"), allocated $(du -k "$img/disk.img" | cut -f1), xz -6 $(xz -6 -T1 -c "$img/disk.img" | wc -c | awk '{print int(($1 + 1023) / 1024)}')"
echo "slot image (rootfs.squashfs, xz): $(kib "$img/rootfs.squashfs")"
echo "ESP: bootx64.efi (GRUB) $(kib "$img/bootx64.efi")"
echo "in the slot: vmlinuz $(kib "$t/boot/vmlinuz"), initrd.img $(kib "$t/boot/initrd.img") ($(ls "$img/initrd.img.d/lib/modules" | grep -c '\.ko$') modules, $(du_kib "$img/initrd.img.d/lib/modules") uncompressed)"
echo "root filesystem without /boot, uncompressed: $(( $(du_kib "$t") - $(du_kib "$t/boot") ))"
echo "  busybox $(kib "$t/bin/busybox"), kerbgated (stripped) $(kib "$t/usr/sbin/kerbgated"), openntpd $(( $(kib "$t/usr/sbin/ntpd") + $(kib "$t/usr/sbin/ntpctl") ))"
# Libraries by package (the manifest mkrootfs.sh wrote), symlinks not counted.
awk '{print $1, $2}' "$t.libs" | while read -r pkg path; do
	# An absolute link (/lib64's loader) points at a file listed too.
	case $(readlink "$t$path") in /*) continue ;; esac
	echo "$pkg $(kib "$(readlink -f "$t$path")")"
done | awk '{s[$1] += $2; tot += $2} END {for (p in s) printf "  %s %d\n", p, s[p] | "sort -k2 -nr"; close("sort -k2 -nr"); printf "  libraries in all: %d\n", tot}'

# squashfs or erofs for the root: the same tree packed both ways.
tmp=$(mktemp -d)
mksquashfs "$t" "$tmp/sq.xz" -comp xz -b 256K -noappend -all-root -quiet -no-progress >/dev/null
mksquashfs "$t" "$tmp/sq.gz" -comp gzip -noappend -all-root -quiet -no-progress >/dev/null
mksquashfs "$t" "$tmp/sq.zstd" -comp zstd -noappend -all-root -quiet -no-progress >/dev/null 2>&1 || :
mkfs.erofs -zlz4hc "$tmp/erofs.lz4hc" "$t" >/dev/null 2>&1
mkfs.erofs -zlzma "$tmp/erofs.lzma" "$t" >/dev/null 2>&1 || :
echo "## root filesystem format, same tree (KiB)"
echo "squashfs xz with /boot uncompressed (used) $(kib "$img/rootfs.squashfs"), squashfs xz all $(kib "$tmp/sq.xz"), squashfs gzip $(kib "$tmp/sq.gz")$([ -s "$tmp/sq.zstd" ] && echo ", squashfs zstd $(kib "$tmp/sq.zstd")"), erofs lz4hc $(kib "$tmp/erofs.lz4hc")$([ -s "$tmp/erofs.lzma" ] && echo ", erofs lzma $(kib "$tmp/erofs.lzma")")"
rm -rf "$tmp"

if [ $boot = 1 ]; then
	echo "## boot and memory (TCG; load: $(uptime | sed 's/.*load average: //'))"
	m=$out/bench/image-measure.txt
	mkdir -p "$out/bench"; : >"$m"
	KG_OUT=$out KG_IMAGE_MEASURE=$m tests/integration/test_image.sh >"$out/bench/image-test.log" 2>&1
	cat "$m"
else
	echo "(boot time and RSS: --boot, with the lab up under /run/kglab.lock)"
fi
