#!/usr/bin/env bash
# bench/run.sh: kerbgated against Apache 2.4 (mod_auth_gssapi + mod_proxy_http),
# and kerbgated with authentication on against off, in one run, on loopback
# only (127.0.0.10 kerbgated, 127.0.0.11 Apache, 127.0.0.12 back-end), with the
# same keytab, the same kind of tickets and the same back-end.  No KDC: the
# tokens are minted by kgbench (tests/unit/krbmint.c) before each clock starts.
#
#   bench/run.sh            everything (about 4 minutes), results table at the end
#
# Environment (all optional):
#   KGB_DURATION=10         seconds per load phase
#   KGB_NEWCONN_C=32        concurrent connections, newconn phases
#   KGB_KEEPALIVE_C=64      concurrent connections, keep-alive phases
#   KGB_IDLE=1000           idle plain-HTTP connections held for the RSS figure
#   KGB_IDLE_TLS=1000       idle TLS connections held for the per-connection figure
#   KGB_PAC_TYPICAL=800     PAC LOGON_INFO bytes of the typical tokens
#   KGB_PAC_LARGE=16000     PAC LOGON_INFO bytes of the large-PAC tokens
#   KGB_REPEAT=3            rounds of the load phases (the median is reported)
#   KGB_KA_PAIRS=8          keep-alive auth/no-auth pairs, order alternating
#   KGB_KA_PAIR_S=4         seconds per phase of a pair
#   KGB_PIN=none|split      split: proxies on CPU 0, kgbench and back-end on CPU 1
#   KGB_CERT=ecdsa|rsa      the VIP certificate for both servers: P-256 or RSA-2048
#   KGB_TLS_MAX=13|12       highest TLS version kgbench offers in the HTTPS phases
#   KGB_GROUP=x25519|p256   key exchange kgbench offers: X25519 first (as Windows,
#                           browsers and curl do), or P-256 only
#   KGB_ONLY=all|https|plain|memory  https: the HTTPS phases only; plain: the
#                           plain-HTTP load phases only; memory: the idle-connection
#                           memory phases only
#   KGB_KERBGATED=PATH      another kerbgated binary to measure (an older build, for
#                           a before/after comparison on the same machine)
#   KGB_OUT=output          build tree (binaries in $KGB_OUT/bin, $KGB_OUT/bench)
#   KGB_KEEP=0              1: keep the work directory
#
# Runs as root (kerbgated then drops to _kgrelay/_kgkeys, Apache to www-data).
# Every loop is bounded; a trap stops what this script started, by pid.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD
out=${KGB_OUT:-output}
dur=${KGB_DURATION:-10}
nc_c=${KGB_NEWCONN_C:-32}
ka_c=${KGB_KEEPALIVE_C:-64}
idle_n=${KGB_IDLE:-1000}
idle_tls=${KGB_IDLE_TLS:-1000}
pac_typ=${KGB_PAC_TYPICAL:-800}
pac_big=${KGB_PAC_LARGE:-16000}
repeat=${KGB_REPEAT:-3}
ka_pairs=${KGB_KA_PAIRS:-8}
ka_pair_s=${KGB_KA_PAIR_S:-4}
pin=${KGB_PIN:-none}
cert_kind=${KGB_CERT:-ecdsa}
tls_max=${KGB_TLS_MAX:-13}
tls_group=${KGB_GROUP:-x25519}
only=${KGB_ONLY:-all}

KG_IP=127.0.0.10; KG_PORT=8080; KG_TLS_PORT=8443; KG_ADMIN=9180
AP_IP=127.0.0.11; AP_PORT=8081; AP_TLS_PORT=8444
BE_IP=127.0.0.12; BE_PORT=9000
HOST=mail.corp.contoso.com

[ "$(id -u)" = 0 ] || { echo "bench/run.sh: run as root (kerbgated drops privileges, Apache too)" >&2; exit 1; }

