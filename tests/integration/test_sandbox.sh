#!/usr/bin/env bash
# Every child of kerbgated is sandboxed once it is set up (sandbox.c):
# chrooted to an empty directory, NoNewPrivs, a seccomp filter.  A relay
# that makes a forbidden call dies of SIGSYS, the parent names the call and
# restarts the generation, and the VIP keeps answering meanwhile.
# Needs `tests/lab/lab up` first.  Last line: "N passed, N failed".
# shellcheck source=tests/integration/lib.sh
KG_WORK_NAME=sandbox
source "$(dirname "$0")/lib.sh"

# The usual configuration with its own sandbox root and the TEST-ONLY
# trigger: SIGUSR1 makes a relay call openat().
template=$(mktemp)
trap 'rm -f "$template"; cleanup' EXIT
sed '1s|^{$|{\n  "sandbox": { "root": "@WORK@/empty", "test_trigger": true },|' \
	tests/integration/kerbgated.json.in >"$template"
export KG_CONF_TEMPLATE=$template

children() { pgrep -P "$kg_pid"; }

# Seccomp: 2 (filter), NoNewPrivs: 1, root the empty directory, for one pid.
sandboxed() {
	local st
	st=$(cat /proc/"$1"/status 2>/dev/null) || return 1
	grep -qx $'Seccomp:\t2' <<<"$st" && grep -qx $'NoNewPrivs:\t1' <<<"$st" &&
		[ "$(readlink /proc/"$1"/root)" = "$work/empty" ]
}

# ------------------------------------------------------------------ tests

test_every_child_is_sandboxed() {
	local n=0 c
	for c in $(children); do
		sandboxed "$c" || { echo "# child $c is not sandboxed"; return 1; }
		n=$((n + 1))
	done
	# The keyholder, the TLS key process and two relays ("workers": 2).
	[ "$n" -eq 4 ]
}

test_children_run_as_their_users() {
	local c u keys=0 relays=0
	for c in $(children); do
		# Not /proc/PID's owner: that is root for a non-dumpable process.
		u=$(awk '/^Uid:/ { print $2 }' /proc/"$c"/status)
		case $u in
		"$(id -u _kgkeys)") keys=$((keys + 1)) ;;
		"$(id -u _kgrelay)") relays=$((relays + 1)) ;;
		*) return 1 ;;
		esac
	done
	# The keyholder and the TLS key process run as keyholder_user.
	[ "$keys" -eq 2 ] && [ "$relays" -eq 2 ]
}

test_parent_is_not_sandboxed() {
	# It must still bind, fork, read configurations on SIGHUP.
	grep -qx $'Seccomp:\t0' /proc/"$kg_pid"/status &&
		[ "$(readlink /proc/"$kg_pid"/root)" = / ]
}

test_empty_root_is_root_owned_0755() {
	[ "$(stat -c '%U %a' "$work/empty")" = "root 755" ] &&
		[ -z "$(ls -A "$work/empty")" ]
}

test_kerberos_works_sandboxed() {
	kinit_as alice >/dev/null
	[ "$(vip_curl --negotiate -u : http://mail.corp.contoso.com/whoami)" = 200 ] &&
		body_has "user: alice@CORP.CONTOSO.COM" && body_has "signature: valid"
}

test_tls_backend_works_sandboxed() {
	[ "$(vip_curl --negotiate -u : --cacert "$work/ca.pem" \
		https://mail.corp.contoso.com/tls-ca/x)" = 200 ] &&
		body_has "user: alice@CORP.CONTOSO.COM"
}

test_metrics_work_sandboxed() {
	lb curl -s --max-time 5 http://127.0.0.1:9100/metrics >"$work/metrics"
	grep -q '^kerbgate_auth_success_total [1-9]' "$work/metrics" &&
		grep -q 'kerbgate_backend_up{pool="cas",server="cas1.corp.contoso.com"} 1' "$work/metrics"
}

