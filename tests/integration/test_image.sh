#!/usr/bin/env bash
# The firmware image end to end: boot output/images/disk.img under QEMU (TCG)
# with its NIC on the lab's bridge and /data as provisioning leaves it (a
# configuration, the management CA and the appliance's certificate; written
# into the data partition with mke2fs -d), kerbgated starting with an empty
# sealed store; then the ASA credential through the management API
# (kerbgate-mgmtd, mutual TLS: staged, verified against the lab's KDC from
# inside the VM, activated), Negotiate through the VM's VIP to the lab's
# back-ends in header and kcd mode, HTTPS at the VIP, /metrics, supervision
# of every daemon, /data and the credential across a reboot, the read-only
# root.  Needs `tests/lab/lab up` and `make image`.  Last line: N passed, N failed.
KG_WORK_NAME=image
KG_CONF_TEMPLATE=tests/integration/image.json.in
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

# shellcheck source=tests/integration/vmlib.sh
source "$top/tests/integration/vmlib.sh"
trap 'vm_stop; cleanup' EXIT

measure_idle_rss() {
	[ -n "${KG_IMAGE_MEASURE:-}" ] || return 0
	sleep 5
	vm 'for d in kerbgated kerbgate-mgmtd ntpd syslogd klogd crond; do for p in $(pidof $d); do echo "$d $p $(sed -n "s/^Uid:\t\([0-9]*\).*/uid \1/p" /proc/$p/status) $(grep ^VmRSS /proc/$p/status)"; done; done; free' |
		sed 's/^/idle: /' >>"$KG_IMAGE_MEASURE"
}

# The pids of a daemon's processes that init started (parent 1) and that
# are not in the list $2: the supervised process, not an orphaned child.
new_daemon_pid() {
	vm "for p in \$(pidof $1); do case ' $2 ' in *\" \$p \"*) continue ;; esac; grep -q '^PPid:.1\$' /proc/\$p/status && echo \$p; done" |
		tr -dc '0-9\n' | head -1
}

# ------------------------------------------------------------------ tests

test_elf_check_refuses_a_missing_library() {
	local t r
	rootfs/elf-libs.sh check "$out/target" >/dev/null || return 1
	t=$(mktemp -d)
	cp -a "$out/target/." "$t/"
	rm -f "$t"/usr/lib/x86_64-linux-gnu/libev.so.4*
	r=$(rootfs/elf-libs.sh check "$t" 2>&1); local rc=$?
	rm -rf "$t"
	echo "$r" | tail -2
	[ $rc = 1 ] && grep -q 'kerbgated needs libev.so.4, which is not in the image' <<<"$r"
}

test_first_boot_initialised_data() {
	vm 'cat /data/.kerbgate-data; ls /data; cat /data/etc/network.conf | grep ^ADDRESSES' >"$work/out"
	cat "$work/out"
	grep -q '^first boot: ' "$work/out" && grep -q 'credentials' "$work/out" &&
		grep -q 'ADDRESSES="10.77.0.50/24"' "$work/out"
}

# Before its credential the appliance holds none: the API's list is empty,
# no sealed store exists, and alice is not let through.
test_no_credential_before_the_api_gives_one() {
	wait_api || { echo "the management API did not answer: $(cat "$work/api.body" 2>/dev/null)"; return 1; }
	cat "$work/api.body"; echo
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if d["ok"] and d["credentials"]["kvnos"] == [] else 1)' \
		"$work/api.body" || return 1
	# The sealed store exists from the first start: the keyholder makes the
	# pool header secret and the cookie key itself and seals them.  It holds
	# no ASA key (the list above), and only its owner reads it.
	local mode
	mode=$(vm 'stat -c "%a %U" /data/credentials/keys.sealed' | tr -d '\r')
	echo "sealed store before the credential: $mode"
	case $mode in "600 "*) ;; *) return 1 ;; esac
	kinit_as alice >/dev/null || return 1
	local st
	st=$(vip_curl --negotiate -u : http://mail.corp.contoso.com/hdr/whoami)
	echo "alice without a credential on the appliance: $st"
	[ "$st" != 200 ] && ! body_has "user: alice@"
}

test_credential_through_the_api() {
	give_credential >"$work/out"; local rc=$?
	cat "$work/out"
	[ $rc = 0 ] && grep -q 'activate (kvno [0-9]*): 200 kvno [0-9]* active: the appliance.s first credential' "$work/out"
}

test_header_mode_through_the_vm() {
	kinit_as alice >/dev/null || return 1
	[ "$(vip_curl --negotiate -u : http://mail.corp.contoso.com/hdr/whoami)" = 200 ] &&
		body_has "user: alice@CORP.CONTOSO.COM"
}

test_kcd_mode_through_the_vm() {
	local i nodes=""
	kinit_as alice >/dev/null || return 1
	for i in 1 2 3 4; do
		[ "$(vip_curl --negotiate -u : http://mail.corp.contoso.com/whoami)" = 200 ] || return 1
		body_has "user: alice@CORP.CONTOSO.COM" || return 1
		nodes="$nodes $(sed -n 's/^node: //p' "$work/body")"
	done
	echo "nodes:$nodes"
	[[ $nodes == *cas1* && $nodes == *cas2* ]]
}

