/*
 * test_sign.c: identity signatures match an independent HMAC-SHA256 and
 * break on any change; session cookies round-trip, refuse every tampering,
 * expire, and never tell a forged cookie from an expired one; the Cookie
 * header is searched by exact name.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <stdio.h>

#include <mbedtls/md.h>

#include "sign.h"
#include "util.h"

/* 33 bytes: a header secret must be at least 32. */
static const uint8_t secret[] = "kerbgate-test-secret-0123456789ab";
#define SECRET_LEN	(sizeof(secret) - 1)

#define USER	"alice@CORP.CONTOSO.COM"
#define TS	1700000000ULL
#define REQID	"7f3a9c1e"
#define METHOD	"RPC_IN_DATA"
#define TARGET	"/rpc/rpcproxy.dll?cas1.corp.contoso.com:6001"
#define SCHEME	"https"
#define HOST	"mail.corp.contoso.com"
/*
 * printf 'kerbgate-v3\nalice@CORP.CONTOSO.COM\n1700000000\n7f3a9c1e\n'\
 * 'https\nmail.corp.contoso.com\n'\
 * 'RPC_IN_DATA\n/rpc/rpcproxy.dll?cas1.corp.contoso.com:6001' |
 *   openssl dgst -sha256 -hmac 'kerbgate-test-secret-0123456789ab'
 * (and the same from Python's hmac module)
 */
#define KAT_HEX "a26ef76ed22b0bfdfad13e30efa153bac360191b9b6acc0454bab52e270dbdad"

/*
 * An identity grant (docs/backend-verification.md):
 * printf 'kerbgate-grant-v1\nalice@CORP.CONTOSO.COM\nmail.corp.contoso.com\n'\
 * '00112233445566778899aabbccddeeff\n1700003600' |
 *   openssl dgst -sha256 -hmac 'kerbgate-test-secret-0123456789ab'
 * and the request above signed under that key (openssl dgst -mac HMAC
 * -macopt hexkey:...; the same from Python's hmac module).
 */
#define GRANT_ID	"00112233445566778899aabbccddeeff"
#define GRANT_EXP	1700003600ULL
#define KAT_GRANT_KEY "cdd81e1cd4c2daac0b1482843816f0bf22090a1eec1ff19076717733fae520d8"
#define KAT_GRANT_SIG "d3443b056ac2d58084e3c323be7dc0723291b006c6fda3e99e37ca78705c51a1"

#define VHOST	"mail.corp.contoso.com"
#define EXPIRY	1700003600ULL
/*
 * key = bytes(range(32));
 * p = urlsafe_b64encode(b"alice@CORP.CONTOSO.COM\nmail.corp.contoso.com\n"
 *     b"1700003600").rstrip(b"=")
 * m = urlsafe_b64encode(hmac(key, b"kerbgate-cookie-v1\n" + p,
 *     sha256)).rstrip(b"=");  value = p + "." + m   (Python)
 */
#define KAT_COOKIE "YWxpY2VAQ09SUC5DT05UT1NPLkNPTQptYWlsLmNvcnAuY29udG9zby5" \
	"jb20KMTcwMDAwMzYwMA.j3qlqBeabqi5OUSmxAz9XDTLOaZLQjdzUt8QckuJrac"

static uint8_t cookie_key[32];
static uint8_t other_key[32];

static int
setup_keys(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(cookie_key); i++) {
		cookie_key[i] = (uint8_t)i;
		other_key[i] = (uint8_t)(i + 1);
	}
	return 0;
}

static int
sign_kat(const char *user, uint64_t ts, const char *reqid, const char *method,
    const char *target, char out[SIGN_HEX_LEN + 1])
{
	return sign_identity(secret, SECRET_LEN, user, ts, reqid, SCHEME, HOST,
	    method, strlen(method), target, strlen(target), out);
}

static int
verify_kat(const char *user, uint64_t ts, const char *reqid,
    const char *method, const char *target, const char *hex)
{
	return sign_identity_verify(secret, SECRET_LEN, user, ts, reqid,
	    SCHEME, HOST, method, strlen(method), target, strlen(target), hex);
}

static int
check(const char *value, size_t len, const char *vhost, uint64_t now,
    char *principal, size_t psz)
{
	return sign_cookie_check(cookie_key, value, len, vhost, now, principal,
	    psz, NULL);
}

static int
check_str(const char *value, uint64_t now)
{
	char principal[256];

	return check(value, strlen(value), VHOST, now, principal,
	    sizeof(principal));
}

/* ---------------------------------------------------------- identity */

static void
test_identity_signature_matches_an_independent_hmac_sha256(void **state)
{
	char hex[SIGN_HEX_LEN + 1];

	assert_int_equal(sign_kat(USER, TS, REQID, METHOD, TARGET, hex), 0);
	assert_string_equal(hex, KAT_HEX);
}