work=$(mktemp -d /tmp/kgbench.XXXXXX)
chmod 755 "$work"
kg_pid=""; be_pid=""; ap_started=0; bench_pids=()
results=$work/results.txt
: >"$results"

cleanup() {
	local p
	for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null; done
	[ -n "$kg_pid" ] && kill "$kg_pid" 2>/dev/null
	[ "$ap_started" = 1 ] && apache2 -f "$work/apache/httpd.conf" -k stop 2>/dev/null
	[ -n "$be_pid" ] && kill "$be_pid" 2>/dev/null
	# Bounded wait for our own children.
	for _ in $(seq 50); do
		[ -n "$kg_pid" ] && kill -0 "$kg_pid" 2>/dev/null && { sleep 0.1; continue; }
		break
	done
	wait 2>/dev/null
	if [ "${KGB_KEEP:-0}" = 1 ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '== %s\n' "$*" >&2; }

# CPU placement: by default nothing is pinned (the kernel spreads the proxy,
# kgbench and the back-end over both cores).  split: the proxy under test on
# CPU 0, kgbench and the back-end on CPU 1.
# (Arrays, not functions: $! must be the program's own pid; taskset execs.)
pin_srv=(); pin_cli=()
if [ "$pin" = split ]; then pin_srv=(taskset -c 0); pin_cli=(taskset -c 1); fi

# ------------------------------------------------------------------ build, set-up

say "building"
make --no-print-directory -f Makefile -f bench/bench.mk O="$out" bench-build >&2 || exit 1
kgbench=$top/$out/bench/kgbench
kgbackend=$top/$out/bench/kgbackend
# A private copy of the daemon: other scripts on this machine find "their"
# kerbgated with pgrep -f "^.../output/bin/kerbgated -d" and signal it; this
# one must not be found that way.
mkdir -p "$work/bin"
install -m 0755 "${KGB_KERBGATED:-$top/$out/bin/kerbgated}" "$work/bin/kerbgated"
kerbgated=$work/bin/kerbgated

for u in _kgrelay _kgkeys; do
	id "$u" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$u"
done

# krb5.conf for both libraries (Heimdal in kerbgated, MIT under Apache): a
# realm and no KDC, acceptors need none.
cat >"$work/krb5.conf" <<EOF
[libdefaults]
	default_realm = CORP.CONTOSO.COM
	dns_lookup_kdc = false
	dns_lookup_realm = false
	rdns = false
	clockskew = 300
[realms]
	CORP.CONTOSO.COM = {
		kdc = 127.0.0.1:1
	}
EOF
export KRB5_CONFIG=$work/krb5.conf

# One keytab (EXCHASA\$ and http/mail..., AES256 + AES128, kvno 5, AD salt),
# copied for each server.
"$kgbench" keytab "$work/asa.keytab" || exit 1
mkdir -p "$work/apache"
install -m 0600 "$work/asa.keytab" "$work/kg.keytab"
install -m 0600 -o www-data -g www-data "$work/asa.keytab" "$work/apache/asa.keytab"
chown www-data:www-data "$work/apache"
head -c 32 /dev/urandom >"$work/pool.secret"; chmod 0600 "$work/pool.secret"
case $cert_kind in
ecdsa) keyopt=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
rsa) keyopt=(-newkey rsa:2048) ;;
*) echo "bench/run.sh: KGB_CERT is ecdsa or rsa" >&2; exit 1 ;;
esac
openssl req -x509 "${keyopt[@]}" -nodes -days 2 \
	-subj "/CN=$HOST" -addext "subjectAltName=DNS:$HOST" \
	-keyout "$work/mail.key" -out "$work/mail.pem" 2>/dev/null || exit 1
chmod 0600 "$work/mail.key"
# Apache reads its copy as root before it drops privileges.
install -m 0600 "$work/mail.key" "$work/apache/mail.key"
install -m 0644 "$work/mail.pem" "$work/apache/mail.pem"