test_no_token_is_refused() {
	[ "$(vip_curl http://mail.corp.contoso.com/hdr/whoami)" = 401 ] &&
		grep -qi '^www-authenticate: negotiate' "$work/headers"
}

test_metrics_answer() {
	vm 'wget -q -O - http://127.0.0.1:9100/metrics' >"$work/metrics"
	grep -c . "$work/metrics"
	grep -q '^kerbgate_' "$work/metrics"
}

test_ntpd_asks_the_dc() {
	vm 'cat /run/ntpd.conf; ntpctl -s peers' >"$work/out"
	cat "$work/out"
	grep -q '^server 10.77.0.10' "$work/out" && grep -q '10.77.0.10' <(sed 1d "$work/out")
}

# Kill the supervised process of each daemon: init starts it again.  A
# daemon's children are re-parented to init when it dies, so the new process
# must be one that did not exist before the kill.
test_every_daemon_is_supervised() {
	local d old all new bad=0
	for d in syslogd klogd crond ntpd kerbgated; do
		old=$(new_daemon_pid $d "")
		[ -n "$old" ] || { echo "$d: not running"; bad=1; continue; }
		all=$(vm "pidof $d" | tr -dc '0-9 ')
		vm "kill -KILL $old" >/dev/null
		new=""
		for _ in $(seq 60); do
			new=$(new_daemon_pid $d "$all")
			[ -n "$new" ] && break
			sleep 1
		done
		echo "$d: pid $old killed (its processes were: $all), started again: ${new:-no}"
		[ -n "$new" ] || bad=1
	done
	[ $bad = 0 ] || return 1
	# The restarted kerbgated serves again.
	wait_serving && test_header_mode_through_the_vm
}

# The list: the active kvno, and nothing that looks like a key.
test_credential_list_shows_the_active_kvno_only() {
	[ "$(mgmt_api GET /api/v1/credentials)" = 200 ] || return 1
	cat "$work/api.body"; echo
	python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))["credentials"]
act = [k["kvno"] for k in c["kvnos"] if k["state"] == "active"]
sys.exit(0 if c["account"] == sys.argv[2] and act == [int(sys.argv[3])] and c["sealed"] else 1)' \
		"$work/api.body" "$KGLAB_ASA_PRINCIPAL" "$KGLAB_ASA_KVNO" || return 1
	# No run of hex or base64 as long as a key.
	! grep -Eq '[0-9a-fA-F]{32,}|[A-Za-z0-9+/]{40,}' "$work/api.body"
}

# Without a client certificate, or with one from another CA, nothing gets
# past the TLS handshake; mgmtd says so in the appliance's log.
test_api_refuses_a_client_without_certificate() {
	local rc other=$work/other
	client curl -s -o /dev/null --max-time 20 --cacert "$mgmt/ca.pem" "$mgmt_url/api/v1/credentials"
	rc=$?
	echo "curl without a client certificate: exit $rc"
	[ $rc -ne 0 ] || return 1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/O=Contoso/CN=admin" -addext "extendedKeyUsage=clientAuth" \
		-keyout "$other.key" -out "$other.pem" 2>/dev/null
	client curl -s -o /dev/null --max-time 20 --cacert "$mgmt/ca.pem" --cert "$other.pem" \
		--key "$other.key" "$mgmt_url/api/v1/credentials"
	rc=$?
	echo "curl with a self-made certificate: exit $rc"
	[ $rc -ne 0 ] || return 1
	# Refusals are logged at most once in 10 s (a flood must not fill
	# /data): the first says why; curl's exits above show both refused.
	vm 'grep -c "refused in the TLS handshake" /data/log/messages' | tr -dc '0-9' >"$work/out"
	echo "refusals in the appliance's log: $(cat "$work/out")"
	[ "$(cat "$work/out")" -ge 1 ]
}

# The VIPs' private keys are in the TLS key process, a child of kerbgated
# running as _kgkeys (as the keyholder); TLS at the VIP works through it.
test_tls_key_process_and_https_at_the_vip() {
	local main tk
	main=$(new_daemon_pid kerbgated "")
	tk=$(vm 'grep -o "TLS key process [0-9]*" /data/log/messages | tail -1' | tr -dc '0-9')
	vm "grep -E '^(Name|PPid|Uid):' /proc/$tk/status" >"$work/out"
	echo "kerbgated $main; TLS key process $tk: $(tr -s "\r\n" "  " <"$work/out")"
	[ -n "$main" ] && [ -n "$tk" ] && grep -q "^PPid:.$main\b" "$work/out" &&
		grep -q '^Uid:.901\b' "$work/out" || return 1
	kinit_as alice >/dev/null || return 1
	[ "$(vip_curl --cacert "$work/ca.pem" --negotiate -u : https://mail.corp.contoso.com/hdr/whoami)" = 200 ] &&
		body_has "user: alice@CORP.CONTOSO.COM"
}

