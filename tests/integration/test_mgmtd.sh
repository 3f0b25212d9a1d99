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

# ---- attacks from outside (review of issue 18's boundaries) ----------------
probe=tests/integration/mgmtprobe.py
for k in expired any-eku by-admin newline-cn; do python3 $probe cert "$work" "$k" "$k"; done
raw() {	# cert [tls1.2|tls1.3] < request: what comes back, or "refused: ..."
	python3 $probe raw "$port" "$work" "$@"
}
status_of() { head -1 | tr -d '\r'; }
audit_lines() { wc -l <"$work/audit.log"; }

t_expired_certificate_refused() {
	raw expired </dev/null >"$work/out"
	grep -q '^refused' "$work/out" && ! grep -q '^HTTP/' "$work/out"
}

t_any_eku_is_not_client_auth() {
	# anyExtendedKeyUsage passes mbedTLS's usage check: it is not clientAuth.
	[ "$(curl -s -o "$work/body" -w '%{http_code}' --max-time 10 --cacert "$work/mgmt-ca.pem" \
		--cert "$work/any-eku.pem" --key "$work/any-eku.key" "$url/api/v1/credentials")" = 403 ] &&
		grep -q 'clientAuth' "$work/body"
}

t_certificate_issued_by_a_client_certificate_refused() {
	# The admin's certificate is no CA: one it signed is not let in.
	printf 'GET /api/v1/credentials HTTP/1.1\r\nHost: x\r\n\r\n' | raw by-admin >"$work/out"
	grep -q '^refused' "$work/out" && ! grep -q '^HTTP/' "$work/out"
}

t_no_certificate_refused_in_tls12_and_tls13() {
	local v
	for v in tls1.2 tls1.3; do
		printf 'GET /api/v1/credentials HTTP/1.1\r\nHost: x\r\n\r\n' | raw - $v >"$work/out"
		grep -q '^refused' "$work/out" && ! grep -q '^HTTP/' "$work/out" || return 1
	done
	return 0
}

t_smuggling_framing_refused() {
	# Two lengths, a length and chunked, a space before the colon, a signed
	# length, a folded header: 400 from the parser, nothing audited.
	local before req st
	before=$(audit_lines)
	for req in \
	    'PUT /api/v1/credentials/staged HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nContent-Length: 2\r\n\r\n{"kvno": 1}' \
	    'PUT /api/v1/credentials/staged HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nTransfer-Encoding: chunked\r\n\r\n{"kvno": 1}' \
	    'PUT /api/v1/credentials/staged HTTP/1.1\r\nHost: x\r\nContent-Length : 11\r\n\r\n{"kvno": 1}' \
	    'PUT /api/v1/credentials/staged HTTP/1.1\r\nHost: x\r\nContent-Length: +11\r\n\r\n{"kvno": 1}' \
	    'PUT /api/v1/credentials/staged HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\nContent-Length: 11\r\n\r\n{"kvno": 1}' \
	    'PUT /api/v1/credentials/staged HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n' \
	    'GET /api/v1/credentials HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n'; do
		st=$(printf "$req" | raw admin | status_of)
		case $st in "HTTP/1.1 400 "*|"HTTP/1.1 411 "*|"HTTP/1.1 501 "*) ;; *) echo "  [$req] -> $st"; return 1;; esac
	done
	[ "$(audit_lines)" = "$before" ]
}

t_oversize_head_431() {
	{ printf 'GET /api/v1/credentials HTTP/1.1\r\nHost: x\r\nX-Pad: '; head -c 20000 /dev/zero | tr '\0' a
	  printf '\r\n\r\n'; } | raw admin | status_of | grep -q '^HTTP/1.1 431 '
}

t_pipelined_request_is_not_served() {
	# One request per connection: a change hidden behind a GET is not run.
	local before out
	before=$(audit_lines)
	out=$(printf 'GET /api/v1/credentials HTTP/1.1\r\nHost: x\r\n\r\nPOST /api/v1/credentials/retire HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n{"kvno": 5}' |
		raw admin)
	[ "$(printf '%s' "$out" | grep -c '^HTTP/1.1')" = 1 ] && [ "$(audit_lines)" = "$before" ]
}

t_json_edge_cases_refused_before_the_keyholder() {
	# 400 (not 503: nothing reaches the control socket) for each body.
	local before body
	before=$(audit_lines)
	for body in \
	    '{"kvno": 1, "kvno": 2}' \
	    '{"kvno": 2147483648}' '{"kvno": -1}' '{"kvno": 0}' '{"kvno": 1.0}' '{"kvno": 1e3}' \
	    '{"kvno": 99999999999999999999999}' '{"kvno": "7"}' '{"kvno": true}' \
	    '{"kvno": 4294967297}' \
	    '{"kvno": 1, "extra": null}' '[{"kvno": 1}]' \
	    "$(printf '%.0s[' $(seq 3000))"; do
		[ "$(as_admin -X POST --data-binary "$body" "$url/api/v1/credentials/staged/activate")" = 400 ] ||
			{ echo "  [${body:0:40}] -> $(cat "$work/body")"; return 1; }
	done
	for body in \
	    '{"account": "A$@R\u0000x", "kvno": 2, "password": "p"}' \
	    '{"account": "A$@R", "kvno": 2, "password": "p\u0000"}' \
	    '{"account": "A$@R", "kvno": 2, "password": "p", "password": "q"}' \
	    '{"account": "A$@R", "kvno": 2, "keys": [{"enctype": 4294967314, "key": "00000000000000000000000000000000"}]}' \
	    '{"account": "A$@R", "kvno": 2, "keys": [{"enctype": 17, "key": "0000000000000000000000000000000g"}]}'; do
		[ "$(as_admin -X PUT --data-binary "$body" "$url/api/v1/credentials/staged")" = 400 ] ||
			{ echo "  [$body] -> $(cat "$work/body")"; return 1; }
	done
	[ "$(audit_lines)" = "$before" ]
}

