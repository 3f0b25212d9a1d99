#!/usr/bin/env bash
# Pull mode in the appliance image (CONFIG_SERVICE_SMBPULL=y): the image
# boots under QEMU (TCG) on the lab's bridge with /data as provisioning
# leaves it plus kerbgate-smbpull's configuration (password auth to the
# DC's [kgpkg] share as CORP\alice, its client certificate, mgmtd's package
# keys); kerbgate-roll --package on the lab's client writes a sealed package
# into the share, the VM's smbpull fetches it and mgmtd stages, verifies and
# activates it; a tampered package is refused with a clear log line; smbpull
# runs as _kgpull, NoNewPrivs, seccomp, Landlock.  Needs `tests/lab/lab up`
# and `make image` with CONFIG_SERVICE_SMBPULL=y.  Last line: N passed, N failed.
KG_WORK_NAME=image-smbpull
KG_CONF_TEMPLATE=tests/integration/image.json.in
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/vmlib.sh
source "$top/tests/integration/vmlib.sh"
pkg=$KGLAB_SHARE_DIR/appliance1.kgpkg
trap 'vm_stop; rm -f "$KGLAB_SHARE_DIR"/*.kgpkg; cleanup' EXIT

# Pull mode is an image option (off by default: it doubles the root
# filesystem), so the default image of make test has no smbpull: the test
# says it did not run rather than fail; with KG_REQUIRE_SMBPULL=1 (a run
# against an image built with the option) a missing smbpull is a failure.
if ! unsquashfs -l "$out/images/rootfs.squashfs" 2>/dev/null | grep -q 'usr/sbin/kerbgate-smbpull$'; then
	if [ "${KG_REQUIRE_SMBPULL:-0}" != 1 ]; then
		echo "# SKIP: this image was built without CONFIG_SERVICE_SMBPULL; pull mode in the image not tested (set it in .config, make image, run with KG_REQUIRE_SMBPULL=1)"
		echo "0 passed, 0 failed"; exit 0
	fi
	nok "the image holds kerbgate-smbpull (build it with CONFIG_SERVICE_SMBPULL=y in .config, then make image)"
	echo "$passed passed, $failed failed"; exit 1
fi

# The provisioning of pull mode, added to make_data's /data.
pull_data() {
	local d=$work/data
	openssl genpkey -algorithm ED25519 -out "$mgmt/signer.key" 2>/dev/null
	openssl pkey -in "$mgmt/signer.key" -pubout -out "$d/mgmt/package-signer.pub"
	openssl genpkey -algorithm X25519 -out "$d/mgmt/package.key" 2>/dev/null
	openssl pkey -in "$d/mgmt/package.key" -pubout -out "$mgmt/package.pub"
	chmod 0600 "$mgmt/signer.key" "$d/mgmt/package.key"
	cat >"$d/kerbgate/mgmtd.json" <<-JSON
	{ "listen": "0.0.0.0:8443",
	  "tls": { "cert": "/data/mgmt/server.pem", "key": "/data/mgmt/server.key",
	           "client_ca": "/data/mgmt/management-ca.pem" },
	  "control_socket": "/run/kerbgate/control.sock",
	  "audit_log": "/data/log/audit.log",
	  "package": { "signer_key": "/data/mgmt/package-signer.pub", "key": "/data/mgmt/package.key" },
	  "user": "_kgmgmt" }
	JSON
	mgmt_leaf smbpull "/O=Contoso/CN=appliance1 smbpull" "extendedKeyUsage=clientAuth"
	mkdir -p "$d/smbpull"; chmod 0700 "$d/smbpull"
	install -m 0600 "$mgmt/smbpull.key" "$d/smbpull/client.key"
	install -m 0644 "$mgmt/smbpull.pem" "$d/smbpull/client.pem"
	install -m 0644 "$mgmt/ca.pem" "$d/smbpull/ca.pem"
	( umask 077; printf '%s\n' "$KGLAB_ALICE_PASSWORD" >"$d/smbpull/password" )
	cat >"$d/kerbgate/smbpull.json" <<-JSON
	{ "url": "smb://$KGLAB_DC_IP/kgpkg/appliance1.kgpkg",
	  "auth": { "user": "CORP\\\\alice", "password_file": "/data/smbpull/password" },
	  "interval": 2,
	  "mgmtd": "$mgmt_url",
	  "tls": { "ca": "/data/smbpull/ca.pem", "cert": "/data/smbpull/client.pem",
	           "key": "/data/smbpull/client.key" },
	  "state_file": "/data/smbpull/last-applied",
	  "user": "_kgpull" }
	JSON
	cat >"$work/roll.json" <<-JSON
	{ "account": "$KGLAB_ASA_PRINCIPAL",
	  "spn": "http/mail.$KGLAB_DNSDOMAIN@$KGLAB_REALM",
	  "appliances": [ { "name": "appliance1", "url": "$mgmt_url", "package_key": "$mgmt/package.pub" } ],
	  "package": { "signer_key": "$mgmt/signer.key", "lifetime_days": 1 },
	  "tls": { "ca": "$mgmt/ca.pem", "cert": "$mgmt/admin.pem", "key": "$mgmt/admin.key" } }
	JSON
	cp "$disk_src" "$disk"
	firmware/setdata.sh "$disk" "$d"
}

