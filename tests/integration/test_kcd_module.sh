#!/usr/bin/env bash
# services/kerbgated/kcd.c against the lab's KDC, through kcd_probe in the
# lb namespace: real evidence tickets from Heimdal clients in the client
# namespace, back-end tickets checked by Apache + mod_auth_gssapi on cas1
# (which holds only its own keytab).  Needs `tests/lab/lab up` first, and a
# fresh one (test_kerbgated.sh rotates EXCHASA$'s password).
# Last line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
top=$PWD
out=${KG_OUT:-output}
lab=tests/lab/lab
# shellcheck disable=SC1091
source "${KGLAB_DIR:-/run/kerbgate-lab}/lab.env"

probe=$top/$out/tests/tools/kcd_probe
work=$KGLAB_DIR/tmp/kcd
passed=0; failed=0
rm -rf "$work"; mkdir -p "$work"

ok()   { echo "ok - $*"; passed=$((passed + 1)); }
nok()  { echo "not ok - $*"; failed=$((failed + 1)); }
# check NAME FUNCTION: the function prints diagnostics into $work/diag.
# Every check shows the probe's verdict; a failure also its diagnostics.
check() {
	local name=$1; shift
	rm -f "$work/probe.out"
	if "$@" >"$work/diag" 2>&1; then ok "$name"
	else nok "$name"; sed 's/^/#   /' "$work/diag" | tail -20; fi
	[ -f "$work/probe.out" ] && grep -E '^(status|reason|stats): ' "$work/probe.out" |
		sed 's/^/#   /'
}

# A client-side ccache per scenario, never the shared one.
cx() { local cc=$1; shift; $lab exec client env KRB5CCNAME="FILE:$work/cc.$cc" "$@"; }
# evidence USER CC [kinit options]: kinit, then a ticket for http/mail (the evidence).
evidence() {
	local user=$1 cc=$2; shift 2
	rm -f "$work/cc.$cc"
	cx "$cc" kinit "$@" --password-file="$(eval echo "\$KGLAB_${user^^}_PWFILE")" \
		"$user@$KGLAB_REALM" &&
		cx "$cc" kgetcred http/mail.corp.contoso.com@"$KGLAB_REALM"
}
# run_probe CC ARGS...: output in $work/probe.out
run_probe() {
	local cc=$1; shift
	$lab exec lb "$probe" --keytab "$KGLAB_ASA_KEYTAB" --principal "$KGLAB_ASA_PRINCIPAL" \
		--ccache "FILE:$work/cc.$cc" --evidence-spn http/mail.corp.contoso.com "$@" \
		>"$work/probe.out" 2>&1
	cat "$work/probe.out"
}
field() { sed -n "s/^$1: //p" "$work/probe.out" | head -1; }
kdc_mark() { wc -l <"$KGLAB_KDC_LOG"; }
kdc_count() { tail -n +"$(($1 + 1))" "$KGLAB_KDC_LOG" | grep -c -- "$2"; }
# whoami_with TOKEN: the body of cas1's /whoami, then "HTTP <code>".
whoami_with() {
	$lab exec lb curl -s --max-time 10 -w 'HTTP %{http_code}\n' \
		-H "Authorization: Negotiate $1" http://cas1.corp.contoso.com/whoami
}

# ------------------------------------------------------------------ tests

test_alice_forwardable_s4u2proxy_to_cas1() {
	local m tok body
	evidence alice a --forwardable || return 1
	m=$(kdc_mark)
	run_probe a --spn http/cas1.corp.contoso.com || return 1
	[ "$(field status)" = ok ] && [ "$(field protocol-transition)" = no ] || return 1
	tok=$(field token)
	echo "$tok" >"$work/token.a"
	body=$(whoami_with "$tok")
	echo "$body"
	[[ $body == *"user: alice@CORP.CONTOSO.COM"* && $body == *"node: cas1"* &&
		$body == *"HTTP 200" ]] || return 1
	# Exactly one S4U2Proxy, no S4U2Self, for this run.
	[ "$(kdc_count "$m" "constrained delegation for alice@CORP.CONTOSO.COM")" = 1 ] &&
		[ "$(kdc_count "$m" "s4u2self EXCHASA")" = 0 ]
}

