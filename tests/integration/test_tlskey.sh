#!/usr/bin/env bash
# The VIP's TLS private keys live in the TLS key process alone (tlskey.c):
# a scan of every relay's memory (and the parent's, and the keyholder's)
# finds no byte of them, while the same scan finds them in the key process;
# handshakes under TLS 1.2 and 1.3 with ECDSA (mail) and RSA-2048 (autod)
# certificates are signed there; Extended Protection still binds to the
# certificate; a key process killed mid-handshake fails that handshake with
# an alert, is logged, counted, and replaced with its generation.
# Needs `tests/lab/lab up` first.  Last line: "N passed, N failed".
# shellcheck source=tests/integration/lib.sh
KG_WORK_NAME=tlskey
source "$(dirname "$0")/lib.sh"

template=$(mktemp)
trap 'rm -f "$template"; cleanup' EXIT
sed '1s|^{$|{\n  "sandbox": { "root": "@WORK@/empty" },|' \
	tests/integration/kerbgated.json.in >"$template"
export KG_CONF_TEMPLATE=$template
# SIGUSR2 makes a relay send the key process a frame of unknown type.
export KG_TEST_HOOKS=tlskey

# autod gets an RSA-2048 certificate from the lab CA instead of ECDSA.
make_rsa_cert() {
	openssl req -newkey rsa:2048 -nodes -subj "/CN=autod.corp.contoso.com" \
		-keyout "$work/autod.key" -out "$work/autod.csr" 2>/dev/null
	openssl x509 -req -in "$work/autod.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
		-CAcreateserial -days 2 -out "$work/autod.pem" \
		-extfile <(printf 'subjectAltName=DNS:autod.corp.contoso.com') 2>/dev/null
	chmod 0600 "$work/autod.key"
}

keys="$work/mail.key,$work/autod.key"
# The newest generation's key process, from the parent's log.
tlskey_pid() { grep -oE 'TLS key process [0-9]+, ' "$log" | tail -1 | grep -oE '[0-9]+'; }
relays() { pgrep -P "$kg_pid" -u _kgrelay; }
keyholder() { pgrep -P "$kg_pid" -u _kgkeys | grep -vx "$(tlskey_pid)"; }
scan() { "$top/tests/integration/keyscan.py" "$keys" "$@" >"$work/scan" 2>&1; }
hits() { awk -v p="$1" '$1 == p && $2 == "hits" { print $3 }' "$work/scan"; }
https() { # VHOST TLSVERSION: the HTTP code of an unauthenticated request
	# (mail's /public is open: 200; autod asks for Negotiate: 401)
	vip_curl --cacert "$work/ca.pem" --tlsv"$2" --tls-max "$2" "https://$1/public/x"
}
sigtype() { # VHOST TLSVERSION: what openssl says the server signed with
	client openssl s_client -connect "$KGLAB_VIP:443" -servername "$1" \
		-tls1_"${2#1.}" -CAfile "$work/ca.pem" </dev/null 2>/dev/null |
		sed -n 's/^Peer signature type: //p'
}

# ------------------------------------------------------------------ tests

test_handshakes_signed_by_the_key_process() {
	local v
	for v in 1.2 1.3; do
		[ "$(https mail.corp.contoso.com $v)" = 200 ] || { echo "# mail TLS $v"; return 1; }
		[ "$(https autod.corp.contoso.com $v)" = 401 ] || { echo "# autod TLS $v"; return 1; }
	done
	[ "$(sigtype mail.corp.contoso.com 1.3)" = ECDSA ] &&
		[ "$(sigtype autod.corp.contoso.com 1.2)" = RSA ] &&
		[ "$(sigtype autod.corp.contoso.com 1.3)" = RSA-PSS ]
}

test_key_process_is_sandboxed_without_network() {
	local p st i
	p=$(tlskey_pid)
	st=$(cat /proc/"$p"/status) || return 1
	grep -qx $'Seccomp:\t2' <<<"$st" && grep -qx $'NoNewPrivs:\t1' <<<"$st" &&
		[ "$(readlink /proc/"$p"/root)" = "$work/empty" ] &&
		[ "$(awk '/^Uid:/ { print $2 }' <<<"$st")" = "$(id -u _kgkeys)" ] || return 1
	# Every socket it holds is a unix one (its relays' and its parent's).
	for i in $(ls -l /proc/"$p"/fd | grep -oE 'socket:\[[0-9]+\]' | grep -oE '[0-9]+'); do
		awk -v i="$i" '$7 == i { f = 1 } END { exit !f }' /proc/"$p"/net/unix ||
			{ echo "# socket $i is not a unix socket"; return 1; }
	done
}

