#!/usr/bin/env bash
# The firmware image end to end: boot output/images/disk.img under QEMU (TCG)
# with its NIC on the lab's bridge, its /data holding the ASA keytab and a
# configuration (written into the data partition with mke2fs -d; the
# credential API comes later), then Negotiate through the VM's VIP to the
# lab's back-ends in header and kcd mode, /metrics, supervision of every
# daemon, /data across a reboot, the read-only root.  Needs `tests/lab/lab up`
# and `make image`.  Last line: N passed, N failed.
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
	vm 'for d in kerbgated ntpd syslogd klogd crond; do for p in $(pidof $d); do echo "$d $p $(sed -n "s/^Uid:\t\([0-9]*\).*/uid \1/p" /proc/$p/status) $(grep ^VmRSS /proc/$p/status)"; done; done; free' |
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
		[ "$(grep -c '^first boot' "$work/out")" = 1 ] && test_header_mode_through_the_vm
}

# ------------------------------------------------------------------ run

if [ ! -r "$disk_src" ]; then
	nok "the image is built ($disk_src missing: make image)"; echo "$passed passed, $failed failed"; exit 1
fi
check "the build's ELF check refuses an image with a library missing" test_elf_check_refuses_a_missing_library
setup
make_data
# The back-ends first: the VM's health checks would eject refused ones.
for n in cas1 cas2; do
	ip=$([ $n = cas1 ] && echo "$KGLAB_CAS1_IP" || echo "$KGLAB_CAS2_IP")
	for _ in $(seq 50); do lb curl -s -o /dev/null "http://$ip:8080/health" && break; sleep 0.2; done
done
if ! boot_vm; then
	nok "the image boots and serves the VIP"; tail -40 "$con_log"
	echo "$passed passed, $failed failed"; exit 1
fi
ok "the image boots and serves the VIP"
check "first boot initialised /data (layout, defaults)" test_first_boot_initialised_data
measure_idle_rss
check "header mode: alice through the VM's VIP, identity header to the back-end" test_header_mode_through_the_vm
check "kcd mode: alice through the VM's VIP to Apache on cas1 and cas2" test_kcd_mode_through_the_vm
check "no token: 401 with a Negotiate challenge" test_no_token_is_refused
check "/metrics answers on the admin port" test_metrics_answer
check "ntpd is configured with the DC" test_ntpd_asks_the_dc
check "the root filesystem refuses writes" test_root_filesystem_refuses_writes
check "every daemon is supervised: killed, it comes back" test_every_daemon_is_supervised
check "a reboot keeps /data" test_reboot_keeps_data
if [ "$failed" -gt 0 ]; then echo "--- console (last 40 lines; all of it in $con_log)"; tail -40 "$con_log"; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