/* More keys than the signer keeps hashed pads for, in turn, each length 32-64. */
static void
test_identity_signature_is_right_under_many_keys_in_turn(void **state)
{
	const char *msg = "kerbgate-v3\n" USER "\n1700000000\n" REQID "\n"
	    SCHEME "\n" HOST "\n" METHOD "\n" TARGET;
	uint8_t key[64], mac[32];
	char hex[SIGN_HEX_LEN + 1], want[SIGN_HEX_LEN + 1];
	int round, i, j;

	(void)state;
	for (round = 0; round < 3; round++) {
		for (i = 0; i < 11; i++) {
			size_t len = 32 + (size_t)i * 3;

			for (j = 0; j < 64; j++)
				key[j] = (uint8_t)(i * 37 + j);
			assert_int_equal(mbedtls_md_hmac(mbedtls_md_info_from_type(
			    MBEDTLS_MD_SHA256), key, len, (const uint8_t *)msg, strlen(msg),
			    mac), 0);
			for (j = 0; j < 32; j++)
				snprintf(want + 2 * j, 3, "%02x", mac[j]);
			assert_int_equal(sign_identity(key, len, USER, TS, REQID,
			    SCHEME, HOST, METHOD, strlen(METHOD), TARGET,
			    strlen(TARGET), hex), 0);
			assert_string_equal(hex, want);
		}
	}
}

/* ------------------------------------------------------------ grants */

static int
grant(const char *user, const char *vhost, const char *id, uint64_t exp,
    char hex[SIGN_HEX_LEN + 1])
{
	uint8_t key[SIGN_GRANT_KEY_LEN];
	int rc;

	rc = sign_grant_key(secret, SECRET_LEN, user, vhost, id, exp, key);
	if (rc == 0)
		sign_hex(key, sizeof(key), hex);
	return rc;
}

static void
test_grant_key_matches_an_independent_hmac_sha256(void **state)
{
	char hex[SIGN_HEX_LEN + 1];

	assert_int_equal(grant(USER, VHOST, GRANT_ID, GRANT_EXP, hex), 0);
	assert_string_equal(hex, KAT_GRANT_KEY);
}

/* The whole chain a back-end recomputes: secret -> grant key -> signature. */
static void
test_request_signed_with_a_grant_key_matches_the_known_answer(void **state)
{
	uint8_t key[SIGN_GRANT_KEY_LEN];
	char hex[SIGN_HEX_LEN + 1];

	assert_int_equal(sign_grant_key(secret, SECRET_LEN, USER, VHOST,
	    GRANT_ID, GRANT_EXP, key), 0);
	assert_int_equal(sign_identity(key, sizeof(key), USER, TS, REQID,
	    SCHEME, HOST, METHOD, strlen(METHOD), TARGET, strlen(TARGET), hex), 0);
	assert_string_equal(hex, KAT_GRANT_SIG);
	assert_false(sign_identity_verify(secret, SECRET_LEN, USER, TS, REQID,
	    SCHEME, HOST, METHOD, strlen(METHOD), TARGET, strlen(TARGET),
	    KAT_GRANT_SIG));	/* the pool secret itself signs nothing */
}

/* Each field is bound: change any one and the key is another. */
static void
test_grant_key_changes_with_every_field(void **state)
{
	char hex[SIGN_HEX_LEN + 1];

	assert_int_equal(grant("bob@CORP.CONTOSO.COM", VHOST, GRANT_ID,
	    GRANT_EXP, hex), 0);
	assert_string_not_equal(hex, KAT_GRANT_KEY);
	assert_int_equal(grant(USER, "autod.corp.contoso.com", GRANT_ID,
	    GRANT_EXP, hex), 0);
	assert_string_not_equal(hex, KAT_GRANT_KEY);
	assert_int_equal(grant(USER, VHOST, "00112233445566778899aabbccddeefe",
	    GRANT_EXP, hex), 0);
	assert_string_not_equal(hex, KAT_GRANT_KEY);
	assert_int_equal(grant(USER, VHOST, GRANT_ID, GRANT_EXP + 1, hex), 0);
	assert_string_not_equal(hex, KAT_GRANT_KEY);
}

/* A newline would let one field list derive as another; a short secret
 * is no secret. */
static void
test_grant_key_refuses_newlines_empty_fields_and_short_secrets(void **state)
{
	uint8_t key[SIGN_GRANT_KEY_LEN];
	char hex[SIGN_HEX_LEN + 1];

	assert_int_not_equal(grant("alice\nx", VHOST, GRANT_ID, GRANT_EXP,
	    hex), 0);
	assert_int_not_equal(grant(USER, "mail\r", GRANT_ID, GRANT_EXP, hex), 0);
	assert_int_not_equal(grant(USER, VHOST, "", GRANT_EXP, hex), 0);
	assert_int_not_equal(grant("", VHOST, GRANT_ID, GRANT_EXP, hex), 0);
	assert_int_not_equal(sign_grant_key(secret, 31, USER, VHOST, GRANT_ID,
	    GRANT_EXP, key), 0);
}

static void
test_identity_signature_is_64_lowercase_hex_digits(void **state)
{
	char hex[SIGN_HEX_LEN + 1];
	size_t i;

	assert_int_equal(sign_kat("bob@CORP.CONTOSO.COM", 1, "r", "GET", "/",
	    hex), 0);
	assert_int_equal(strlen(hex), SIGN_HEX_LEN);
	for (i = 0; i < SIGN_HEX_LEN; i++)
		assert_non_null(strchr("0123456789abcdef", hex[i]));
}

static void
test_identity_signature_verifies_with_the_same_fields(void **state)
{
	assert_true(verify_kat(USER, TS, REQID, METHOD, TARGET, KAT_HEX));
}

