#!/usr/bin/env bash
# The update path's files, checked with RAUC itself on the build host: what
# make bundle produces verifies against the development CA, and every kind of
# bad bundle is refused with a message that says what is wrong (truncated,
# a byte flipped in the payload or in the signature, another CA, unsigned);
# the anti-rollback handler refuses a lower security version and records
# only upward.  Installing into the appliance's slots is tested in QEMU.
set -uo pipefail
cd "$(dirname "$0")/../.."
top=$PWD
work=$(mktemp -d /tmp/kg-rauc.XXXXXX)
trap 'rm -rf "$work"' EXIT
passed=0; failed=0
ok()   { echo "ok - $*"; passed=$((passed + 1)); }
nok()  { echo "not ok - $*"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name"; fi; }

for need in rauc mksquashfs openssl; do
	command -v $need >/dev/null || { echo "missing $need (make deps installs it)"; echo "0 passed, 1 failed"; exit 1; }
done

keys=$work/keys
firmware/rauc/devkeys.sh "$keys" >/dev/null
mkdir -p "$work/root/etc"
head -c 300000 /dev/urandom >"$work/root/etc/payload"
mksquashfs "$work/root" "$work/rootfs.img" -quiet -noappend >/dev/null
bundle() {	# out version secver [cert key]
	firmware/rauc/mkbundle.sh "$work/rootfs.img" "$work/$1" kerbgate-qemu_x86_64 "$2" "$3" \
		"${4:-$keys/signer.pem}" "${5:-$keys/signer.key}" "$keys/ca.pem" >/dev/null 2>"$work/mkbundle.err"
}
info() { rauc info --keyring "$keys/ca.pem" "$work/$1" >"$work/info.out" 2>"$work/info.err"; }
extract() { rm -rf "$work/x"; rauc extract --keyring "$keys/ca.pem" "$work/$1" "$work/x" >"$work/ex.out" 2>&1; }
said() { grep -q "$1" "$work/info.err" "$work/ex.out" 2>/dev/null; }

t_good_bundle() {
	bundle v1.raucb 0.1.0 1 || { cat "$work/mkbundle.err"; return 1; }
	info v1.raucb && grep -q "Compatible:[[:space:]]*'kerbgate-qemu_x86_64'" "$work/info.out" &&
		grep -q "Version:[[:space:]]*'0.1.0'" "$work/info.out" && grep -q 'Bundle Format:[[:space:]]*verity' "$work/info.out" &&
		extract v1.raucb && [ "$(cat "$work/x/security-version")" = 1 ] &&
		cmp -s "$work/x/rootfs.img" "$work/rootfs.img"
}

t_keys_are_private() {
	[ "$(stat -c %a "$keys/signer.key")" = 600 ] && [ "$(stat -c %a "$keys/ca.key")" = 600 ]
}

t_truncated() {
	[ -s "$work/v1.raucb" ] || return 1
	head -c $(( $(stat -c %s "$work/v1.raucb") - 100 )) "$work/v1.raucb" >"$work/trunc.raucb"
	! info trunc.raucb && said 'Invalid bundle format\|signature'
}

t_flipped_payload_byte() {
	[ -s "$work/v1.raucb" ] || return 1
	cp "$work/v1.raucb" "$work/flip.raucb"
	printf '\x5a' | dd of="$work/flip.raucb" bs=1 seek=70000 conv=notrunc 2>/dev/null
	cmp -s "$work/flip.raucb" "$work/v1.raucb" && return 1	# the byte really changed
	! extract flip.raucb && said 'payload is corrupted'
}

t_flipped_signature_byte() {
	local size
	[ -s "$work/v1.raucb" ] || return 1
	size=$(stat -c %s "$work/v1.raucb")
	cp "$work/v1.raucb" "$work/sig.raucb"
	# The CMS signature sits just before the 8-byte size at the end.
	printf '\x00' | dd of="$work/sig.raucb" bs=1 seek=$((size - 300)) conv=notrunc 2>/dev/null
	! info sig.raucb && said 'ignature'
}

t_other_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=someone else" -keyout "$work/o.key" -out "$work/o.pem" 2>/dev/null
	# mkbundle refuses to make it (it checks against our keyring) ...
	! bundle other.raucb 0.1.0 1 "$work/o.pem" "$work/o.key" &&
		grep -q 'does not verify' "$work/mkbundle.err" || return 1
	# ... and a bundle someone else made is refused by the appliance's keyring.
	mkdir -p "$work/oc" && cp "$work/rootfs.img" "$work/oc/" &&
		printf '[update]\ncompatible=kerbgate-qemu_x86_64\nversion=9\n[bundle]\nformat=verity\n[image.rootfs]\nfilename=rootfs.img\n' >"$work/oc/manifest.raucm" &&
		rauc bundle --cert "$work/o.pem" --key "$work/o.key" "$work/oc" "$work/other.raucb" >/dev/null 2>&1 || return 1
	! info other.raucb && said 'signature verification failed'
}

