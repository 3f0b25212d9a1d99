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

appliance_ip=10.77.0.50
mgmt_url=https://$appliance_ip:8443
mgmt=$work/mgmt

# The management plane's certificates: a management CA, the appliance's
# server certificate (for its address) and an admin's client certificate
# (extended key usage clientAuth, docs/api.md).
mgmt_leaf() {	# name subject extension
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$2" \
		-keyout "$mgmt/$1.key" -out "$mgmt/$1.csr" 2>/dev/null
	openssl x509 -req -in "$mgmt/$1.csr" -CA "$mgmt/ca.pem" -CAkey "$mgmt/ca.key" \
		-CAcreateserial -days 2 -out "$mgmt/$1.pem" -extfile <(printf '%s' "$3") 2>/dev/null
	chmod 0600 "$mgmt/$1.key"
}
make_mgmt_certs() {
	rm -rf "$mgmt"; mkdir -p "$mgmt"; chmod 0700 "$mgmt"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/O=Contoso/CN=Contoso management CA" -keyout "$mgmt/ca.key" \
		-out "$mgmt/ca.pem" 2>/dev/null
	mgmt_leaf server "/O=Contoso/CN=appliance1" "subjectAltName=IP:$appliance_ip"
	mgmt_leaf admin "/O=Contoso/CN=admin" "extendedKeyUsage=clientAuth"
}

# The VM's /data as provisioning leaves it, written into a copy of the disk:
# kerbgated's configuration (no keytab: its sealed store starts empty), the
# VIP certificate and the header secret (lib.sh's setup made them in
# $work), and in /data/mgmt the pinned management CA with the appliance's
# certificate.  The ASA credential comes later, through the management API.
make_data() {
	local d=$work/data
	make_mgmt_certs
	rm -rf "$d"; mkdir -p "$d/kerbgate" "$d/mgmt"; chmod 0700 "$d/kerbgate" "$d/mgmt"
	sed "s|$work|/etc/kerbgate|g" "$work/kerbgated.json" >"$d/kerbgate/kerbgated.json"
	install -m 0600 "$work/mail.key" "$d/kerbgate/"
	install -m 0644 "$work/mail.pem" "$work/pool.secret" "$d/kerbgate/"
	install -m 0600 "$mgmt/server.key" "$d/mgmt/"
	install -m 0644 "$mgmt/server.pem" "$d/mgmt/"
	install -m 0644 "$mgmt/ca.pem" "$d/mgmt/management-ca.pem"
	cp "$disk_src" "$disk"
	firmware/setdata.sh "$disk" "$d"
}

# A request to the appliance's management API from the lab's client host,
# as the admin (mutual TLS; the management CA pinned both ways).  METHOD
# PATH [BODYFILE]; prints the HTTP status, the answer in $work/api.body.
mgmt_api() {
	local body=()
	[ -n "${3:-}" ] && body=(-H 'Content-Type: application/json' --data-binary "@$3")
	client curl -s -o "$work/api.body" -w '%{http_code}' --max-time 90 \
		--cacert "$mgmt/ca.pem" --cert "$mgmt/admin.pem" --key "$mgmt/admin.key" \
		-X "$1" "${body[@]}" "$mgmt_url$2"
}
# The answer's message or error: its first line for a 200 (STATUS), all of
# it otherwise (a refusal names the reason on its later lines).
api_says() {
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
m = (d.get("message") or d.get("error") or json.dumps(d)).splitlines()
print("\n        ".join(m[:1] if sys.argv[2] == "200" else m))' \
		"$work/api.body" "$1" 2>/dev/null || head -c 200 "$work/api.body"
}
# Until the API answers with kerbgated behind it (mgmtd and kerbgated up).
wait_api() {
	local t0=$SECONDS
	while [ $((SECONDS - t0)) -lt "$BOOT_WAIT" ]; do
		[ "$(mgmt_api GET /api/v1/credentials)" = 200 ] && return 0
		sleep 1
	done
	return 1
}

# The ASA's credential through the management API, as an admin gives it:
# the account's password in AD set to the lab's (an earlier script may have
# rotated it: test_kerbgated.sh leaves a random one), then the same password
# staged as AD's current kvno (the keyholder derives the keys with AD's
# salt), verified against the lab's KDC from inside the VM, activated.  The
# password goes in a 0600 body file, never on a command line.  One line per
# call: what it sent, the status, what the API said.
give_credential() {
	local stage=$mgmt/stage.json kvno st rc=0
	$lab asa-reset >"$mgmt/asa-reset.log" 2>&1 || { echo "  lab asa-reset failed:"; cat "$mgmt/asa-reset.log"; return 1; }
	# shellcheck disable=SC1091
	source "$KGLAB_DIR/lab.env"
	kvno=$KGLAB_ASA_KVNO
	echo "  AD:  $KGLAB_ASA_PRINCIPAL's password set (samba-tool, as an admin would): kvno $kvno"
	( umask 077; KG_ASA_PW=$KGLAB_ASA_PASSWORD python3 -c 'import json, os, sys
print(json.dumps({"account": sys.argv[1], "kvno": int(sys.argv[2]), "password": os.environ["KG_ASA_PW"]}))' \
		"$KGLAB_ASA_PRINCIPAL" "$kvno" >"$stage" )
	st=$(mgmt_api PUT /api/v1/credentials/staged "$stage")
	rm -f "$stage"
	echo "  PUT  $mgmt_url/api/v1/credentials/staged ($KGLAB_ASA_PRINCIPAL, kvno $kvno, its password): $st $(api_says "$st")"
	[ "$st" = 200 ] || return 1
	echo "{\"kvno\": $kvno}" >"$mgmt/kvno.json"
	for step in verify activate; do
		st=$(mgmt_api POST "/api/v1/credentials/staged/$step" "$mgmt/kvno.json")
		echo "  POST $mgmt_url/api/v1/credentials/staged/$step (kvno $kvno): $st $(api_says "$st")"
		[ "$st" = 200 ] || { rc=1; break; }
	done
	return $rc
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

# The back-ends first (the VM's health checks would eject refused ones),
# then the boot; the script ends here if the image does not serve the VIP.
boot_vm_or_exit() {
	local n ip
	for n in cas1 cas2; do
		ip=$([ $n = cas1 ] && echo "$KGLAB_CAS1_IP" || echo "$KGLAB_CAS2_IP")
		for _ in $(seq 50); do lb curl -s -o /dev/null "http://$ip:8080/health" && break; sleep 0.2; done
	done
	if ! boot_vm; then
		nok "the image boots and serves the VIP"; tail -40 "$con_log"
		echo "$passed passed, $failed failed"; exit 1
	fi
	ok "the image boots and serves the VIP"
}