static void
test_identity_verify_refuses_another_user(void **state)
{
	assert_false(verify_kat("mallory@CORP.CONTOSO.COM", TS, REQID, METHOD,
	    TARGET, KAT_HEX));
	assert_false(verify_kat("alice@CORP.CONTOSO.CO", TS, REQID, METHOD,
	    TARGET, KAT_HEX));
}

static void
test_identity_verify_refuses_another_time(void **state)
{
	assert_false(verify_kat(USER, TS + 1, REQID, METHOD, TARGET, KAT_HEX));
	assert_false(verify_kat(USER, TS - 1, REQID, METHOD, TARGET, KAT_HEX));
}

static void
test_identity_verify_refuses_another_request_id_method_or_target(void **state)
{
	assert_false(verify_kat(USER, TS, "7f3a9c1f", METHOD, TARGET, KAT_HEX));
	assert_false(verify_kat(USER, TS, REQID, "RPC_OUT_DATA", TARGET,
	    KAT_HEX));
	assert_false(verify_kat(USER, TS, REQID, METHOD, "/rpc/rpcproxy.dll",
	    KAT_HEX));
}

/* A captured request moved to another virtual host or scheme fails. */
static void
test_identity_verify_refuses_another_host_or_scheme(void **state)
{
	assert_false(sign_identity_verify(secret, SECRET_LEN, USER, TS, REQID,
	    SCHEME, "autod.corp.contoso.com", METHOD, strlen(METHOD), TARGET,
	    strlen(TARGET), KAT_HEX));
	assert_false(sign_identity_verify(secret, SECRET_LEN, USER, TS, REQID,
	    "http", HOST, METHOD, strlen(METHOD), TARGET, strlen(TARGET),
	    KAT_HEX));
	/* Fields do not run into each other: "https\nmail" is not "http\nsmail". */
	assert_false(sign_identity_verify(secret, SECRET_LEN, USER, TS, REQID,
	    "http", "smail.corp.contoso.com", METHOD, strlen(METHOD), TARGET,
	    strlen(TARGET), KAT_HEX));
}

/* The previous format (no scheme, no host) never verifies as this one. */
static void
test_identity_v1_signature_does_not_verify(void **state)
{
	/* kerbgate-v1 over user, time, id, method, target (the old KAT). */
	assert_false(verify_kat(USER, TS, REQID, METHOD, TARGET,
	    "ab08add86bd5a5e73c774cb53201f7e4445459d7a5f9c5e650f6fbc579a1d129"));
}

static void
test_identity_empty_or_broken_host_or_scheme_is_refused(void **state)
{
	char hex[SIGN_HEX_LEN + 1];

	assert_int_equal(sign_identity(secret, SECRET_LEN, USER, TS, REQID,
	    SCHEME, "", METHOD, strlen(METHOD), TARGET, strlen(TARGET), hex),
	    KG_ERR_INVAL);
	assert_int_equal(sign_identity(secret, SECRET_LEN, USER, TS, REQID,
	    NULL, HOST, METHOD, strlen(METHOD), TARGET, strlen(TARGET), hex),
	    KG_ERR_INVAL);
	assert_int_equal(sign_identity(secret, SECRET_LEN, USER, TS, REQID,
	    SCHEME, "mail\nx", METHOD, strlen(METHOD), TARGET, strlen(TARGET),
	    hex), KG_ERR_INVAL);
	assert_int_equal(sign_identity(secret, SECRET_LEN, USER, TS, REQID,
	    "http\r", HOST, METHOD, strlen(METHOD), TARGET, strlen(TARGET),
	    hex), KG_ERR_INVAL);
}

static void
test_identity_verify_refuses_another_secret(void **state)
{
	static const uint8_t other[] = "kerbgate-test-secret-0123456789ac";

	assert_false(sign_identity_verify(other, sizeof(other) - 1, USER, TS,
	    REQID, SCHEME, HOST, METHOD, strlen(METHOD), TARGET, strlen(TARGET),
	    KAT_HEX));
}

static void
test_identity_verify_refuses_a_flipped_truncated_or_extended_signature(
    void **state)
{
	char hex[SIGN_HEX_LEN + 2];
	size_t i;

	for (i = 0; i < SIGN_HEX_LEN; i++) {
		strcpy(hex, KAT_HEX);
		hex[i] = hex[i] == '0' ? '1' : '0';
		assert_false(verify_kat(USER, TS, REQID, METHOD, TARGET, hex));
	}
	strcpy(hex, KAT_HEX);
	hex[SIGN_HEX_LEN - 1] = '\0';
	assert_false(verify_kat(USER, TS, REQID, METHOD, TARGET, hex));
	strcpy(hex, KAT_HEX);
	strcat(hex, "0");
	assert_false(verify_kat(USER, TS, REQID, METHOD, TARGET, hex));
	assert_false(verify_kat(USER, TS, REQID, METHOD, TARGET, ""));
	assert_false(verify_kat(USER, TS, REQID, METHOD, TARGET, NULL));
}

static void
test_identity_verify_refuses_uppercase_hex(void **state)
{
	char hex[SIGN_HEX_LEN + 1];
	size_t i;

	strcpy(hex, KAT_HEX);
	for (i = 0; i < SIGN_HEX_LEN; i++)
		if (hex[i] >= 'a' && hex[i] <= 'f')
			hex[i] = (char)(hex[i] - 'a' + 'A');
	assert_false(verify_kat(USER, TS, REQID, METHOD, TARGET, hex));
}

