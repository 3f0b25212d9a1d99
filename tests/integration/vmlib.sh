# The appliance image in QEMU on the lab's bridge, for test_image.sh and the
# demo: source after lib.sh (it uses $work, $out, vip_curl).
# shellcheck shell=bash
disk_src=$out/images/disk.img
disk=$work/disk.img
sock=$work/console.sock
con_log=$work/console.log
qpid=$work/qemu.pid
# Generous bounds: they catch a hang, not a slow machine (TCG, 2 shared cores).
BOOT_WAIT=${KG_IMAGE_BOOT_WAIT:-240}

# A command in the VM's console shell; its output, its exit status.
vm() { timeout 90 /usr/bin/python3 "$top/tests/integration/vmconsole.py" "$sock" 60 "$*"; }

vm_stop() {
	[ -s "$qpid" ] && kill "$(cat "$qpid")" 2>/dev/null
	for _ in $(seq 50); do [ -s "$qpid" ] && kill -0 "$(cat "$qpid")" 2>/dev/null || break; sleep 0.2; done
	board/qemu_x86_64/qemu.sh --restore
}

# The VM's /data: its configuration, the ASA keytab, the VIP certificate
# and the header secret (lib.sh's setup made them in $work), as the
# management API will later write them; written into a copy of the disk.
make_data() {
	local d=$work/data
	rm -rf "$d"; mkdir -p "$d/kerbgate"; chmod 0700 "$d/kerbgate"
	sed "s|$work|/etc/kerbgate|g" "$work/kerbgated.json" >"$d/kerbgate/kerbgated.json"
	install -m 0600 "$work/asa.keytab" "$work/mail.key" "$d/kerbgate/"
	install -m 0644 "$work/mail.pem" "$work/pool.secret" "$d/kerbgate/"
	cp "$disk_src" "$disk"
	firmware/setdata.sh "$disk" "$d"
}

# Any answer from a back-end through the VM's VIP.
vip_serves() { [[ $(vip_curl --max-time 3 http://mail.corp.contoso.com/public/ping) == [234]?? ]]; }
wait_serving() {
	local t0=$SECONDS
	while [ $((SECONDS - t0)) -lt "$BOOT_WAIT" ]; do
		vip_serves && return 0
		sleep 0.5
	done
	return 1
}

# Figures for bench/image.sh (KG_IMAGE_MEASURE=file); never asserted.
measure() { [ -z "${KG_IMAGE_MEASURE:-}" ] || echo "$*" >>"$KG_IMAGE_MEASURE"; }

# Boots the disk; returns once the VIP answers.  Says how long that took.
boot_vm() {
	local t0 s
	rm -f "$sock" "$qpid"
	t0=$(date +%s.%N)
	KGQ_CONSOLE_SOCK=$sock KGQ_CONSOLE_LOG=$con_log KGQ_PIDFILE=$qpid \
		board/qemu_x86_64/qemu.sh "$disk" || return 1
	wait_serving || return 1
	s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
	echo "boot: QEMU start to the VIP answering in $s s (not asserted)"
	measure "boot (QEMU start to the VIP answering, TCG): $s s"
}
