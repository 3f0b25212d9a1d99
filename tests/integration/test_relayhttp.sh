#!/usr/bin/env bash
# How kerbgated's relay reads client input (issue 15, items 1, 2, 6, 8, 10,
# 12), end to end in the lab: heads arriving in pieces, identity and
# forwarding headers in any spelling (heads and trailers), the session
# cookie, paths that back-ends resolve differently from a plain prefix
# match (checked against Apache itself), chunked answers to HTTP/1.0
# clients, connections that send nothing, and the per-source cap.
# Needs `tests/lab/lab up` first.  Last line: "N passed, N failed".
export KG_WORK_NAME=${KG_WORK_NAME:-relayhttp}
export KG_CONF_TEMPLATE=${KG_CONF_TEMPLATE:-tests/integration/relayhttp.json.in}
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

rh() { client /usr/bin/python3 "$top/tests/integration/rhclient.py" "$@"; }
vip_raw() { rh raw "$KGLAB_VIP" 80 "${1:-5}"; }
apache_log=$KGLAB_CAS1_APACHE_DIR/access.log
# limits.max_header_bytes: the default, CONFIG_KERBGATED_MAX_HEADER_BYTES + 8 KiB.
max_head=$(( $(sed -n 's/^CONFIG_KERBGATED_MAX_HEADER_BYTES=//p' .config) + 8192 ))

# ------------------------------------------------------------ 1: head limit

test_head_of_52k_in_two_pieces_is_accepted() {
	local r
	r=$(rh pieces "$KGLAB_VIP" 80 53248 50000 0.3)
	[[ $r == "HTTP/1.1 200"* ]] || { echo "$r"; return 1; }
}

test_head_of_64k_in_8k_pieces_is_accepted() {
	local r
	r=$(rh pieces "$KGLAB_VIP" 80 65536 8192 0.05 8192)
	[[ $r == "HTTP/1.1 200"* ]] || { echo "$r"; return 1; }
}

# The limit is exactly max_header_bytes, in pieces or at once.
test_head_limit_is_exact_however_it_arrives() {
	local a b c d
	a=$(rh pieces "$KGLAB_VIP" 80 "$max_head" 8192 0.05 8192)
	b=$(rh pieces "$KGLAB_VIP" 80 "$((max_head + 1))" 8192 0.05 8192)
	c=$(rh pieces "$KGLAB_VIP" 80 "$max_head" "$max_head" 0)
	d=$(rh pieces "$KGLAB_VIP" 80 "$((max_head + 1))" "$((max_head + 1))" 0)
	[[ $a == "HTTP/1.1 200"* && $b == "HTTP/1.1 431"* && $c == "HTTP/1.1 200"* &&
		$d == "HTTP/1.1 431"* ]] || { echo "$max_head: $a / $b / $c / $d"; return 1; }
}

# ------------------------------------------------------------ 2: names

test_identity_and_forwarding_header_spellings_never_reach_the_backend() {
	local names
	kinit_as alice >/dev/null
	[ "$(vip_curl --negotiate -u : -H 'X_Kerbgate_User: mallory@CORP.CONTOSO.COM' \
		-H 'X-Kerbgate_User: mallory2' -H 'X_KERBGATE_SIGNATURE: 00' \
		-H 'x_kerbgate-time: 1' -H 'X-Forwarded-Proto: https' -H 'X_Forwarded_Proto: https' \
		-H 'X-Forwarded-Host: evil.example' -H 'X_Forwarded_Host: evil.example' \
		-H 'X-Original-URL: /admin' -H 'X_Rewrite_URL: /admin' -H 'Forwarded: for=192.0.2.9;proto=https' \
		-H 'X_Forwarded_For: 192.0.2.9' -H 'X.Kerbgate.User: mallory3' \
		-H 'X~Kerbgate~Signature: 00' -H 'X.Forwarded.Host: evil.example' \
		http://mail.corp.contoso.com/ident)" = 200 ] || return 1
	names=$(sed -n 's/^header-names: //p' "$work/body")
	body_has "user: alice@CORP.CONTOSO.COM" && body_has "signature: valid" &&
		! body_has mallory && ! body_has evil.example && ! body_has 192.0.2.9 &&
		grep -qx 'xfp: http' "$work/body" &&
		grep -qx "forwarded: for=$KGLAB_CLIENT_IP;proto=http;host=\"mail.corp.contoso.com\"" "$work/body" &&
		! grep -qiE '(^|,)(x_kerbgate|x-kerbgate_|x_forwarded|x-forwarded-host|x-original-url|x_rewrite_url|x[.~]kerbgate|x[.]forwarded)' <<<"$names" ||
		{ cat "$work/body"; return 1; }
}

