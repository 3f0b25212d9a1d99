#!/usr/bin/env bash
# Firmware updates in the appliance image under QEMU (TCG, no network: the
# lab is not needed): RAUC's service installs a signed bundle into the other
# slot, the appliance reboots into it and its health check marks it good;
# a firmware whose health check fails is booted three times and then GRUB
# goes back to the old slot by itself; bad bundles (truncated, a byte
# flipped, another board, unsigned, another CA, a lower security version)
# are refused with a message that says why and the running slot is
# untouched; QEMU killed at random points of an install, of boot-state
# writes and of a boot always comes back up on a good slot with /data intact.
#
# The bundles reach the VM on a second, read-only virtio disk (/dev/vdb, an
# ext4 made with mke2fs -d): no network, no serial transfer.
#
#   KG_POWERCUTS   power cuts of each kind (default 1; 20 under make test-long)
set -uo pipefail
cd "$(dirname "$0")/../.."
top=$PWD
out=${KG_OUT:-output}
cuts=${KG_POWERCUTS:-$([ "${KG_LONG:-0}" = 1 ] && echo 20 || echo 1)}
work=$(mktemp -d /tmp/kg-update.XXXXXX)
disk=$work/disk.img upd=$work/updates.img
sock=$work/console.sock qpid=$work/qemu.pid
passed=0; failed=0
ok()   { echo "ok - $*"; passed=$((passed + 1)); }
nok()  { echo "not ok - $*"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name"; fi; }
finish() { vm_kill; rm -rf "$work"; }
trap finish EXIT
trap "exit 1" INT TERM

for need in qemu-system-x86_64 rauc mksquashfs mke2fs openssl; do
	command -v $need >/dev/null || { echo "missing $need (make deps installs it)"; echo "0 passed, 1 failed"; exit 1; }
done
keys=$out/rauc-keys
for f in "$out/images/disk.img" "$out/target/etc/kerbgate-release" "$keys/signer.pem"; do
	[ -e "$f" ] || { echo "missing $f (make)"; echo "0 passed, 1 failed"; exit 1; }
done
compatible=kerbgate-$(sed -n 's/^CONFIG_BOARD_NAME="\(.*\)"/\1/p' .config 2>/dev/null)
[ "$compatible" = kerbgate- ] && compatible=kerbgate-qemu_x86_64

# ---- the VM ------------------------------------------------------------------
boots=0
vm_start() {
	boots=$((boots + 1)); con_log=$work/console.$boots.log; base=0
	rm -f "$sock" "$qpid"
	KGQ_NET=none KGQ_DISK2=$upd KGQ_CONSOLE_SOCK=$sock KGQ_CONSOLE_LOG=$con_log KGQ_PIDFILE=$qpid \
		board/qemu_x86_64/qemu.sh "$disk"
}
# Power off: QEMU killed (what the guest has not written is lost).
vm_kill() {
	[ -s "$qpid" ] || return 0
	kill -9 "$(cat "$qpid")" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$(cat "$qpid")" 2>/dev/null || break; sleep 0.1; done
	rm -f "$qpid"
}
vm() { timeout 300 python3 "$top/tests/integration/vmconsole.py" "$sock" "${VM_WAIT:-60}" "$*"; }
# The console since this boot began (vm_start or vm_reboot).
console() { tr -d '\r' <"$con_log" 2>/dev/null | tail -n +$((base + 1)); }
# A clean reboot from inside (rcK runs); the console's new part is its.
vm_reboot() { base=$(( base + $(console | wc -l) )); vm 'reboot' >/dev/null; }
# Until the health check has spoken this boot (marked good or not): 0 when
# marked good.  Bounded: a hang fails, a slow machine does not.
wait_health() {
	local t0=$SECONDS
	while [ $((SECONDS - t0)) -lt "${1:-400}" ]; do
		console | grep -aq 'health: slot .* marked good' && return 0
		console | grep -aq 'health: slot .* not healthy' && return 1
		sleep 2
	done
	echo "   no word from the health check in ${1:-400} s; console:"; console | tail -15 | sed 's/^/   | /'
	return 1
}
# A boot that ends in a reboot by the VM itself: QEMU stays, the console
# shows GRUB again.  Waits for the Nth "Booting `kerbgate" line of this log.
wait_grub_boots() {
	local n=$1 t0=$SECONDS
	while [ $((SECONDS - t0)) -lt 900 ]; do
		[ "$(console | grep -ac 'Booting .kerbgate slot')" -ge "$n" ] && return 0
		sleep 2
	done
	return 1
}
# Figures for bench/update.sh (KG_UPDATE_MEASURE=file); never asserted.
measure() { [ -z "${KG_UPDATE_MEASURE:-}" ] || echo "$*" >>"$KG_UPDATE_MEASURE"; }
booted() { vm 'kerbgate-bootstate get-current' | tr -d '\n'; }
release() { vm 'cat /etc/kerbgate-release' | awk '{print $2}'; }
bs_line() { vm 'kerbgate-bootstate status' | sed -n "s/^$1: *//p"; }

# ---- what goes into the VM ----------------------------------------------------
# /data as provisioning leaves it, for what the health check waits on:
# kerbgate-mgmtd's certificates (it must listen), a short health wait.
make_data() {
	local d=$work/data m=$work/mgmt
	mkdir -p "$d/mgmt" "$d/etc" "$m"; chmod 0700 "$d/mgmt"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=test management CA" -keyout "$m/ca.key" -out "$m/ca.pem" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=appliance" \
		-keyout "$d/mgmt/server.key" -out "$m/server.csr" 2>/dev/null
	openssl x509 -req -in "$m/server.csr" -CA "$m/ca.pem" -CAkey "$m/ca.key" -CAcreateserial \
		-days 2 -out "$d/mgmt/server.pem" 2>/dev/null
	cp "$m/ca.pem" "$d/mgmt/management-ca.pem"; chmod 0600 "$d/mgmt/server.key"
	echo "HEALTH_WAIT=${KG_HEALTH_WAIT:-45}" >"$d/etc/health.conf"
	head -c 200000 /dev/urandom >"$d/precious"		# /data must survive everything
	sha256sum <"$d/precious" | cut -d' ' -f1 >"$work/precious.sum"
	cp "$out/images/disk.img" "$disk"
	firmware/setdata.sh "$disk" "$d"
}
data_intact() { [ "$(vm 'sha256sum </data/precious' | cut -d' ' -f1)" = "$(cat "$work/precious.sum")" ]; }

# A root filesystem from the build's tree, changed by a function: a new
# release (VERSION, SECURITY_VERSION), gzip-compressed (quicker to make
# than the build's xz; GRUB and the kernel read both).
variant_rootfs() {	# out version secver [change-function]
	local t=$work/target
	rm -rf "$t"; cp -a "$out/target" "$t"
	sed -i "s/^kerbgate [^ ]*/kerbgate $2/" "$t/etc/kerbgate-release"
	echo "$3" >"$t/usr/share/kerbgate/security-version"
	[ -n "${4:-}" ] && "$4" "$t"
	mksquashfs "$t" "$1" -comp gzip -noappend -all-root -no-xattrs -quiet -no-progress >/dev/null
	rm -rf "$t"
}
# The test-only broken firmware: kerbgate-mgmtd exits at once.
break_mgmtd() { printf '#!/bin/sh\necho "broken on purpose (test)" >&2\nexit 1\n' >"$1/usr/sbin/kerbgate-mgmtd"; }
bundle() {	# rootfs out version secver [compatible [cert key]]
	firmware/rauc/mkbundle.sh "$1" "$work/u/$2" "${5:-$compatible}" "$3" "$4" \
		"${6:-$keys/signer.pem}" "${7:-$keys/signer.key}" "${8:-$keys/ca.pem}" >/dev/null
}

make_updates() {
	mkdir -p "$work/u"
	variant_rootfs "$work/v2.img" 0.2.0 2 || return 1
	variant_rootfs "$work/bad.img" 0.3.0-broken 2 break_mgmtd || return 1
	bundle "$work/v2.img" v2.raucb 0.2.0 2 || return 1
	bundle "$work/bad.img" broken.raucb 0.3.0-broken 2 || return 1
	# Refused ones: a small payload is enough, nothing of it gets written.
	mkdir -p "$work/tiny/etc"; head -c 65536 /dev/urandom >"$work/tiny/etc/payload"	# verity wants > 4 KiB
	mksquashfs "$work/tiny" "$work/tiny.img" -quiet -noappend >/dev/null
	bundle "$work/tiny.img" otherboard.raucb 0.2.0 2 kerbgate-otherboard || return 1
	bundle "$work/tiny.img" lower.raucb 0.1.5 1 || return 1
	firmware/rauc/devkeys.sh "$work/otherkeys" >/dev/null
	bundle "$work/tiny.img" otherca.raucb 0.2.0 2 "" "$work/otherkeys/signer.pem" \
		"$work/otherkeys/signer.key" "$work/otherkeys/ca.pem" || return 1
	cp "$work/tiny.img" "$work/u/unsigned.raucb"	# a squashfs with no signature
	head -c $(( $(stat -c %s "$work/u/v2.raucb") - 4096 )) "$work/u/v2.raucb" >"$work/u/truncated.raucb"
	cp "$work/u/v2.raucb" "$work/u/flipped.raucb"	# one byte in the middle of the image
	printf '\x5a' | dd of="$work/u/flipped.raucb" bs=1 seek=$(( $(stat -c %s "$work/v2.img") / 2 )) conv=notrunc 2>/dev/null
	cmp -s "$work/u/flipped.raucb" "$work/u/v2.raucb" && return 1
	mke2fs -q -F -t ext4 -L updates -d "$work/u" "$upd" $(( $(du -sk "$work/u" | cut -f1) + 16384 ))k
}

# ---- the tests ----------------------------------------------------------------
t_first_boot_slot_a() {
	vm_start && wait_health || return 1
	[ "$(booted)" = A ] || return 1
	vm 'kerbgate-bootstate status; rauc status' >"$work/status"
	sed 's/^/   /' "$work/status" | head -12
	grep -q '^booted: *A (primary)' "$work/status" && grep -q 'slot A: *good, 0 of 3' "$work/status" &&
		grep -q 'Booted from: rootfs.0 (A)' "$work/status" && vm 'mkdir -p /run/u && mount -o ro /dev/vdb /run/u' >/dev/null
}

slots_untouched() {	# the running slot A primary and good, B bad
	[ "$(vm 'kerbgate-bootstate get-primary')" = A ] && [ "$(vm 'kerbgate-bootstate get-state A')" = good ] &&
		[ "$(vm 'kerbgate-bootstate get-state B')" = bad ] && [ "$(booted)" = A ]
}
refused() {	# bundle pattern
	local o
	o=$(VM_WAIT=240 vm "rauc install /run/u/$1 2>&1; echo rc=\$?")
	echo "   rauc install $1: $(grep -v '^rc=' <<<"$o" | grep -ai 'fail\|refused\|error\|invalid\|mismatch' | tail -2 | tr '\n' ' ' | cut -c1-300)"
	grep -q '^rc=0' <<<"$o" && return 1
	grep -aqi "$2" <<<"$o" && slots_untouched
}
t_truncated_refused()  { refused truncated.raucb 'invalid bundle\|signature\|size'; }
t_flipped_refused()    { refused flipped.raucb 'verif\|corrupt\|failed'; }
t_otherboard_refused() { refused otherboard.raucb 'compatible mismatch'; }
t_unsigned_refused()   { refused unsigned.raucb 'signature\|invalid bundle'; }
t_otherca_refused()    { refused otherca.raucb 'signature verification failed\|certificate'; }

t_install_then_boot_b() {
	local o t0 t1 t2
	t0=$(date +%s.%N)
	o=$(VM_WAIT=400 vm 'rauc install /run/u/v2.raucb 2>&1; echo rc=$?')
	t1=$(date +%s.%N)
	echo "$o" | tail -3 | sed 's/^/   /'
	grep -q '^rc=0' <<<"$o" || return 1
	[ "$(vm 'kerbgate-bootstate get-primary')" = B ] || return 1
	vm_reboot; wait_health || return 1
	t2=$(date +%s.%N)
	measure "bundle: $(( $(stat -c %s "$work/u/v2.raucb") / 1024 )) KiB (the test's, gzip); rauc install in the VM: $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s; reboot to the new slot marked good: $(awk -v a="$t1" -v b="$t2" 'BEGIN {printf "%.1f", b - a}') s ($(console | grep -ao 'marked good, [0-9.]* s after the kernel started' | tail -1))"
	vm 'kerbgate-bootstate status; rauc status; cat /data/firmware-state/security-version' >"$work/status"
	sed 's/^/   /' "$work/status" | head -9
	[ "$(booted)" = B ] && [ "$(release)" = 0.2.0 ] && grep -q 'slot B: *good, 0 of 3' "$work/status" &&
		grep -q 'Booted from: rootfs.1 (B)' "$work/status" && [ "$(tail -1 "$work/status")" = 2 ] &&
		vm 'mkdir -p /run/u && mount -o ro /dev/vdb /run/u' >/dev/null
}

# RAUC words a handler's refusal as "Pre-install handler error"; the
# handler's own words go to syslog (tag kerbgate-antirollback).
t_lower_security_version_refused() {
	local o why
	o=$(VM_WAIT=240 vm 'rauc install /run/u/lower.raucb 2>&1; echo rc=$?')
	why=$(vm 'grep "kerbgate-antirollback: refused" /data/log/messages | tail -1')
	echo "   rauc install lower.raucb: $(grep -a 'LastError' <<<"$o" | head -1 | cut -c1-200)"
	echo "   syslog: ${why#*kerbgate-antirollback: }"
	! grep -q '^rc=0' <<<"$o" && grep -q 'Pre-install handler error' <<<"$o" &&
		grep -q 'security version is 1, older than the 2' <<<"$why" &&
		[ "$(vm 'kerbgate-bootstate get-primary')" = B ] && [ "$(vm 'kerbgate-bootstate get-state A')" = good ] &&
		[ "$(booted)" = B ]
}

# The broken firmware into A: three boots, each ending in the health
# check's reboot, then GRUB boots B by itself.
t_broken_update_rolls_back() {
	local o unhealthy
	o=$(VM_WAIT=400 vm 'rauc install /run/u/broken.raucb 2>&1; echo rc=$?')
	grep -q '^rc=0' <<<"$o" || { echo "$o" | tail -3; return 1; }
	vm_reboot
	wait_grub_boots 4 || { echo "   fewer than 4 boots"; console | grep -a 'health\|Booting' | sed 's/^/   | /'; return 1; }
	console | grep -a 'Booting .kerbgate\|health: ' | sed 's/^/   | /'
	unhealthy=$(console | grep -ac 'health: slot A .*not healthy')
	# The fourth boot's own health check: the console from its GRUB line on.
	base=$(( base + $(console | grep -an 'Booting .kerbgate slot' | sed -n 4p | cut -d: -f1) - 1 ))
	wait_health || return 1
	vm 'kerbgate-bootstate status' >"$work/status"; sed 's/^/   /' "$work/status"
	[ "$(booted)" = B ] && grep -q '^booted: *B (fallback)' "$work/status" &&
		grep -q 'slot A: *good, 3 of 3' "$work/status" && [ "$(release)" = 0.2.0 ] &&
		[ "$unhealthy" = 3 ] && data_intact
}

# ---- power cuts ----------------------------------------------------------------
# After a cut: the next boot comes up on a slot that its health check
# marks good, both copies of the boot state are whole, /data is intact.
after_cut() {
	vm_start && wait_health || return 1
	local st; st=$(vm 'kerbgate-bootstate status')
	grep -q '^copy 1: *whole' <<<"$st" && grep -q '^copy 2: *whole' <<<"$st" && data_intact ||
		{ echo "$st" | sed 's/^/   /'; return 1; }
	vm 'mkdir -p /run/u && mount -o ro /dev/vdb /run/u' >/dev/null
}
# COUNT cuts of one kind: START begins it, QEMU is killed a random 0 to
# MAX-1 s later, and the next boot must come up right.
cuts_of() {	# what max start
	local i d fails=0
	for i in $(seq "$cuts"); do
		d=$(( RANDOM % $2 ))
		"$3" || return 1
		sleep "$d"; vm_kill
		if after_cut; then echo "   cut $i: ${d} s into $1: up on $(vm 'kerbgate-bootstate status' | sed -n 's/^booted: *//p') ($(release))"
		else echo "   cut $i: ${d} s into $1: NOT up on a good slot"; fails=$((fails + 1)); fi
	done
	[ $fails = 0 ]
}
start_install() { VM_WAIT=60 vm '(rauc install /run/u/v2.raucb >/dev/null 2>&1 &)' >/dev/null; }
# The writes an update and a boot make, over and over: trial, bad
# (fallback), primary, good.
start_writes() {
	VM_WAIT=60 vm 'cur=$(kerbgate-bootstate get-current); oth=A; [ $cur = A ] && oth=B;
		(while :; do kerbgate-bootstate set-primary $oth; kerbgate-bootstate set-state $oth bad;
		kerbgate-bootstate set-primary $cur; kerbgate-bootstate mark-good; done) >/dev/null 2>&1 &
		true' >/dev/null
}
start_boot() { vm_kill; vm_start; }

# An install takes about 6 s in the VM (signature, verity mount, handler,
# then some 5 s of writing the slot): cuts within that span.
t_power_cut_during_install() { cuts_of "an install" 7 start_install; }
t_power_cut_during_bootstate_writes() {
	local o
	# Both slots hold the good new firmware first: whichever slot the
	# state names after a cut, it boots.
	o=$(VM_WAIT=400 vm 'rauc install /run/u/v2.raucb 2>&1; echo rc=$?')
	grep -q '^rc=0' <<<"$o" || { echo "$o" | tail -3 | sed 's/^/   /'; return 1; }
	cuts_of "boot-state writes" 8 start_writes
}
# Cuts while the appliance boots: OVMF, GRUB counting the attempt in both
# copies (save_env), the kernel, rcS's repair, the health check's mark-good.
# A cut between GRUB's count and mark-good leaves an attempt used; the
# next boot counts one more and marks the slot good (attempts back to 0).
t_power_cut_during_boot() { cuts_of "a boot" 60 start_boot; }

echo "== making the test's bundles and disks"
make_data || { echo "could not make the data partition"; echo "0 passed, 1 failed"; exit 1; }
make_updates || { echo "could not make the bundles"; echo "0 passed, 1 failed"; exit 1; }
echo "   bundles: $(cd "$work/u" && ls -s --block-size=K | tr '\n' ' ')"

check "first boot: GRUB's boot-state script boots slot A, the health check marks it good, both tools say so" t_first_boot_slot_a
# KG_UPDATE_ONLY=powercut: the first boot, then the power cuts alone.
if [ "${KG_UPDATE_ONLY:-}" != powercut ]; then
check "a truncated bundle is refused, slots untouched" t_truncated_refused
check "a bundle with one byte flipped in its image is refused, slots untouched" t_flipped_refused
check "a bundle for another board is refused, slots untouched" t_otherboard_refused
check "an unsigned bundle is refused, slots untouched" t_unsigned_refused
check "a bundle signed under another CA is refused, slots untouched" t_otherca_refused
check "a higher version installs through RAUC's service into B, boots from B, is marked good, its security version recorded" t_install_then_boot_b
if [ -n "${KG_UPDATE_QUICK:-}" ]; then echo "$passed passed, $failed failed"; [ "$failed" = 0 ]; exit; fi
check "a bundle with a lower security version is refused by the anti-rollback handler, slots untouched" t_lower_security_version_refused
check "a firmware whose health check fails is tried 3 times, then GRUB boots the old slot by itself (fallback)" t_broken_update_rolls_back
fi
check "power cut at random points of an install ($cuts times): up on a good slot, boot state whole, /data intact" t_power_cut_during_install
check "power cut at random points of boot-state writes ($cuts times): up on a good slot, boot state whole, /data intact" t_power_cut_during_bootstate_writes

check "power cut at random points of a boot, GRUB's attempt count included ($cuts times): up on a good slot, boot state whole, /data intact" t_power_cut_during_boot

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
