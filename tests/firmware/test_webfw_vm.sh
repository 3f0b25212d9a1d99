#!/usr/bin/env bash
# The web page's firmware path on the appliance image in QEMU (TCG, QEMU's
# user-mode network: no lab; the page forwarded to 127.0.0.1): a fresh
# appliance without provisioning serves its page.  In Chromium
# (tests/firmware/webvm.py), through the page's own forms and buttons: the
# password is set with the setup code read from the serial console; logout
# and login; a tampered bundle is refused with its reason and the running
# slot untouched; a newer signed bundle is uploaded through the file input
# (the upload bar moves), checked, installed by RAUC's service for _kgmgmt
# (the install bar shows RAUC's progress), the page's Reboot
# (kerbgate-powerd) boots the new slot, and the page shows the new version,
# marked good; then the session cookie's flags, forged POSTs and the login
# rate limit on the appliance.  RAUC's own view of the slots is read through
# the JSON API.
# Screenshots in $KG_OUT/webui-vm/.
# Last line: N passed, N failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
top=$PWD out=${KG_OUT:-output} port=${KG_WEB_PORT:-18643}
work=$(mktemp -d /tmp/kg-webfw.XXXXXX)
disk=$work/disk.img sock=$work/console.sock qpid=$work/qemu.pid con_log=$work/console.log
passed=0 failed=0
ok()   { echo "ok - $*"; passed=$((passed + 1)); }
nok()  { echo "not ok - $*"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name"; fi; }
cleanup() { [ -s "$qpid" ] && kill -9 "$(cat "$qpid")" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }
keys=$out/rauc-keys
for f in "$out/images/disk.img" "$out/target/etc/kerbgate-release" "$keys/signer.pem"; do
	[ -e "$f" ] || { nok "$f is built (make)"; finish; }
done
console() { tr -d '\r' <"$con_log" 2>/dev/null; }
wait_console() {	# pattern count seconds
	local t0=$SECONDS
	while [ $((SECONDS - t0)) -lt "$3" ]; do
		[ "$(console | grep -ac "$1")" -ge "$2" ] && return 0; sleep 2
	done; return 1
}
origin=https://127.0.0.1:$port
api() { curl -sk --max-time 600 -o "$work/body" -w '%{http_code}' -b "$work/jar" -c "$work/jar" \
	-H "Origin: $origin" -H "X-CSRF-Token: ${csrf:-}" "$@"; }
field() { python3 -c "import json,sys; d=json.load(open('$work/body')); print($1)" 2>/dev/null; }

# A newer release (0.2.0, security version 2) and a tampered copy of it.
t=$work/target; cp -a "$out/target" "$t"
sed -i 's/^kerbgate [^ ]*/kerbgate 0.2.0/' "$t/etc/kerbgate-release"; echo 2 >"$t/usr/share/kerbgate/security-version"
mksquashfs "$t" "$work/v2.img" -comp gzip -noappend -all-root -no-xattrs -quiet -no-progress >/dev/null; rm -rf "$t"
firmware/rauc/mkbundle.sh "$work/v2.img" "$work/v2.raucb" kerbgate-qemu_x86_64 0.2.0 2 \
	"$keys/signer.pem" "$keys/signer.key" "$keys/ca.pem" >/dev/null
cp "$work/v2.raucb" "$work/tampered.raucb"
printf '\x5a' | dd of="$work/tampered.raucb" bs=1 seek=$(( $(stat -c %s "$work/v2.img") / 2 )) conv=notrunc 2>/dev/null
cmp -s "$work/v2.raucb" "$work/tampered.raucb" && { nok "the tampered bundle differs"; finish; }

mkdir -p "$work/data/etc"
sed 's#^ADDRESSES=.*#ADDRESSES="10.0.2.15/24"#' rootfs/skeleton/etc/default/kerbgate/network.conf >"$work/data/etc/network.conf"
cp "$out/images/disk.img" "$disk"; firmware/setdata.sh "$disk" "$work/data" >/dev/null
KGQ_NET=user KGQ_WEB_PORT=$port KGQ_CONSOLE_SOCK=$sock KGQ_CONSOLE_LOG=$con_log KGQ_PIDFILE=$qpid \
	board/qemu_x86_64/qemu.sh "$disk"
check "first boot without provisioning comes up healthy" wait_console 'health: slot A .* marked good' 1 300
code=$(console | grep -ao 'web setup code: [A-Z0-9-]*' | tail -1 | awk '{print $4}')
check "the setup code is on the serial console" test -n "$code"
# In Chromium, through the page's forms and buttons: setup, logout, login,
# the tampered bundle, the newer one with both bars, Install, Reboot.
mkdir -p "$out/webui-vm"
browser() {	# webvm.py's checks become this script's
	while read -r line; do
		case $line in ok\ -*) ok "${line#ok - }";; not\ ok\ -*) nok "${line#not ok - }";; *) echo "   $line";; esac
	done < <(timeout 1800 tests/firmware/webvm.py "$@" 2>&1 || echo "not ok - the browser run $1 finished (exit $?)")
}
browser flash "$origin" "$code" Appliance-first-7 "$work/tampered.raucb" "$work/v2.raucb" "$out/webui-vm"
check "the VM reboots into slot B and marks it good" wait_console 'health: slot B .* marked good' 1 400
csrf=
st=$(api -H 'Content-Type: application/json' --data '{"password":"Appliance-first-7"}' "$origin/api/v1/web/login")
csrf=$(field "d['csrf']")
api "$origin/api/v1/firmware" >/dev/null
ver=$(field "d['version']"); bs=$(field "d['bootstate']")
echo "   after the reboot: version $ver; $(grep -a 'booted\|slot B' <<<"$bs" | tr '\n' ' ')"
check "the page shows the new version (0.2.0)" grep -q '0\.2\.0' <<<"$ver"
rauc_b=$(field "[(n, v.get('state'), v.get('boot_status')) for sl in d['rauc']['slots'] for n, v in sl.items() if v.get('bootname') == 'B'][0]")
echo "   RAUC: booted $(field "d['rauc']['booted']"), slot B $rauc_b"; sed 's/^/   | /' <<<"$bs"
check "RAUC's service reports slot B booted and good" \
	test "$(field "d['rauc']['booted']")" = B -a "$rauc_b" = "('rootfs.1', 'booted', 'good')"
browser after "$origin" Appliance-first-7 0.2.0 "$out/webui-vm"
finish