static void
test_identity_secret_shorter_than_32_bytes_is_refused(void **state)
{
	char hex[SIGN_HEX_LEN + 1];

	assert_int_equal(sign_identity(secret, 31, USER, TS, REQID, SCHEME,
	    HOST, METHOD, strlen(METHOD), TARGET, strlen(TARGET), hex),
	    KG_ERR_INVAL);
	assert_string_equal(hex, "");
	assert_false(sign_identity_verify(secret, 31, USER, TS, REQID, SCHEME,
	    HOST, METHOD, strlen(METHOD), TARGET, strlen(TARGET), KAT_HEX));
	assert_int_equal(sign_identity(NULL, 0, USER, TS, REQID, SCHEME, HOST,
	    METHOD, strlen(METHOD), TARGET, strlen(TARGET), hex), KG_ERR_INVAL);
}

static void
test_identity_field_with_a_line_break_is_refused(void **state)
{
	char hex[SIGN_HEX_LEN + 1];

	/* Otherwise user "a\n1" at time 2 would sign as user "a" ... */
	assert_int_equal(sign_kat("alice\n1700000000", TS, REQID, METHOD,
	    TARGET, hex), KG_ERR_INVAL);
	assert_int_equal(sign_kat("alice\r", TS, REQID, METHOD, TARGET, hex),
	    KG_ERR_INVAL);
	assert_int_equal(sign_kat(USER, TS, "a\nb", METHOD, TARGET, hex),
	    KG_ERR_INVAL);
	assert_int_equal(sign_kat(USER, TS, REQID, "GET\n", TARGET, hex),
	    KG_ERR_INVAL);
	assert_int_equal(sign_kat(USER, TS, REQID, METHOD, "/\nx", hex),
	    KG_ERR_INVAL);
	assert_false(verify_kat("alice\n", TS, REQID, METHOD, TARGET, KAT_HEX));
}

static void
test_identity_empty_user_is_refused(void **state)
{
	char hex[SIGN_HEX_LEN + 1];

	assert_int_equal(sign_kat("", TS, REQID, METHOD, TARGET, hex),
	    KG_ERR_INVAL);
	assert_int_equal(sign_kat(NULL, TS, REQID, METHOD, TARGET, hex),
	    KG_ERR_INVAL);
}

static void
test_identity_signs_only_method_len_and_target_len_bytes(void **state)
{
	char a[SIGN_HEX_LEN + 1], b[SIGN_HEX_LEN + 1];
	const char *method = METHOD "garbage", *target = TARGET "#tail";

	assert_int_equal(sign_identity(secret, SECRET_LEN, USER, TS, REQID,
	    SCHEME, HOST, method, strlen(METHOD), target, strlen(TARGET), a), 0);
	assert_int_equal(sign_kat(USER, TS, REQID, METHOD, TARGET, b), 0);
	assert_string_equal(a, b);
}

/* ---------------------------------------------------------- cookies */

static void
issue(const char *principal, uint64_t expiry, char *out, size_t outsz)
{
	assert_int_equal(sign_cookie_issue(cookie_key, principal, VHOST,
	    expiry, out, outsz), 0);
}

static void
test_cookie_matches_an_independent_computation(void **state)
{
	char v[SIGN_COOKIE_MAX + 1];

	issue(USER, EXPIRY, v, sizeof(v));
	assert_string_equal(v, KAT_COOKIE);
}

static void
test_issued_cookie_checks_and_yields_principal_and_expiry(void **state)
{
	char v[SIGN_COOKIE_MAX + 1], principal[256];
	uint64_t expiry = 0;

	issue(USER, EXPIRY, v, sizeof(v));
	assert_int_equal(sign_cookie_check(cookie_key, v, strlen(v), VHOST,
	    EXPIRY - 3600, principal, sizeof(principal), &expiry), 1);
	assert_string_equal(principal, USER);
	assert_int_equal(expiry, EXPIRY);
}

static void
test_cookie_value_is_base64url_with_exactly_one_dot(void **state)
{
	char v[SIGN_COOKIE_MAX + 1];
	size_t i, dots = 0;

	/* A principal whose base64 has '+' and '/' in plain base64. */
	issue("\xfb\xff\xbf@CORP", EXPIRY, v, sizeof(v));
	for (i = 0; v[i] != '\0'; i++) {
		if (v[i] == '.') {
			dots++;
			continue;
		}
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789-_", v[i]));
	}
	assert_int_equal(dots, 1);
	assert_int_equal(check_str(v, EXPIRY - 1), 1);
}

static void
test_cookie_is_valid_until_the_second_before_expiry(void **state)
{
	assert_int_equal(check_str(KAT_COOKIE, 0), 1);
	assert_int_equal(check_str(KAT_COOKIE, EXPIRY - 1), 1);
	assert_int_equal(check_str(KAT_COOKIE, EXPIRY), 0);
	assert_int_equal(check_str(KAT_COOKIE, UINT64_MAX), 0);
}

