#!/usr/bin/env bash
# kerbgate-mgmtd from outside, over real TLS on loopback (curl, openssl):
# who gets in (only a client certificate from the management CA), what is
# refused before anything reaches the keyholder (size, framing, JSON), that
# a slow client holds nobody up, and the audit log.  Runs without the lab;
# the credential flows through a running kerbgated are in test_rotation.sh.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${KG_OUT:-output}
bin=$PWD/$out/bin/kerbgate-mgmtd
work=$(mktemp -d /tmp/kg-mgmtd.XXXXXX)
port=${KG_MGMTD_PORT:-18443}
url=https://127.0.0.1:$port
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT; [ -n "${KG_KEEP:-}" ] && trap - EXIT
passed=0; failed=0
ok()   { echo "ok - $*"; passed=$((passed + 1)); }
nok()  { echo "not ok - $*"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name"; fi; }

[ -x "$bin" ] || { echo "missing $bin (make)"; echo "0 passed, 1 failed"; exit 1; }

# Two CAs: the management CA the appliance pins, and another one.
ca() {	# name
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=$1" -keyout "$work/$1.key" -out "$work/$1.pem" 2>/dev/null
}
leaf() {	# name ca subject [ext]
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$3" \
		-keyout "$work/$1.key" -out "$work/$1.csr" 2>/dev/null
	openssl x509 -req -in "$work/$1.csr" -CA "$work/$2.pem" -CAkey "$work/$2.key" \
		-CAcreateserial -days 2 -out "$work/$1.pem" ${4:+-extfile <(printf '%s' "$4")} 2>/dev/null
	chmod 0600 "$work/$1.key"
}
ca mgmt-ca; ca other-ca
leaf server mgmt-ca "/CN=appliance1" "subjectAltName=IP:127.0.0.1"
leaf admin mgmt-ca "/O=Contoso/CN=roll" "extendedKeyUsage=clientAuth"
leaf intruder other-ca "/O=Contoso/CN=roll" "extendedKeyUsage=clientAuth"

cat >"$work/mgmtd.json" <<EOF
{ "listen": "127.0.0.1:$port",
  "tls": { "cert": "$work/server.pem", "key": "$work/server.key", "client_ca": "$work/mgmt-ca.pem" },
  "control_socket": "$work/no-kerbgated.sock",
  "audit_log": "$work/audit.log",
  "max_body_bytes": 4096 }
EOF
"$bin" -d -f "$work/mgmtd.json" >"$work/mgmtd.log" 2>&1 &
pid=$!
for _ in $(seq 50); do grep -q listening "$work/mgmtd.log" && break; sleep 0.1; done

as_admin() { curl -s -o "$work/body" -w '%{http_code}' --max-time 10 --cacert "$work/mgmt-ca.pem" \
	--cert "$work/admin.pem" --key "$work/admin.key" "$@"; }

t_no_certificate() {
	curl -s -o /dev/null --max-time 10 --cacert "$work/mgmt-ca.pem" "$url/api/v1/credentials"
	local rc=$?
	[ $rc -ne 0 ] && grep -q 'refused in the TLS handshake' "$work/mgmtd.log"
}

t_other_ca() {
	! curl -s -o /dev/null --max-time 10 --cacert "$work/mgmt-ca.pem" \
		--cert "$work/intruder.pem" --key "$work/intruder.key" "$url/api/v1/credentials"
}

t_admin_gets_clear_503() {
	[ "$(as_admin "$url/api/v1/credentials")" = 503 ] &&
		grep -q 'kerbgated is not running' "$work/body" && grep -q '"ok":false' "$work/body"
}

t_oversize_refused_early() {
	# Announce 2 MB, send nothing of it: refused from the head alone.
	[ "$(as_admin -X PUT -H 'Content-Length: 2000000' --data-binary '' \
		"$url/api/v1/credentials/staged")" = 413 ]
}

t_chunked_refused() {
	[ "$(as_admin -X PUT -H 'Transfer-Encoding: chunked' --data-binary '{"kvno":1}' \
		"$url/api/v1/credentials/staged")" = 411 ]
}

t_malformed_json() {
	[ "$(as_admin -X PUT --data-binary '{"account": "A$@R", "kvno": ' \
		"$url/api/v1/credentials/staged")" = 400 ] && grep -q 'not valid JSON' "$work/body"
}

t_malformed_http() {
	# A bare LF in the head: the parser refuses it (400), nothing reaches the API.
	printf 'GET /api/v1/credentials HTTP/1.1\nHost: x\n\n' |
		timeout 10 openssl s_client -quiet -connect 127.0.0.1:$port -cert "$work/admin.pem" \
		-key "$work/admin.key" -CAfile "$work/mgmt-ca.pem" 2>/dev/null | head -1 | grep -q '^HTTP/1.1 400'
}

t_audit_without_secret() {
	[ "$(as_admin -X PUT --data-binary '{"account":"EXCHASA$@CORP.CONTOSO.COM","kvno":9,"password":"Tr0ub4dor&3xyz"}' \
		"$url/api/v1/credentials/staged")" = 503 ] || return 1
	grep -q 'who="O=Contoso, CN=roll" sha256=[0-9a-f]\{64\} action=stage kvno=9 result="not delivered"' "$work/audit.log" &&
		[ "$(stat -c %a "$work/audit.log")" = 600 ] &&
		! grep -q 'Tr0ub4dor' "$work/audit.log" "$work/mgmtd.log" "$work/body"
}

t_slow_client_holds_nobody() {
	# A connection that sends nothing must not stop another client.
	exec 7<>/dev/tcp/127.0.0.1/$port
	[ "$(as_admin "$url/api/v1/credentials")" = 503 ]
	local rc=$?
	exec 7>&-
	return $rc
}

t_server_cert_is_not_a_client_cert() {
	# The appliance's own server certificate (same CA, no clientAuth usage),
	# e.g. taken from another appliance, is not a management client.
	[ "$(curl -s -o "$work/body" -w '%{http_code}' --max-time 10 --cacert "$work/mgmt-ca.pem" \
		--cert "$work/server.pem" --key "$work/server.key" "$url/api/v1/credentials")" = 403 ] &&
		grep -q 'clientAuth' "$work/body"
}

t_idle_connections_do_not_lock_out() {
	# More idle TCP connections than the server keeps (anyone on the
	# management network can open them): the admin still gets in.
	python3 - "$port" "$work" <<'PY'
import socket, subprocess, sys, time
port, work = int(sys.argv[1]), sys.argv[2]
idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(80)]
time.sleep(0.3)
r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
    "--cacert", work + "/mgmt-ca.pem", "--cert", work + "/admin.pem", "--key", work + "/admin.key",
    "https://127.0.0.1:%d/api/v1/credentials" % port], capture_output=True, text=True)
for s in idle:
    s.close()
sys.exit(0 if r.stdout == "503" else 1)
PY
}

check "no client certificate: refused in the TLS handshake, and logged" t_no_certificate
check "a client certificate from another CA: refused" t_other_ca
check "the admin's certificate gets in; no kerbgated: 503 saying so" t_admin_gets_clear_503
check "a body larger than allowed: 413 from the head alone" t_oversize_refused_early
check "a chunked body: 411" t_chunked_refused
check "malformed JSON: 400 saying where" t_malformed_json
check "malformed HTTP (bare LF): 400 from the parser" t_malformed_http
check "audit log: who (subject, fingerprint), what, kvno, result; 0600; no password anywhere" t_audit_without_secret
check "a client that sends nothing does not hold up another" t_slow_client_holds_nobody
check "a certificate of the management CA without clientAuth usage (a server's): 403" t_server_cert_is_not_a_client_cert
check "more idle connections than slots do not lock the admin out" t_idle_connections_do_not_lock_out

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
