#!/bin/bash
# mkinitramfs.sh KERNELROOT BUSYBOX OUT MODULE...
#
# A small initramfs: BusyBox (static), the kernel modules the board needs to
# reach its root filesystem and network (MODULEs, with what they depend on,
# taken from the unpacked kernel package KERNELROOT), and rootfs/initramfs/init.
# Dependencies come from each module's own .modinfo "depends=" (objcopy):
# no depmod, nothing of the build host's kernel.
set -euo pipefail
kroot=$1 busybox=$2 out=$3; shift 3
here=$(cd "$(dirname "$0")" && pwd)
kver=$(ls "$kroot/lib/modules")
[ "$(wc -w <<<"$kver")" = 1 ] || { echo "mkinitramfs: expected one kernel in $kroot/lib/modules, found: $kver" >&2; exit 1; }
mdir=$kroot/lib/modules/$kver
work=$out.d
rm -rf "$work"; mkdir -p "$work"/{bin,dev,proc,sys,newroot,lib/modules}

declare -A path=()
while read -r f; do
	n=$(basename "$f" .ko); path[${n//-/_}]=$f
done < <(find "$mdir" -name '*.ko')

deps_of() {
	objcopy -O binary --only-section=.modinfo "$1" /dev/stdout 2>/dev/null | tr '\0' '\n' |
		sed -n 's/^depends=//p' | tr ',' ' '
}
# Depth first, dependencies before the module: the order init loads them in.
order=()
declare -A done=()
add() {
	local m=${1//-/_} d
	[ -n "${done[$m]:-}" ] && return 0
	[ -n "${path[$m]:-}" ] || { echo "mkinitramfs: no module $m in $mdir (built in? check the kernel config)" >&2; exit 1; }
	done[$m]=1
	for d in $(deps_of "${path[$m]}"); do add "$d"; done
	order+=("$m")
}
for m in "$@"; do add "$m"; done
for m in "${order[@]}"; do cp "${path[$m]}" "$work/lib/modules/$m.ko"; done
printf '%s\n' "${order[@]}" >"$work/lib/modules/load-order"

cp "$busybox" "$work/bin/busybox"
for a in sh mount umount insmod mkdir sleep cat switch_root ls grep sed; do ln -s busybox "$work/bin/$a"; done
install -m 0755 "$here/initramfs/init" "$work/init"
(cd "$work" && find . | LC_ALL=C sort | cpio -o -H newc --reproducible --quiet -R 0:0) | gzip -9n >"$out"
echo "  INITRD  $out: ${#order[@]} modules (${order[*]}), $(du -k "$out" | cut -f1) KiB"