static void
test_cookie_for_another_vhost_is_refused(void **state)
{
	char principal[256];
	const char *v = KAT_COOKIE;

	assert_int_equal(check(v, strlen(v), "autod.corp.contoso.com", 0,
	    principal, sizeof(principal)), 0);
	assert_int_equal(check(v, strlen(v), "mail.corp.contoso.co", 0,
	    principal, sizeof(principal)), 0);
	assert_int_equal(check(v, strlen(v), "mail.corp.contoso.com.evil", 0,
	    principal, sizeof(principal)), 0);
	assert_int_equal(check(v, strlen(v), "", 0, principal,
	    sizeof(principal)), 0);
}

static void
test_cookie_vhost_comparison_ignores_case(void **state)
{
	char principal[256];

	assert_int_equal(check(KAT_COOKIE, strlen(KAT_COOKIE),
	    "MAIL.Corp.Contoso.COM", 0, principal, sizeof(principal)), 1);
}

static void
test_cookie_under_another_key_is_refused(void **state)
{
	char principal[256];

	assert_int_equal(sign_cookie_check(other_key, KAT_COOKIE,
	    strlen(KAT_COOKIE), VHOST, 0, principal, sizeof(principal), NULL),
	    0);
	assert_string_equal(principal, "");
}

/* Replaces a cookie's payload by another's, keeping the original MAC. */
static void
splice(const char *payload_from, const char *mac_from, char *out)
{
	const char *d1 = strchr(payload_from, '.'), *d2 = strchr(mac_from, '.');

	memcpy(out, payload_from, (size_t)(d1 - payload_from));
	strcpy(out + (d1 - payload_from), d2);
}

static void
test_cookie_with_a_changed_principal_is_refused(void **state)
{
	char v[SIGN_COOKIE_MAX + 1], forged[2 * SIGN_COOKIE_MAX];

	issue("mallory@CORP.CONTOSO.COM", EXPIRY, v, sizeof(v));
	splice(v, KAT_COOKIE, forged);
	assert_int_equal(check_str(forged, 0), 0);
}

static void
test_cookie_with_an_extended_expiry_is_refused(void **state)
{
	char v[SIGN_COOKIE_MAX + 1], forged[2 * SIGN_COOKIE_MAX];

	issue(USER, EXPIRY + 86400, v, sizeof(v));
	splice(v, KAT_COOKIE, forged);
	assert_int_equal(check_str(forged, EXPIRY + 1), 0);
	assert_int_equal(check_str(forged, 0), 0);
}

static void
test_cookie_with_a_changed_vhost_is_refused(void **state)
{
	char v[SIGN_COOKIE_MAX + 1], forged[2 * SIGN_COOKIE_MAX];
	char principal[256];

	assert_int_equal(sign_cookie_issue(cookie_key, USER,
	    "autod.corp.contoso.com", EXPIRY, v, sizeof(v)), 0);
	splice(v, KAT_COOKIE, forged);
	assert_int_equal(check(forged, strlen(forged),
	    "autod.corp.contoso.com", 0, principal, sizeof(principal)), 0);
	assert_int_equal(check_str(forged, 0), 0);
}

static void
test_cookie_with_any_character_changed_is_refused(void **state)
{
	char v[sizeof(KAT_COOKIE)];
	size_t i;

	for (i = 0; i < sizeof(KAT_COOKIE) - 1; i++) {
		strcpy(v, KAT_COOKIE);
		v[i] = v[i] == 'A' ? 'B' : 'A';
		assert_int_equal(check_str(v, 0), 0);
	}
}

static void
test_truncated_cookie_is_refused(void **state)
{
	char principal[256];
	size_t n;

	for (n = 0; n < sizeof(KAT_COOKIE) - 1; n++)
		assert_int_equal(check(KAT_COOKIE, n, VHOST, 0, principal,
		    sizeof(principal)), 0);
}

static void
test_cookie_with_extra_dots_is_refused(void **state)
{
	assert_int_equal(check_str("." KAT_COOKIE, 0), 0);
	assert_int_equal(check_str(KAT_COOKIE ".", 0), 0);
	assert_int_equal(check_str("YWxp." KAT_COOKIE, 0), 0);
	assert_int_equal(check_str("..", 0), 0);
	assert_int_equal(check_str(".j3qlqBeabqi5OUSmxAz9XDTLOaZLQjdzUt8QckuJrac",
	    0), 0);
}

static void
test_cookie_with_padding_or_trailing_bytes_is_refused(void **state)
{
	assert_int_equal(check_str(KAT_COOKIE "=", 0), 0);
	assert_int_equal(check_str(KAT_COOKIE " ", 0), 0);
	assert_int_equal(check_str(" " KAT_COOKIE, 0), 0);
}

static void
test_empty_cookie_is_refused(void **state)
{
	char principal[256];

	assert_int_equal(check("", 0, VHOST, 0, principal, sizeof(principal)),
	    0);
	assert_int_equal(check_str(".", 0), 0);
}

static void
test_huge_cookie_is_refused_without_reading_it_all(void **state)
{
	size_t n = 1 << 20;
	char *v = malloc(n + 1), principal[256];

	assert_non_null(v);
	memset(v, 'A', n);
	memcpy(v + n - 44, ".j3qlqBeabqi5OUSmxAz9XDTLOaZLQjdzUt8QckuJrac", 44);
	v[n] = '\0';
	assert_int_equal(check(v, n, VHOST, 0, principal, sizeof(principal)),
	    0);
	assert_int_equal(check(v, SIGN_COOKIE_MAX + 1, VHOST, 0, principal,
	    sizeof(principal)), 0);
	free(v);
}

