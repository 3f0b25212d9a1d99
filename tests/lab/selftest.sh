# shellcheck shell=bash
# Self-test of a running lab. Sourced by `lab selftest`: it uses the lab
# script's variables (LAB_DIR, REALM, IP, ...) and helpers (nsx, say).
#
# Output: one line per check, "ok - ..." or "not ok - ..." (diagnostics
# follow a failure as "#   ..." lines), then "N passed, N failed".

ST_PASS=0
ST_FAIL=0
ST_TMP=$LAB_DIR/tmp/selftest
GSS=(/usr/bin/python3 "$LAB_SRC/gss.py")

# Run HOST's command with a test-private ccache (a file name under ST_TMP).
kx() {
    local host=$1 cc=$2; shift 2
    mkdir -p "$LAB_DIR/rcache/$host"
    nsx "$host" env KRB5_CONFIG="$KRB5_CONF" KRB5CCNAME="FILE:$ST_TMP/$cc" \
        KRB5RCACHEDIR="$LAB_DIR/rcache/$host" "$@"
}

# A check may leave a short note (a measured value) for its "ok" line.
note() { printf '%s' "$*" >"$ST_TMP/.note"; }

# check DESCRIPTION FUNCTION [ARGS...]: the function fails by returning non-zero
# and explains why on stdout/stderr.
check() {
    local desc=$1 out rc=0 extra=""
    shift
    rm -f "$ST_TMP/.note"
    out=$("$@" 2>&1) || rc=$?
    [[ -s $ST_TMP/.note ]] && extra=" ($(cat "$ST_TMP/.note"))"
    if [[ $rc -eq 0 ]]; then
        ST_PASS=$((ST_PASS + 1))
        echo "ok - $desc$extra"
    else
        ST_FAIL=$((ST_FAIL + 1))
        echo "not ok - $desc$extra"
        [[ -n $out ]] && printf '%s\n' "$out" | tail -n 15 | sed 's/^/#   /'
    fi
    return 0
}

