#!/usr/bin/env bash
# kerbgate-mgmtd's web pages in a real browser (Debian's chromium, headless,
# through chromium-driver and python3-selenium: webui.py), against mgmtd on
# this host's lab namespace lb beside a kerbgated with its sealed store,
# control socket and /metrics: first-start setup with the console's code,
# login, the dashboard's figures against /metrics, the session cookie's
# flags, a firmware bundle checked by RAUC and a tampered one refused, a
# cross-site POST refused, logout, and wrong passwords rate-limited.
# Screenshots of every page go to $KG_OUT/webui/ (look at them).
# Needs `tests/lab/lab up`.  Last line: N passed, N failed.
KG_WORK_NAME=webui
KG_CONF_TEMPLATE=tests/integration/webui.json.in
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

port=18444
shots=$top/$out/webui
mgmtd_pid=
webui_cleanup() {
	{ [ -n "$mgmtd_pid" ] && kill "$mgmtd_pid"; } 2>/dev/null
	cleanup
}
trap webui_cleanup EXIT

for need in chromium chromedriver rauc mksquashfs; do
	command -v $need >/dev/null || { nok "$need is installed (make deps)"; finish; exit 1; }
done
/usr/bin/python3 -c "import selenium" 2>/dev/null || { nok "python3-selenium is installed (make deps)"; finish; exit 1; }

setup
getent group _kgmgmt >/dev/null || groupadd --system _kgmgmt
id _kgmgmt >/dev/null 2>&1 || useradd --system --no-create-home --gid _kgmgmt --shell /usr/sbin/nologin _kgmgmt
mkdir -p "$work/data" "$work/log"; chmod 0700 "$work/data"
start_or_exit
for _ in $(seq 100); do [ -S "$work/run/control.sock" ] && break; sleep 0.1; done

# Authentications to count: successes, and failures of two kinds.
kinit_as alice >/dev/null
for _ in 1 2 3; do vip_curl --negotiate -u : http://mail.corp.contoso.com/whoami >/dev/null; done
vip_curl -H 'Authorization: Negotiate Zm9vYmFy' http://mail.corp.contoso.com/whoami >/dev/null
vip_curl -H 'Authorization: NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==' \
	http://mail.corp.contoso.com/whoami >/dev/null

# Firmware bundles: one signed by the development CA RAUC trusts here, one
# by another CA.
mkdir -p "$work/fw/root/etc" "$work/upload"
firmware/rauc/devkeys.sh "$work/fw/keys" >/dev/null
firmware/rauc/devkeys.sh "$work/fw/other" >/dev/null
head -c 200000 /dev/urandom >"$work/fw/root/etc/payload"
mksquashfs "$work/fw/root" "$work/fw/rootfs.img" -quiet -noappend >/dev/null
firmware/rauc/mkbundle.sh "$work/fw/rootfs.img" "$work/fw/good.raucb" kerbgate-qemu_x86_64 9.9.9 1 \
	"$work/fw/keys/signer.pem" "$work/fw/keys/signer.key" "$work/fw/keys/ca.pem" >/dev/null 2>&1
firmware/rauc/mkbundle.sh "$work/fw/rootfs.img" "$work/fw/other.raucb" kerbgate-qemu_x86_64 9.9.9 1 \
	"$work/fw/other/signer.pem" "$work/fw/other/signer.key" "$work/fw/other/ca.pem" >/dev/null 2>&1
[ -s "$work/fw/good.raucb" ] && [ -s "$work/fw/other.raucb" ] || { nok "test bundles are made"; finish; exit 1; }

# mgmtd: the mutual-TLS API as always, and the web listener.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=Management CA" \
	-keyout "$work/mca.key" -out "$work/mca.pem" 2>/dev/null
cp "$work/mail.pem" "$work/mgmt.pem"; cp "$work/mail.key" "$work/mgmt.key"
chmod 0640 "$work/mgmt.key"; chgrp _kgmgmt "$work/mgmt.key"
echo "kerbgate 9.9.8 qemu_x86_64 (test)" >"$work/release"
cat >"$work/mgmtd.json" <<EOF2
{ "listen": "127.0.0.1:18443",
  "tls": { "cert": "$work/mgmt.pem", "key": "$work/mgmt.key", "client_ca": "$work/mca.pem" },
  "control_socket": "$work/run/control.sock",
  "audit_log": "$work/log/audit.log",
  "user": "_kgmgmt",
  "web": { "listen": "127.0.0.1:$port", "state_dir": "$work/web", "www": "$top/services/mgmtd/www",
           "metrics": "127.0.0.1:9100", "kerbgated_config": "$work/kerbgated.json",
           "release_file": "$work/release", "upload_dir": "$work/upload",
           "rauc_keyring": "$work/fw/keys/ca.pem", "max_upload_bytes": 67108864 } }
EOF2
chmod 0755 "$work/fw" "$work/fw/keys"; chmod 0644 "$work/kerbgated.json" "$work/fw/keys/ca.pem"
lb "$top/$out/bin/kerbgate-mgmtd" -d -f "$work/mgmtd.json" >>"$work/mgmtd.log" 2>&1 &
for _ in $(seq 100); do
	grep -q 'web listener on' "$work/mgmtd.log" && break; sleep 0.1