# Requests through the VIP, one after another, until $work/stop appears;
# each answer's code on its own line in $work/codes.
traffic() {
	: >"$work/codes"
	while [ ! -e "$work/stop" ]; do
		client curl -s -o /dev/null -w '%{http_code}\n' --max-time 20 \
			--negotiate -u : http://mail.corp.contoso.com/whoami >>"$work/codes"
	done
}

test_forbidden_call_kills_logs_and_respawns() {
	local victim kh t codes before p
	kh=$(pgrep -P "$kg_pid" -u _kgkeys)	# the keyholder and the TLS key process
	victim=$(pgrep -P "$kg_pid" -u _kgrelay | head -1)
	[ -n "$victim" ] || return 1
	rm -f "$work/stop"
	traffic &
	t=$!
	sleep 1
	before=$(wc -l <"$work/codes")
	kill -USR1 "$victim"
	# Killed, named, and a new relay in its place, sandboxed like it.
	for _ in $(seq 50); do
		grep -qE "relay [0-9]+ \(pid $victim\) killed by the sandbox: forbidden system call openat" "$log" &&
			grep -qE "relay [0-9]+ restarted as" "$log" && break
		sleep 0.2
	done
	for _ in $(seq 50); do
		[ "$(pgrep -P "$kg_pid" | wc -l)" -eq 4 ] && ! kill -0 "$victim" 2>/dev/null && break
		sleep 0.2
	done
	sleep 1
	touch "$work/stop"
	wait "$t"
	codes=$(sort "$work/codes" | uniq -c | tr '\n' ' ')
	echo "# answers while a relay died: $codes"
	kill -0 "$victim" 2>/dev/null && { echo "# relay $victim still alive"; return 1; }
	grep -qE "relay [0-9]+ \(pid $victim\) killed by the sandbox: forbidden system call openat" "$log" ||
		{ echo "# no log line naming the call"; return 1; }
	grep -qE "relay [0-9]+ restarted as" "$log" || { echo "# no new relay"; return 1; }
	# The keyholder and the key process (and the other relay) served on.
	for p in $kh; do
		kill -0 "$p" || { echo "# the keyholder or the key process went too"; return 1; }
	done
	# Every answer was the back-end's, none an error or a timeout, but the
	# one request the dying relay may have had in flight; and the VIP kept
	# answering after the kill.
	[ "$(head -n "$before" "$work/codes" | grep -cvx 200)" -eq 0 ] || return 1
	[ "$(tail -n +"$((before + 2))" "$work/codes" | grep -cvx 200)" -eq 0 ] || return 1
	[ "$(tail -n +"$((before + 2))" "$work/codes" | grep -cx 200)" -ge 3 ]  || return 1
	test_every_child_is_sandboxed
}

test_served_after_respawn() {
	[ "$(vip_curl --negotiate -u : http://mail.corp.contoso.com/whoami)" = 200 ] &&
		body_has "signature: valid"
}

# ------------------------------------------------------------------ run

setup
start_or_exit
check "every child: Seccomp 2, NoNewPrivs 1, root the empty directory" test_every_child_is_sandboxed
check "children run as _kgkeys and _kgrelay" test_children_run_as_their_users
check "the parent is not sandboxed" test_parent_is_not_sandboxed
check "the sandbox root was made root-owned, 0755, empty" test_empty_root_is_root_owned_0755
check "Kerberos authentication works in the sandbox" test_kerberos_works_sandboxed
check "a TLS back-end works from the sandbox" test_tls_backend_works_sandboxed
check "/metrics on the admin port works from the sandbox" test_metrics_work_sandboxed
check "a relay calling open() dies of SIGSYS, is named in the log and respawned, the VIP answers meanwhile" \
	test_forbidden_call_kills_logs_and_respawns
check "the VIP serves after the respawn" test_served_after_respawn
finish
