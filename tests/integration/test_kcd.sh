#!/usr/bin/env bash
# kerbgated in kcd mode against the lab: clients authenticate at the VIP with
# the ASA's keys; kerbgated obtains, by constrained delegation, a ticket for
# each back-end's own SPN and sends it in `Authorization: Negotiate`.  cas1
# and cas2 run Apache + mod_auth_gssapi with their own keytabs only, and must
# see the user.  Needs `tests/lab/lab up` first.  Last line: N passed, N failed.
KG_WORK_NAME=kcd
KG_CONF_TEMPLATE=tests/integration/kcd.json.in
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

kdc_log=$KGLAB_KDC_LOG
kdc_mark() { wc -l <"$kdc_log"; }
kdc_count() { tail -n +"$(($1 + 1))" "$kdc_log" | grep -c -- "$2"; }
kgclient() { client /usr/bin/python3 "$top/tests/integration/kgclient.py" "$@"; }

# Two Extended Protection back-ends on cas1: :8444 speaks TLS 1.3 (and 1.2),
# :8445 only TLS 1.2, as an older IIS does.
start_ep_backend() {
	local port ok
	for port in 8444 8445; do
		$lab exec cas1 env KRB5_KTNAME="$KGLAB_CAS1_KEYTAB" /usr/bin/python3 \
			"$top/tests/integration/ep_backend.py" "$KGLAB_CAS1_IP" $port \
			"$work/cas1.pem" "$work/cas1.key" $([ $port = 8445 ] && echo 1.2) \
			>"$work/ep-$port.log" 2>&1 &
	done
	for port in 8444 8445; do
		ok=0
		for _ in $(seq 50); do
			lb curl -sk -o /dev/null "https://$KGLAB_CAS1_IP:$port/health" && { ok=1; break; }
			sleep 0.2
		done
		[ $ok = 1 ] || return 1
	done
}

# The configuration lists a dead KDC first (lb's own address: nothing
# listens on port 88 there), so every delegation below also shows failover
# to the second KDC.

# ------------------------------------------------------------------ tests

test_alice_seen_by_apache_on_both_backends() {
	local nodes="" i
	kinit_as alice >/dev/null
	for i in 1 2 3 4; do
		[ "$(vip_curl --negotiate -u : http://mail.corp.contoso.com/whoami)" = 200 ] || return 1
		body_has "user: alice@CORP.CONTOSO.COM" || return 1
		nodes="$nodes $(sed -n 's/^node: //p' "$work/body")"
	done
	[[ $nodes == *cas1* && $nodes == *cas2* ]]
}

