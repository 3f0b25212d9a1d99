#!/usr/bin/env bash
# Credential rotation inside the running keyholder (docs/credentials.md):
# while clients authenticate through the VIP without pause (one holding a
# service ticket from before the rotations, one getting a fresh ticket each
# time), the ASA's password is changed in AD three times and staged,
# verified and activated with kerbgatectl: not one authentication fails.
# Then what verification refuses: a wrong password, a wrong kvno, an SPN
# missing or registered to another account; nothing is activated.  Needs
# `tests/lab/lab up` first.  Last line: N passed, N failed.
KG_WORK_NAME=credentials
KG_CONF_TEMPLATE=tests/integration/credentials.json.in
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

ctl() { lb "$top/$out/bin/kerbgatectl" -s "$work/run/control.sock" credentials "$@"; }
asa=$KGLAB_ASA_ACCOUNT
kvno=$KGLAB_ASA_KVNO
stool() { $lab exec dc samba-tool "$@" -s "$KGLAB_SMB_CONF" >/dev/null 2>&1; }

# Stage PASSWORD as KVNO (the password through a 0600 file, never argv).
stage() {
	printf '%s\n' "$1" >"$work/pw"; chmod 600 "$work/pw"
	ctl stage -p "$KGLAB_ASA_PRINCIPAL" -k "$2" --password-file "$work/pw" >"$work/ctl.out" 2>&1
}
set_ad_password() { stool user setpassword "$asa" --newpassword="$1"; }

# Two client loops until $work/stop exists; each line: when, HTTP status.
start_load() {
	rm -f "$work/stop" "$work/load-old" "$work/load-fresh"
	client bash -c "export KRB5CCNAME=FILE:$work/cc-old
		kinit --password-file=$KGLAB_ALICE_PWFILE alice@$KGLAB_REALM >/dev/null 2>&1
		while [ ! -e $work/stop ]; do
			c=\$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --negotiate -u : \
				http://mail.corp.contoso.com/old)
			echo \"\$(date +%s.%N) \$c\" >>$work/load-old
		done" &
	# A new TGT and service ticket every request, in one process: its
	# period is the KDC's and the VIP's, not kinit's and curl's start-up.
	client env KRB5CCNAME="MEMORY:fresh" /usr/bin/python3 "$top/tests/integration/kgclient.py" \
		freshloop "$KGLAB_VIP" 80 HTTP@mail.corp.contoso.com /fresh "bob@$KGLAB_REALM" \
		"$KGLAB_BOB_PWFILE" "$work/stop" >>"$work/load-fresh" &
	for _ in $(seq 50); do
		[ -s "$work/load-old" ] && [ -s "$work/load-fresh" ] && return 0
		sleep 0.1
	done
	return 1
}
stop_load() { touch "$work/stop"; sleep 1.5; }
load_ok() {
	local f n bad
	for f in load-old load-fresh; do
		n=$(wc -l <"$work/$f"); bad=$(grep -vc ' 200$' "$work/$f")
		echo "   $f: $n requests, $bad not 200"
		[ "$n" -gt 0 ] && [ "$bad" -eq 0 ] || return 1
	done
}

# For docs/performance.md (bench/rotation.sh prints these): per round, the
# time from the AD change and from activate to the first fresh-ticket
# success after it, and each loop's longest gap between two answers.
figures() {
	local k
	for k in $1 $(($1 + 1)) $(($1 + 2)); do
		[ -e "$work/activated-$k" ] || continue
		awk -v c="$(cat "$work/changed-$k")" -v a="$(cat "$work/activated-$k")" -v k="$k" '
			$2 == 200 && $1 > c && !fc { fc = $1 }
			$2 == 200 && $1 > a && !fa { fa = $1 }
			END { printf "   figure: kvno %d: first fresh authentication %.0f ms after the AD change, %.0f ms after activate\n", k, (fc - c) * 1000, (fa - a) * 1000 }' "$work/load-fresh"
	done
	for f in load-old load-fresh; do
		awk -v f="$f" 'NR > 1 && $1 - p > g { g = $1 - p } { p = $1 }
			END { printf "   figure: %s: longest gap between two answers %.0f ms over %d requests\n", f, g * 1000, NR }' "$work/$f"
	done
}

# ------------------------------------------------------------------ tests

test_store_imported_from_the_keytab() {
	[ -s "$work/data/keys.sealed" ] && [ "$(stat -c %a "$work/data/keys.sealed")" = 600 ] &&
		[ "$(stat -c %a "$work/data/device.key")" = 600 ] || return 1
	ctl list >"$work/ctl.out" || return 1
	grep -Eq "^$kvno +active" "$work/ctl.out" && ! grep -q "staged" "$work/ctl.out"
}