cat >"$work/kerbgated.json" <<EOF
{
  "keytab": "$work/kg.keytab",
  "workers": 2,
  "allow_rc4": false,
  "clock_skew": 300,
  "replay_cache_entries": 4194304,
  "replay_cache_per_principal": 0,
  "limits": { "max_connections": 20000, "header_timeout": 10, "idle_timeout": 600 },
  "admin": { "address": "$KG_IP", "port": $KG_ADMIN },
  "listeners": [
    { "address": "$KG_IP", "port": $KG_PORT },
    { "address": "$KG_IP", "port": $KG_TLS_PORT, "tls": true }
  ],
  "pools": [
    {
      "name": "be",
      "mode": "header",
      "header_secret_file": "$work/pool.secret",
      "health": { "path": "/health", "interval": 5 },
      "servers": [ { "name": "be.bench", "address": "$BE_IP", "port": $BE_PORT } ]
    }
  ],
  "vhosts": [
    {
      "name": "$HOST",
      "spns": [ "http/$HOST" ],
      "certificate": "$work/mail.pem",
      "key": "$work/mail.key",
      "routes": [
        { "path": "/open", "auth": "none", "pool": "be" },
        { "path": "/", "pool": "be" }
      ]
    }
  ]
}
EOF
# An older build (KGB_KERBGATED) does not know the replay quota key.
if ! "$kerbgated" -n -f "$work/kerbgated.json" >/dev/null 2>&1; then
	sed -i '/"replay_cache_per_principal"/d' "$work/kerbgated.json"
fi

# Apache as an admin would set it up in front of the same back-end: the
# event MPM with Debian's mpm_event.conf values, mod_auth_gssapi with the
# keytab, mod_proxy_http, the user handed on in a header.  MIT's replay cache
# is left at its default (on: file2 rcache, here in the work directory).
mods=/usr/lib/apache2/modules
cat >"$work/apache/httpd.conf" <<EOF
ServerRoot /etc/apache2
ServerName $HOST
Listen $AP_IP:$AP_PORT
Listen $AP_IP:$AP_TLS_PORT
PidFile $work/apache/httpd.pid
Mutex file:$work/apache default
ErrorLog $work/apache/error.log
LogLevel warn
User www-data
Group www-data
LoadModule mpm_event_module $mods/mod_mpm_event.so
LoadModule authn_core_module $mods/mod_authn_core.so
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule authz_user_module $mods/mod_authz_user.so
LoadModule headers_module $mods/mod_headers.so
LoadModule auth_gssapi_module $mods/mod_auth_gssapi.so
LoadModule proxy_module $mods/mod_proxy.so
LoadModule proxy_http_module $mods/mod_proxy_http.so
LoadModule socache_shmcb_module $mods/mod_socache_shmcb.so
LoadModule ssl_module $mods/mod_ssl.so
StartServers 2
MinSpareThreads 25
MaxSpareThreads 75
ThreadLimit 64
ThreadsPerChild 25
MaxRequestWorkers 150
MaxConnectionsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 600
Timeout 60
LimitRequestFieldSize 65536
<Location />
	AuthType GSSAPI
	AuthName "kerbgate bench"
	GssapiCredStore keytab:$work/apache/asa.keytab
	GssapiAllowedMech krb5
	Require valid-user
	RequestHeader set X-Remote-User expr=%{REMOTE_USER}
</Location>
<Location /open>
	Require all granted
</Location>
ProxyPass / http://$BE_IP:$BE_PORT/
ProxyPassReverse / http://$BE_IP:$BE_PORT/
# mod_ssl as Debian's ssl.conf sets it up: a shared session cache, tickets on.
SSLSessionCache shmcb:$work/apache/ssl_scache(512000)
SSLSessionCacheTimeout 300
SSLRandomSeed startup builtin
<VirtualHost $AP_IP:$AP_TLS_PORT>
	SSLEngine on
	SSLCertificateFile $work/apache/mail.pem
	SSLCertificateKeyFile $work/apache/mail.key
	SSLProtocol all -SSLv3 -TLSv1 -TLSv1.1
