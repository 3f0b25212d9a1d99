#!/usr/bin/env bash
# kerbgate-mgmtd at an appliance's first boot, on this host (no lab): with
# its web listener it starts before the mutual-TLS API is provisioned (the
# web page answers, the API port is closed, the log says what is missing),
# and exits to be restarted when provisioning has written the three files,
# then opens the API; without "web" it refuses to start and names the file.
# And the reboot path of the web page: kerbgate-powerd (root) in its own PID
# namespace, where pid 1 is a shell that records SIGTERM (init's reboot
# signal): _kgmgmt's "reboot" through the web route reaches it; another
# user cannot reach the socket, an unknown command is refused.
# Needs root.  Last line: N passed, N failed.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${KG_OUT:-output}
bin=$top/$out/bin
work=$(mktemp -d /tmp/kg-firstboot.XXXXXX)
passed=0 failed=0
ok()   { echo "ok - $*"; passed=$((passed + 1)); }
nok()  { echo "not ok - $*"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name"; fi; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }

[ "$(id -u)" -eq 0 ] || { nok "runs as root"; finish; }
getent group _kgmgmt >/dev/null || groupadd --system _kgmgmt
id _kgmgmt >/dev/null 2>&1 || useradd --system --no-create-home --gid _kgmgmt --shell /usr/sbin/nologin _kgmgmt
webport=18544 apiport=18545
chmod 0755 "$work"
mkdir -m 0700 "$work/mgmt" "$work/log"
cat >"$work/mgmtd.json" <<EOF2
{ "listen": "127.0.0.1:$apiport",
  "tls": { "cert": "$work/mgmt/server.pem", "key": "$work/mgmt/server.key",
           "client_ca": "$work/mgmt/management-ca.pem" },
  "control_socket": "$work/control.sock",
  "audit_log": "$work/log/audit.log",
  "user": "_kgmgmt",
  "web": { "listen": "127.0.0.1:$webport", "state_dir": "$work/web",
           "www": "$top/services/mgmtd/www", "upload_dir": "$work/firmware",
           "power_socket": "$work/power/power.sock" } }
EOF2

start_mgmtd() {	# CONFIG LOG: in the background, as init would
	"$bin/kerbgate-mgmtd" -d -f "$1" >>"$2" 2>&1 &
	mgmtd=$!; pids+=("$mgmtd")
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() { for _ in $(seq 100); do "$@" && return 0; sleep 0.1; done; return 1; }

# 1. First boot: no provisioning.
start_mgmtd "$work/mgmtd.json" "$work/mgmtd.log"
wait_for grep -q 'web listener on' "$work/mgmtd.log"
check "without provisioning, mgmtd starts with the web listener" kill -0 "$mgmtd"
check "the log names the missing provisioning files" \
	grep -q "management API is not provisioned yet (no $work/mgmt/server.pem, $work/mgmt/server.key, $work/mgmt/management-ca.pem)" "$work/mgmtd.log"
curl -sk "https://127.0.0.1:$webport/api/v1/web/session" >"$work/session.json"
check "the web page answers and asks for the first-boot setup" grep -q '"setup_required": *true' "$work/session.json"
check "the mutual-TLS API port is closed" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$apiport) 2>/dev/null"
code=$(grep -o 'setup code [A-Z0-9-]*' "$work/mgmtd.log" | tail -1 | awk '{print $3}')
check "a setup code is logged" test -n "$code"
check "the web certificate's fingerprint is logged" grep -q 'SHA-256 fingerprint [0-9A-F:]\{95\}' "$work/mgmtd.log"

# 2. The reboot path: powerd in a PID namespace whose init records SIGTERM.
unshare -fp --kill-child sh -c "trap 'echo TERM >$work/init-signal; exit 0' TERM;
	$bin/kerbgate-powerd -d -s $work/power/power.sock -u _kgmgmt & wait; wait" \
	>"$work/powerd.log" 2>&1 &
pids+=($!)
wait_for test -S "$work/power/power.sock"
check "powerd's socket is 0660 root:_kgmgmt in a 0750 folder" \
	test "$(stat -c '%a %U:%G' "$work/power" "$work/power/power.sock" | tr '\n' ' ')" = "750 root:_kgmgmt 660 root:_kgmgmt "
ans=$(setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 -c "
import socket,sys
s=socket.socket(socket.AF_UNIX)
try: s.connect('$work/power/power.sock')
except OSError as e: print('refused', e.errno); sys.exit()
s.sendall(b'reboot\n'); print(s.recv(100))" 2>&1)
check "another user cannot reach powerd (got: $ans)" grep -q '^refused 13' <<<"$ans"
ans=$(setpriv --reuid=_kgmgmt --regid=_kgmgmt --init-groups /usr/bin/python3 -c "
import socket
s=socket.socket(socket.AF_UNIX); s.connect('$work/power/power.sock')
s.sendall(b'halt\n'); print(s.recv(100).decode().strip())")
check "an unknown command is refused (got: $ans)" test "$ans" = "error: unknown command (the one command is: reboot)"
check "nothing was signalled yet" test ! -e "$work/init-signal"

# The web route: set the password with the code, then ask for a reboot.
origin="https://127.0.0.1:$webport"
wc() { curl -sk -o "$work/body" -w '%{http_code}' -b "$work/jar" -c "$work/jar" -H "Origin: $origin" "$@"; }
st=$(wc -H 'Content-Type: application/json' --data "{\"code\":\"$code\",\"password\":\"Fresh-appliance-42\"}" "$origin/api/v1/web/setup")
csrf=$(python3 -c "import json;print(json.load(open('$work/body')).get('csrf',''))" 2>/dev/null)
check "first-boot setup with the logged code logs in (HTTP $st)" test "$st" = 200 -a -n "$csrf"
st=$(wc -X POST -H "X-CSRF-Token: $csrf" "$origin/api/v1/firmware/reboot")
check "the page's reboot is taken (HTTP $st)" test "$st" = 200
wait_for test -e "$work/init-signal"
check "powerd asked init to reboot (SIGTERM to pid 1)" test -e "$work/init-signal"
check "powerd logged who asked" grep -q "uid $(id -u _kgmgmt) asked for a reboot" "$work/powerd.log"
check "the reboot is in the audit log" grep -q 'firmware-reboot.*ok' "$work/log/audit.log"
kill %2 2>/dev/null; rm -f "$work/power/power.sock"
st=$(wc -X POST -H "X-CSRF-Token: $csrf" "$origin/api/v1/firmware/reboot")
check "without powerd the reboot is refused with the reason (HTTP $st)" \
	bash -c "test $st = 503 && grep -q 'cannot reach kerbgate-powerd' $work/body"

# 3. Provisioning arrives: mgmtd exits to be restarted, then opens the API.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=Management CA" \
	-keyout "$work/mca.key" -out "$work/mca.pem" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=appliance" \
	-keyout "$work/srv.key" -out "$work/srv.pem" 2>/dev/null
cp "$work/srv.pem" "$work/mgmt/server.pem"
cp "$work/srv.key" "$work/mgmt/server.key"
sleep 1
check "with two of three files written, mgmtd keeps running" kill -0 "$mgmtd"
cp "$work/mca.pem" "$work/mgmt/management-ca.pem.tmp" && mv "$work/mgmt/management-ca.pem.tmp" "$work/mgmt/management-ca.pem"
wait_for bash -c "! kill -0 $mgmtd 2>/dev/null"
wait "$mgmtd"; rc=$?
check "when provisioning is complete mgmtd exits (status $rc) for init to restart it" test "$rc" = 0
check "it says why" grep -q 'provisioning written.*restarting to open the management API' "$work/mgmtd.log"
start_mgmtd "$work/mgmtd.json" "$work/mgmtd2.log"
wait_for grep -q 'listening on 127.0.0.1' "$work/mgmtd2.log"
check "restarted, mgmtd opens the mutual-TLS API" port_open "$apiport"
check "and the web listener" port_open "$webport"
kill "$mgmtd"; wait "$mgmtd" 2>/dev/null

# 4. Without "web" there is nothing to serve before provisioning.
rm -f "$work/mgmt/"*
python3 -c "import json;c=json.load(open('$work/mgmtd.json'));del c['web'];json.dump(c,open('$work/noweb.json','w'))"
"$bin/kerbgate-mgmtd" -d -f "$work/noweb.json" >"$work/noweb.log" 2>&1; rc=$?
check "without web and provisioning mgmtd refuses to start (status $rc) naming the file" \
	bash -c "test $rc != 0 && grep -q '$work/mgmt/server' $work/noweb.log"
finish
