#!/usr/bin/env bash
# The last step of `make demo`: start kerbgated in kcd mode in the lab's lb
# namespace and leave it running (with the lab) for the user to try.
# `make lab-down` stops it with everything else in the lab's namespaces.
KG_WORK_NAME=demo
KG_CONF_TEMPLATE=tests/integration/kcd.json.in
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/integration/lib.sh"

setup
start_or_exit
kinit_as alice >/dev/null 2>&1
check "alice (kinit in the client namespace) gets 200 from a back-end through the VIP" \
	eval '[ "$(vip_curl --negotiate -u : http://mail.corp.contoso.com/whoami)" = 200 ] && body_has "user: alice@CORP.CONTOSO.COM"'
# Keep the daemon and the back-ends: no cleanup on exit.
trap - EXIT
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