</VirtualHost>
EOF

# ------------------------------------------------------------------ start

say "starting the back-end, kerbgated, Apache"
"${pin_cli[@]}" "$kgbackend" "$BE_IP" "$BE_PORT" 3600 >"$work/backend.log" 2>&1 &
be_pid=$!
"${pin_srv[@]}" "$kerbgated" -f "$work/kerbgated.json" -d >"$work/kerbgated.log" 2>&1 &
kg_pid=$!
KRB5RCACHEDIR=$work/apache KRB5_KTNAME=$work/apache/asa.keytab \
	"${pin_srv[@]}" apache2 -f "$work/apache/httpd.conf" -k start >"$work/apache/start.log" 2>&1 &&
	ap_started=1

ready=0
for _ in $(seq 100); do
	a=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $HOST" "http://$KG_IP:$KG_PORT/open/x")
	b=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $HOST" "http://$AP_IP:$AP_PORT/open/x")
	[ "$a" = 200 ] && [ "$b" = 200 ] && { ready=1; break; }
	sleep 0.1
done
if [ "$ready" != 1 ]; then
	echo "bench/run.sh: servers did not come up (kerbgated: $a, Apache: $b)" >&2
	tail -n 20 "$work/kerbgated.log" "$work/apache/error.log" "$work/apache/start.log" >&2
	exit 1
fi

