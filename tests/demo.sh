#!/usr/bin/env bash
# make demo: the most complete end-to-end path that exists today, against a
# throwaway Active Directory domain in network namespaces.  Each step says in
# one line what it shows; the checks under it print "ok - ..." or
# "not ok - ..." in words.  The lab and one kerbgated are left running at the
# end so that a newcomer can try them; the last lines say how, and how to take
# everything down.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-output}
lab=tests/lab/lab
logs=$out/demo-logs
mkdir -p "$logs"

step=0; failed_steps=()
say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
# run_step WHAT CMD...: one numbered line, the command's own lines indented.
run_step() {
	local what=$1; shift
	step=$((step + 1))
	say "[$step] $what"
	if "$@" 2>&1 | sed -u 's/^/    /'; [ "${PIPESTATUS[0]}" -eq 0 ]; then
		return 0
	fi
	failed_steps+=("[$step] $what")
	return 1
}
teardown_on_failure() {
	say "Taking the lab down after the failure (make lab-up brings it back)."
	$lab down >/dev/null 2>&1 || true
}

if ip netns list 2>/dev/null | grep -q '^kglab-' || [ -e /run/kerbgate-lab ]; then
	say "A lab from an earlier run is still up: taking it down first."
	$lab down >/dev/null 2>&1
fi

trap 'teardown_on_failure; exit 130' INT TERM
if ! run_step "Bring up the lab: a Samba AD DC for CORP.CONTOSO.COM and hosts client, lb, cas1, cas2" \
	$lab up; then
	echo "demo: the lab did not come up; the lines above say why." >&2
	teardown_on_failure
	exit 1
fi
run_step "Check the lab itself: real kinit, curl --negotiate to Apache, S4U2Self and S4U2Proxy at the DC" \
	$lab selftest
run_step "kcd mode: alice authenticates at the VIP 10.77.0.100 with the ASA's keys; Apache on cas1/cas2 sees her through a delegated ticket and its own keytab" \
	env KG_OUT="$out" tests/integration/test_kcd.sh
run_step "header mode: TLS, SPNEGO as Windows sends it, Extended Protection, Outlook Anywhere streaming, refusals in words" \
	env KG_OUT="$out" tests/integration/test_kerbgated.sh
if [ -r "$out/images/disk.img" ]; then
	vm=1
	run_step "The appliance image: boot it under QEMU on the lab's bridge, give it the ASA credential through its management API (mutual TLS), alice through the VM's VIP to cas1/cas2 (left running)" \
		env KG_OUT="$out" tests/demo-image.sh
else
	vm=0
	run_step "Leave kerbgated (kcd mode) serving the VIP so you can try it (no image was built)" \
		env KG_OUT="$out" tests/demo-serve.sh
fi

say "Firmware updates are not run here (they reboot the appliance): the signed bundle is $out/images/kerbgate-qemu_x86_64-*.raucb;
    make test flashes one through the web page in QEMU (tests/firmware/test_webfw_vm.sh, docs/webui.md)."
if [ ${#failed_steps[@]} -gt 0 ]; then
	say "demo FAILED in ${#failed_steps[@]} step(s):"
	printf '    %s\n' "${failed_steps[@]}"
	echo "    Each failed check above reads 'not ok - ...'; kerbgated's log is in /run/kerbgate-lab/*/kerbgated.log."
	teardown_on_failure
	exit 1
fi
cat <<EOF

$(printf '\033[1m%s\033[0m' "Done: every step passed.  The lab is still up, with kerbgated on the VIP.")
    Lab state:   /run/kerbgate-lab (krb5.conf, keytabs, logs); namespaces: ip netns list | grep kglab-
    Try it:      tests/lab/lab exec client kinit --password-file=/run/kerbgate-lab/pw/alice alice@CORP.CONTOSO.COM
                 tests/lab/lab exec client curl --negotiate -u : http://mail.corp.contoso.com/whoami
EOF
if [ $vm = 1 ]; then
	cat <<EOF
    The VIP:     10.77.0.100, served by the appliance VM (10.77.0.50); QEMU pid $(cat /run/kerbgate-lab/demo-vm/qemu.pid 2>/dev/null)
    Its console: python3 tests/integration/vmconsole.py /run/kerbgate-lab/demo-vm/console.sock 30 'tail /data/log/messages'
                 (everything it printed: /run/kerbgate-lab/demo-vm/console.log)
    Take down:   make demo-stop    (stops the VM, Samba and Apache, removes the namespaces)
EOF
else
	cat <<EOF
    Its log:     /run/kerbgate-lab/demo/kerbgated.log
    Take down:   make lab-down     (stops kerbgated, Samba and Apache, removes the namespaces)
EOF
fi
