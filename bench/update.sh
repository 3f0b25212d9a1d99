#!/usr/bin/env bash
# bench/update.sh [OUT]: the firmware update's figures for docs/performance.md:
# the bundle's size (make's, and its parts), then one update in QEMU (TCG, no
# network) through tests/firmware/test_update_vm.sh, which records how long
# `rauc install` took in the VM and how long from `reboot` to the new slot
# marked good.  Figures, never pass/fail; run under /run/kgbench.lock.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-output}
kib() { echo $(( ($(stat -c %s "$1") + 1023) / 1024 )); }
b=$(ls "$out"/images/kerbgate-*.raucb 2>/dev/null | head -1)
[ -n "$b" ] || { echo "bench/update.sh: no bundle in $out/images (make)" >&2; exit 1; }
echo "## bundle (KiB)"
echo "$(basename "$b"): $(kib "$b"); its image (rootfs.squashfs) $(kib "$out/images/rootfs.squashfs"), of it /boot uncompressed $(du -sk --apparent-size "$out/target/boot" | cut -f1)"
echo "## one update in the VM (TCG, 1 vCPU; load average at start: $(cut -d' ' -f1-3 /proc/loadavg))"
m=$(mktemp)
KG_OUT=$out KG_UPDATE_MEASURE=$m KG_UPDATE_QUICK=1 tests/firmware/test_update_vm.sh >"$m.log" 2>&1 ||
	{ echo "bench/update.sh: the update run failed:"; tail -20 "$m.log"; }
cat "$m"
rm -f "$m" "$m.log"