t_unsigned() {
	cp "$work/rootfs.img" "$work/unsigned.raucb"
	! info unsigned.raucb && said 'Invalid bundle format'
}

t_bad_security_version() {
	! bundle bad.raucb 0.1.0 "1; rm -rf /" && grep -q 'is not a number' "$work/mkbundle.err"
}

ar() { env RAUC_BUNDLE_MOUNT_POINT="$work/mnt" KERBGATE_DATA="$work/data" \
	KERBGATE_SECVER_FILE="$work/running" "$top/firmware/rauc/kerbgate-antirollback" "$@" 2>"$work/ar.err"; }

t_antirollback() {
	mkdir -p "$work/mnt" "$work/data"
	echo 3 >"$work/mnt/security-version"
	ar || return 1					# nothing recorded: any version
	echo 5 >"$work/running"
	ar record >/dev/null && [ "$(cat "$work/data/firmware-state/security-version")" = 5 ] || return 1
	! ar && grep -q 'security version is 3, older than the 5' "$work/ar.err" || return 1
	echo 5 >"$work/mnt/security-version"; ar || return 1		# equal: allowed
	echo 7 >"$work/mnt/security-version"; ar check || return 1	# higher: allowed
	echo 4 >"$work/running"; ar record >/dev/null
	[ "$(cat "$work/data/firmware-state/security-version")" = 5 ] || return 1	# never down
	rm "$work/mnt/security-version"
	! ar && grep -q 'carries no security version' "$work/ar.err" || return 1
	echo "x1" >"$work/mnt/security-version"
	! ar && grep -q 'not a number' "$work/ar.err" || return 1
	echo 9 >"$work/mnt/security-version"; echo garbage >"$work/data/firmware-state/security-version"
	! ar && grep -q 'recorded security version is unreadable' "$work/ar.err"
}

