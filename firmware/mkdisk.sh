#!/bin/bash
# mkdisk.sh OUT ESP-FILES-DIR SLOT-A-IMG DATA-DIR ESP_MB SLOT_MB DATA_MB
#
# The board's GPT disk, built as a file, without mounting anything:
#   1 esp       FAT (mkfs.vfat + mtools): GRUB and its script, outside A/B
#   2 rootfs_a  the firmware (squashfs: kernel, initramfs, root filesystem)
#   3 rootfs_b  the other slot, empty until the first update
#   4 data      ext4 made from DATA-DIR (mke2fs -d)
# Partitions are found by these GPT names (GRUB by number, the initramfs by
# name).  The disk and partition UUIDs are fixed: the same inputs give the
# same disk.
set -euo pipefail
out=$1 espdir=$2 slot=$3 datadir=$4 esp_mb=$5 slot_mb=$6 data_mb=$7
tmp=$out.parts; rm -rf "$tmp"; mkdir -p "$tmp"

slot_bytes=$(stat -c %s "$slot")
if [ "$slot_bytes" -gt $((slot_mb * 1048576)) ]; then
	echo "mkdisk: $slot is $((slot_bytes / 1048576)) MiB, more than the slot's $slot_mb MiB (BOARD_SLOT_MB)" >&2
	exit 1
fi

# ESP: FAT (mkfs.vfat picks FAT12/16 for its size; UEFI reads both).
mkfs.vfat -n ESP -i 4b470001 -C "$tmp/esp.img" $((esp_mb * 1024)) >/dev/null
(cd "$espdir" && find . -mindepth 1 -type d | sort) | while read -r d; do mmd -i "$tmp/esp.img" "::${d#.}"; done
(cd "$espdir" && find . -type f | sort) | while read -r f; do mcopy -i "$tmp/esp.img" "$espdir/$f" "::${f#.}"; done

# data: owned by root whoever builds it; files keep their modes.
mke2fs -q -F -t ext4 -L data -U 4b470000-0000-4000-8000-0000000000d4 -E root_owner=0:0 \
	-d "$datadir" "$tmp/data.img" "${data_mb}M" >/dev/null

start=2048			# sectors of 512 bytes: 1 MiB
esp_s=$((esp_mb * 2048)) slot_s=$((slot_mb * 2048)) data_s=$((data_mb * 2048))
total=$((start + esp_s + 2 * slot_s + data_s + 2048))
rm -f "$out"; truncate -s $((total * 512)) "$out"
linux=0FC63DAF-8483-4772-8E79-3D69D8477DE4
sfdisk -q --no-reread --no-tell-kernel "$out" <<EOT
label: gpt
label-id: 4B470000-0000-4000-8000-000000000000
first-lba: $start
start=$start, size=$esp_s, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=4B470000-0000-4000-8000-0000000000E1, name="esp"
start=$((start + esp_s)), size=$slot_s, type=$linux, uuid=4B470000-0000-4000-8000-0000000000A1, name="rootfs_a"
start=$((start + esp_s + slot_s)), size=$slot_s, type=$linux, uuid=4B470000-0000-4000-8000-0000000000B1, name="rootfs_b"
start=$((start + esp_s + 2 * slot_s)), size=$data_s, type=$linux, uuid=4B470000-0000-4000-8000-0000000000D1, name="data"
EOT
put() { dd if="$1" of="$out" bs=512 seek="$2" conv=notrunc,sparse status=none; }
put "$tmp/esp.img" $start
put "$slot" $((start + esp_s))
put "$tmp/data.img" $((start + esp_s + 2 * slot_s))
rm -rf "$tmp"
echo "  DISK    $out: esp ${esp_mb}M, rootfs_a ${slot_mb}M ($((slot_bytes / 1024)) KiB used), rootfs_b ${slot_mb}M, data ${data_mb}M"