test_list_never_shows_key_bytes() {
	local hex
	ctl list >"$work/ctl.out" || return 1
	# No run of hex or base64 as long as a key in the answer.
	hex=$(grep -Eo '[0-9a-fA-F]{32,}|[A-Za-z0-9+/]{40,}' "$work/ctl.out" | head -1)
	[ -z "$hex" ]
}

rotation_round() {
	local pw="Kglab-Rot$1-$(date +%s)-Aa1" new=$((kvno + 1))
	stage "$pw" $new || { cat "$work/ctl.out"; return 1; }
	set_ad_password "$pw" || return 1
	date +%s.%N >"$work/changed-$new"
	ctl verify $new >"$work/ctl.out" 2>&1 || { cat "$work/ctl.out"; return 1; }
	date +%s.%N >"$work/activated-$new"
	ctl activate $new >"$work/ctl.out" 2>&1 || { cat "$work/ctl.out"; return 1; }
	kvno=$new
	asa_password=$pw
	sleep 1
}

test_three_rotations_under_load_fail_no_authentication() {
	local first=$((kvno + 1))
	start_load || return 1
	sleep 1
	rotation_round 1 && rotation_round 2 && rotation_round 3 || { stop_load; return 1; }
	sleep 1
	stop_load
	figures "$first"
	load_ok || return 1
	ctl list >"$work/ctl.out" || return 1
	grep -Eq "^$kvno +active" "$work/ctl.out" &&
		[ "$(grep -c retained "$work/ctl.out")" = 3 ]
}

test_a_reload_starts_from_the_sealed_store() {
	kill -HUP "$kg_pid"
	sleep 2
	ctl list >"$work/ctl.out" || return 1
	grep -Eq "^$kvno +active" "$work/ctl.out" || return 1
	client kdestroy >/dev/null 2>&1; kinit_as alice >/dev/null
	[ "$(vip_curl --negotiate -u : http://mail.corp.contoso.com/after-reload)" = 200 ]
}

test_wrong_password_fails_verify_and_activates_nothing() {
	local new=$((kvno + 1))
	stage "Not-The-Password-1a" $new || return 1
	! ctl verify $new >"$work/ctl.out" 2>&1 || return 1
	grep -q "NOT verified" "$work/ctl.out" &&
		grep -q "the KDC refuses the staged key" "$work/ctl.out" || { cat "$work/ctl.out"; return 1; }
	! ctl activate $new >/dev/null 2>&1 || return 1
	ctl list >"$work/ctl.out" && grep -Eq "^$kvno +active" "$work/ctl.out" || return 1
	client kdestroy >/dev/null 2>&1; kinit_as alice >/dev/null
	[ "$(vip_curl --negotiate -u : http://mail.corp.contoso.com/still)" = 200 ] || return 1
	ctl retire $new >/dev/null
}

test_wrong_kvno_fails_verify_with_the_kvno_to_stage() {
	local new=$((kvno + 2))
	stage "$asa_password" $new || return 1
	! ctl verify $new >"$work/ctl.out" 2>&1 || return 1
	grep -q "AD's kvno for $KGLAB_ASA_PRINCIPAL is $kvno, the staged kvno is $new" \
		"$work/ctl.out" || { cat "$work/ctl.out"; return 1; }
	ctl retire $new >/dev/null
}

test_lower_kvno_is_refused() {
	! stage "$asa_password" $((kvno - 1)) &&
		grep -q "is not above the active kvno $kvno" "$work/ctl.out"
}

test_spn_missing_or_elsewhere_is_named_by_verify() {
	local pw="Kglab-RotSpn-$(date +%s)-Aa1" new=$((kvno + 1)) spn=http/autod.corp.contoso.com
	stage "$pw" $new && set_ad_password "$pw" || return 1
	# Missing: no account holds it.
	stool spn delete "$spn" "$asa" || return 1
	! ctl verify $new >"$work/ctl.out" 2>&1 || return 1
	grep -q "SPN $spn is not registered in AD" "$work/ctl.out" || { cat "$work/ctl.out"; return 1; }
	# On another account: its tickets are made with that account's key.
	stool spn add "$spn" 'cas1$' || return 1
	! ctl verify $new >"$work/ctl.out" 2>&1 || return 1
	grep -q "SPN $spn: its tickets (kvno [0-9]*) are not made with" "$work/ctl.out" &&
		grep -q "registered to another account" "$work/ctl.out" &&
		! grep -q "SPN http/mail" "$work/ctl.out" || { cat "$work/ctl.out"; return 1; }
	ctl list >"$work/ctl.out" && grep -Eq "^$new +staged" "$work/ctl.out" || return 1
	# Moved back: it verifies and activates.
	stool spn delete "$spn" 'cas1$' && stool spn add "$spn" "$asa" || return 1
	ctl verify $new >/dev/null 2>&1 && ctl activate $new >/dev/null 2>&1 || return 1
	kvno=$new
	asa_password=$pw
}