# What the shell's test cannot compare (past 63 bits) made "[ new -lt have ]"
# fail, read as "not lower": one huge version recorded let every older bundle
# in.  Every number is checked, under the host's sh and the appliance's
# BusyBox sh when it is built.
t_antirollback_numbers() {
	local sh bb=$top/output/target/bin/busybox
	for sh in sh ${bb:+"$bb sh"}; do
		[ "$sh" = sh ] || [ -x "$bb" ] || continue
		ars() { env RAUC_BUNDLE_MOUNT_POINT="$work/mnt" KERBGATE_DATA="$work/data" \
			KERBGATE_SECVER_FILE="$work/running" $sh "$top/firmware/rauc/kerbgate-antirollback" "$@" 2>"$work/ar.err"; }
		rm -rf "$work/data"; mkdir -p "$work/mnt" "$work/data"
		echo 99999999999999999999 >"$work/running"
		! ars record && [ ! -e "$work/data/firmware-state/security-version" ] || return 1
		grep -q 'more than 18 digits' "$work/ar.err" || return 1
		echo 5 >"$work/running"; ars record >/dev/null || return 1
		echo 99999999999999999999 >"$work/mnt/security-version"; ! ars || return 1
		echo 18446744073709551621 >"$work/mnt/security-version"; ! ars || return 1
		echo -9 >"$work/mnt/security-version"; ! ars || return 1
		echo '0 9' >"$work/mnt/security-version"; ! ars || return 1
		echo 04 >"$work/mnt/security-version"; ! ars || return 1
		printf '6\0009\n' >"$work/mnt/security-version"; ! ars || return 1	# a NUL: not 69
		{ printf 9; head -c 70 /dev/zero | tr '\0' ' '; echo 1; } >"$work/mnt/security-version"
		! ars || return 1						# past 64 bytes
		printf ' 010\t\n' >"$work/mnt/security-version"; ars || return 1	# ten, blanks around
		echo 99999999999999999999 >"$work/data/firmware-state/security-version"
		echo 1 >"$work/mnt/security-version"; ! ars || return 1	# a huge record: fails closed
	done
}

# The record lives in root's own folder, not in /data/firmware, which
# kerbgate-mgmtd gives to _kgmgmt for uploads: its owner could delete a
# record there (every older bundle let in) or plant a link where root
# writes.  The old record counts only until the new one exists.
t_antirollback_record_out_of_the_upload_folder() {
	rm -rf "$work/data"; mkdir -p "$work/mnt" "$work/data/firmware"
	echo 6 >"$work/data/firmware/security-version"	# the old place: still honoured
	echo 5 >"$work/mnt/security-version"; ! ar || return 1
	ln -s "$work/victim" "$work/data/firmware/security-version.tmp"
	echo 7 >"$work/running"; ar record >/dev/null || return 1
	[ "$(cat "$work/data/firmware-state/security-version")" = 7 ] && [ ! -e "$work/victim" ] || return 1
	rm -f "$work/data/firmware/security-version"	# what the upload folder's owner can do
	echo 6 >"$work/mnt/security-version"; ! ar || return 1
	[ "$(stat -c %a "$work/data/firmware-state")" = 755 ] || return 1
	! grep -n 'data/firmware/' rootfs/skeleton/usr/libexec/kerbgate/health
}

t_system_conf() {
	sed 's|@COMPATIBLE@|kerbgate-qemu_x86_64|' firmware/rauc/system.conf.in >"$work/system.conf"
	grep -q '^compatible=kerbgate-qemu_x86_64$' "$work/system.conf" &&
		grep -q '^bootloader=custom$' "$work/system.conf" &&
		grep -q '^bootloader-custom-backend=/usr/sbin/kerbgate-bootstate$' "$work/system.conf" &&
		grep -q '^bundle-formats=-plain$' "$work/system.conf"
}

check "make bundle's bundle verifies against the dev CA: compatible, version, verity, payload intact" t_good_bundle
check "the signing and CA keys are 0600" t_keys_are_private
check "a truncated bundle is refused" t_truncated
check "a byte flipped in the payload is refused (verity: payload is corrupted)" t_flipped_payload_byte
check "a byte flipped in the signature is refused" t_flipped_signature_byte
check "a bundle signed by another CA is refused (and mkbundle will not make one)" t_other_ca
check "an unsigned image is refused" t_unsigned
check "a security version that is not a number is refused at build time" t_bad_security_version
check "anti-rollback: lower refused in words, equal and higher allowed, recorded only upward" t_antirollback
check "anti-rollback: a number past 63 bits, negative, with blanks inside is refused; a huge record fails closed" t_antirollback_numbers
check "anti-rollback: the record is in root's own folder, not the upload folder _kgmgmt owns; the old record counts until then" t_antirollback_record_out_of_the_upload_folder
check "RAUC's system.conf: compatible, custom boot state backend, no plain bundles" t_system_conf

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