chunked_with_trailer() {
	printf 'POST /public/%s HTTP/1.1\r\nHost: mail.corp.contoso.com\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n%s\r\n\r\n' "$1" "$2"
}

test_identity_header_in_a_chunked_trailer_is_refused() {
	local t r
	: >"$events"
	for t in 'X-Kerbgate-User: mallory@CORP.CONTOSO.COM' 'X_Kerbgate_User: mallory' \
		'X-Forwarded-Proto: https'; do
		r=$(chunked_with_trailer trail "$t" | vip_raw 5)
		[[ $r == "HTTP/1.1 400"* ]] || { echo "$t: ${r%%$'\r'*}"; return 1; }
	done
	sleep 0.5
	! grep -q "trailers /public/trail" "$events" &&
		log_has "trailer field that only the proxy may set"
}

# RFC 9110 6.5.1: no framing, routing or authentication in trailers (a
# back-end with MergeTrailers would take them for headers).
test_authorization_host_cookie_framing_trailers_are_refused() {
	local t r
	: >"$events"
	for t in 'Authorization: NTLM TlRMTVNTUAABAAAAB4IIog==' 'Host: evil.example' \
		'Cookie: kerbgate_session=x' 'Content-Length: 5' 'Transfer-Encoding: chunked' \
		'X.Kerbgate.User: mallory'; do
		r=$(chunked_with_trailer trail-auth "$t" | vip_raw 5)
		[[ $r == "HTTP/1.1 400"* ]] || { echo "$t: ${r%%$'\r'*}"; return 1; }
	done
	sleep 0.5
	! grep -q "trailers /public/trail-auth" "$events"
}

test_other_trailers_still_pass() {
	local r
	: >"$events"
	r=$(chunked_with_trailer trail-ok 'X-Checksum: 1' | vip_raw 5)
	[[ $r == "HTTP/1.1 200"* ]] && grep -q "trailers /public/trail-ok X-Checksum" "$events"
}

# ------------------------------------------------------------ 6: cookie

test_session_cookie_is_not_forwarded() {
	local cookie
	vip_curl --negotiate -u : http://mail.corp.contoso.com/c1 >/dev/null
	cookie=$(grep -i '^Set-Cookie: kerbgate_session=' "$work/headers" | sed 's/^[^:]*: //; s/;.*//')
	[ -n "$cookie" ] || return 1
	grep -qx 'cookie: ' "$work/body" || return 1
	# Authenticated by the cookie, which the back-end does not see.
	[ "$(vip_curl -b "a=1; $cookie; b=2" http://mail.corp.contoso.com/c2)" = 200 ] &&
		body_has "user: alice@CORP.CONTOSO.COM" && grep -qx 'cookie: a=1; b=2' "$work/body" &&
		! body_has kerbgate_session || { cat "$work/body"; return 1; }
	[ "$(vip_curl -b "$cookie" http://mail.corp.contoso.com/c3)" = 200 ] &&
		body_has "user: alice@CORP.CONTOSO.COM" && grep -qx 'cookie: ' "$work/body" &&
		! grep -qi '^header-names:.*Cookie' "$work/body" || { cat "$work/body"; return 1; }
	[ "$(vip_curl -b "$cookie; kerbgate_server=x" http://mail.corp.contoso.com/public/c4)" = 200 ] &&
		grep -qx 'cookie: kerbgate_server=x' "$work/body"
}

# ------------------------------------------------------------ 8: paths

raw_get() {
	printf 'GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$1" "$2"
}

# The issue's examples against the recording back-end: never answered by
# the auth:none route.
test_dot_segment_paths_are_not_matched_by_the_open_route() {
	local p r
	for p in '/public/../secret' '/public\..\secret' '/public/%2e%2e/secret' \
		'/public/.%2E/secret' '/public//../secret' '/public/..;/secret' \
		'/public/..%2fsecret' '/public/%C0%AE%C0%AE/secret'; do
		r=$(raw_get "$p" mail.corp.contoso.com | vip_raw 5)
		[[ $r == "HTTP/1.1 401"* || $r == "HTTP/1.1 400"* ]] || { echo "$p: ${r%%$'\r'*}"; return 1; }
	done
	# The target still goes on as it came.
	[ "$(vip_curl --path-as-is 'http://mail.corp.contoso.com/public/x/../y?q=/../z')" = 200 ] &&
		grep -q 'request GET /public/x/../y user=None' "$events" &&
		log_has "ambiguous dot segment in the path"
}