test_token_is_single_use_at_the_backend() {
	local body
	# The same AP-REQ again: MIT's replay cache at the back-end refuses it.
	body=$(whoami_with "$(cat "$work/token.a")")
	echo "$body"
	[[ $body == *"HTTP 401" && $body != *"user: alice"* ]]
}

test_mutual_auth_with_apache() {
	run_probe a --spn http/cas1.corp.contoso.com --http "$KGLAB_CAS1_IP" 80 \
		cas1.corp.contoso.com /whoami || return 1
	grep -qx 'http: 200' "$work/probe.out" && grep -qx 'mutual: ok' "$work/probe.out" &&
		grep -qx 'forged-ap-rep: refused' "$work/probe.out" &&
		grep -q 'user: alice@CORP.CONTOSO.COM' "$work/probe.out"
}

test_many_requests_one_kdc_request() {
	local m n=25
	m=$(kdc_mark)
	run_probe a --spn http/cas1.corp.contoso.com --count $n || return 1
	[ "$(field status)" = ok ] && ! grep -q mismatch "$work/probe.out" || return 1
	grep -q "^stats: requests=$((2 * n - 1)) cache_hits=$((n - 1)) coalesced=$((n - 1)) jobs=1 as=1 s4u2self=0 s4u2proxy=1 " \
		"$work/probe.out" || return 1
	echo "KDC log: $(kdc_count "$m" "constrained delegation for alice@") S4U2Proxy, $(kdc_count "$m" "AS-REQ SUCCESS.*EXCHASA") AS"
	[ "$(kdc_count "$m" "constrained delegation for alice@CORP.CONTOSO.COM")" = 1 ]
}

test_kdc_list_override() {
	run_probe a --spn http/cas1.corp.contoso.com --kdc "$KGLAB_DC_IP" >/dev/null &&
		[ "$(field status)" = ok ]
}

test_kdc_unreachable_reason() {
	run_probe a --spn http/cas1.corp.contoso.com --kdc 10.77.0.99 >/dev/null
	[ "$(field status)" = kdc-unreachable ] && [[ $(field reason) == "KDC unreachable ("* ]]
}

test_spn_not_delegable_is_badoption() {
	run_probe a --spn host/dc1.corp.contoso.com >/dev/null
	[ "$(field status)" = not-allowed ] &&
		[[ $(field reason) == "KDC_ERR_BADOPTION for host/dc1.corp.contoso.com@CORP.CONTOSO.COM: EXCHASA\$ may not delegate to it, or the evidence ticket is not forwardable; check msDS-AllowedToDelegateTo and protocol transition"* ]]
}

test_unknown_spn_reason() {
	run_probe a --spn http/nosuch.corp.contoso.com >/dev/null
	[ "$(field status)" = unknown-spn ] &&
		[[ $(field reason) == "KDC_ERR_S_PRINCIPAL_UNKNOWN for http/nosuch.corp.contoso.com@CORP.CONTOSO.COM: no such SPN in the directory"* ]]
}

test_carol_without_protocol_transition_is_refused_locally() {
	local m
	evidence carol c --forwardable || return 1
	m=$(kdc_mark)
	run_probe c --spn http/cas1.corp.contoso.com >/dev/null
	grep -q '^evidence: carol@CORP.CONTOSO.COM .* not forwardable' "$work/probe.out" &&
		[ "$(field status)" = not-forwardable ] &&
		[[ $(field reason) == *"sensitive and cannot be delegated"* ]] &&
		[ "$(kdc_count "$m" "TGS-REQ.*EXCHASA")" = 0 ]
}

test_carol_with_protocol_transition_is_sensitive() {
	run_probe c --spn http/cas1.corp.contoso.com --allow-pt >/dev/null
	[ "$(field status)" = user-sensitive ] &&
		[[ $(field reason) == 'carol@CORP.CONTOSO.COM is marked "sensitive and cannot be delegated"'* ]]
}

