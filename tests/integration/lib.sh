# Shared harness for the integration scripts: source it, write tests as
# functions, run them with `check NAME FUNCTION`, end with `finish`.
# It sets up certificates, test back-ends and a kerbgated configuration in
# $work (inside the lab dir), and starts kerbgated in the lb namespace.
# shellcheck shell=bash
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
top=$PWD
out=${KG_OUT:-output}
lab=tests/lab/lab
# shellcheck disable=SC1091
source "${KGLAB_DIR:-/run/kerbgate-lab}/lab.env"
# A script before this one may have rotated the ASA password in AD (as
# test_roll.sh does, three times): start from keys AD agrees with.
ad_asa_kvno=$(SMB_CONF_PATH=$KGLAB_SMB_CONF ldbsearch -H "$KGLAB_SAM_LDB" -b "$KGLAB_BASEDN" \
	"(sAMAccountName=$KGLAB_ASA_ACCOUNT)" msDS-KeyVersionNumber 2>/dev/null |
	awk '/^msDS-KeyVersionNumber:/ {print $2}')
if [ -n "$ad_asa_kvno" ] && [ "$ad_asa_kvno" != "$KGLAB_ASA_KVNO" ]; then
	echo "# AD's ASA kvno is $ad_asa_kvno, the lab keytab's $KGLAB_ASA_KVNO: lab asa-reset"
	$lab asa-reset >/dev/null || { echo "lab asa-reset failed"; exit 1; }
	# shellcheck disable=SC1091
	source "$KGLAB_DIR/lab.env"
fi

work=$KGLAB_DIR/${KG_WORK_NAME:-kerbgated}
log=$work/kerbgated.log
events=$work/events.log
passed=0; failed=0