# http HOST CCACHE CURL-ARGS...: sets HTTP_CODE and HTTP_BODY.
http() {
    local host=$1 cc=$2 out
    shift 2
    out=$(kx "$host" "$cc" curl -sS --max-time 10 -w '\n%{http_code}' "$@") || {
        echo "curl failed: $out"; return 1; }
    HTTP_CODE=${out##*$'\n'}
    HTTP_BODY=${out%$'\n'*}
}

expect_whoami() {
    local node=$1 user=$2
    [[ $HTTP_CODE == 200 && $HTTP_BODY == *"user: $user"$'\n'* && $HTTP_BODY == *"node: $node"* ]] && return 0
    echo "expected 200 from $node naming $user, got HTTP $HTTP_CODE:"
    echo "$HTTP_BODY"
    return 1
}

# klist_has CCACHE-HOST CCACHE PATTERN...: every pattern is in `klist -v`.
klist_has() {
    local host=$1 cc=$2 out p
    shift 2
    out=$(kx "$host" "$cc" klist -v) || { echo "$out"; return 1; }
    for p in "$@"; do
        grep -qE -- "$p" <<<"$out" || { echo "klist -v lacks /$p/:"; echo "$out"; return 1; }
    done
}

# ---------------------------------------------------------------- checks

t_kinit() {
    local user=$1
    kx client "$user.cc" kinit --password-file="$LAB_DIR/pw/$user" "$user" || return 1
    klist_has client "$user.cc" "Principal: $user@$REALM" "Server: krbtgt/$REALM@$REALM"
}

t_whoami() {
    local node=$1 user=$2
    http client "$user.cc" --negotiate -u : "http://$node.$DNSDOMAIN/whoami" || return 1
    expect_whoami "$node" "$user@$REALM"
}

t_health() {
    local node=$1
    http client none.cc "http://$node.$DNSDOMAIN/health" || return 1
    [[ $HTTP_CODE == 200 && ${HTTP_BODY%$'\n'} == ok ]] || { echo "HTTP $HTTP_CODE: $HTTP_BODY"; return 1; }
}

t_no_ticket() {
    local node=$1
    http client none.cc --negotiate -u : "http://$node.$DNSDOMAIN/whoami" || return 1
    [[ $HTTP_CODE == 401 ]] || { echo "expected 401, got HTTP $HTTP_CODE: $HTTP_BODY"; return 1; }
}

t_wrong_password() {
    local out
    printf 'not-the-password\n' >"$ST_TMP/wrong.pw"
    if out=$(kx client wrong.cc kinit --password-file="$ST_TMP/wrong.pw" alice 2>&1); then
        echo "kinit with a wrong password succeeded"; return 1
    fi
    # It must fail because the KDC refused the key, not for another reason.
    grep -qiE 'password incorrect|preauth' <<<"$out" || { echo "unexpected failure: $out"; return 1; }
    note "kinit: ${out##*: }"
}

t_asa_kinit() {
    kx lb asa.cc kinit -k -t "$LAB_DIR/asa.keytab" --forwardable "$ASA\$@$REALM" || return 1
    klist_has lb asa.cc "Principal: $ASA\\\$@$REALM" "Ticket flags: .*forwardable"
}

t_s4u2self() {
    local user=$1
    kx lb asa.cc kgetcred --impersonate="$user@$REALM" --forwardable \
        --out-cache="FILE:$ST_TMP/self-$user.cc" "$ASA\$@$REALM" || return 1
    klist_has lb "self-$user.cc" "Client: $user@$REALM" "Server: $ASA\\\$@$REALM" \
        "Ticket flags: .*forwardable"
}

t_s4u2proxy() {
    local user=$1 node=$2
    kx lb asa.cc kgetcred --delegation-credential-cache="FILE:$ST_TMP/self-$user.cc" \
        --out-cache="FILE:$ST_TMP/proxy-$user-$node.cc" "http/$node.$DNSDOMAIN@$REALM" || return 1
    klist_has lb "proxy-$user-$node.cc" "Client: $user@$REALM" "Server: http/$node.$DNSDOMAIN@$REALM"
}

t_proxy_curl() {
    local user=$1 node=$2
    # MIT (curl) asks for "HTTP/host" by default; the ccache holds the S4U2Proxy
    # ticket under "http/host" and has no TGT, so name the service as it is stored.
    http lb "proxy-$user-$node.cc" --service-name http --negotiate -u : \
        "http://$node.$DNSDOMAIN/whoami" || return 1
    expect_whoami "$node" "$user@$REALM"
}

t_carol_no_delegation() {
    local out
    kx lb asa.cc kgetcred --impersonate="carol@$REALM" --forwardable \
        --out-cache="FILE:$ST_TMP/self-carol.cc" "$ASA\$@$REALM" || return 1
    # AD's answer for a NOT_DELEGATED user: an S4U2Self ticket without forwardable.
    out=$(kx lb self-carol.cc klist -v) || { echo "$out"; return 1; }
    grep -q '^Client: carol@' <<<"$out" || { echo "$out"; return 1; }
    if grep -q '^Ticket flags:.*forwardable' <<<"$out"; then
        echo "carol's S4U2Self ticket is forwardable:"; echo "$out"; return 1
    fi
    if out=$(kx lb asa.cc kgetcred --delegation-credential-cache="FILE:$ST_TMP/self-carol.cc" \
            --out-cache="FILE:$ST_TMP/proxy-carol.cc" "http/cas1.$DNSDOMAIN@$REALM" 2>&1); then
        echo "S4U2Proxy for carol (NOT_DELEGATED) succeeded"; return 1
    fi
    note "kgetcred: ${out##*: }"
}

# The ASA keytab decrypts a ticket the client got for one of the virtual SPNs:
# client (Heimdal) gets the ticket, MIT builds the AP-REQ from the same ccache,
# and an MIT acceptor in lb accepts it with asa.keytab, asking for that exact SPN.
t_asa_accepts() {
    local spn=$1 service tok out etype
    service=${spn%%/*}@${spn#*/}
    kx client alice.cc kgetcred "$spn@$REALM" || return 1
    etype=$(kx client alice.cc klist -v | awk -v s="Server: $spn@$REALM" '
        $0 == s {f = 1} f && /^Ticket etype:/ {sub(/^Ticket etype: /, ""); print; exit}')
    tok=$(kx client alice.cc "${GSS[@]}" init "$service" krb5) || { echo "$tok"; return 1; }
    out=$(printf '%s' "$tok" | nsx lb env KRB5_CONFIG="$KRB5_CONF" KRB5_KTNAME="FILE:$LAB_DIR/asa.keytab" \
            KRB5RCACHEDIR="$LAB_DIR/rcache/lb" "${GSS[@]}" accept "$spn@$REALM" 2>&1) || {
        echo "$out"; return 1; }
    grep -qx "client: alice@$REALM" <<<"$out" || { echo "$out"; return 1; }
    note "ticket $etype"
}

# A node's keytab holds no ASA key: cas1 cannot accept a ticket for http/mail.
t_node_rejects_asa_ticket() {
    local tok out
    tok=$(kx client alice.cc "${GSS[@]}" init "http@mail.$DNSDOMAIN" krb5) || { echo "$tok"; return 1; }
    if out=$(printf '%s' "$tok" | nsx cas1 env KRB5_CONFIG="$KRB5_CONF" \
            KRB5_KTNAME="FILE:$LAB_DIR/cas1.keytab" KRB5RCACHEDIR="$LAB_DIR/rcache/cas1" \
            "${GSS[@]}" accept - 2>&1); then
        echo "cas1.keytab accepted a ticket for http/mail: $out"; return 1
    fi
    grep -q 'not found in keytab' <<<"$out" || { echo "unexpected failure: $out"; return 1; }
}

t_bigpac() {
    local node=cas1 len
    kx client bigpac.cc kinit --password-file="$LAB_DIR/pw/bigpac" bigpac || return 1
    # curl -v shows the request header it sent; measure the Negotiate one.
    kx client bigpac.cc curl -sS -v --max-time 10 --negotiate -u : -o "$ST_TMP/bigpac.body" \
        -w '%{http_code}' "http://$node.$DNSDOMAIN/whoami" >"$ST_TMP/bigpac.code" 2>"$ST_TMP/bigpac.err" || {
        cat "$ST_TMP/bigpac.err"; return 1; }
    len=$(tr -d '\r' <"$ST_TMP/bigpac.err" | awk '/^> Authorization: Negotiate / {sub(/^> /, ""); print length($0)}' | tail -n 1)
    HTTP_CODE=$(cat "$ST_TMP/bigpac.code")
    HTTP_BODY=$(cat "$ST_TMP/bigpac.body")
    note "Authorization header ${len:-?} bytes"
    [[ -n $len && $len -gt 16384 ]] || { echo "Authorization header is ${len:-missing}, want > 16384"; return 1; }
    expect_whoami "$node" "bigpac@$REALM"
}

# The KDC log counts requests (later tests rely on these lines). Only the lines
# this run added are counted, and only requests from client and lb, so the
# numbers are exact: 2 (curl alice) + 2x2 (S4U alice, bob) + 1 (S4U2Self carol)
# + 5 (ASA SPNs) + 1 (curl bigpac) = 13 TGS successes, 3 S4U2Self, 2 S4U2Proxy.
t_kdc_log() {
    local log tgs self proxy
    log=$(tail -n "+$((ST_LOG_START + 1))" "$SAMBA_LOG")
    tgs=$(grep -cE "Kerberos: TGS-REQ SUCCESS ipv4:(${IP[client]}|${IP[lb]}):" <<<"$log" || true)
    self=$(grep -c 'Kerberos: s4u2self ' <<<"$log" || true)
    proxy=$(grep -c 'Kerberos: constrained delegation for ' <<<"$log" || true)
    note "TGS-REQ SUCCESS=$tgs s4u2self=$self constrained-delegation=$proxy"
    [[ $tgs -eq 13 && $self -eq 3 && $proxy -eq 2 ]] || {
        echo "want 13/3/2 in $SAMBA_LOG since the selftest started"; return 1; }
}

# ---------------------------------------------------------------- main

selftest_main() {
    local spn
    rm -rf "$ST_TMP"
    install -d -m 700 "$ST_TMP"
    ST_LOG_START=$(wc -l <"$SAMBA_LOG")

    check "client: kinit alice (password)" t_kinit alice
    check "client -> cas1 /whoami with alice's ticket: 200 naming alice@$REALM" t_whoami cas1 alice
    check "client -> cas2 /whoami with alice's ticket: 200 naming alice@$REALM" t_whoami cas2 alice
    check "client -> cas1 /health without auth: 200 ok" t_health cas1
    check "client -> cas2 /health without auth: 200 ok" t_health cas2
    check "client -> cas1 /whoami without a ticket: 401" t_no_ticket cas1
    check "client -> cas2 /whoami without a ticket: 401" t_no_ticket cas2
    check "client: kinit alice with a wrong password fails" t_wrong_password

    check "lb: kinit -k -t asa.keytab $ASA\$ (forwardable)" t_asa_kinit
    check "lb: S4U2Self $ASA\$ impersonating alice" t_s4u2self alice
    check "lb: S4U2Proxy alice -> http/cas1.$DNSDOMAIN" t_s4u2proxy alice cas1
    check "lb -> cas1 /whoami with the S4U2Proxy ticket: 200 naming alice@$REALM" t_proxy_curl alice cas1
    check "lb: S4U2Self $ASA\$ impersonating bob" t_s4u2self bob
    check "lb: S4U2Proxy bob -> http/cas2.$DNSDOMAIN" t_s4u2proxy bob cas2
    check "lb -> cas2 /whoami with the S4U2Proxy ticket: 200 naming bob@$REALM" t_proxy_curl bob cas2
    check "lb: carol (not delegated): S4U2Self ticket not forwardable, S4U2Proxy refused" t_carol_no_delegation

    for spn in "${ASA_SPNS[@]}"; do
        check "lb: asa.keytab accepts alice's ticket for $spn" t_asa_accepts "$spn"
    done
    check "cas1: its own keytab cannot accept a ticket for http/mail" t_node_rejects_asa_ticket

    check "client -> cas1 as bigpac (1500 groups): header > 16 KiB, 200 naming bigpac" t_bigpac
    check "KDC log: exact counts of this run's TGS, S4U2Self and S4U2Proxy requests" t_kdc_log

    echo "$ST_PASS passed, $ST_FAIL failed"
    [[ $ST_FAIL -eq 0 ]]
}