# Paths that kerbgated (and Apache, merging slashes) read under /public but
# that other back-ends read elsewhere: "/x//./../public/y" is "/x/public/y"
# to an RFC 3986 resolver that keeps "//" (nginx merge_slashes off, Jetty),
# "/x//y/../../public/z" is "/x/public/z" there, and "/public/;/../secret"
# is "/secret" to Tomcat (";" dropped, "//" merged).
test_paths_other_backends_resolve_elsewhere_are_refused() {
	local p r
	for p in '/x//./../public/y' '/x//%2e/../public/y' '/x//y/../../public/z' '/public/;/../secret' \
		'/public/;a=b/../secret' '/public/;/./../secret'; do
		r=$(raw_get "$p" mail.corp.contoso.com | vip_raw 5)
		[[ $r == "HTTP/1.1 400"* ]] || { echo "$p: ${r%%$'\r'*}"; return 1; }
	done
	r=$(raw_get '/public/;/y' mail.corp.contoso.com | vip_raw 5)
	[[ $r == "HTTP/1.1 200"* ]] || { echo "/public/;/y: ${r%%$'\r'*}"; return 1; }
}

# ------------------------------------------------------------ 7: Authorization

# Two Authorization headers: refused, never "the first one wins" (which let
# a Basic header hide a Negotiate token behind it).
test_two_authorization_headers_are_refused() {
	local r p
	for p in /whoami /public/two-auth; do
		r=$(printf 'GET %s HTTP/1.1\r\nHost: mail.corp.contoso.com\r\nAuthorization: Basic Ym9iOng=\r\nAuthorization: Negotiate YIIBAA==\r\nConnection: close\r\n\r\n' "$p" | vip_raw 5)
		[[ $r == "HTTP/1.1 400"* ]] || { echo "$p: ${r%%$'\r'*}"; return 1; }
	done
	log_has "more than one Authorization header"
}

# Paths that Apache, asked directly, resolves to its Kerberos-protected
# /whoami.  Through kerbgated, without Kerberos, none of them may reach
# Apache by the auth:none /open route: kerbgated answers 401 or 400 and
# Apache's access log never shows them.
tricky_paths=(
	'/open/../whoami' '/open/%2e%2e/whoami' '/open/.%2E/whoami' '/open/%2E%2E/whoami'
	'/open/./../whoami' '/open//../whoami' '/open/x/../../whoami' '/OPEN/../whoami'
	'/open/%2e%2e%2fwhoami' '/open\..\whoami' '/open/..;/whoami' '/open/..%2fwhoami'
	'/open/.../whoami' '/open/%252e%252e/whoami' '/open/%c0%ae%c0%ae/whoami'
	'/open/..%5cwhoami' '/open%2f..%2fwhoami' '/open/%2e%2e/./whoami/'
)

test_paths_apache_resolves_to_a_protected_resource_never_pass_unauthenticated() {
	local p i direct via reached=0 tag=rh$$
	for i in "${!tricky_paths[@]}"; do
		p=${tricky_paths[$i]}
		direct=$(raw_get "$p?$tag-d$i" cas1.corp.contoso.com |
			lb /usr/bin/python3 "$top/tests/integration/rhclient.py" raw "$KGLAB_CAS1_IP" 80 3)
		# Only the paths Apache reads as /whoami (its GSSAPI 401) count.
		[[ $direct == "HTTP/1.1 401"* ]] && grep -qi '^WWW-Authenticate: Negotiate' <<<"$direct" || continue
		reached=$((reached + 1))
		via=$(raw_get "$p?$tag-v$i" mail.corp.contoso.com | vip_raw 5)
		[[ $via == "HTTP/1.1 401"* || $via == "HTTP/1.1 400"* ]] ||
			{ echo "$p: ${via%%$'\r'*}"; return 1; }
	done
	# A control: a plain /open path does reach Apache, so the log is read.
	raw_get "/open/control?$tag-ctl" mail.corp.contoso.com | vip_raw 5 >/dev/null
	sleep 1
	grep -q "$tag-ctl" "$apache_log" || { echo "control not in $apache_log"; return 1; }
	[ "$reached" -ge 5 ] || { echo "only $reached paths reach /whoami directly"; return 1; }
	! grep "$tag-v" "$apache_log"
}