# kerbgated's processes: the parent we started and all its descendants.
kg_pids() {
	ps -e -o pid=,ppid= | awk -v root="$kg_pid" '
		{ parent[$1] = $2 }
		END {
			print root
			do {
				added = 0
				for (p in parent)
					if (!(p in inset) && (parent[p] == root || parent[p] in inset)) {
						inset[p] = 1; added = 1; print p
					}
			} while (added)
		}'
}
# Sum of a /proc/<pid>/status field (kB) over kerbgated's processes.
kg_sum() {
	local f=$1 s=0 p v
	for p in $(kg_pids); do
		v=$(awk -v f="$f:" '$1 == f {print $2}' "/proc/$p/status" 2>/dev/null)
		s=$((s + ${v:-0}))
	done
	echo "$s"
}
# VmRSS less RssShmem, summed (kB): the replay cache is one shared region,
# sized by replay_cache_entries (here for the benchmark's own volume), which
# each keyholder would count again; it is reported on its own.
kg_rss() {
	echo $(( $(kg_sum VmRSS) - $(kg_sum RssShmem) ))
}
# Sum of PSS (kB): shared library pages counted once over the processes.
kg_pss() {
	local s=0 p v
	for p in $(kg_pids); do
		v=$(awk '$1 == "Pss:" {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null)
		s=$((s + ${v:-0}))
	done
	echo "$s"
}
kg_detail() {
	local p
	for p in $(kg_pids); do
		printf '  pid %s %-9s VmRSS %s kB VmHWM %s kB\n' "$p" \
			"$(stat -c %U "/proc/$p")" \
			"$(awk '$1 == "VmRSS:" {print $2}' "/proc/$p/status")" \
			"$(awk '$1 == "VmHWM:" {print $2}' "/proc/$p/status")"
	done
}
ap_sum() {
	local s=0 p v
	for p in $(pgrep -f "apache2 -f $work/apache/httpd.conf"); do
		v=$(awk '$1 == "VmRSS:" {print $2}' "/proc/$p/status" 2>/dev/null)
		s=$((s + ${v:-0}))
	done
	echo "$s"
}

# CPU time (clock ticks, user+system) of a set of processes, counting the
# children they have reaped (Apache retires idle children).
cpu_ticks() {
	local s=0 p
	for p in "$@"; do
		s=$((s + $(awk '{print $14 + $15 + $16 + $17}' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$s"
}
ap_pids() { pgrep -f "apache2 -f $work/apache/httpd.conf"; }
proxy_ticks() {	# a phase label's first word: kg, kgpair or ap
	case $1 in
	kg*) cpu_ticks $(kg_pids) ;;
	*) cpu_ticks $(ap_pids) ;;
	esac
}
hz=$(getconf CLK_TCK)

# Sanity: one authenticated request through each proxy, plain and HTTPS.
for t in "$KG_IP:$KG_TLS_PORT" "$AP_IP:$AP_TLS_PORT"; do
	r=$("${pin_cli[@]}" "$kgbench" newconn -a "$t" -t -C "$work/mail.pem" -c 1 -n 2 -l sanity 2>/dev/null)
	if [[ $r != *"ok=2 "* ]]; then
		echo "bench/run.sh: an authenticated HTTPS request through $t failed: $r" >&2
		tail -n 5 "$work/kerbgated.log" "$work/apache/error.log" >&2
		exit 1
	fi
done
for t in "$KG_IP:$KG_PORT" "$AP_IP:$AP_PORT"; do
	r=$("${pin_cli[@]}" "$kgbench" newconn -a "$t" -c 1 -n 2 -l sanity 2>/dev/null)
	if [[ $r != *"ok=2 "* ]]; then
		echo "bench/run.sh: an authenticated request through $t failed: $r" >&2
		tail -n 5 "$work/kerbgated.log" "$work/apache/error.log" >&2
		exit 1
	fi
done

# ------------------------------------------------------------------ phases

run() {	# label, kgbench arguments...
	local label=$1; shift
	say "$label: kgbench $*"
	local r t0 t1 c0 c1 ok
	t0=$(proxy_ticks "${label%%_*}")
	c0=$(cpu_ticks $$)
	r=$("${pin_cli[@]}" "$kgbench" "$@" -l "$label" 2>"$work/$label.err")
	c1=$(cpu_ticks $$)
	t1=$(proxy_ticks "${label%%_*}")
	ok=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' <<<"$r")
	# Proxy CPU per answered request, microseconds (all its processes); and
	# the load generator's (this shell's reaped children: kgbench), which on
	# a shared machine bounds what a req/s ratio can show.
	r="$r proxy_cpu_us_per_req=$(( ok > 0 ? (t1 - t0) * 1000000 / hz / ok : 0 ))"
	r="$r client_cpu_us_per_req=$(( ok > 0 ? (c1 - c0) * 1000000 / hz / ok : 0 )) load1=$(cut -d' ' -f1 /proc/loadavg)"
	echo "$r" >>"$results"
	echo "$r" >&2
	cat "$work/$label.err" >&2
}

# Load phases, KGB_REPEAT rounds, kerbgated and Apache interleaved so that
# whatever else runs on the machine hits both alike; the report takes the
# median round of each phase.  Token counts are upper bounds (a phase ends
# at KGB_DURATION or when its tokens run out, whichever is first).
# HTTPS: a new connection per request with a full handshake, the same with
# session resumption (kgbench offers the last session or ticket again), and
# the handshake alone (an unauthenticated request on each new connection).
tls=(-t -C "$work/mail.pem" -V "$tls_max" -G "$tls_group")
https_rounds=$repeat; case $only in plain|memory) https_rounds=0 ;; esac
for round in $(seq "$https_rounds"); do
	run kgtls_newconn   newconn "${tls[@]}" -a $KG_IP:$KG_TLS_PORT -c "$nc_c" -d "$dur" -n $((dur * 8000)) -P "$pac_typ"
	run aptls_newconn   newconn "${tls[@]}" -a $AP_IP:$AP_TLS_PORT -c "$nc_c" -d "$dur" -n $((dur * 8000)) -P "$pac_typ"
	run kgtls_resumed   newconn "${tls[@]}" -R -a $KG_IP:$KG_TLS_PORT -c "$nc_c" -d "$dur" -n $((dur * 15000)) -P "$pac_typ"
	run aptls_resumed   newconn "${tls[@]}" -R -a $AP_IP:$AP_TLS_PORT -c "$nc_c" -d "$dur" -n $((dur * 15000)) -P "$pac_typ"
	run kgtls_handshake newconn "${tls[@]}" -N -p /open/bench -a $KG_IP:$KG_TLS_PORT -c "$nc_c" -d "$dur"
	run aptls_handshake newconn "${tls[@]}" -N -p /open/bench -a $AP_IP:$AP_TLS_PORT -c "$nc_c" -d "$dur"
done
case $only in https|memory) repeat=0; ka_pairs=0 ;; esac
for round in $(seq "$repeat"); do
	run kg_newconn      newconn   -a $KG_IP:$KG_PORT -c "$nc_c" -d "$dur" -n $((dur * 25000)) -P "$pac_typ"
	run ap_newconn      newconn   -a $AP_IP:$AP_PORT -c "$nc_c" -d "$dur" -n $((dur * 12000)) -P "$pac_typ"
	run kg_newconn_bigpac newconn -a $KG_IP:$KG_PORT -c "$nc_c" -d "$dur" -n $((dur * 8000)) -P "$pac_big"
	run ap_newconn_bigpac newconn -a $AP_IP:$AP_PORT -c "$nc_c" -d "$dur" -n $((dur * 8000)) -P "$pac_big"
	run kg_keepalive_auth keepalive -a $KG_IP:$KG_PORT -c "$ka_c" -d "$dur" -P "$pac_typ"
	run kg_keepalive_noauth keepalive -a $KG_IP:$KG_PORT -c "$ka_c" -d "$dur" -N -p /open/bench
	run ap_keepalive_noauth keepalive -a $AP_IP:$AP_PORT -c "$ka_c" -d "$dur" -N -p /open/bench