test_scan_finds_the_keys_in_the_key_process() {
	local p
	p=$(tlskey_pid)
	scan "$p" || { cat "$work/scan"; return 1; }
	# The EC scalar and the RSA private exponent and primes, in some order.
	grep -q 'mail.key: priv ' "$work/scan" &&
		grep -q 'autod.key: privateExponent ' "$work/scan" &&
		grep -q 'autod.key: prime1 ' "$work/scan" &&
		grep -q 'autod.key: prime2 ' "$work/scan" || { cat "$work/scan"; return 1; }
}

test_no_relay_parent_or_keyholder_holds_a_key() {
	local p n=0
	for p in $(relays); do n=$((n + 1)); done
	[ "$n" -eq 2 ] || { echo "# $n relays"; return 1; }
	# shellcheck disable=SC2046
	scan $(relays) "$kg_pid" $(keyholder) || { cat "$work/scan"; return 1; }
	for p in $(relays) "$kg_pid" $(keyholder); do
		[ "$(hits "$p")" = 0 ] || { cat "$work/scan"; return 1; }
	done
}

test_extended_protection_with_the_remote_key() {
	local r v
	kinit_as alice >/dev/null
	# autod requires the binding; its certificate is the RSA one.
	for v in 1.3 1.2; do
		r=$(client env HGSS_TLS=$v "$top/$out/tests/tools/hgss_get" "$KGLAB_VIP" 443 \
			autod.corp.contoso.com /hb spnego "$work/ca.pem") || { echo "$r"; return 1; }
		[[ $r == *"tls: TLSv$v"* && $r == *"status: 200"* && $r == *"mutual: ok"* &&
			$r == *"user: alice@"* ]] || { echo "TLS $v: $r"; return 1; }
	done
}

test_reload_keeps_keys_out_of_parent_and_relays() {
	local old
	old=$(tlskey_pid)
	kill -HUP "$kg_pid"
	for _ in $(seq 50); do
		[ "$(tlskey_pid)" != "$old" ] && [ "$(relays | wc -l)" -eq 2 ] && break
		sleep 0.2
	done
	[ "$(tlskey_pid)" != "$old" ] || { echo "# no new key process"; return 1; }
	sleep 1	# the old generation drains
	[ "$(https autod.corp.contoso.com 1.3)" = 401 ] || return 1
	test_no_relay_parent_or_keyholder_holds_a_key
}

# A key that does not load refuses the reload (the key process says why);
# the running generation keeps serving.
test_reload_with_a_bad_key_is_refused() {
	local tk mark
	tk=$(tlskey_pid)
	mark=$(($(wc -l <"$log") + 1))
	chmod 0644 "$work/autod.key"
	kill -HUP "$kg_pid"
	for _ in $(seq 50); do
		tail -n +"$mark" "$log" | grep -q "reload failed" && break
		sleep 0.2
	done
	chmod 0600 "$work/autod.key"
	tail -n +"$mark" "$log" >"$work/badkey.log"
	grep -q "autod.key is accessible to other users (mode 0644); make it 0600" "$work/badkey.log" &&
		grep -q "reload failed; keeping the running configuration" "$work/badkey.log" ||
		{ cat "$work/badkey.log"; return 1; }
	[ "$(tlskey_pid)" = "$tk" ] && kill -0 "$tk" &&
		[ "$(https autod.corp.contoso.com 1.3)" = 401 ]
}