static void
test_garbage_cookie_is_refused(void **state)
{
	static const char *const garbage[] = {
		"deleted", "null", "\"\"", "%00", "A.B",
		"YWxpY2U.@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
		"@@@@.j3qlqBeabqi5OUSmxAz9XDTLOaZLQjdzUt8QckuJrac",
	};
	size_t i;

	for (i = 0; i < KG_NELEM(garbage); i++)
		assert_int_equal(check_str(garbage[i], 0), 0);
}

static void
test_forged_and_expired_cookies_look_the_same(void **state)
{
	char forged[sizeof(KAT_COOKIE)], p1[256], p2[256];
	uint64_t e1 = 42, e2 = 42;
	int expired, bad;

	strcpy(forged, KAT_COOKIE);
	forged[sizeof(KAT_COOKIE) - 2] ^= 1;
	memset(p1, 'x', sizeof(p1));
	memset(p2, 'x', sizeof(p2));
	expired = sign_cookie_check(cookie_key, KAT_COOKIE, strlen(KAT_COOKIE),
	    VHOST, EXPIRY, p1, sizeof(p1), &e1);
	bad = sign_cookie_check(cookie_key, forged, strlen(forged), VHOST, 0,
	    p2, sizeof(p2), &e2);
	assert_int_equal(expired, 0);
	assert_int_equal(bad, 0);
	assert_string_equal(p1, "");
	assert_string_equal(p2, "");
	assert_int_equal(e1, 42);
	assert_int_equal(e2, 42);
}

static void
test_cookie_whose_principal_does_not_fit_is_refused(void **state)
{
	char principal[sizeof(USER)];

	assert_int_equal(check(KAT_COOKIE, strlen(KAT_COOKIE), VHOST, 0,
	    principal, sizeof(USER) - 1), 0);
	assert_int_equal(check(KAT_COOKIE, strlen(KAT_COOKIE), VHOST, 0,
	    principal, sizeof(USER)), 1);
	assert_string_equal(principal, USER);
}

static void
test_issue_refuses_line_breaks_in_principal_or_vhost(void **state)
{
	char v[SIGN_COOKIE_MAX + 1];

	assert_int_equal(sign_cookie_issue(cookie_key, "alice\nevil.example",
	    VHOST, EXPIRY, v, sizeof(v)), KG_ERR_INVAL);
	assert_int_equal(sign_cookie_issue(cookie_key, USER,
	    "mail.corp.contoso.com\n9", EXPIRY, v, sizeof(v)), KG_ERR_INVAL);
	assert_string_equal(v, "");
}

static void
test_issue_refuses_an_empty_principal_or_vhost(void **state)
{
	char v[SIGN_COOKIE_MAX + 1];

	assert_int_equal(sign_cookie_issue(cookie_key, "", VHOST, EXPIRY, v,
	    sizeof(v)), KG_ERR_INVAL);
	assert_int_equal(sign_cookie_issue(cookie_key, USER, "", EXPIRY, v,
	    sizeof(v)), KG_ERR_INVAL);
}

static void
test_issue_into_a_small_buffer_is_toobig(void **state)
{
	char v[SIGN_COOKIE_MAX + 1];

	assert_int_equal(sign_cookie_issue(cookie_key, USER, VHOST, EXPIRY, v,
	    strlen(KAT_COOKIE)), KG_ERR_TOOBIG);
	assert_int_equal(sign_cookie_issue(cookie_key, USER, VHOST, EXPIRY, v,
	    strlen(KAT_COOKIE) + 1), 0);
	assert_string_equal(v, KAT_COOKIE);
}

static void
test_issued_cookies_never_exceed_the_maximum(void **state)
{
	char principal[600], v[1024], got[600];
	size_t n;
	int fits = 0, last_ok = 0;

	for (n = 1; n < sizeof(principal) - 1; n++) {
		memset(principal, 'p', n);
		principal[n] = '\0';
		if (sign_cookie_issue(cookie_key, principal, VHOST, UINT64_MAX,
		    v, sizeof(v)) != 0) {
			assert_true(n > 200);
			break;
		}
		assert_true(strlen(v) <= SIGN_COOKIE_MAX);
		assert_int_equal(check(v, strlen(v), VHOST, 0, got, sizeof(got)),
		    1);
		assert_string_equal(got, principal);
		fits++;
		last_ok = (int)n;
	}
	assert_true(fits > 200);
	/* Longer principals keep being refused. */
	memset(principal, 'p', sizeof(principal) - 1);
	principal[sizeof(principal) - 1] = '\0';
	assert_int_equal(sign_cookie_issue(cookie_key, principal, VHOST, 1, v,
	    sizeof(v)), KG_ERR_TOOBIG);
	assert_true(last_ok > 0);
}

/* ---------------------------------------------------------- cookie_find */

static int
find(const char *header, const char *name, char *out, size_t outsz)
{
	const char *val;
	size_t vlen;

	if (!sign_cookie_find(header, strlen(header), name, &val, &vlen))
		return 0;
	assert_true(val >= header && val + vlen <= header + strlen(header));
	assert_true(vlen < outsz);
	memcpy(out, val, vlen);
	out[vlen] = '\0';
	return 1;
}