# ------------------------------------------------------------ 10: HTTP/1.0

test_http10_client_gets_a_dechunked_close_delimited_answer() {
	local r head body
	r=$(printf 'GET /public/chunked-out HTTP/1.0\r\nHost: mail.corp.contoso.com\r\n\r\n' | vip_raw 5)
	head=${r%%$'\r\n\r\n'*}
	body=${r#*$'\r\n\r\n'}
	[[ $r == "HTTP/1.1 200"* ]] && ! grep -qi '^Transfer-Encoding' <<<"$head" &&
		grep -qi '^Connection: close' <<<"$head" && [ "$body" = $'hello chunked world' ] ||
		{ echo "$r" | head -12; return 1; }
	# HTTP/1.1 still gets the chunks.
	r=$(printf 'GET /public/chunked-out HTTP/1.1\r\nHost: mail.corp.contoso.com\r\nConnection: close\r\n\r\n' | vip_raw 5)
	grep -qi '^Transfer-Encoding: chunked' <<<"${r%%$'\r\n\r\n'*}"
}

# ------------------------------------------------------------ 12: idle, cap

# header_timeout is 3 s and idle_timeout 30 s in this configuration.
test_connection_sending_nothing_is_closed_after_header_timeout() {
	[ "$(rh idle "$KGLAB_VIP" 80 5)" = closed ]
}

test_keepalive_connection_still_waits_idle_timeout() {
	local r
	r=$(rh keepalive "$KGLAB_VIP" 80 5)
	[ "$(grep -c '^HTTP/1.1 200' <<<"$r")" = 2 ] || { echo "$r"; return 1; }
}

# max_connections_per_source 4 over 2 workers: 2 each.
test_per_source_connection_cap() {
	local r open refused
	r=$(rh conns "$KGLAB_VIP" 80 10 1)
	read -r _ open _ refused <<<"$r"
	[ "$open" -ge 1 ] && [ "$open" -le 4 ] && [ "$refused" -ge 6 ] || { echo "$r"; return 1; }
	log_has "already open from this address" && log_has "max_connections_per_source 4 over 2 worker(s)" ||
		return 1
	# Closed connections no longer count.
	sleep 1
	[ "$(vip_curl http://mail.corp.contoso.com/public/after-cap)" = 200 ]
}

setup
start_or_exit
check "1: a 52 KB head sent as 50,000 bytes and the rest 0.3 s later: accepted" test_head_of_52k_in_two_pieces_is_accepted
check "1: a 64 KB head in 8 KB pieces: accepted" test_head_of_64k_in_8k_pieces_is_accepted
check "1: max_header_bytes exactly is accepted, one more byte is 431, in pieces or at once" test_head_limit_is_exact_however_it_arrives
check "2: identity and forwarding headers in any spelling are not forwarded; ours are" test_identity_and_forwarding_header_spellings_never_reach_the_backend
check "2: identity or forwarding header in a chunked trailer: 400, not forwarded" test_identity_header_in_a_chunked_trailer_is_refused
check "2: Authorization, Host, Cookie or framing fields in a chunked trailer: 400, not forwarded" test_authorization_host_cookie_framing_trailers_are_refused
check "2: other trailers still reach the back-end" test_other_trailers_still_pass
check "7: two Authorization headers are refused with 400" test_two_authorization_headers_are_refused
check "6: kerbgate_session is stripped from Cookie, other cookies kept" test_session_cookie_is_not_forwarded
check "8: dot-segment and backslash paths do not match the auth:none route" test_dot_segment_paths_are_not_matched_by_the_open_route
check "8: paths Apache resolves to a protected resource never pass unauthenticated" test_paths_apache_resolves_to_a_protected_resource_never_pass_unauthenticated
check "8: paths that non-merging or Tomcat back-ends resolve outside /public are refused" test_paths_other_backends_resolve_elsewhere_are_refused
check "10: HTTP/1.0 client gets a de-chunked, close-delimited answer" test_http10_client_gets_a_dechunked_close_delimited_answer
check "12: a connection that sends nothing is closed after header_timeout" test_connection_sending_nothing_is_closed_after_header_timeout
check "12: a keep-alive connection between requests still has idle_timeout" test_keepalive_connection_still_waits_idle_timeout
check "12: per-source connection cap refuses with a log line, and frees on close" test_per_source_connection_cap
finish