done
mgmtd_pid=$(pgrep -n -f "^$top/$out/bin/kerbgate-mgmtd -d -f $work/mgmtd.json")
code=$(grep -o 'setup code [A-Z0-9-]*' "$work/mgmtd.log" | tail -1 | awk '{print $3}')

t_first_start() {
	[ -n "$mgmtd_pid" ] && [ -n "$code" ] &&
		grep -q 'web certificate .*(made now, self-signed): SHA-256 fingerprint \([0-9A-F]\{2\}:\)\{31\}' "$work/mgmtd.log" &&
		[ "$(stat -c %a "$work/web/setup.hash")" = 600 ] && grep -q '^\$argon2id\$' "$work/web/setup.hash" &&
		! grep -q "$code" "$work/web/setup.hash" && [ "$(stat -c %a "$work/web/device.key")" = 600 ]
}
check "first start: a device certificate (fingerprint logged) and a setup code (only its argon2id hash kept, 0600)" t_first_start

# The admin's own certificate for the web listener, and a key of another one.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=mgmt.example" \
	-addext "subjectAltName=DNS:mgmt.example" -keyout "$work/own.key" -out "$work/own.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/wrong.key" 2>/dev/null

rm -rf "$shots"; mkdir -p "$shots"
$lab exec lb env HOME="$work" /usr/bin/python3 "$top/tests/integration/webui.py" "https://127.0.0.1:$port" "$code" \
	http://127.0.0.1:9100/metrics "$shots" "$work/fw/good.raucb" "$work/fw/other.raucb" 18999 "$mgmtd_pid" \
	"$work/own.pem" "$work/own.key" "$work/wrong.key" \
	>"$work/webui.out" 2>&1
cat "$work/webui.out"
passed=$((passed + $(grep -c '^ok - ' "$work/webui.out")))
failed=$((failed + $(grep -c '^not ok - ' "$work/webui.out")))
grep -q '^ok - ' "$work/webui.out" || nok "the browser test ran (webui.py: see above)"

t_admin_hash() {
	[ "$(stat -c %a "$work/web/admin.hash")" = 600 ] && grep -q '^\$argon2id\$v=19\$m=19456,t=3,p=1\$' "$work/web/admin.hash" &&
		[ ! -e "$work/web/setup.hash" ] && ! grep -rq 'Kerb-gate-2026' "$work/web" "$work/mgmtd.log" "$work/log/audit.log"
}
check "the admin password: an argon2id hash (0600), the setup code gone, the password in no file or log" t_admin_hash

t_screenshots() {
	local n=0 f
	for f in "$shots"/*.png; do [ -s "$f" ] && n=$((n + 1)); done
	[ "$n" -ge 9 ]
}
check "a screenshot of every page in $out/webui/" t_screenshots
t_refused_bundle_left_nothing() {
	grep -q 'action=firmware-upload kvno=0 result="refused: bad signature"' "$work/log/audit.log" &&
		[ -z "$(ls -A "$work/upload")" ]
}
check "the refused bundle is audited and not left in the upload folder" t_refused_bundle_left_nothing

# Idle and half-sent requests to the web page (anyone who reaches the port
# finishes the handshake there): 16 from each of 5 addresses is more than
# its 64 slots.  One address keeps at most 16; a page request still gets
# in, the mutual-TLS API, whose slots are its own, still answers, and the
# evictions are logged once, not once each.
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=admin" \
	-keyout "$work/admin.key" -out "$work/admin.csr" 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' >"$work/admin.ext"
openssl x509 -req -in "$work/admin.csr" -CA "$work/mca.pem" -CAkey "$work/mca.key" -CAcreateserial \
	-days 2 -extfile "$work/admin.ext" -out "$work/admin.pem" 2>/dev/null
t_idle_web_connections_lock_out_nobody() {
	lb /usr/bin/python3 "$top/tests/integration/mgmtprobe.py" webhold "$port" 18443 "$work" \
		127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6 20 >"$work/hold.out" 2>&1
	sed 's/^/   /' "$work/hold.out"
	local held
	held=$(sed -n 's/^held: \([0-9]*\) of.*/\1/p' "$work/hold.out")
	local lines
	lines=$(grep -c 'dropped an idle one' "$work/mgmtd.log")
	echo "   eviction lines in mgmtd's log: $lines"
	[ -n "$held" ] && [ "$held" -le 64 ] && [ "$held" -ge 32 ] &&
		grep -q '^web: HTTP/1.1 200' "$work/hold.out" && grep -q '^api: HTTP/1.1 200' "$work/hold.out" &&
		[ "$lines" -ge 1 ] && [ "$lines" -le 2 ]
}
check "idle and half-sent web requests (16 an address, 64 in all) lock neither the page nor the API out; evictions logged once" \
	t_idle_web_connections_lock_out_nobody

[ "$failed" -gt 0 ] && { echo "--- mgmtd log (last 20 lines)"; tail -20 "$work/mgmtd.log"; }
finish