static void
test_find_returns_the_only_cookie(void **state)
{
	char v[64];

	assert_true(find("kerbgate_session=abc.def", SIGN_COOKIE_NAME, v,
	    sizeof(v)));
	assert_string_equal(v, "abc.def");
}

static void
test_find_picks_the_named_cookie_among_several(void **state)
{
	char v[64];

	assert_true(find("a=1; kerbgate_session=mid; b=2", SIGN_COOKIE_NAME,
	    v, sizeof(v)));
	assert_string_equal(v, "mid");
	assert_true(find("a=1; b=2; kerbgate_session=last", SIGN_COOKIE_NAME,
	    v, sizeof(v)));
	assert_string_equal(v, "last");
	assert_true(find("kerbgate_session=first; a=1", SIGN_COOKIE_NAME, v,
	    sizeof(v)));
	assert_string_equal(v, "first");
	assert_true(find("a=1; b=2", "b", v, sizeof(v)));
	assert_string_equal(v, "2");
}

static void
test_find_ignores_spaces_and_tabs_around_pairs(void **state)
{
	char v[64];

	assert_true(find("a=1;kerbgate_session=x", SIGN_COOKIE_NAME, v,
	    sizeof(v)));
	assert_string_equal(v, "x");
	assert_true(find("a=1 ;\t kerbgate_session = y \t; b=2",
	    SIGN_COOKIE_NAME, v, sizeof(v)));
	assert_string_equal(v, "y");
	assert_true(find("   kerbgate_session=z   ", SIGN_COOKIE_NAME, v,
	    sizeof(v)));
	assert_string_equal(v, "z");
}

static void
test_find_strips_double_quotes_around_the_value(void **state)
{
	char v[64];

	assert_true(find("kerbgate_session=\"q.v\"; a=1", SIGN_COOKIE_NAME, v,
	    sizeof(v)));
	assert_string_equal(v, "q.v");
	assert_true(find("kerbgate_session=\"\"", SIGN_COOKIE_NAME, v,
	    sizeof(v)));
	assert_string_equal(v, "");
	/* A lone quote is left for the checker to refuse. */
	assert_true(find("kerbgate_session=\"", SIGN_COOKIE_NAME, v,
	    sizeof(v)));
	assert_string_equal(v, "\"");
}

static void
test_find_does_not_match_a_name_that_merely_contains_ours(void **state)
{
	char v[64];

	assert_false(find("xkerbgate_session=evil", SIGN_COOKIE_NAME, v,
	    sizeof(v)));
	assert_false(find("kerbgate_session2=evil; kerbgate_sessio=e",
	    SIGN_COOKIE_NAME, v, sizeof(v)));
	assert_false(find("Kerbgate_Session=evil", SIGN_COOKIE_NAME, v,
	    sizeof(v)));
	assert_true(find("xkerbgate_session=evil; kerbgate_session=good",
	    SIGN_COOKIE_NAME, v, sizeof(v)));
	assert_string_equal(v, "good");
}

static void
test_find_does_not_match_our_name_inside_a_value(void **state)
{
	char v[64];

	assert_false(find("a=kerbgate_session=evil", SIGN_COOKIE_NAME, v,
	    sizeof(v)));
	assert_true(find("a=kerbgate_session=evil; kerbgate_session=good",
	    SIGN_COOKIE_NAME, v, sizeof(v)));
	assert_string_equal(v, "good");
}

static void
test_find_returns_the_first_of_duplicate_cookies(void **state)
{
	char v[64];

	/* Browsers send the most specific path first. */
	assert_true(find("kerbgate_session=one; kerbgate_session=two",
	    SIGN_COOKIE_NAME, v, sizeof(v)));
	assert_string_equal(v, "one");
}

static void
test_find_keeps_equals_signs_inside_the_value(void **state)
{
	char v[64];

	assert_true(find("kerbgate_session=a=b==", SIGN_COOKIE_NAME, v,
	    sizeof(v)));
	assert_string_equal(v, "a=b==");
}

static void
test_find_reports_absence(void **state)
{
	char v[64];
	const char *val;
	size_t vlen;

	assert_false(find("", SIGN_COOKIE_NAME, v, sizeof(v)));
	assert_false(find(";;; ;", SIGN_COOKIE_NAME, v, sizeof(v)));
	assert_false(find("kerbgate_session", SIGN_COOKIE_NAME, v, sizeof(v)));
	assert_false(find("a=1; b=2", SIGN_COOKIE_NAME, v, sizeof(v)));
	assert_false(find("=kerbgate_session", SIGN_COOKIE_NAME, v, sizeof(v)));
	assert_false(find("a=1", "", v, sizeof(v)));
	assert_false(sign_cookie_find(NULL, 0, SIGN_COOKIE_NAME, &val, &vlen));
}

static void
test_find_reads_no_further_than_len(void **state)
{
	const char *h = "a=1; kerbgate_session=abcdef";
	const char *val;
	size_t vlen;

	assert_true(sign_cookie_find(h, strlen(h) - 3, SIGN_COOKIE_NAME, &val,
	    &vlen));
	assert_int_equal(vlen, 3);
	assert_memory_equal(val, "abc", 3);
	assert_false(sign_cookie_find(h, 10, SIGN_COOKIE_NAME, &val, &vlen));
}

