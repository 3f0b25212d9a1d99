#!/usr/bin/env bash
# make demo's image step: boot the appliance image (output/images/disk.img)
# in QEMU on the lab's bridge, give it its ASA credential and configuration
# (written into its data partition; the management API comes later), and
# show alice authenticated through the VM's VIP to cas1/cas2, in kcd mode
# (Apache sees her by delegation) and in header mode.  The VM is left
# running; `make demo-stop` ends it and the lab.
KG_WORK_NAME=demo-vm
KG_CONF_TEMPLATE=tests/integration/image.json.in
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/integration/lib.sh"
# shellcheck source=tests/integration/vmlib.sh
source "$top/tests/integration/vmlib.sh"
trap - EXIT		# the back-ends and the VM stay up after the demo

[ -r "$disk_src" ] || { echo "no $disk_src: make image"; exit 1; }
setup
make_data
echo "booting the image under QEMU (TCG); console log: $con_log"
boot_vm || { nok "the image boots and serves the VIP"; tail -30 "$con_log"; vm_stop; exit 1; }
ok "the appliance serves the VIP 10.77.0.100 (its own address 10.77.0.50)"

kinit_as alice >/dev/null || { nok "kinit alice"; exit 1; }
nodes=""
for i in 1 2; do
	if [ "$(vip_curl --negotiate -u : http://mail.corp.contoso.com/whoami)" = 200 ] &&
		body_has "user: alice@CORP.CONTOSO.COM"; then
		n=$(sed -n 's/^node: //p' "$work/body"); nodes="$nodes $n"
		ok "kcd mode: Apache on $n sees alice@CORP.CONTOSO.COM through the VM's VIP (ticket by delegation)"
	else
		nok "kcd mode: alice through the VM's VIP"; cat "$work/body"
	fi
done
if [ "$(vip_curl --negotiate -u : http://mail.corp.contoso.com/hdr/whoami)" = 200 ] &&
	body_has "user: alice@CORP.CONTOSO.COM"; then
	ok "header mode: the back-end on $(sed -n 's/^node: //p' "$work/body") gets alice in the signed identity header"
else
	nok "header mode: alice through the VM's VIP"
fi
vm 'cat /etc/kerbgate-release; uptime' | sed 's/^/    appliance: /'
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
