#!/usr/bin/env bash
# kerbgate-roll against two appliances in the lab: each a kerbgated with its
# sealed store and a kerbgate-mgmtd (mutual TLS, as user _kgmgmt through the
# control socket's group).  Three rolls while a client authenticates through
# appliance 1 without pause: not one failure.  --dry-run and --if-older-than
# change nothing.  An appliance unreachable at the start: nothing changes.
# An appliance lost in the middle of a roll: the roll says so and what to do,
# status shows it behind, finish brings it level.  Needs `tests/lab/lab up`.
# Last line: N passed, N failed.
KG_WORK_NAME=roll
KG_CONF_TEMPLATE=tests/integration/roll.json.in
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

vip=$KGLAB_VIP
mgmtd_pid=()
roll_cleanup() {
	{
		for p in "${mgmtd_pid[@]}"; do kill "$p"; done
		pkill -f "^$top/$out/bin/kerbgated -d -v -f $work/kerbgated2.json"
		touch "$work/stop"
	} 2>/dev/null
	cleanup
}
trap roll_cleanup EXIT

mgmt_certs() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=Management CA" -keyout "$work/mca.key" -out "$work/mca.pem" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=Contoso/CN=kerbgate-roll" \
		-keyout "$work/roll.key" -out "$work/roll.csr" 2>/dev/null
	openssl x509 -req -in "$work/roll.csr" -CA "$work/mca.pem" -CAkey "$work/mca.key" \
		-CAcreateserial -days 2 -out "$work/roll.pem" \
		-extfile <(printf 'extendedKeyUsage=clientAuth') 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$vip" \
		-keyout "$work/mgmt.key" -out "$work/mgmt.csr" 2>/dev/null
	openssl x509 -req -in "$work/mgmt.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
		-CAcreateserial -days 2 -out "$work/mgmt.pem" \
		-extfile <(printf 'subjectAltName=IP:%s' "$vip") 2>/dev/null
	chmod 0640 "$work/mgmt.key"; chgrp _kgmgmt "$work/mgmt.key"
	chmod 0600 "$work/roll.key"
}

# Appliance N (1 or 2): its kerbgated configuration and its mgmtd's.
appliance_conf() {
	local n=$1 port=$2
	sed -e "s|@WORK@|$work|g" -e "s|@N@|$n|g" -e "s|@PORT@|$port|g" \
		tests/integration/roll.json.in >"$work/kerbgated$n.json"
	mkdir -p "$work/log$n" "$work/data$n"; chmod 0700 "$work/data$n"
	cat >"$work/mgmtd$n.json" <<-EOF
	{ "listen": "$vip:$((8442 + n))",
	  "tls": { "cert": "$work/mgmt.pem", "key": "$work/mgmt.key", "client_ca": "$work/mca.pem" },
	  "control_socket": "$work/run$n/control.sock",
	  "audit_log": "$work/log$n/audit.log",
	  "user": "_kgmgmt" }
	EOF
}

start_mgmtd() {	# N
	lb "$top/$out/bin/kerbgate-mgmtd" -d -f "$work/mgmtd$1.json" >>"$work/mgmtd$1.log" 2>&1 &
	for _ in $(seq 50); do
		mgmtd_pid[$1]=$(pgrep -n -f "^$top/$out/bin/kerbgate-mgmtd -d -f $work/mgmtd$1.json")
		[ -n "${mgmtd_pid[$1]}" ] && grep -q listening "$work/mgmtd$1.log" && return 0
		sleep 0.1
	done
	return 1
}
stop_mgmtd() { kill "${mgmtd_pid[$1]}" 2>/dev/null; sleep 0.3; }

roll() { client env KRB5CCNAME="FILE:$work/cc-admin" "$top/$out/bin/kerbgate-roll" -c "$work/roll.json" "$@" \
	>"$work/roll.out" 2>&1; local rc=$?; sed 's/^/   | /' "$work/roll.out"; return $rc; }
ad_kvno() { grep -o 'at kvno [0-9]*' "$work/roll.out" | tail -1 | grep -o '[0-9]*$'; }

setup
for u in _kgmgmt; do
	getent group $u >/dev/null || groupadd --system $u
	id $u >/dev/null 2>&1 || useradd --system --no-create-home --gid $u --shell /usr/sbin/nologin $u
