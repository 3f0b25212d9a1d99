#!/usr/bin/env bash
# make demo's image step: boot the appliance image (output/images/disk.img)
# in QEMU on the lab's bridge with /data as provisioning leaves it (its
# configuration, the pinned management CA and its own certificate; no
# credential), give it the ASA credential through the management API
# (kerbgate-mgmtd, mutual TLS: stage the password, verify against the
# lab's KDC from inside the VM, activate), and show alice authenticated
# through the VM's VIP to cas1/cas2, in kcd mode (Apache sees her by
# delegation) and in header mode; the admin's web page answers, asking for
# the setup code the console shows.  The VM is left running; `make
# demo-stop` ends it and the lab.
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
echo "provisioned /data: kerbgated.json (no keytab: the sealed store starts empty), the VIP's certificate,"
echo "  /data/mgmt: the pinned management CA and the appliance's certificate for $appliance_ip"
echo "booting the image under QEMU (TCG); console log: $con_log"
boot_vm || { nok "the image boots and serves the VIP"; tail -30 "$con_log"; vm_stop; exit 1; }
ok "the appliance serves the VIP 10.77.0.100 (its own address $appliance_ip), with no ASA credential yet"

if wait_api; then
	ok "the management API answers at $mgmt_url to the admin's client certificate: $(cat "$work/api.body")"
else
	nok "the management API answers at $mgmt_url"; cat "$work/api.body"
fi
if give_credential; then
	mgmt_api GET /api/v1/credentials >/dev/null
	ok "the ASA credential went through the management API: staged, verified against the KDC from the VM, active"
	echo "  GET  $mgmt_url/api/v1/credentials: $(cat "$work/api.body")"
else
	nok "the ASA credential through the management API (above: which call refused, and why)"
fi

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
# The admin's web page, on the appliance's own address: first boot asks for
# the setup code the console shows (docs/webui.md).
web_url=https://$appliance_ip:9443
code=$(tr -d '\r' <"$con_log" | grep -ao 'web setup code: [A-Z0-9-]*' | tail -1 | awk '{print $4}')
if client curl -sk --max-time 20 "$web_url/api/v1/web/session" | grep -q '"setup_required": *true' &&
	[ -n "$code" ]; then
	ok "the web page answers at $web_url and asks for the setup code the console shows ($code)"
else
	nok "the web page answers at $web_url, asking for the console's setup code"
fi
vm 'cat /etc/kerbgate-release; uptime' | sed 's/^/    appliance: /'
echo "    web page:       $web_url/ (setup code $code; from the lab's client namespace, as the API)"
echo "    management API: curl --cacert $mgmt/ca.pem --cert $mgmt/admin.pem --key $mgmt/admin.key $mgmt_url/api/v1/credentials"
echo "                    (from the lab's client: tests/lab/lab exec client curl ...)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
