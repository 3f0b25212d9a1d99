#!/bin/bash
# setdata.sh DISK DIR: replace the data partition (GPT name "data") of the
# disk image DISK with a fresh ext4 made from DIR (mke2fs -d), without
# mounting anything.  How the tests give an appliance its configuration and
# keytab before the management API exists.
set -euo pipefail
disk=$1 dir=$2
line=$(sfdisk -d "$disk" | grep 'name="data"') ||
	{ echo "setdata: $disk has no partition named data" >&2; exit 1; }
start=$(sed -n 's/.*start= *\([0-9]*\).*/\1/p' <<<"$line")
size=$(sed -n 's/.*size= *\([0-9]*\).*/\1/p' <<<"$line")
img=$disk.data.tmp
rm -f "$img"
mke2fs -q -F -t ext4 -L data -E root_owner=0:0 -d "$dir" "$img" "$((size / 2))k" >/dev/null
dd if="$img" of="$disk" bs=512 seek="$start" conv=notrunc,sparse status=none
rm -f "$img"