done
mgmt_certs
appliance_conf 1 80
appliance_conf 2 8081
cp "$work/kerbgated1.json" "$work/kerbgated.json"
start_or_exit
lb env "$top/$out/bin/kerbgated" -d -v -f "$work/kerbgated2.json" >>"$work/kerbgated2.log" 2>&1 &
for _ in $(seq 100); do [ -S "$work/run2/control.sock" ] && break; sleep 0.1; done
start_mgmtd 1 && start_mgmtd 2 || { nok "both mgmtds start"; cat "$work"/mgmtd*.log; finish; exit 1; }
cat >"$work/roll.json" <<EOF
{ "account": "$KGLAB_ASA_PRINCIPAL",
  "spn": "http/mail.$KGLAB_DNSDOMAIN@$KGLAB_REALM",
  "appliances": [ { "name": "lb1", "url": "https://$vip:8443" },
                  { "name": "lb2", "url": "https://$vip:8444" } ],
  "tls": { "ca": "$work/ca.pem", "cert": "$work/roll.pem", "key": "$work/roll.key" } }
EOF
echo "$KGLAB_ADMIN_PASSWORD" >"$work/admin.pw"; chmod 600 "$work/admin.pw"
client env KRB5CCNAME="FILE:$work/cc-admin" kinit --password-file="$work/admin.pw" \
	"Administrator@$KGLAB_REALM" >/dev/null 2>&1

# A client through appliance 1 until $work/stop exists, a fresh ticket each
# time, and one from before the rolls; a line per answer: time, status.
start_load() {
	rm -f "$work/stop" "$work/load-old" "$work/load-fresh"
	client bash -c "export KRB5CCNAME=FILE:$work/cc-old
		kinit --password-file=$KGLAB_ALICE_PWFILE alice@$KGLAB_REALM >/dev/null 2>&1
		while [ ! -e $work/stop ]; do
			echo \"\$(date +%s.%N) \$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
				--negotiate -u : http://mail.corp.contoso.com/old)\" >>$work/load-old
		done" &
	client bash -c "export KRB5CCNAME=FILE:$work/cc-fresh
		while [ ! -e $work/stop ]; do
			kinit --password-file=$KGLAB_BOB_PWFILE bob@$KGLAB_REALM >/dev/null 2>&1
			echo \"\$(date +%s.%N) \$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
				--negotiate -u : http://mail.corp.contoso.com/fresh)\" >>$work/load-fresh
		done" &
	for _ in $(seq 50); do
		[ -s "$work/load-old" ] && [ -s "$work/load-fresh" ] && return 0
		sleep 0.1
	done
	return 1
}
load_ok() {
	local f n bad
	touch "$work/stop"; sleep 1.5
	for f in load-old load-fresh; do
		n=$(wc -l <"$work/$f"); bad=$(grep -vc ' 200$' "$work/$f")
		echo "   $f: $n requests, $bad not 200"
		[ "$n" -gt 0 ] && [ "$bad" -eq 0 ] || return 1
	done
}

t_status_level() {
	roll status && [ "$(grep -c 'level with AD' "$work/roll.out")" = 2 ] &&
		[ "$(ad_kvno)" = "$KGLAB_ASA_KVNO" ]
}

t_dry_run() {
	roll --dry-run && grep -q "Dry run: would stage kvno $((KGLAB_ASA_KVNO + 1)) on 2" "$work/roll.out" &&
		roll status && [ "$(ad_kvno)" = "$KGLAB_ASA_KVNO" ]
}

t_three_rolls_under_load() {
	local k=$KGLAB_ASA_KVNO
	start_load || return 1
	for i in 1 2 3; do
		roll rotate && grep -q "Done: every appliance serves kvno $((k + i))" "$work/roll.out" ||
			{ load_ok; return 1; }
	done
	sleep 1
	load_ok || return 1
	roll status && [ "$(ad_kvno)" = $((k + 3)) ]
}

t_if_older_than() {
	local k
	roll status; k=$(ad_kvno)
	roll --if-older-than 30d && grep -q 'nothing to do' "$work/roll.out" &&
		roll status && [ "$(ad_kvno)" = "$k" ]
}

t_unreachable_at_start() {
	local k
	roll status; k=$(ad_kvno)
	stop_mgmtd 2
	! roll rotate && grep -q 'Nothing changed: every appliance must answer' "$work/roll.out" &&
		grep -q '^lb2 .*unreachable' "$work/roll.out" || { start_mgmtd 2; return 1; }
	start_mgmtd 2 && roll status && [ "$(ad_kvno)" = "$k" ]
}