# A password changed in AD and not (yet) staged: the 401 carries the
# KRB-ERROR a Windows server sends (KRB_AP_ERR_MODIFIED, 41) inside a
# SPNEGO reject; staging, verifying and activating it lets the client in.
test_unknown_key_gets_krb_ap_err_modified_then_rotation_fixes_it() {
	local pw="Kglab-RotErr-$(date +%s)-Aa1" new=$((kvno + 1)) tok
	set_ad_password "$pw" || return 1
	client kdestroy >/dev/null 2>&1; kinit_as alice >/dev/null
	[ "$(vip_curl --negotiate -u : http://mail.corp.contoso.com/unknown-key)" = 401 ] || return 1
	tok=$(sed -n 's/^WWW-Authenticate: Negotiate \([A-Za-z0-9+/=]*\).*/\1/ip' "$work/headers")
	python3 - "$tok" <<-'PY' || return 1
		import base64, sys
		t = base64.b64decode(sys.argv[1])
		# NegTokenResp [1], negState reject (2), a GSS krb5 token 03 00 with a
		# KRB-ERROR: pvno 5, msg-type 30, error-code 41.
		ok = t[0] == 0xa1 and bytes.fromhex("0a0102") in t and bytes.fromhex("0300") in t \
			and bytes.fromhex("a003020105a10302011e") in t and bytes.fromhex("a603020129") in t
		sys.exit(0 if ok else 1)
	PY
	stage "$pw" $new && ctl verify $new >/dev/null 2>&1 && ctl activate $new >/dev/null 2>&1 ||
		return 1
	kvno=$new
	asa_password=$pw
	[ "$(vip_curl --negotiate -u : http://mail.corp.contoso.com/known-key)" = 200 ]
}

test_non_root_client_is_refused() {
	local rc
	# Open the folder and socket for the test: the uid check must refuse.
	chmod 755 "$work/run" && chmod 666 "$work/run/control.sock" || return 1
	lb setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$top/$out/bin/kerbgatectl" -s "$work/run/control.sock" credentials list \
		>/dev/null 2>&1
	rc=$?
	chmod 700 "$work/run"; chmod 600 "$work/run/control.sock"
	[ $rc -ne 0 ] && log_has "control: refused a client of uid 65534: root only"
}

# The lab's copy of the ASA keys follows AD, so that later scripts start
# from the truth (as test_kerbgated.sh does after its own password change).
restore_lab_keytab() {
	rm -f "$work/final.keytab"
	$lab exec dc samba-tool domain exportkeytab "$work/final.keytab" \
		--principal="$KGLAB_ASA_PRINCIPAL" -s "$KGLAB_SMB_CONF" >/dev/null 2>&1 || return 1
	install -m 0600 "$work/final.keytab" "$KGLAB_ASA_KEYTAB"
	sed -i -e "s/^export KGLAB_ASA_KVNO=.*/export KGLAB_ASA_KVNO='$kvno'/" \
		-e "s/^export KGLAB_ASA_PASSWORD=.*/export KGLAB_ASA_PASSWORD='$asa_password'/" \
		"$KGLAB_DIR/lab.env"
}

asa_password=$KGLAB_ASA_PASSWORD
setup
mkdir -m 0700 "$work/data"	# /data on the appliance: it exists
start_or_exit
check "the keytab is imported into a 0600 sealed store; kvno $kvno active" test_store_imported_from_the_keytab
check "list shows no key bytes" test_list_never_shows_key_bytes
check "3 rotations under load (old and fresh tickets): no failed authentication" \
	test_three_rotations_under_load_fail_no_authentication
check "a reload starts from the sealed store" test_a_reload_starts_from_the_sealed_store
check "a wrong password fails verify with the reason; nothing activated" \
	test_wrong_password_fails_verify_and_activates_nothing
check "a wrong kvno fails verify, naming AD's kvno" test_wrong_kvno_fails_verify_with_the_kvno_to_stage
check "a kvno below the active one is refused" test_lower_kvno_is_refused
check "verify names an SPN missing or registered to another account" \
	test_spn_missing_or_elsewhere_is_named_by_verify
check "a ticket no key decrypts: 401 with KRB_AP_ERR_MODIFIED; the rotation lets it in" \
	test_unknown_key_gets_krb_ap_err_modified_then_rotation_fixes_it
check "the control socket refuses a non-root client" test_non_root_client_is_refused
restore_lab_keytab || nok "the lab's ASA keytab follows AD again"
finish