ok()   { echo "ok - $*"; passed=$((passed + 1)); }
nok()  { echo "not ok - $*"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name"; fi; }
client() { $lab exec client "$@"; }
lb() { $lab exec lb "$@"; }
vip_curl() { client curl -s -o "$work/body" -D "$work/headers" -w '%{http_code}' --max-time 20 "$@"; }
log_has() { grep -qF -- "$1" "$log"; }
# The current generation's keyholder, from kerbgated's log: the TLS key
# process runs as the same user (_kgkeys), so pgrep cannot tell them apart.
keyholder_pid() { grep -o 'generation [0-9]*: keyholder [0-9]*' "$log" | tail -1 | awk '{print $4}'; }
body_has() { grep -qF -- "$1" "$work/body"; }

# The braces' redirection also silences bash's "Terminated" for each job.
cleanup() {
	{
		[ -n "${kg_pid:-}" ] && kill "$kg_pid"
		for n in cas1 cas2; do $lab exec $n pkill -f "backend.py $n"; done
		pkill -f "ep_backend.py"
		wait
	} 2>/dev/null
}
trap cleanup EXIT

# A certificate for NAME.corp.contoso.com signed by the lab CA.
make_cert() {
	local h=$1
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj "/CN=$h.corp.contoso.com" -keyout "$work/$h.key" \
		-out "$work/$h.csr" 2>/dev/null
	openssl x509 -req -in "$work/$h.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
		-CAcreateserial -days 2 -out "$work/$h.pem" \
		-extfile <(printf 'subjectAltName=DNS:%s.corp.contoso.com' "$h") 2>/dev/null
	chmod 0600 "$work/$h.key"
}

setup() {
	rm -rf "$work"; mkdir -p "$work"; chmod 755 "$work"
	for u in _kgrelay _kgkeys; do
		id "$u" >/dev/null 2>&1 || useradd --system --no-create-home \
			--shell /usr/sbin/nologin "$u"
	done
	install -m 0600 "$KGLAB_ASA_KEYTAB" "$work/asa.keytab"
	head -c 48 /dev/urandom >"$work/pool.secret"
	chmod 0644 "$work/pool.secret"	# the back-ends (here: python) read it too
	# A CA and the VIP certificates (ECDSA P-256).
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj "/CN=Lab CA" -days 2 -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
	for h in mail autod; do make_cert $h; done
	# TLS back-ends: cas1's certificate is from the lab CA; cas2's is a
	# self-signed "rogue" one, acceptable only where it is pinned.
	make_cert cas1 "$work/ca.pem" "$work/ca.key"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=cas2.corp.contoso.com" -addext "subjectAltName=DNS:cas2.corp.contoso.com" \
		-keyout "$work/cas2.key" -out "$work/cas2.pem" 2>/dev/null
	rogue_pin=$(openssl x509 -in "$work/cas2.pem" -outform DER | sha256sum | cut -c1-64)
	sed -e "s|@WORK@|$work|g" -e "s|@ROGUE_PIN@|$rogue_pin|g" \
		"${KG_CONF_TEMPLATE:-tests/integration/kerbgated.json.in}" >"$work/kerbgated.json"
	for n in cas1 cas2; do
		ip=$([ $n = cas1 ] && echo "$KGLAB_CAS1_IP" || echo "$KGLAB_CAS2_IP")
		$lab exec $n /usr/bin/python3 "$top/tests/integration/backend.py" $n "$ip" 8080 \
			"$work/pool.secret" "$events" >"$work/backend-$n.log" 2>&1 &
		$lab exec $n /usr/bin/python3 "$top/tests/integration/backend.py" $n "$ip" 8443 \
			"$work/pool.secret" "$events" "$work/$n.pem" "$work/$n.key" \
			>"$work/backend-$n-tls.log" 2>&1 &
	done
}

start_kerbgated() {
	local n ip
	# The back-ends first: a refused connect would eject them at once.
	for n in cas1 cas2; do
		ip=$([ $n = cas1 ] && echo "$KGLAB_CAS1_IP" || echo "$KGLAB_CAS2_IP")
		for _ in $(seq 50); do
			lb curl -s -o /dev/null "http://$ip:8080/health" &&
				lb curl -sk -o /dev/null "https://$ip:8443/health" && break
			sleep 0.2
		done
	done
	# KERBGATE_TEST_HOOKS: SIGUSR2 makes a relay send a malformed frame (to
	# the keyholder; with KG_TEST_HOOKS=tlskey, to the TLS key process); the
	# keyholder writes its cookie key to KERBGATE_TEST_COOKIE_KEY.
	lb env KERBGATE_TEST_HOOKS="${KG_TEST_HOOKS:-1}" KERBGATE_TEST_COOKIE_KEY="$work/cookie.key" \
		"$top/$out/bin/kerbgated" -d -v -v -f "$work/kerbgated.json" \
		>>"$log" 2>&1 &
	for _ in $(seq 50); do
		# Any answer from a back-end will do (Apache says 404 here).
		if [[ $(vip_curl --max-time 2 http://mail.corp.contoso.com/public/ping) == [234]?? ]]; then
			# The daemon itself, not the `lab exec` wrapper around it.
			kg_pid=$(pgrep -o -u root -f "^$top/$out/bin/kerbgated -d -v -v -f $work/kerbgated.json")
			return 0
		fi
		sleep 0.2
	done
	return 1
}

kinit_as() {
	client kinit --password-file="$(eval echo "\$KGLAB_${1^^}_PWFILE")" "$1@$KGLAB_REALM"
}

finish() {
	if [ "$failed" -gt 0 ] || [ -n "${KG_SHOW_LOG:-}" ]; then
		echo "--- kerbgated log (last 15 lines; all of it in $log)"; tail -15 "$log"
	fi
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}

# Starts kerbgated or ends the script with the reason.
start_or_exit() {
	if ! start_kerbgated; then
		nok "kerbgated starts and serves the VIP"; tail -30 "$log"
		echo "$passed passed, $failed failed"; exit 1
	fi
	ok "kerbgated starts and serves the VIP"
}