done
# Keep-alive with auth against without, measured again in short pairs: two
# 10 s phases in a row on a shared 2-core machine differ by +-10% from
# background load alone, as much as the effect measured.  Each pair runs
# both back to back, the order alternating from pair to pair; the report
# takes the median of the pairs' own ratios.
for pair in $(seq "$ka_pairs"); do
	if [ $((pair % 2)) = 1 ]; then
		run kgpair_keepalive_auth keepalive -a $KG_IP:$KG_PORT -c "$ka_c" -d "$ka_pair_s" -P "$pac_typ"
		run kgpair_keepalive_noauth keepalive -a $KG_IP:$KG_PORT -c "$ka_c" -d "$ka_pair_s" -N -p /open/bench
	else
		run kgpair_keepalive_noauth keepalive -a $KG_IP:$KG_PORT -c "$ka_c" -d "$ka_pair_s" -N -p /open/bench
		run kgpair_keepalive_auth keepalive -a $KG_IP:$KG_PORT -c "$ka_c" -d "$ka_pair_s" -P "$pac_typ"
	fi
done
if [ "$only" = all ] || [ "$only" = memory ]; then
hwm_load=$(kg_sum VmHWM)
echo "HWM after_load_kb=$hwm_load" >>"$results"
kg_detail >"$work/after_load.txt"