test_protocol_transition_only_when_allowed() {
	local m tok body
	evidence alice n --no-forwardable || { echo "no evidence"; return 1; }	# krb5.conf says forwardable
	run_probe n --spn http/cas1.corp.contoso.com >/dev/null
	grep -q '^evidence: alice@CORP.CONTOSO.COM .* not forwardable' "$work/probe.out" &&
		[ "$(field status)" = not-forwardable ] || { cat "$work/probe.out"; return 1; }
	m=$(kdc_mark)
	run_probe n --spn http/cas1.corp.contoso.com --allow-pt || { cat "$work/probe.out"; return 1; }
	[ "$(field status)" = ok ] && [ "$(field protocol-transition)" = yes ] ||
		{ cat "$work/probe.out"; return 1; }
	tok=$(field token)
	body=$(whoami_with "$tok")
	echo "$body"
	[[ $body == *"user: alice@CORP.CONTOSO.COM"* ]] &&
		[ "$(kdc_count "$m" "s4u2self EXCHASA.*impersonating alice@CORP.CONTOSO.COM")" = 1 ] &&
		[ "$(kdc_count "$m" "constrained delegation for alice@CORP.CONTOSO.COM")" = 1 ]
}

test_evidence_of_another_user_is_refused() {
	run_probe a --spn http/cas1.corp.contoso.com --user bob@CORP.CONTOSO.COM >/dev/null
	[ "$(field status)" = evidence-invalid ] &&
		[[ $(field reason) == *"not the authenticated user's"* ]]
}

test_delegation_removed_is_badoption() {
	$lab exec dc samba-tool delegation del-service 'EXCHASA$' http/cas2.corp.contoso.com \
		-s "$KGLAB_SMB_CONF" || return 1
	run_probe a --spn http/cas2.corp.contoso.com >/dev/null
	local st=$(field status) reason=$(field reason)
	$lab exec dc samba-tool delegation add-service 'EXCHASA$' http/cas2.corp.contoso.com \
		-s "$KGLAB_SMB_CONF" >/dev/null
	echo "$st: $reason"
	[ "$st" = not-allowed ] && [[ $reason == "KDC_ERR_BADOPTION for http/cas2"* ]]
}

test_cas2_after_delegation_restored() {
	run_probe a --spn http/cas2.corp.contoso.com >/dev/null && [ "$(field status)" = ok ]
}

[ -x "$probe" ] || { echo "build $probe first (make $out/tests/tools/kcd_probe)"; exit 2; }
echo "# ASA enctypes: ${KGLAB_ASA_ENCTYPES:-default (RC4 service tickets)}"
check "alice's forwardable evidence: S4U2Proxy to http/cas1, Apache says alice" test_alice_forwardable_s4u2proxy_to_cas1
grep '^evidence' "$work/probe.out" | sed 's/^/# /'
check "the same AP-REQ twice is refused by the back-end (fresh authenticators needed)" test_token_is_single_use_at_the_backend
check "mutual authentication: Apache's AP-REP verifies, a forged one does not" test_mutual_auth_with_apache
check "25 concurrent + 24 sequential requests: one S4U2Proxy in the KDC log" test_many_requests_one_kdc_request
check "an explicit KDC list works" test_kdc_list_override
check "an unreachable KDC is reported as such" test_kdc_unreachable_reason
check "an SPN EXCHASA\$ may not delegate to: KDC_ERR_BADOPTION reason" test_spn_not_delegable_is_badoption
check "an unknown SPN: KDC_ERR_S_PRINCIPAL_UNKNOWN reason" test_unknown_spn_reason
check "carol (sensitive), protocol transition not allowed: refused without asking the KDC" test_carol_without_protocol_transition_is_refused_locally
check "carol (sensitive), protocol transition allowed: 'sensitive and cannot be delegated'" test_carol_with_protocol_transition_is_sensitive
check "non-forwardable evidence: refused unless protocol transition is allowed, then S4U2Self+S4U2Proxy" test_protocol_transition_only_when_allowed
check "evidence of alice presented for bob is refused" test_evidence_of_another_user_is_refused
check "delegation to http/cas2 removed in AD: KDC_ERR_BADOPTION reason" test_delegation_removed_is_badoption
check "delegation to http/cas2 restored: ticket obtained" test_cas2_after_delegation_restored
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