static void
test_found_issued_cookie_checks(void **state)
{
	char hdr[SIGN_COOKIE_MAX + 64], principal[256];
	const char *val;
	size_t vlen;

	strcpy(hdr, "ClientId=ABC; kerbgate_session=" KAT_COOKIE
	    "; X-BackEndCookie=1");
	assert_true(sign_cookie_find(hdr, strlen(hdr), SIGN_COOKIE_NAME, &val,
	    &vlen));
	assert_int_equal(check(val, vlen, VHOST, 0, principal,
	    sizeof(principal)), 1);
	assert_string_equal(principal, USER);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_signature_matches_an_independent_hmac_sha256),
		cmocka_unit_test(test_grant_key_matches_an_independent_hmac_sha256),
		cmocka_unit_test(test_request_signed_with_a_grant_key_matches_the_known_answer),
		cmocka_unit_test(test_grant_key_changes_with_every_field),
		cmocka_unit_test(test_grant_key_refuses_newlines_empty_fields_and_short_secrets),
		cmocka_unit_test(test_identity_signature_is_right_under_many_keys_in_turn),
		cmocka_unit_test(test_identity_signature_is_64_lowercase_hex_digits),
		cmocka_unit_test(test_identity_signature_verifies_with_the_same_fields),
		cmocka_unit_test(test_identity_verify_refuses_another_user),
		cmocka_unit_test(test_identity_verify_refuses_another_time),
		cmocka_unit_test(test_identity_verify_refuses_another_request_id_method_or_target),
		cmocka_unit_test(test_identity_verify_refuses_another_host_or_scheme),
		cmocka_unit_test(test_identity_v1_signature_does_not_verify),
		cmocka_unit_test(test_identity_empty_or_broken_host_or_scheme_is_refused),
		cmocka_unit_test(test_identity_verify_refuses_another_secret),
		cmocka_unit_test(test_identity_verify_refuses_a_flipped_truncated_or_extended_signature),
		cmocka_unit_test(test_identity_verify_refuses_uppercase_hex),
		cmocka_unit_test(test_identity_secret_shorter_than_32_bytes_is_refused),
		cmocka_unit_test(test_identity_field_with_a_line_break_is_refused),
		cmocka_unit_test(test_identity_empty_user_is_refused),
		cmocka_unit_test(test_identity_signs_only_method_len_and_target_len_bytes),
		cmocka_unit_test(test_cookie_matches_an_independent_computation),
		cmocka_unit_test(test_issued_cookie_checks_and_yields_principal_and_expiry),
		cmocka_unit_test(test_cookie_value_is_base64url_with_exactly_one_dot),
		cmocka_unit_test(test_cookie_is_valid_until_the_second_before_expiry),
		cmocka_unit_test(test_cookie_for_another_vhost_is_refused),
		cmocka_unit_test(test_cookie_vhost_comparison_ignores_case),
		cmocka_unit_test(test_cookie_under_another_key_is_refused),
		cmocka_unit_test(test_cookie_with_a_changed_principal_is_refused),
		cmocka_unit_test(test_cookie_with_an_extended_expiry_is_refused),
		cmocka_unit_test(test_cookie_with_a_changed_vhost_is_refused),
		cmocka_unit_test(test_cookie_with_any_character_changed_is_refused),
		cmocka_unit_test(test_truncated_cookie_is_refused),
		cmocka_unit_test(test_cookie_with_extra_dots_is_refused),
		cmocka_unit_test(test_cookie_with_padding_or_trailing_bytes_is_refused),
		cmocka_unit_test(test_empty_cookie_is_refused),
		cmocka_unit_test(test_huge_cookie_is_refused_without_reading_it_all),
		cmocka_unit_test(test_garbage_cookie_is_refused),
		cmocka_unit_test(test_forged_and_expired_cookies_look_the_same),
		cmocka_unit_test(test_cookie_whose_principal_does_not_fit_is_refused),
		cmocka_unit_test(test_issue_refuses_line_breaks_in_principal_or_vhost),
		cmocka_unit_test(test_issue_refuses_an_empty_principal_or_vhost),
		cmocka_unit_test(test_issue_into_a_small_buffer_is_toobig),
		cmocka_unit_test(test_issued_cookies_never_exceed_the_maximum),
		cmocka_unit_test(test_find_returns_the_only_cookie),
		cmocka_unit_test(test_find_picks_the_named_cookie_among_several),
		cmocka_unit_test(test_find_ignores_spaces_and_tabs_around_pairs),
		cmocka_unit_test(test_find_strips_double_quotes_around_the_value),
		cmocka_unit_test(test_find_does_not_match_a_name_that_merely_contains_ours),
		cmocka_unit_test(test_find_does_not_match_our_name_inside_a_value),
		cmocka_unit_test(test_find_returns_the_first_of_duplicate_cookies),
		cmocka_unit_test(test_find_keeps_equals_signs_inside_the_value),
		cmocka_unit_test(test_find_reports_absence),
		cmocka_unit_test(test_find_reads_no_further_than_len),
		cmocka_unit_test(test_found_issued_cookie_checks),
	};

	return cmocka_run_group_tests_name("sign", tests, setup_keys, NULL);
}