# Idle connections.  kgbench idle opens N connections (64 at a time), one
# authenticated request each, holds them (reading 1: "idle"), then sends one
# request on every connection at once and holds them again (reading 2:
# "idle after a burst": were the buffers given back?).
wait_line() {	# file, pattern, pid
	for _ in $(seq 1200); do
		grep -q "$2" "$1" && return 0
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
idle_phase() {	# label, count, kgbench args
	local label=$1 n=$2; shift 2
	local out_f=$work/$label.out pid before pss_before r1 p1 r2 p2
	sleep 1
	before=$(kg_rss); pss_before=$(kg_pss)
	say "$label: kgbench idle -c $n $*"
	"${pin_cli[@]}" "$kgbench" idle -a "$@" -c "$n" -s 60 -l "$label" >"$out_f" 2>"$work/$label.err" &
	pid=$!; bench_pids+=("$pid")
	wait_line "$out_f" '^READY' "$pid"
	sleep 2	# let the relays settle
	r1=$(kg_rss); p1=$(kg_pss)
	kg_detail >"$work/$label.detail"
	kill -USR1 "$pid" 2>/dev/null
	wait_line "$out_f" '^AFTER_HOLD' "$pid"
	sleep 2
	r2=$(kg_rss); p2=$(kg_pss)
	kg_detail >>"$work/$label.detail"
	kill -USR1 "$pid" 2>/dev/null
	wait "$pid"
	cat "$out_f" "$work/$label.detail" >&2
	echo "IDLE label=$label n=$n rss_before_kb=$before pss_before_kb=$pss_before rss_idle_kb=$r1 pss_idle_kb=$p1 rss_burst_kb=$r2 pss_burst_kb=$p2 replay_shm_kb=$(kg_sum RssShmem) hwm_kb=$(kg_sum VmHWM) $(grep -h '^READY\|^AFTER_HOLD' "$out_f" | tr '\n' ' ')" >>"$results"
	grep "^IDLE label=$label" "$results" >&2
}
restart_kg() {
	say "restarting kerbgated (fresh processes for a memory phase)"
	kill "$kg_pid"
	for _ in $(seq 100); do kill -0 "$kg_pid" 2>/dev/null || break; sleep 0.1; done
	wait "$kg_pid" 2>/dev/null
	"${pin_srv[@]}" "$kerbgated" -f "$work/kerbgated.json" -d >>"$work/kerbgated.log" 2>&1 &
	kg_pid=$!
	for _ in $(seq 100); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $HOST" "http://$KG_IP:$KG_PORT/open/x")" = 200 ] && break
		sleep 0.1
	done
}
# After the load phases (the daemon has served ~10^6 requests)...
idle_phase kg_idle_plain_after_load "$idle_n" "$KG_IP:$KG_PORT"
# ...and on fresh processes, plain and TLS.
restart_kg
idle_phase kg_idle_plain_fresh "$idle_n" "$KG_IP:$KG_PORT"
restart_kg
idle_phase kg_idle_tls_fresh "$idle_tls" "$KG_IP:$KG_TLS_PORT" -t
fi

# ------------------------------------------------------------------ report

echo "HWM all_kb=$(kg_sum VmHWM) apache_rss_kb=$(ap_sum)" >>"$results"
curl -s "http://$KG_IP:$KG_ADMIN/metrics" | grep '^kerbgate_auth' >"$work/metrics.txt"
{
echo
echo "kerbgate benchmark: bench/run.sh, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r); pinning: $pin; ${KGB_REPEAT:-3} round(s) of ${dur} s per phase"
echo "HTTPS: $cert_kind certificate, TLS up to 1.${tls_max#1}, key exchange $tls_group; kerbgated on mbedTLS $(sed -n 's/^MBEDTLS_VERSION *:= *//p' toolchain/mbedtls/mbedtls.mk), Apache mod_ssl on $(openssl version | cut -d' ' -f1-2)"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 bench/report.py "$results" "$pac_typ" "$pac_big"
echo "kerbgated processes at the end:"; kg_detail
echo "kerbgated /metrics auth counters (non-zero):"; grep -v ' 0$' "$work/metrics.txt" | sed 's/^/  /'
echo "kerbgated log lines with warning/error/fatal: $(grep -c 'warning\|error\|fatal' "$work/kerbgated.log")"
grep -m5 'warning\|error\|fatal' "$work/kerbgated.log" | sed 's/^/  /'
echo "Apache error log lines besides start/stop notices: $(grep -vc 'AH00489\|AH00094\|AH00491' "$work/apache/error.log")"
grep -m5 -v 'AH00489\|AH00094\|AH00491' "$work/apache/error.log" | sed 's/^/  /'
echo
echo "raw:"; sed 's/^/  /' "$results"
}