# A relay that sends the key process a frame it refuses loses its socket;
# it exits and is replaced alone: the same key process and keyholder, no
# new generation, handshakes on both relays again.
test_malformed_frame_replaces_that_relay_only() {
	local tk victim other mark i
	tk=$(tlskey_pid)
	victim=$(relays | head -1)
	other=$(relays | tail -1)
	mark=$(($(wc -l <"$log") + 1))
	kill -USR2 "$victim"
	for _ in $(seq 50); do
		tail -n +"$mark" "$log" | grep -q "restarted as" && break
		sleep 0.2
	done
	tail -n +"$mark" "$log" >"$work/drop.log"
	grep -q "sent a malformed signing request (unknown frame type): closing its socket" "$work/drop.log" &&
		grep -q "the TLS key process dropped this relay and no new generation came: exiting" "$work/drop.log" &&
		grep -q "restarted as" "$work/drop.log" || { cat "$work/drop.log"; return 1; }
	! grep -q "draining" "$work/drop.log" || { echo "# a new generation started"; return 1; }
	kill -0 "$tk" && [ "$(tlskey_pid)" = "$tk" ] || { echo "# the key process changed"; return 1; }
	kill -0 "$other" || { echo "# the other relay went too"; return 1; }
	! kill -0 "$victim" 2>/dev/null || { echo "# the dropped relay still runs"; return 1; }
	[ "$(relays | wc -l)" -eq 2 ] || return 1
	# Both relays sign again (the kernel spreads the connections).
	for i in $(seq 8); do
		[ "$(https mail.corp.contoso.com 1.3)" = 200 ] || { echo "# request $i"; return 1; }
	done
}

test_killed_key_process_fails_cleanly_and_returns() {
	local old rc t0 t1 fails
	old=$(tlskey_pid)
	# Stopped, the key process holds the next handshake's signature...
	kill -STOP "$old"
	client curl -s -o /dev/null --max-time 20 --cacert "$work/ca.pem" \
		https://mail.corp.contoso.com/public/x &
	local c=$!
	sleep 1
	# ...and dies with it: the handshake ends at once, with an alert.
	t0=$(date +%s)
	kill -KILL "$old"
	wait "$c"; rc=$?
	t1=$(date +%s)
	echo "# curl exit $rc after $((t1 - t0)) s"
	# 35: a TLS error (the alert), not 28 (timed out) or 0.
	[ "$rc" -eq 35 ] || return 1
	for _ in $(seq 50); do
		[ -n "$(tlskey_pid)" ] && [ "$(tlskey_pid)" != "$old" ] && break
		sleep 0.2
	done
	log_has "the TLS key process (pid $old) is gone" || { echo "# no parent log line"; return 1; }
	log_has "the TLS key process has gone: TLS handshakes on this relay fail" ||
		{ echo "# no relay log line"; return 1; }
	[ "$(tlskey_pid)" != "$old" ] || { echo "# not respawned"; return 1; }
	sleep 1
	[ "$(https mail.corp.contoso.com 1.3)" = 200 ] &&
		[ "$(https autod.corp.contoso.com 1.2)" = 401 ] || return 1
	lb curl -s --max-time 5 http://127.0.0.1:9100/metrics >"$work/metrics"
	fails=$(awk '$1 == "kerbgate_tls_key_failures_total" { print $2 }' "$work/metrics")
	echo "# kerbgate_tls_key_failures_total $fails"
	[ "${fails:-0}" -ge 1 ]
}

# ------------------------------------------------------------------ run

setup
make_rsa_cert
start_or_exit
check "TLS 1.2 and 1.3, ECDSA and RSA (PKCS#1, PSS): handshakes signed by the key process" \
	test_handshakes_signed_by_the_key_process
check "the key process: Seccomp 2, NoNewPrivs 1, empty root, _kgkeys, no network socket" \
	test_key_process_is_sandboxed_without_network
check "the memory scan finds the private keys in the key process" \
	test_scan_finds_the_keys_in_the_key_process
check "the memory scan finds no private key byte in the relays, the parent, the keyholder" \
	test_no_relay_parent_or_keyholder_holds_a_key
check "Extended Protection (tls-server-end-point) with the RSA certificate, TLS 1.2 and 1.3" \
	test_extended_protection_with_the_remote_key
check "after a reload (SIGHUP) still no key in the parent or the new relays" \
	test_reload_keeps_keys_out_of_parent_and_relays
check "a reload with a key the key process refuses is refused, the running generation serves on" \
	test_reload_with_a_bad_key_is_refused
check "a relay sending the key process a malformed frame is dropped and replaced alone" \
	test_malformed_frame_replaces_that_relay_only
check "the key process killed mid-handshake: an alert, logged, counted, respawned, served again" \
	test_killed_key_process_fails_cleanly_and_returns
finish