active_kvno() {
	[ "$(mgmt_api GET /api/v1/credentials)" = 200 ] &&
		python3 -c 'import json,sys; print([k["kvno"] for k in json.load(open(sys.argv[1]))["credentials"]["kvnos"] if k["state"]=="active"][0])' "$work/api.body"
}
vm_log_has() {	# ERE (no single quote: it goes through the console's shell) SECONDS
	local t0=$SECONDS
	while [ $((SECONDS - t0)) -lt "$2" ]; do
		vm "grep -c -E -- '$1' /data/log/messages" | grep -q '^[1-9]' && return 0
		sleep 2
	done
	return 1
}

t_smbpull_waits_confined() {
	local st
	st=$(vm 'p=$(pidof kerbgate-smbpull); grep -E "^(Uid|NoNewPrivs|Seccomp):" /proc/$p/status')
	echo "$st" | sed 's/^/   | /'
	echo "$st" | grep -Eq '^Uid:[[:space:]]+904[[:space:]]' && echo "$st" | grep -Eq '^NoNewPrivs:[[:space:]]+1' &&
		echo "$st" | grep -Eq '^Seccomp:[[:space:]]+2' || return 1
	# Landlock shows in no /proc file: one run by hand says what it applied.
	vm 'kerbgate-smbpull -1 -d -f /etc/kerbgate/smbpull.json 2>&1 | grep confined' >"$work/confined"
	sed 's/^/   | /' "$work/confined"
	grep -q 'confined: uid 904, NoNewPrivs, Landlock ABI [1-9]' "$work/confined"
}

t_roll_through_the_share_activates() {
	local k0 n
	k0=$(active_kvno) || return 1
	n=$((k0 + 1))
	echo "$KGLAB_ADMIN_PASSWORD" >"$work/admin.pw"; chmod 600 "$work/admin.pw"
	client env KRB5CCNAME="FILE:$work/cc-admin" kinit --password-file="$work/admin.pw" \
		"Administrator@$KGLAB_REALM" >/dev/null 2>&1 || return 1
	client env KRB5CCNAME="FILE:$work/cc-admin" "$top/$out/bin/kerbgate-roll" -c "$work/roll.json" \
		--package "$KGLAB_SHARE_DIR" --package-wait 120 rotate >"$work/roll.out" 2>&1
	sed 's/^/   | /' "$work/roll.out"
	grep -q "appliance1 .*kvno $n staged" "$work/roll.out" || return 1
	for _ in $(seq 60); do [ "$(active_kvno)" = "$n" ] && break; sleep 2; done
	[ "$(active_kvno)" = "$n" ] && vm_log_has 'package applied' 10
}

t_tampered_package_is_refused() {
	local k
	k=$(active_kvno) || return 1
	python3 -c 'import sys; b=bytearray(open(sys.argv[1],"rb").read()); b[130]^=1; open(sys.argv[1]+".tmp","wb").write(b)' "$pkg" &&
		mv "$pkg.tmp" "$pkg" || return 1
	vm_log_has 'package refused \(400\): the package.s signature does not verify' 60 &&
		[ "$(active_kvno)" = "$k" ]
}

setup
make_data
pull_data
boot_vm_or_exit
check "the ASA credential through the management API" give_credential
check "kerbgate-smbpull runs as _kgpull with NoNewPrivs, seccomp and Landlock" t_smbpull_waits_confined
check "kerbgate-roll --package: the VM's smbpull pulls it from the DC's share, mgmtd activates it" t_roll_through_the_share_activates
check "a tampered package is refused with a clear log line; the active kvno unchanged" t_tampered_package_is_refused
if [ "$failed" -gt 0 ]; then
	echo "--- the VM's log (smbpull, mgmtd)"; vm 'grep -E "kerbgate-(smbpull|mgmtd)" /data/log/messages | grep -v CP850 | tail -25'
fi
echo "$passed passed, $failed failed"
