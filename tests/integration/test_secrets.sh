#!/usr/bin/env bash
# The keyholder's other secrets in the sealed store (docs/credentials.md,
# "Other secrets"): the pool's header secret and the cookie key are
# imported into it at first start and replaced with kerbgatectl's two
# phases while kerbgated runs.  A cookie issued before a cookie-key change
# still opens inside the window and a new login gets a cookie under the new
# key; after a header-secret change the back-end (backend.py, which holds
# both secrets during the change as docs/backend-verification.md says)
# sees requests signed under the new one; a TLS key that is not its
# certificate's fails verification.  No answer or log line carries a byte
# of a secret.  Needs `tests/lab/lab up` first; run under
# `flock /run/kglab.lock`.  Last line: N passed, N failed.
KG_WORK_NAME=secrets
KG_CONF_TEMPLATE=tests/integration/secrets.json.in
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

sec() { lb "$top/$out/bin/kerbgatectl" -s "$work/run/control.sock" secrets "$@"; }
forge() { /usr/bin/python3 "$top/tests/integration/forge.py" "$@"; }
session_cookie() { grep -i '^Set-Cookie: kerbgate_session=' "$work/headers" | sed 's/^[^:]*: //; s/;.*//'; }
hex() { od -An -tx1 "$1" | tr -d ' \n'; }
# The version a stage answer names ("... version N ...").
staged_version() { sed -n 's/^staged .* version \([0-9]*\) .*/\1/p' "$work/sec.out"; }

# A Negotiate login: its status, the session cookie in $work/headers.
login() { vip_curl --negotiate -u : "http://mail.corp.contoso.com/$1"; }

# ------------------------------------------------------------------ tests

test_secrets_are_imported_into_the_store() {
	sec list >"$work/sec.out" || return 1
	grep -Eq '^pool +cas +1 +active' "$work/sec.out" &&
		grep -Eq '^cookie +- +1 +active' "$work/sec.out" &&
		log_has "secrets: imported pool cas's header secret from $work/pool.secret"
}

cookie_round() {
	local v
	sec stage cookie >"$work/sec.out" 2>&1 || { cat "$work/sec.out"; return 1; }
	v=$(staged_version)
	[ -n "$v" ] && sec verify cookie "$v" >"$work/sec.out" 2>&1 &&
		sec activate cookie "$v" >"$work/sec.out" 2>&1 || { cat "$work/sec.out"; return 1; }
	cookie_version=$v
}

test_cookie_from_before_a_key_change_opens_inside_the_window() {
	local old new forged
	client kdestroy >/dev/null 2>&1; kinit_as alice >/dev/null || return 1
	[ "$(login c1)" = 200 ] || return 1
	old=$(session_cookie); [ -n "$old" ] || return 1
	# The test hook wrote the key at start: the one that made $old.
	forged=kerbgate_session=$(forge cookie "$work/cookie.key" "alice@$KGLAB_REALM" \
		mail.corp.contoso.com 300)
	cookie_round || return 1
	# Issued before the change: opens (no Kerberos on these requests).
	[ "$(vip_curl -b "$old" http://mail.corp.contoso.com/c2)" = 200 ] &&
		body_has "user: alice@$KGLAB_REALM" || return 1
	[ "$(vip_curl -b "$forged" http://mail.corp.contoso.com/c3)" = 200 ] || return 1
	# A new login: a new cookie, which opens.
	[ "$(login c4)" = 200 ] || return 1
	new=$(session_cookie)
	[ -n "$new" ] && [ "$new" != "$old" ] || return 1
	[ "$(vip_curl -b "$new" http://mail.corp.contoso.com/c5)" = 200 ] || return 1
	sec list >"$work/sec.out" &&
		grep -Eq "^cookie +- +1 +retained" "$work/sec.out" &&
		grep -Eq "^cookie +- +$cookie_version +active" "$work/sec.out" || return 1
	# Version 1 retired: its cookies stop; the new login's was made with
	# the new key, so it still opens.
	sec retire cookie 1 >"$work/sec.out" 2>&1 || return 1
	[ "$(vip_curl -b "$old" http://mail.corp.contoso.com/c6)" = 401 ] &&
		[ "$(vip_curl -b "$forged" http://mail.corp.contoso.com/c7)" = 401 ] &&
		[ "$(vip_curl -b "$new" http://mail.corp.contoso.com/c8)" = 200 ] || return 1
	new_cookie=$new
}

test_a_reload_keeps_the_cookie_key() {
	kill -HUP "$kg_pid"
	sleep 2
	[ "$(vip_curl -b "$new_cookie" http://mail.corp.contoso.com/after-reload)" = 200 ] &&
		body_has "user: alice@$KGLAB_REALM"
}

test_low_entropy_header_secret_fails_verify() {
	local v
	printf 'passwordpasswordpasswordpassword' >"$work/weak.secret"; chmod 600 "$work/weak.secret"
	sec stage pool cas --secret-file "$work/weak.secret" >"$work/sec.out" 2>&1 || return 1
	v=$(staged_version)
	! sec verify pool cas "$v" >"$work/sec.out" 2>&1 &&
		grep -q "NOT verified" "$work/sec.out" && grep -q "bits of entropy" "$work/sec.out" &&
		! sec activate pool cas "$v" >/dev/null 2>&1 &&
		sec list | grep -Eq '^pool +cas +1 +active' &&
		sec retire pool cas "$v" >/dev/null
}

