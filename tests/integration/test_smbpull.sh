#!/usr/bin/env bash
# Pull mode (docs/package.md): kerbgate-roll --package writes the appliance's
# sealed package into a share [kgpkg] of a second smbd (standalone, port
# 4445) in the lab's dc namespace; kerbgate-smbpull (in the lb namespace,
# password auth to the share) fetches it and hands it to
# kerbgate-mgmtd, which stages it; the roll sets AD only once the appliance
# lists it staged; the next pull verifies and activates it, and a client with
# a fresh ticket gets in.  A tampered package and one signed by another key
# are refused and change nothing.  Then the same with Kerberos (alice's
# credential cache) through the DC's own smbd, which shares the folder as
# [kgpkg]; a missing and an expired cache are said in words.  Needs
# `tests/lab/lab up`.
# Last line: N passed, N failed.
KG_WORK_NAME=smbpull
KG_CONF_TEMPLATE=tests/integration/roll.json.in
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

vip=$KGLAB_VIP
pkg=$KGLAB_SHARE_DIR/lb1.kgpkg
mgmtd_pid=
pull_pid=
smbpull_cleanup() {
	{
		[ -n "$mgmtd_pid" ] && kill "$mgmtd_pid"
		[ -n "$pull_pid" ] && kill "$pull_pid"
		[ -r "$work/smbd/run/smbd.pid" ] && kill "$(cat "$work/smbd/run/smbd.pid")"
		rm -f "$KGLAB_SHARE_DIR"/*.kgpkg
	} 2>/dev/null
	cleanup
}
trap smbpull_cleanup EXIT

if [ ! -x "$out/bin/kerbgate-smbpull" ]; then
	echo "not ok - kerbgate-smbpull is built (install libsmbclient-dev: toolchain/debian-packages.txt)"
	echo "0 passed, 1 failed"; exit 1
fi

certs_and_keys() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=Management CA" -keyout "$work/mca.key" -out "$work/mca.pem" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=Contoso/CN=smbpull" \
		-keyout "$work/client.key" -out "$work/client.csr" 2>/dev/null
	openssl x509 -req -in "$work/client.csr" -CA "$work/mca.pem" -CAkey "$work/mca.key" \
		-CAcreateserial -days 2 -out "$work/client.pem" \
		-extfile <(printf 'extendedKeyUsage=clientAuth') 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$vip" \
		-keyout "$work/mgmt.key" -out "$work/mgmt.csr" 2>/dev/null
	openssl x509 -req -in "$work/mgmt.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
		-CAcreateserial -days 2 -out "$work/mgmt.pem" \
		-extfile <(printf 'subjectAltName=IP:%s' "$vip") 2>/dev/null
	chmod 0640 "$work/mgmt.key"; chgrp _kgmgmt "$work/mgmt.key"
	chmod 0600 "$work/client.key"
	# The management plane's signing key, another one, and the appliance's package key.
	openssl genpkey -algorithm ED25519 -out "$work/signer.key" 2>/dev/null
	openssl pkey -in "$work/signer.key" -pubout -out "$work/signer.pub"
	openssl genpkey -algorithm ED25519 -out "$work/rogue.key" 2>/dev/null
	openssl genpkey -algorithm X25519 -out "$work/package.key" 2>/dev/null
	openssl pkey -in "$work/package.key" -pubout -out "$work/package.pub"
	chmod 0600 "$work/signer.key" "$work/rogue.key" "$work/package.key"
}

# A standalone smbd of the test's own beside the DC's: one local user,
# kgpull, may read [kgpkg].
start_smbd() {
	local d=$work/smbd pw
	mkdir -p "$d/run" "$d/lock" "$d/state" "$d/cache" "$d/private"
	cat >"$d/smb.conf" <<-EOF
	[global]
	server role = standalone server
	smb ports = 4445
	interfaces = $KGLAB_DC_IP
	bind interfaces only = yes
	pid directory = $d/run
	lock directory = $d/lock
	state directory = $d/state
	cache directory = $d/cache
	private dir = $d/private
	ncalrpc dir = $d/run/ncalrpc
	passdb backend = tdbsam:$d/private/passdb.tdb
	log file = $d/log.smbd
	log level = 1 auth_audit:3
	load printers = no
	printcap name = /dev/null
	disable spoolss = yes
	map to guest = never
	[kgpkg]
	path = $KGLAB_SHARE_DIR
	read only = yes
	EOF
	id kgpull >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin kgpull
	pw=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')Aa1-
	printf '%s\n' "$pw" >"$work/share.pw"; chmod 0600 "$work/share.pw"
	printf '%s\n%s\n' "$pw" "$pw" | pdbedit -s "$d/smb.conf" -a -u kgpull -t >/dev/null 2>&1 || return 1
	# Its own mount namespace with /run/samba hidden: the DC's winbindd
	# listens at /run/samba/winbindd (tests/lab/lab), and this standalone
	# server must map its local user itself, not ask the DC's winbindd.
	$lab exec dc unshare -m sh -c 'mount -t tmpfs -o mode=0755 tmpfs /run/samba && exec smbd -s "$1" -D' \
		smbd "$d/smb.conf" || return 1
	for _ in $(seq 50); do $lab exec dc ss -Hltn | grep -q "$KGLAB_DC_IP:4445 " && return 0; sleep 0.1; done
	return 1
}

setup
getent group _kgmgmt >/dev/null || groupadd --system _kgmgmt
id _kgmgmt >/dev/null 2>&1 || useradd --system --no-create-home --gid _kgmgmt --shell /usr/sbin/nologin _kgmgmt
certs_and_keys
start_smbd || { nok "a second smbd serves [kgpkg] in the dc namespace"; finish; exit 1; }
sed -e "s|@WORK@|$work|g" -e "s|@N@|1|g" -e "s|@PORT@|80|g" tests/integration/roll.json.in >"$work/kerbgated.json"
mkdir -p "$work/log1" "$work/data1"; chmod 0700 "$work/data1"
cat >"$work/mgmtd.json" <<EOF
{ "listen": "$vip:8443",
  "tls": { "cert": "$work/mgmt.pem", "key": "$work/mgmt.key", "client_ca": "$work/mca.pem" },
  "control_socket": "$work/run1/control.sock",
  "audit_log": "$work/log1/audit.log",
  "package": { "signer_key": "$work/signer.pub", "key": "$work/package.key" },
  "user": "_kgmgmt" }
EOF
cat >"$work/smbpull.json" <<EOF
{ "url": "smb://$KGLAB_DC_IP:4445/kgpkg/lb1.kgpkg",
  "auth": { "user": "kgpull", "password_file": "$work/share.pw" },
  "interval": 2,
  "mgmtd": "https://$vip:8443",
  "tls": { "ca": "$work/ca.pem", "cert": "$work/client.pem", "key": "$work/client.key" },
  "state_file": "$work/data1/smbpull.last" }
EOF
cat >"$work/roll.json" <<EOF
{ "account": "$KGLAB_ASA_PRINCIPAL",
  "spn": "http/mail.$KGLAB_DNSDOMAIN@$KGLAB_REALM",
  "appliances": [ { "name": "lb1", "url": "https://$vip:8443", "package_key": "$work/package.pub" } ],
  "package": { "signer_key": "$work/signer.key", "lifetime_days": 1 },
  "tls": { "ca": "$work/ca.pem", "cert": "$work/client.pem", "key": "$work/client.key" } }
EOF
start_or_exit
lb "$top/$out/bin/kerbgate-mgmtd" -d -f "$work/mgmtd.json" >>"$work/mgmtd.log" 2>&1 &
for _ in $(seq 50); do grep -q listening "$work/mgmtd.log" 2>/dev/null && break; sleep 0.1; done
mgmtd_pid=$(pgrep -n -f "^$top/$out/bin/kerbgate-mgmtd -d -f $work/mgmtd.json")
lb "$top/$out/bin/kerbgate-smbpull" -d -f "$work/smbpull.json" >>"$work/smbpull.log" 2>&1 &
sleep 0.5
pull_pid=$(pgrep -n -f "^$top/$out/bin/kerbgate-smbpull -d -f $work/smbpull.json")
echo "$KGLAB_ADMIN_PASSWORD" >"$work/admin.pw"; chmod 600 "$work/admin.pw"
client env KRB5CCNAME="FILE:$work/cc-admin" kinit --password-file="$work/admin.pw" \
	"Administrator@$KGLAB_REALM" >/dev/null 2>&1

roll() { client env KRB5CCNAME="FILE:$work/cc-admin" "$top/$out/bin/kerbgate-roll" -c "$work/roll.json" "$@" \
	>"$work/roll.out" 2>&1; local rc=$?; sed 's/^/   | /' "$work/roll.out"; return $rc; }
mgmt_curl() { client curl -s -o "$work/body" -w '%{http_code}' --max-time 20 --cacert "$work/ca.pem" \
	--cert "$work/client.pem" --key "$work/client.key" "$@"; }
active_kvno() {
	[ "$(mgmt_curl "https://$vip:8443/api/v1/credentials")" = 200 ] &&
		python3 -c 'import json,sys; print([k["kvno"] for k in json.load(open(sys.argv[1]))["credentials"]["kvnos"] if k["state"]=="active"][0])' "$work/body"
}
pull_log=$work/smbpull.log
wait_log() {	# PATTERN SECONDS
	for _ in $(seq $(($2 * 10))); do grep -q -- "$1" "$pull_log" && return 0; sleep 0.1; done
	return 1
}
fresh_ticket_gets_in() {
	client env KRB5CCNAME="FILE:$work/cc-bob" kinit --password-file="$KGLAB_BOB_PWFILE" "bob@$KGLAB_REALM" >/dev/null 2>&1 &&
		[ "$(client env KRB5CCNAME="FILE:$work/cc-bob" curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
			--negotiate -u : http://mail.corp.contoso.com/fresh)" = 200 ]
}

k0=$KGLAB_ASA_KVNO
n=$((k0 + 1))

t_roll_package_sets_ad_after_staging() {
	roll --package "$KGLAB_SHARE_DIR" --package-wait 60 rotate &&
		grep -q "AD has the new password (kvno $n)" "$work/roll.out" &&
		grep -q "lb1 .*kvno $n staged" "$work/roll.out" &&
		grep -q "action=package-stage kvno=$n result=\"ok" "$work/log1/audit.log"
}

t_next_pull_activates() {
	wait_log "package applied" 20 && [ "$(active_kvno)" = "$n" ] &&
		grep -q "action=package-activate kvno=$n result=\"ok" "$work/log1/audit.log"
}

t_fresh_ticket_works() { fresh_ticket_gets_in; }

t_not_applied_twice() {
	sleep 5	# two more pulls of the same file
	[ "$(grep -c "action=package-activate" "$work/log1/audit.log")" = 1 ] &&
		[ "$(grep -c "package applied" "$work/smbpull.log")" = 1 ]
}

t_tampered_is_refused() {
	local before
	before=$(grep -c . "$work/log1/audit.log")
	python3 -c 'import sys; b=bytearray(open(sys.argv[1],"rb").read()); b[130]^=1; open(sys.argv[1]+".tmp","wb").write(b)' "$pkg" &&
		mv "$pkg.tmp" "$pkg" &&
		wait_log "package refused (400): the package's signature does not verify" 20 &&
		[ "$(active_kvno)" = "$n" ] && ! grep -q "$((n + 1)):" "$work/body" &&
		[ "$(tail -n +$((before + 1)) "$work/log1/audit.log" | grep -c 'action=package kvno=0 result="refused')" -ge 1 ] &&
		! tail -n +$((before + 1)) "$work/log1/audit.log" | grep -q 'action=package-stage' && return 0
	# what happened instead
	echo "   smbpull's log (last 8 lines):"; tail -8 "$pull_log" | sed 's/^/   | /'
	echo "   the audit log since:"; tail -n +$((before + 1)) "$work/log1/audit.log" | sed 's/^/   | /'
	echo "   active kvno $(active_kvno), expected $n"
	return 1
}

t_rogue_signer_is_refused() {
	# A package sealed to this appliance, for the next kvno, by a key it does not pin.
	local rogue=$work/rogue.json
	sed "s|$work/signer.key|$work/rogue.key|" "$work/roll.json" >"$rogue"
	client env KRB5CCNAME="FILE:$work/cc-admin" "$top/$out/bin/kerbgate-roll" -c "$rogue" \
		--package "$KGLAB_SHARE_DIR" --package-wait 6 rotate >"$work/roll-rogue.out" 2>&1
	# The roll waited, the appliance never staged it: AD untouched, package removed.
	grep -q "Nothing changed in AD" "$work/roll-rogue.out" && [ ! -e "$pkg" ] &&
		grep -q "signed by another management plane" "$work/smbpull.log" &&
		[ "$(active_kvno)" = "$n" ] && fresh_ticket_gets_in
}

t_no_plaintext_written() {
	# The package's plaintext is a JSON object with a "password" member.
	! grep -rqs '"password"' "$work/data1" "$KGLAB_SHARE_DIR" "$work/smbpull.log" &&
		[ "$(stat -c %a "$work/data1/smbpull.last")" = 600 ] &&
		grep -Eq '^[0-9a-f]{64}$' "$work/data1/smbpull.last"
}

check "kerbgate-roll --package: the appliance stages the pulled package before AD changes" t_roll_package_sets_ad_after_staging
check "the next pull verifies and activates it (mgmtd's audit log says so)" t_next_pull_activates
check "a client with a fresh ticket (new kvno) gets in" t_fresh_ticket_works
check "the same package is not applied twice" t_not_applied_twice
check "a tampered package is refused in words; nothing staged, the active kvno unchanged" t_tampered_is_refused
check "a package signed by another key is refused; the roll leaves AD untouched" t_rogue_signer_is_refused
check "smbpull keeps only a hash (0600), no plaintext anywhere" t_no_plaintext_written
# Kerberos: the DC's own smbd serves the same folder as [kgpkg]
# (tests/lab/lab); smbpull authenticates with alice's credential cache.
krb() { lb env KRB5_CONFIG="$KGLAB_KRB5_CONFIG" "$@"; }
start_kerberos_pull() {
	kill "$pull_pid" 2>/dev/null; pull_pid=
	kdc_lines=$(wc -l <"$KGLAB_KDC_LOG")
	grep -q '^\[kgpkg\]' "$KGLAB_SMB_CONF" || { echo "# the lab has no [kgpkg] share on the DC: tests/lab/lab down; tests/lab/lab up"; return 1; }
	# Its own user this time, its state and credential cache in its folder.
	id _kgpull >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin _kgpull
	install -d -m 0700 -o _kgpull "$work/pull-krb"
	cp "$work/data1/smbpull.last" "$work/pull-krb/last-applied" && chown _kgpull "$work/pull-krb/last-applied"
	krb env KRB5CCNAME="FILE:$work/pull-krb/ccache" kinit --password-file="$KGLAB_ALICE_PWFILE" "alice@$KGLAB_REALM" || return 1
	chown _kgpull "$work/pull-krb/ccache"
	sed -e "s|smb://$KGLAB_DC_IP:4445/kgpkg/|smb://dc1.$KGLAB_DNSDOMAIN/kgpkg/|" \
		-e 's|"auth": {[^}]*}|"auth": { "kerberos": true }|' \
		-e "s|\"state_file\": \"[^\"]*\"|\"state_file\": \"$work/pull-krb/last-applied\", \"user\": \"_kgpull\"|" \
		"$work/smbpull.json" >"$work/smbpull-krb.json"
	pull_log=$work/smbpull-krb.log
	krb env KRB5CCNAME="FILE:$work/pull-krb/ccache" "$top/$out/bin/kerbgate-smbpull" -d -f "$work/smbpull-krb.json" >>"$pull_log" 2>&1 &
	wait_log "(Kerberos)" 10 || return 1
	pull_pid=$(pgrep -n -f "^$top/$out/bin/kerbgate-smbpull -d -f $work/smbpull-krb.json")
	[ -n "$pull_pid" ]
}

t_kerberos_pull_activates() {
	local m=$((n + 1))
	roll --package "$KGLAB_SHARE_DIR" --package-wait 60 rotate &&
		grep -q "lb1 .*kvno $m staged" "$work/roll.out" &&
		wait_log "package applied" 20 && [ "$(active_kvno)" = "$m" ] &&
		grep -q "action=package-activate kvno=$m result=\"ok" "$work/log1/audit.log" &&
		fresh_ticket_gets_in
}

t_dc_saw_kerberos() {
	# The KDC gave alice, on the lb host, a ticket for the DC's SMB service.
	tail -n +"$((kdc_lines + 1))" "$KGLAB_KDC_LOG" | grep -a "TGS-REQ SUCCESS ipv4:$KGLAB_LB_IP:" |
		grep -qF "alice@$KGLAB_REALM cifs/dc1.$KGLAB_DNSDOMAIN@$KGLAB_REALM"
}

t_kerberos_pull_is_confined() {
	# Its own user, NoNewPrivs, the seccomp filter (2), and Landlock.
	local st=/proc/$pull_pid/status
	[ "$(awk '/^Uid:/ {print $2}' "$st")" = "$(id -u _kgpull)" ] &&
		grep -q '^NoNewPrivs:[[:space:]]*1$' "$st" && grep -q '^Seccomp:[[:space:]]*2$' "$st" &&
		grep -q "confined: uid $(id -u _kgpull), NoNewPrivs, Landlock ABI [0-9]* (write: $work/pull-krb), seccomp deny-list" "$pull_log"
}

t_missing_ccache_is_said() {
	! krb env KRB5CCNAME="FILE:$work/no-such-cc" "$top/$out/bin/kerbgate-smbpull" -1 \
		-f "$work/smbpull-krb.json" >"$work/pull-nocc.log" 2>&1 &&
		grep -q "no Kerberos credential cache at $work/no-such-cc" "$work/pull-nocc.log"
}

t_expired_ccache_is_said() {
	krb env KRB5CCNAME="FILE:$work/pull-krb/cc-short" kinit --lifetime=3s \
		--password-file="$KGLAB_ALICE_PWFILE" "alice@$KGLAB_REALM" || return 1
	chown _kgpull "$work/pull-krb/cc-short"
	sleep 4	# the ticket expires
	! krb env KRB5CCNAME="FILE:$work/pull-krb/cc-short" "$top/$out/bin/kerbgate-smbpull" -1 \
		-f "$work/smbpull-krb.json" >"$work/pull-expired.log" 2>&1 &&
		grep -q "the server refused the Kerberos credentials: the credential cache (KRB5CCNAME) has no valid ticket" \
			"$work/pull-expired.log"
}

if start_kerberos_pull; then
	check "Kerberos: a roll through the DC's own [kgpkg] share is staged and activated, a fresh ticket gets in" t_kerberos_pull_activates
	check "Kerberos: the KDC issued alice, on the lb host, a ticket for the DC's cifs service" t_dc_saw_kerberos
	check "smbpull runs confined: its own user, NoNewPrivs, seccomp, Landlock limited to its folder" t_kerberos_pull_is_confined
else
	nok "Kerberos: smbpull starts with alice's credential cache"
fi
check "Kerberos: a missing credential cache is said in words" t_missing_ccache_is_said
check "Kerberos: an expired credential cache is said in words" t_expired_ccache_is_said

if [ "$failed" -gt 0 ]; then
	echo "--- smbpull log (last 20 lines)"; tail -20 "$pull_log"
	echo "--- mgmtd log (last 10 lines)"; tail -10 "$work/mgmtd.log"
	echo "--- smbd log (last 15 lines)"; tail -15 "$work/smbd/log.smbd"
fi
finish