# The boot-state tool is in the image and runs (its state on a scratch
# folder: wiring it into GRUB is the updates' job).
test_bootstate_is_in_the_image() {
	vm 'd=/tmp/bs; mkdir -p $d; kerbgate-bootstate -d $d init && kerbgate-bootstate -d $d status; echo "rc=$?"' >"$work/out"
	cat "$work/out"
	grep -q 'rc=0' "$work/out" && grep -q '^slot A: *good' "$work/out"
}

# kerbgate-mgmtd killed: init starts it again, and the API answers.
test_mgmtd_is_supervised() {
	local old all new
	old=$(new_daemon_pid kerbgate-mgmtd "")
	[ -n "$old" ] || { echo "kerbgate-mgmtd: not running"; return 1; }
	all=$(vm "pidof kerbgate-mgmtd" | tr -dc '0-9 ')
	vm "grep -E '^Uid:' /proc/$old/status" >"$work/out"
	echo "kerbgate-mgmtd $old: $(tr -s "\r\n" "  " <"$work/out")"
	grep -q '^Uid:.903\b' "$work/out" || return 1	# _kgmgmt, not root
	vm "kill -KILL $old" >/dev/null
	new=""
	for _ in $(seq 60); do
		new=$(new_daemon_pid kerbgate-mgmtd "$all")
		[ -n "$new" ] && break
		sleep 1
	done
	echo "kerbgate-mgmtd: pid $old killed, started again: ${new:-no}"
	[ -n "$new" ] && wait_api && grep -q '"ok":true' "$work/api.body"
}

test_root_filesystem_refuses_writes() {
	vm 'touch /usr/sbin/x 2>&1; mount -o remount,rw / 2>&1; grep " / " /proc/mounts; test -e /usr/sbin/x; echo "exists=$?"' >"$work/out"
	cat "$work/out"
	grep -q 'Read-only file system' "$work/out" && grep -q 'exists=1' "$work/out" &&
		grep -q ' squashfs ro' "$work/out"
}

test_reboot_keeps_data() {
	local stamp
	stamp=$(vm 'cat /data/.kerbgate-data' | tr -d '\r')
	vm 'echo kept-across-reboot >/data/etc/marker; sync' >/dev/null || return 1
	vm 'reboot' >/dev/null
	# Until the old system is gone, the VIP may still answer.
	sleep 5
	wait_serving || { echo "no VIP after the reboot"; return 1; }
	vm 'cat /data/etc/marker; cat /data/.kerbgate-data' >"$work/out"
	cat "$work/out"
	grep -q '^kept-across-reboot' "$work/out" && grep -qF "$stamp" "$work/out" &&
		[ "$(grep -c '^first boot' "$work/out")" = 1 ] && test_header_mode_through_the_vm &&
		test_credential_list_shows_the_active_kvno_only
}

# ------------------------------------------------------------------ run

if [ ! -r "$disk_src" ]; then
	nok "the image is built ($disk_src missing: make image)"; echo "$passed passed, $failed failed"; exit 1
fi
check "the build's ELF check refuses an image with a library missing" test_elf_check_refuses_a_missing_library
setup
make_data
boot_vm_or_exit
check "first boot initialised /data (layout, defaults)" test_first_boot_initialised_data
check "before its credential: the API lists no ASA key, the sealed store holds only the generated secrets (0600), alice is not let through" \
	test_no_credential_before_the_api_gives_one
t0=$SECONDS
check "the ASA credential through the management API (mutual TLS): staged from its password, verified against the KDC from inside the VM, activated" \
	test_credential_through_the_api
echo "credential: staged, verified and activated in $((SECONDS - t0)) s (not asserted)"
measure "credential through the API (stage, verify, activate): $((SECONDS - t0)) s"
measure_idle_rss
check "header mode: alice through the VM's VIP, identity header to the back-end" test_header_mode_through_the_vm
check "kcd mode: alice through the VM's VIP to Apache on cas1 and cas2" test_kcd_mode_through_the_vm
check "no token: 401 with a Negotiate challenge" test_no_token_is_refused
check "/metrics answers on the admin port" test_metrics_answer
check "ntpd is configured with the DC" test_ntpd_asks_the_dc
check "the credential list shows the active kvno, the account, no key bytes" test_credential_list_shows_the_active_kvno_only
check "the API refuses a client without a certificate (and one from another CA) in the TLS handshake" \
	test_api_refuses_a_client_without_certificate
check "the TLS key process runs in kerbgated's process tree as _kgkeys; HTTPS at the VIP works" \
	test_tls_key_process_and_https_at_the_vip
check "kerbgate-bootstate is in the image and runs (init, status on a scratch folder)" test_bootstate_is_in_the_image
check "the root filesystem refuses writes" test_root_filesystem_refuses_writes
check "kerbgate-mgmtd is supervised: killed, it comes back and answers" test_mgmtd_is_supervised
check "every daemon is supervised: killed, it comes back" test_every_daemon_is_supervised
check "a reboot keeps /data and the sealed credential" test_reboot_keeps_data
if [ "$failed" -gt 0 ]; then echo "--- console (last 40 lines; all of it in $con_log)"; tail -40 "$con_log"; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