test_header_secret_change_reaches_the_backend() {
	local v
	head -c 48 /dev/urandom >"$work/new.secret"; chmod 600 "$work/new.secret"
	[ "$(login h1)" = 200 ] && body_has "signature: valid" && body_has "secret: current" || return 1
	sec stage pool cas --secret-file "$work/new.secret" >"$work/sec.out" 2>&1 || return 1
	v=$(staged_version)
	# Staged, not active: logins still get grants under the old secret.
	[ "$(login h2)" = 200 ] && body_has "secret: current" || return 1
	sec verify pool cas "$v" >"$work/sec.out" 2>&1 || { cat "$work/sec.out"; return 1; }
	# The back-ends take the new secret next to the old one, then activate.
	install -m 0644 "$work/new.secret" "$work/pool.secret.next"
	sec activate pool cas "$v" >"$work/sec.out" 2>&1 || { cat "$work/sec.out"; return 1; }
	[ "$(login h3)" = 200 ] && body_has "signature: valid" && body_has "secret: next" || return 1
	# The change finished on the back-ends: the new secret alone.
	install -m 0644 "$work/new.secret" "$work/pool.secret.tmp" &&
		mv "$work/pool.secret.tmp" "$work/pool.secret" && rm -f "$work/pool.secret.next"
	[ "$(login h4)" = 200 ] && body_has "signature: valid" && body_has "secret: current" || return 1
	sec list | grep -Eq "^pool +cas +$v +active"
}

test_tls_key_not_the_certificates_fails_verify() {
	local v
	sec stage tls mail.corp.contoso.com --key-file "$work/autod.key" \
		--cert-file "$work/mail.pem" >"$work/sec.out" 2>&1 || { cat "$work/sec.out"; return 1; }
	v=$(staged_version)
	! sec verify tls mail.corp.contoso.com "$v" >"$work/sec.out" 2>&1 &&
		grep -q "the private key is not the certificate's" "$work/sec.out" &&
		! sec activate tls mail.corp.contoso.com "$v" >/dev/null 2>&1 || return 1
	sec list | grep -Eq "^tls +mail.corp.contoso.com +$v +staged" || return 1
	sec retire tls mail.corp.contoso.com "$v" >/dev/null || return 1
	# A new pair (not in any file kerbgated reads), with its chain: verified.
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj "/CN=mail.corp.contoso.com/O=Rotated" -keyout "$work/mail2.key" \
		-out "$work/mail2.csr" 2>/dev/null
	openssl x509 -req -in "$work/mail2.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
		-CAcreateserial -days 2 -out "$work/mail2.pem" \
		-extfile <(printf 'subjectAltName=DNS:mail.corp.contoso.com') 2>/dev/null
	chmod 600 "$work/mail2.key"
	cat "$work/mail2.pem" "$work/ca.pem" >"$work/mail2-chain.pem"
	sec stage tls mail.corp.contoso.com --key-file "$work/mail2.key" \
		--cert-file "$work/mail2-chain.pem" >"$work/sec.out" 2>&1 || return 1
	v=$(staged_version)
	sec verify tls mail.corp.contoso.com "$v" >"$work/sec.out" 2>&1 || { cat "$work/sec.out"; return 1; }
	grep -q "the key is the certificate's" "$work/sec.out"
	tls_version=$v
}

served_fingerprint() {
	client openssl s_client -connect "$KGLAB_VIP:443" -servername mail.corp.contoso.com \
		</dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 2>/dev/null
}

test_activated_tls_key_serves_from_the_next_generation() {
	local want
	want=$(openssl x509 -in "$work/mail2.pem" -noout -fingerprint -sha256)
	[ "$(served_fingerprint)" != "$want" ] || return 1
	sec activate tls mail.corp.contoso.com "$tls_version" >"$work/sec.out" 2>&1 ||
		{ cat "$work/sec.out"; return 1; }
	grep -q "from the next generation" "$work/sec.out" || return 1
	kill -HUP "$kg_pid"
	sleep 2
	# The new chain is served, and handshakes sign with the stored key.
	[ "$(served_fingerprint)" = "$want" ] &&
		log_has "VIP key(s) and chain(s) from the sealed store" &&
		[ "$(vip_curl --cacert "$work/ca.pem" --negotiate -u : \
			https://mail.corp.contoso.com/tls-stored)" = 200 ] &&
		body_has "signature: valid"
}

test_no_secret_byte_in_answers_or_log() {
	local h k
	sec list >"$work/sec.out" || return 1
	for f in "$work/new.secret" "$work/cookie.key"; do
		h=$(hex "$f")
		# Any 8 bytes of it, in hex, in the log or an answer.
		for k in 0 16 32; do
			grep -qi -- "${h:$k:16}" "$log" "$work/sec.out" && return 1
		done
	done
	! grep -q "BEGIN PRIVATE KEY" "$log" "$work/sec.out"
}

setup
mkdir -m 0700 "$work/data"	# /data on the appliance: it exists
start_or_exit
check "the header secret and a cookie key are imported into the sealed store" \
	test_secrets_are_imported_into_the_store
check "a cookie from before a cookie-key change opens in the window; a new login gets the new key" \
	test_cookie_from_before_a_key_change_opens_inside_the_window
check "a reload keeps the cookie key (the store's)" test_a_reload_keeps_the_cookie_key
check "a header secret of low entropy fails verify and is not activated" \
	test_low_entropy_header_secret_fails_verify
check "a header secret change: the back-end verifies new logins with the new secret" \
	test_header_secret_change_reaches_the_backend
check "a TLS key that is not its certificate's fails verify; the right pair verifies" \
	test_tls_key_not_the_certificates_fails_verify
check "an activated TLS key and chain serve from the next generation (reload)" \
	test_activated_tls_key_serves_from_the_next_generation
check "no byte of a secret in an answer or the log" test_no_secret_byte_in_answers_or_log
finish