test_asa_keytab_only_in_lb() {
	# The back-ends hold their own keys only: cas1's keytab has no ASA key.
	! ktutil -k "$KGLAB_CAS1_KEYTAB" list 2>/dev/null | grep -qi 'exchasa' &&
		! ktutil -k "$KGLAB_CAS2_KEYTAB" list 2>/dev/null | grep -qi 'exchasa' &&
		! grep -q "$(basename "$KGLAB_ASA_KEYTAB")" "$KGLAB_CAS1_APACHE_DIR"/*.conf 2>/dev/null
}

test_one_s4u2proxy_per_user_and_backend() {
	local m r n1 n2
	kinit_as alice >/dev/null
	# Fresh cache: a reload starts a new keyholder.
	kill -HUP "$kg_pid"; sleep 1.5
	m=$(kdc_mark)
	r=$(kgclient many "$KGLAB_VIP" 80 HTTP@mail.corp.contoso.com /whoami 50 20 alice@CORP.CONTOSO.COM)
	echo "$r"
	[[ $r == "requests 1000 ok 1000 wrong-user 0 errors 0" ]] || return 1
	n1=$(kdc_count "$m" "constrained delegation for alice@CORP.CONTOSO.COM .* to http/cas1")
	n2=$(kdc_count "$m" "constrained delegation for alice@CORP.CONTOSO.COM .* to http/cas2")
	echo "S4U2Proxy to cas1: $n1, to cas2: $n2"
	[ "$n1" = 1 ] && [ "$n2" = 1 ]
}

test_two_users_interleaved_never_mixed() {
	local ra rb
	client env KRB5CCNAME="FILE:$KGLAB_DIR/ccache/bob.kcd" \
		kinit --password-file="$KGLAB_BOB_PWFILE" "bob@$KGLAB_REALM" >/dev/null || return 1
	kgclient many "$KGLAB_VIP" 80 HTTP@mail.corp.contoso.com /one 10 20 alice@CORP.CONTOSO.COM >"$work/ra" &
	local pa=$!
	client env KRB5CCNAME="FILE:$KGLAB_DIR/ccache/bob.kcd" /usr/bin/python3 \
		"$top/tests/integration/kgclient.py" many "$KGLAB_VIP" 80 HTTP@mail.corp.contoso.com \
		/one 10 20 bob@CORP.CONTOSO.COM >"$work/rb"
	wait "$pa"
	ra=$(cat "$work/ra"); rb=$(cat "$work/rb")
	echo "alice: $ra"; echo "bob: $rb"
	[[ $ra == "requests 200 ok 200 wrong-user 0 errors 0" &&
		$rb == "requests 200 ok 200 wrong-user 0 errors 0" ]]
}

# Issue 15 item 7: a new token on an authenticated connection replaces the
# user, and the back-end connection used follows: Apache sees bob, not
# alice, for bob's request.
test_new_token_on_a_connection_delegates_for_the_new_user() {
	local ta tb r
	kinit_as alice >/dev/null
	client env KRB5CCNAME="FILE:$work/bob.cc" \
		kinit --password-file="$KGLAB_BOB_PWFILE" "bob@$KGLAB_REALM" >/dev/null || return 1
	ta=$(kgclient token HTTP@mail.corp.contoso.com)
	tb=$(client env KRB5CCNAME="FILE:$work/bob.cc" /usr/bin/python3 \
		"$top/tests/integration/kgclient.py" token HTTP@mail.corp.contoso.com)
	r=$(printf 'GET /one/a HTTP/1.1\r\nHost: mail.corp.contoso.com\r\nAuthorization: Negotiate %s\r\n\r\nGET /one/b HTTP/1.1\r\nHost: mail.corp.contoso.com\r\nAuthorization: Negotiate %s\r\n\r\nGET /one/c HTTP/1.1\r\nHost: mail.corp.contoso.com\r\nConnection: close\r\n\r\n' "$ta" "$tb" |
		kgclient raw "$KGLAB_VIP" 80 8)
	[ "$(grep '^user: ' <<<"$r" | tr -d '\r' | paste -sd,)" = \
		"user: alice@CORP.CONTOSO.COM,user: bob@CORP.CONTOSO.COM,user: bob@CORP.CONTOSO.COM" ] ||
		{ echo "$r" | grep -E '^(HTTP|user)'; return 1; }
}

test_extended_protection_backend_accepts_kerbgated() {
	[ "$(vip_curl --negotiate -u : http://mail.corp.contoso.com/ep)" = 200 ] &&
		body_has "node: ep-cas1" && body_has "user: alice@CORP.CONTOSO.COM" &&
		body_has "tls: TLSv1.3" || return 1
	# The same binding to a back-end that speaks TLS 1.2 only.
	[ "$(vip_curl --negotiate -u : http://mail.corp.contoso.com/ep12)" = 200 ] &&
		body_has "node: ep-cas1" && body_has "user: alice@CORP.CONTOSO.COM" &&
		body_has "tls: TLSv1.2"
}

test_extended_protection_backend_refuses_other_bindings() {
	local tok code
	# alice's own ticket for cas1, bound to another certificate: refused.
	tok=$(kgclient token HTTP@cas1.corp.contoso.com "$work/mail.pem")
	code=$(client curl -s -o "$work/ep.body" -w '%{http_code}' --cacert "$work/ca.pem" \
		-H "Authorization: Negotiate $tok" "https://cas1.corp.contoso.com:8444/x")
	[ "$code" = 401 ] || return 1
	# No bindings at all: refused too.
	tok=$(kgclient token HTTP@cas1.corp.contoso.com)
	code=$(client curl -s -o "$work/ep.body" -w '%{http_code}' --cacert "$work/ca.pem" \
		-H "Authorization: Negotiate $tok" "https://cas1.corp.contoso.com:8444/x")
	[ "$code" = 401 ] || return 1
	# Bound to cas1's own certificate: accepted (the check is not blanket).
	tok=$(kgclient token HTTP@cas1.corp.contoso.com "$work/cas1.pem")
	code=$(client curl -s -o "$work/ep.body" -w '%{http_code}' --cacert "$work/ca.pem" \
		-H "Authorization: Negotiate $tok" "https://cas1.corp.contoso.com:8444/x")
	[ "$code" = 200 ]
}

test_sensitive_user_is_refused_with_reason() {
	kinit_as carol >/dev/null
	local code
	code=$(vip_curl --negotiate -u : http://mail.corp.contoso.com/one/carol)
	kinit_as alice >/dev/null
	[ "$code" = 502 ] && log_has 'carol@CORP.CONTOSO.COM' &&
		grep -q 'sensitive and cannot be delegated' "$log"
}

test_delegation_removed_then_restored() {
	local code
	$lab exec dc samba-tool delegation del-service 'EXCHASA$' http/cas2.corp.contoso.com \
		-s "$KGLAB_SMB_CONF" >/dev/null || return 1
	# bob has no cached ticket for cas2 yet: the KDC is asked, and refuses.
	code=$(client env KRB5CCNAME="FILE:$KGLAB_DIR/ccache/bob.kcd" curl -s -o "$work/body" \
		-w '%{http_code}' --negotiate -u : http://mail.corp.contoso.com/two/del)
	$lab exec dc samba-tool delegation add-service 'EXCHASA$' http/cas2.corp.contoso.com \
		-s "$KGLAB_SMB_CONF" >/dev/null
	[ "$code" = 502 ] && log_has "KDC_ERR_BADOPTION for http/cas2.corp.contoso.com" || return 1
	curl_metrics | grep -q 'kerbgate_backend_delegation_ok{pool="cas2-only",server="cas2.corp.contoso.com"} 0' || return 1
	# Restored: works again without a restart (failures are not cached).
	code=$(client env KRB5CCNAME="FILE:$KGLAB_DIR/ccache/bob.kcd" curl -s -o "$work/body" \
		-w '%{http_code}' --negotiate -u : http://mail.corp.contoso.com/two/back)
	[ "$code" = 200 ] && body_has "user: bob@CORP.CONTOSO.COM"
}

curl_metrics() { lb curl -s http://127.0.0.1:9100/metrics; }

# msDS-SupportedEncryptionTypes of the lab's computer accounts: VALUE, or
# "-" for none (the lab's default: RC4 tickets).
set_enctypes() {
	local dn change
	for dn in "CN=EXCHASA,CN=Computers" "CN=cas1,CN=Computers" "CN=cas2,CN=Computers"; do
		change="replace: msDS-SupportedEncryptionTypes\nmsDS-SupportedEncryptionTypes: $1"
		if [ "$1" = - ]; then
			change="delete: msDS-SupportedEncryptionTypes"
			[ "$dn" = "CN=EXCHASA,CN=Computers" ] && [ -n "${KGLAB_ASA_ENCTYPES:-}" ] &&
				change="replace: msDS-SupportedEncryptionTypes\nmsDS-SupportedEncryptionTypes: $KGLAB_ASA_ENCTYPES"
		fi
		printf "dn: %s,%s\nchangetype: modify\n$change\n" "$dn" "$KGLAB_BASEDN" >"$work/aes.ldif"
		SMB_CONF_PATH=$KGLAB_SMB_CONF ldbmodify -H "$KGLAB_SAM_LDB" "$work/aes.ldif" >/dev/null 2>&1 ||
			[ "$1" = - ] || return 1
	done
}

test_aes_only_accounts() {
	local m rc=1
	set_enctypes 24 || return 1
	client kdestroy >/dev/null 2>&1; kinit_as alice >/dev/null
	kill -HUP "$kg_pid"; sleep 1.5
	m=$(kdc_mark)
	# Every ticket issued since is AES256 (etype=18/18), none RC4.
	test_alice_seen_by_apache_on_both_backends && test_extended_protection_backend_accepts_kerbgated &&
		[ "$(kdc_count "$m" 'TGS-REQ SUCCESS.*etype=[0-9]*/23')" = 0 ] &&
		[ "$(kdc_count "$m" 'TGS-REQ SUCCESS.*etype=18/18')" -ge 3 ] && rc=0
	# The accounts as the lab made them: later scripts count on RC4 tickets.
	set_enctypes -
	return $rc
}