t_json_errors_do_not_echo_the_password() {
	# jansson's messages quote what it read; none of it may come back.
	local body
	for body in \
	    '{"account": "A$@R", "kvno": 2, "password": "Zebra-Secret\q"}' \
	    '{"account": "A$@R", "kvno": 2, "password": "Zebra-Secret' \
	    '{"account": "A$@R", "kvno": 2, "password": "Zebra-Secret\ud800"}' \
	    '{"account": "A$@R", "kvno": 2, "password": "Zebra-Secret
"}' \
	    '{"account": "A$@R", "kvno": 2, "password": Zebra-Secret}'; do
		[ "$(as_admin -X PUT --data-binary "$body" "$url/api/v1/credentials/staged")" = 400 ] || return 1
		grep -q 'Zebra\|Secret' "$work/body" && { echo "  echoed: $(cat "$work/body")"; return 1; }
	done
	! grep -q 'Zebra\|Secret' "$work/mgmtd.log" "$work/audit.log"
}

t_audit_line_stays_one_line() {
	# A subject with CR LF and a forged "action=" is one quoted field
	# (mbedTLS writes them \0D\0A and \=, the log makes backslashes ?).
	local before
	before=$(audit_lines)
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$work/mgmt-ca.pem" \
		--cert "$work/newline-cn.pem" --key "$work/newline-cn.key" -X POST --data-binary '{"kvno": 3}' \
		"$url/api/v1/credentials/retire")" = 503 ] || return 1
	[ "$(audit_lines)" = $((before + 1)) ] &&
		tail -1 "$work/audit.log" | grep -q '^[^ ]* who="[^"]*forged[^"]*" sha256=[0-9a-f]\{64\} action=retire kvno=3 result="not delivered"$'
}

t_non_client_certificates_cannot_hold_the_slots() {
	# Another appliance's server certificate (same CA, no clientAuth) is
	# past the handshake: 70 such idle connections must not lock out the admin.
	[ "$(python3 $probe hold "$port" "$work" server 70)" = "HTTP/1.1 503 Service Unavailable" ]
}

t_handshake_in_flight_survives_a_flood_from_elsewhere() {
	# The admin's handshake is half-way when 80 connections from another
	# address fill the slots: theirs are pushed out, not the admin's (the
	# oldest handshake was dropped, so a flood kept the admin out).
	[ "$(python3 $probe midflight "$port" "$work" 80)" = "HTTP/1.1 503 Service Unavailable" ]
}

t_no_session_resumption() {
	# A resumed session would skip the client certificate (a revoked or
	# expired one would keep its session): every connection shows it.
	[ "$(python3 $probe resume "$port" "$work" tls1.2)" = "full handshake" ] &&
		[ "$(python3 $probe resume "$port" "$work" tls1.3)" = "full handshake" ]
}

check "an expired client certificate of the management CA: refused in the handshake" t_expired_certificate_refused
check "a certificate with anyExtendedKeyUsage (not clientAuth): 403" t_any_eku_is_not_client_auth
check "a certificate issued by the admin's certificate (no CA): refused" t_certificate_issued_by_a_client_certificate_refused
check "no client certificate: refused in TLS 1.2 and in TLS 1.3" t_no_certificate_refused_in_tls12_and_tls13
check "smuggling framings (two lengths, length and chunked, odd names): refused, nothing audited" t_smuggling_framing_refused
check "a head over 16 KiB: 431" t_oversize_head_431
check "a request pipelined behind another is not served" t_pipelined_request_is_not_served
check "JSON edge cases (duplicates, kvno range and type, NUL, nesting, enctype overflow): 400 before the keyholder" t_json_edge_cases_refused_before_the_keyholder
check "JSON errors never echo the password" t_json_errors_do_not_echo_the_password
check "a client subject with CR LF stays inside one audit line" t_audit_line_stays_one_line
check "certificates without clientAuth cannot hold every connection slot" t_non_client_certificates_cannot_hold_the_slots
check "an admin's handshake in flight survives a flood of connections from another address" t_handshake_in_flight_survives_a_flood_from_elsewhere
check "no TLS session is resumed (1.2 or 1.3): every connection shows its certificate" t_no_session_resumption

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