t_lost_mid_roll() {
	local k
	roll status; k=$(ad_kvno)
	# Appliance 2's mgmtd goes away once AD has the new password: when
	# appliance 1 (verified and activated first) has verified it.
	( for _ in $(seq 1200); do
		grep -q "action=verify kvno=$((k + 1)) result=\"ok" "$work/log1/audit.log" 2>/dev/null &&
			{ kill "${mgmtd_pid[2]}"; break; }
		sleep 0.05
	done ) &
	! roll rotate && grep -q 'NOT FINISHED' "$work/roll.out" &&
		grep -q 'run kerbgate-roll finish' "$work/roll.out" || return 1
	start_mgmtd 2 || return 1
	! roll status && grep -q "^lb2 .*BEHIND: active $k, AD $((k + 1)) (holds it: run kerbgate-roll finish)" \
		"$work/roll.out" || return 1
	roll finish && roll status && [ "$(grep -c 'level with AD' "$work/roll.out")" = 2 ]
}

t_lying_appliance_stops_the_roll() {
	# lb2 is replaced by an API that answers 200 to every change without
	# making it: the roll must not set the password in AD, and must retire
	# what lb1 staged.
	local k fake
	roll status; k=$(ad_kvno)
	stop_mgmtd 2
	lb python3 "$top/tests/integration/fake_appliance.py" "$vip" 8444 "$work/mgmt.pem" \
		"$work/mgmt.key" "$work/mca.pem" "$k" >"$work/fake.log" 2>&1 &
	for _ in $(seq 50); do grep -q listening "$work/fake.log" && break; sleep 0.1; done
	fake=$(pgrep -n -f "fake_appliance.py $vip 8444")
	! roll rotate && grep -q "^lb2 .*does not hold it" "$work/roll.out" &&
		grep -q 'Nothing changed in AD' "$work/roll.out"
	local rc=$?
	kill "$fake" 2>/dev/null; sleep 0.3
	start_mgmtd 2 || return 1
	roll status; [ "$(ad_kvno)" = "$k" ] && [ "$rc" = 0 ] &&
		! grep -q "$((k + 1)):staged" "$work/roll.out"
}

mgmt_curl() { client curl -s -o "$work/body" -w '%{http_code}' --max-time 20 --cacert "$work/ca.pem" \
	--cert "$work/roll.pem" --key "$work/roll.key" "$@"; }

t_api_refuses_lower_kvno() {
	[ "$(mgmt_curl -X PUT --data-binary "{\"account\":\"$KGLAB_ASA_PRINCIPAL\",\"kvno\":1,\"password\":\"Xx1-aaaaaaaa\"}" \
		"https://$vip:8443/api/v1/credentials/staged")" = 409 ] && cat "$work/body" && echo
}

t_api_list_has_no_key_bytes() {
	[ "$(mgmt_curl "https://$vip:8443/api/v1/credentials")" = 200 ] &&
		grep -q '"state":"active"' "$work/body" &&
		! grep -Eq '[0-9a-fA-F]{32,}|[A-Za-z0-9+/]{40,}' "$work/body"
}

t_audit_records_changes() {
	grep -q 'who="O=Contoso, CN=kerbgate-roll" sha256=[0-9a-f]\{64\} action=activate' "$work/log1/audit.log" &&
		[ "$(stat -c %a "$work/log1/audit.log")" = 600 ] &&
		[ "$(stat -c %U "$work/log1/audit.log")" = root ]
}

t_mgmtd_unprivileged() {
	[ "$(ps -o user= -p "${mgmtd_pid[1]}")" = _kgmgmt ]
}

check "status: both appliances level with AD" t_status_level
check "--dry-run says what it would do and changes nothing" t_dry_run
check "three rolls while clients authenticate: every one done, no authentication fails" t_three_rolls_under_load
check "--if-older-than 30d right after a roll: nothing to do" t_if_older_than
check "an appliance unreachable at the start: nothing changed, AD untouched" t_unreachable_at_start
check "an appliance lost mid-roll: not finished, status shows it behind, finish levels it" t_lost_mid_roll
check "an appliance that says it staged but did not: AD untouched, lb1's staged kvno retired" t_lying_appliance_stops_the_roll
check "the API refuses a kvno lower than the active one (409, in words)" t_api_refuses_lower_kvno
check "the API's list carries no key bytes" t_api_list_has_no_key_bytes
check "the audit log records who activated, 0600" t_audit_records_changes
check "mgmtd runs as _kgmgmt, through the control socket's group" t_mgmtd_unprivileged
if [ "$failed" -gt 0 ]; then
	echo "--- appliance 2's kerbgated log (last 25 lines)"; tail -25 "$work/kerbgated2.log"
fi
finish