test_kdc_stopped_cached_users_work_new_get_503() {
	local code t0 t1
	# bob gets his VIP ticket before the KDC stops; his cas1 ticket is not
	# cached (he only went to /two).
	client env KRB5CCNAME="FILE:$KGLAB_DIR/ccache/bob.kcd" kgetcred \
		HTTP/mail.corp.contoso.com@"$KGLAB_REALM" >/dev/null 2>&1
	[ "$(vip_curl --negotiate -u : http://mail.corp.contoso.com/one/warm)" = 200 ] || return 1
	ip netns pids kglab-dc | xargs -r kill -STOP || return 1
	code=$(vip_curl --negotiate -u : http://mail.corp.contoso.com/one/cached)
	t0=$(date +%s)
	local bcode
	bcode=$(client env KRB5CCNAME="FILE:$KGLAB_DIR/ccache/bob.kcd" curl -s -o /dev/null \
		--max-time 20 -w '%{http_code}' --negotiate -u : http://mail.corp.contoso.com/one/new)
	t1=$(date +%s)
	ip netns pids kglab-dc | xargs -r kill -CONT
	echo "cached: $code, new user: $bcode in $((t1 - t0)) s"
	# curl's --max-time turns a hang into 000; how long the 503 took is printed, not judged.
	[ "$code" = 200 ] && [ "$bcode" = 503 ] &&
		log_has "KDC unreachable"
}

setup
start_ep_backend || nok "the Extended Protection test back-end starts"
start_or_exit
check "alice through the VIP is REMOTE_USER on Apache at cas1 and cas2" test_alice_seen_by_apache_on_both_backends
check "the back-ends hold no ASA key" test_asa_keytab_only_in_lb
check "1,000 requests over 50 connections: one S4U2Proxy per back-end" test_one_s4u2proxy_per_user_and_backend
check "alice and bob interleaved on one back-end never see each other" test_two_users_interleaved_never_mixed
check "bob's token on alice's connection: Apache sees bob (delegated for the new user)" test_new_token_on_a_connection_delegates_for_the_new_user
check "an Extended Protection back-end accepts kerbgated's bound tokens over TLS 1.3 and 1.2" test_extended_protection_backend_accepts_kerbgated
check "the same back-end refuses tokens bound to another certificate or unbound" test_extended_protection_backend_refuses_other_bindings
check "a sensitive user gets 502 and the documented reason" test_sensitive_user_is_refused_with_reason
check "delegation removed: 502 + KDC reason + metric; restored: works" test_delegation_removed_then_restored
check "AES-only ASA and back-end accounts: all of the above still works" test_aes_only_accounts
check "KDC stopped: a cached user works, a new one gets 503 quickly" test_kdc_stopped_cached_users_work_new_get_503
finish
