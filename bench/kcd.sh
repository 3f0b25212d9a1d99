#!/usr/bin/env bash
# kcd mode against header mode, in the lab (a real KDC is needed for
# S4U2Proxy): throughput and latency of keep-alive authenticated requests
# through the VIP to the same two back-ends (Apache + mod_auth_gssapi on
# cas1/cas2: for kcd, it checks each delegated ticket; for header mode, the
# same Apache serves an unauthenticated path), and the KDC requests made per
# 1,000 authenticated client connections.  A benchmark, not a timed test:
# run as root; brings the lab up and down itself; about 2 minutes.
#
#   bench/kcd.sh            # prints a table; KCD_CONNS, KCD_PER_CONN tune it
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
out=${KG_OUT:-output}
lab=tests/lab/lab
conns=${KCD_CONNS:-20}
per_conn=${KCD_PER_CONN:-50}
newconns=${KCD_NEWCONNS:-1000}

[ "$(id -u)" = 0 ] || { echo "bench/kcd.sh needs root (network namespaces)" >&2; exit 1; }
make -s "$out/bin/kerbgated" >/dev/null
trap '[ -n "${KCD_KEEP_LAB:-}" ] || $lab down >/dev/null 2>&1 || true' EXIT INT TERM
$lab up >/dev/null
# shellcheck disable=SC1091
source "${KGLAB_DIR:-/run/kerbgate-lab}/lab.env"
work=$KGLAB_DIR/bench
mkdir -p "$work"
for u in _kgrelay _kgkeys; do
	id "$u" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$u"
done
install -m 0600 "$KGLAB_ASA_KEYTAB" "$work/asa.keytab"
head -c 48 /dev/urandom >"$work/pool.secret"

# One configuration, two routes to the same servers: /kcd (delegation) and
# /hdr (signed header).  Apache authenticates /whoami...; /health is open.
cat >"$work/kerbgated.json" <<EOF
{
  "workers": 2, "keytab": "$work/asa.keytab",
  "listeners": [ { "address": "$KGLAB_VIP", "port": 80 } ],
  "kcd": { "principal": "$KGLAB_ASA_PRINCIPAL", "kdcs": ["$KGLAB_DC_IP"] },
  "vhosts": [ { "name": "mail.corp.contoso.com", "spns": ["http/mail.corp.contoso.com"],
    "routes": [ { "path": "/kcd", "pool": "kcd" }, { "path": "/health", "pool": "hdr" } ] } ],
  "pools": [
    { "name": "kcd", "mode": "kcd",
      "health": { "path": "/health", "timeout": 3, "fall": 3 },
      "servers": [ { "name": "cas1.corp.contoso.com", "address": "$KGLAB_CAS1_IP", "port": 80 },
                   { "name": "cas2.corp.contoso.com", "address": "$KGLAB_CAS2_IP", "port": 80 } ] },
    { "name": "hdr", "header_secret_file": "$work/pool.secret",
      "health": { "path": "/health", "timeout": 3, "fall": 3 },
      "servers": [ { "name": "cas1.corp.contoso.com", "address": "$KGLAB_CAS1_IP", "port": 80 },
                   { "name": "cas2.corp.contoso.com", "address": "$KGLAB_CAS2_IP", "port": 80 } ] }
  ]
}
EOF
$lab exec lb "$top/$out/bin/kerbgated" -d -f "$work/kerbgated.json" >"$work/kerbgated.log" 2>&1 &
sleep 2
$lab exec client kinit --password-file="$KGLAB_ALICE_PWFILE" "alice@$KGLAB_REALM" >/dev/null

kg() { $lab exec client /usr/bin/python3 "$top/tests/integration/kgclient.py" "$@"; }
kgb() { $lab exec client "$top/$out/bench/kgbench" "$@" -a "$KGLAB_VIP:80" -H mail.corp.contoso.com; }
kgpid() { pgrep -o -f "^$top/$out/bin/kerbgated -d -f $work/kerbgated.json"; }

# Real tokens from the KDC (MIT client), made before any clock starts.
kg tokens HTTP@mail.corp.contoso.com $((conns * 4)) >"$work/ka.tokens"
kg tokens HTTP@mail.corp.contoso.com $((conns * 4)) >"$work/ka2.tokens"
kg tokens HTTP@mail.corp.contoso.com "$newconns" >"$work/new.tokens"
kg many "$KGLAB_VIP" 80 HTTP@mail.corp.contoso.com /kcd/warm 2 2 alice@CORP.CONTOSO.COM >/dev/null 2>&1 || true

echo "== keep-alive, $conns connections, authenticated once each, ${duration:=10} s"
echo "-- header mode (Apache /health, unauthenticated there)"
kgb keepalive -T "$work/ka.tokens" -c "$conns" -d "$duration" -p /health -l header 2>&1 | grep -E "RESULT|status|error" || true
echo "-- kcd mode (the same static page behind mod_auth_gssapi: Apache checks every delegated ticket)"
kgb keepalive -T "$work/ka2.tokens" -c "$conns" -d "$duration" -p /kcd-static -l kcd 2>&1 | grep -E "RESULT|status|error" || true

m=$(wc -l <"$KGLAB_KDC_LOG")
kill -HUP "$(kgpid)"; sleep 2	# a new keyholder: empty ticket cache
echo "== $newconns new client connections, one request each (fresh cache)"
kgb newconn -T "$work/new.tokens" -n "$newconns" -c 16 -d 60 -p /kcd-static -l kcd-newconn 2>&1 | grep -E "RESULT|status|error" || true
s4u=$(tail -n +"$((m + 1))" "$KGLAB_KDC_LOG" | grep -c "constrained delegation for alice" || true)
tgs=$(tail -n +"$((m + 1))" "$KGLAB_KDC_LOG" | grep -c "TGS-REQ SUCCESS.*$KGLAB_LB_IP" || true)
echo "KDC: $s4u S4U2Proxy for alice (target: at most 2, one per back-end), $tgs TGS requests from the appliance in all"
grep -E "warning" "$work/kerbgated.log" | grep -v "health check" | sort | uniq -c | sort -rn | head -5
mkdir -p "$out/bench"; cp "$work/kerbgated.log" "$out/bench/kcd-kerbgated.log"
pkill -f "^$top/$out/bin/kerbgated -d -f $work/kerbgated.json" || true
sleep 1
