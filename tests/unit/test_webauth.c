/*
 * test_webauth.c: the web listener's login machinery, as a specification:
 * sessions (random ids, idle and absolute timeouts, logout, eviction),
 * CSRF tokens, the login rate limit (per source, back-off, appliance-wide),
 * argon2id password hashes and the password rule, setup codes, and the
 * parsers of what a browser sends (Cookie, Origin) and what kerbgated's
 * /metrics says, and a keytab file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "keytab.h"
#include "ratelimit.h"
#include "session.h"
#include "util.h"
#include "webparse.h"
#include "webpass.h"

/* ---- sessions ----------------------------------------------------------------- */

static void
test_a_session_has_a_random_256_bit_id_and_csrf_token(void **state)
{
	struct session_table t;
	const struct session *a, *b;
	char id_a[65];
	size_t i;

	(void)state;
	session_init(&t, 0, 0);
	assert_non_null(a = session_create(&t, 1000));
	memcpy(id_a, a->id, sizeof(id_a));
	assert_non_null(b = session_create(&t, 1000));
	assert_int_equal(strlen(a->id), 64);
	assert_int_equal(strlen(a->csrf), 64);
	for (i = 0; i < 64; i++)
		assert_non_null(strchr("0123456789abcdef", a->id[i]));
	assert_string_not_equal(id_a, b->id);
	assert_string_not_equal(a->id, a->csrf);
	assert_ptr_equal(session_find(&t, id_a, 64, 1001), a);
}

static void
test_a_session_ends_when_idle(void **state)
{
	struct session_table t;
	const struct session *s;
	char id[65];

	(void)state;
	session_init(&t, 60, 3600);
	s = session_create(&t, 1000);
	memcpy(id, s->id, sizeof(id));
	assert_non_null(session_find(&t, id, 64, 1059));	/* touched at 1059 */
	assert_non_null(session_find(&t, id, 64, 1118));
	assert_null(session_find(&t, id, 64, 1178));	/* 60 s after its last use */
	assert_null(session_find(&t, id, 64, 1179));	/* and it stays gone */
}

static void
test_a_session_ends_at_its_absolute_timeout_even_when_busy(void **state)
{
	struct session_table t;
	const struct session *s;
	char id[65];
	time_t now;

	(void)state;
	session_init(&t, 60, 300);
	s = session_create(&t, 1000);
	memcpy(id, s->id, sizeof(id));
	for (now = 1000; now < 1300; now += 30)
		assert_non_null(session_find(&t, id, 64, now));
	assert_null(session_find(&t, id, 64, 1300));
}

static void
test_logout_ends_only_that_session(void **state)
{
	struct session_table t;
	char a[65], b[65];

	(void)state;
	session_init(&t, 0, 0);
	memcpy(a, session_create(&t, 1000)->id, sizeof(a));
	memcpy(b, session_create(&t, 1000)->id, sizeof(b));
	session_end(&t, a, 64);
	assert_null(session_find(&t, a, 64, 1001));
	assert_non_null(session_find(&t, b, 64, 1001));
	session_end_all(&t);
	assert_null(session_find(&t, b, 64, 1001));
}

static void
test_wrong_or_truncated_ids_find_nothing(void **state)
{
	struct session_table t;
	char id[65];

	(void)state;
	session_init(&t, 0, 0);
	memcpy(id, session_create(&t, 1000)->id, sizeof(id));
	assert_null(session_find(&t, id, 63, 1001));
	assert_null(session_find(&t, "", 0, 1001));
	id[10] ^= 1;
	assert_null(session_find(&t, id, 64, 1001));
}

static void
test_a_full_table_evicts_the_oldest_session(void **state)
{
	struct session_table t;
	char first[65], second[65];
	int i;

	(void)state;
	session_init(&t, 0, 0);
	memcpy(first, session_create(&t, 1000)->id, sizeof(first));
	memcpy(second, session_create(&t, 1001)->id, sizeof(second));
	for (i = 2; i < SESSION_MAX; i++)
		assert_non_null(session_create(&t, 1002));
	assert_non_null(session_find(&t, first, 64, 1003));
	assert_non_null(session_create(&t, 1004));	/* one more than fits */
	assert_null(session_find(&t, first, 64, 1005));
	assert_non_null(session_find(&t, second, 64, 1005));
}

static void
test_csrf_token_must_match_exactly(void **state)
{
	struct session_table t;
	const struct session *s;
	char tok[65];

	(void)state;
	session_init(&t, 0, 0);
	s = session_create(&t, 1000);
	memcpy(tok, s->csrf, sizeof(tok));
	assert_true(session_csrf_ok(s, tok, 64));
	assert_false(session_csrf_ok(s, tok, 63));
	assert_false(session_csrf_ok(s, NULL, 0));
	assert_false(session_csrf_ok(s, s->id, 64));	/* the cookie is not the token */
	tok[63] = tok[63] == 'a' ? 'b' : 'a';
	assert_false(session_csrf_ok(s, tok, 64));
	assert_false(session_csrf_ok(NULL, tok, 64));
}

/* ---- the login rate limit ---------------------------------------------------- */

static void
test_five_failures_are_free_the_sixth_attempt_waits(void **state)
{
	static struct ratelimit rl;
	int i, wait_s = 0;

	(void)state;
	ratelimit_init(&rl);
	for (i = 0; i < RL_FREE; i++) {
		assert_int_equal(ratelimit_check(&rl, "10.0.0.5", 1000, &wait_s), RL_ALLOW);
		ratelimit_fail(&rl, "10.0.0.5", 1000);
	}
	assert_int_equal(ratelimit_check(&rl, "10.0.0.5", 1000, &wait_s), RL_BLOCKED_SOURCE);
	assert_int_equal(wait_s, RL_BASE_S);
	/* another address is not held up */
	assert_int_equal(ratelimit_check(&rl, "10.0.0.6", 1000, &wait_s), RL_ALLOW);
	/* after the wait, one more try */
	assert_int_equal(ratelimit_check(&rl, "10.0.0.5", 1000 + RL_BASE_S, &wait_s), RL_ALLOW);
}

static void
test_each_further_failure_doubles_the_wait_up_to_the_cap(void **state)
{
	static struct ratelimit rl;
	time_t now = 1000;
	int i, wait_s = 0, last = 0;

	(void)state;
	ratelimit_init(&rl);
	for (i = 0; i < RL_FREE + 10; i++) {
		ratelimit_fail(&rl, "10.0.0.5", now);
		if (ratelimit_check(&rl, "10.0.0.5", now, &wait_s) == RL_BLOCKED_SOURCE) {
			assert_true(wait_s == RL_MAX_S || wait_s == 2 * last || last == 0);
			last = wait_s;
			now += wait_s;
		}
	}
	assert_int_equal(last, RL_MAX_S);
}

static void
test_a_successful_login_forgets_the_failures(void **state)
{
	static struct ratelimit rl;
	int i, wait_s = 0;

	(void)state;
	ratelimit_init(&rl);
	for (i = 0; i < RL_FREE - 1; i++)
		ratelimit_fail(&rl, "10.0.0.5", 1000);
	ratelimit_success(&rl, "10.0.0.5");
	for (i = 0; i < RL_FREE - 1; i++)
		ratelimit_fail(&rl, "10.0.0.5", 1000);
	assert_int_equal(ratelimit_check(&rl, "10.0.0.5", 1000, &wait_s), RL_ALLOW);
}

static void
test_old_failures_are_forgotten(void **state)
{
	static struct ratelimit rl;
	int i, wait_s = 0;

	(void)state;
	ratelimit_init(&rl);
	for (i = 0; i < RL_FREE; i++)
		ratelimit_fail(&rl, "10.0.0.5", 1000);
	assert_int_equal(ratelimit_check(&rl, "10.0.0.5", 1000 + RL_FORGET_S, &wait_s),
	    RL_ALLOW);
	ratelimit_fail(&rl, "10.0.0.5", 1000 + RL_FORGET_S);
	assert_int_equal(ratelimit_check(&rl, "10.0.0.5", 1000 + RL_FORGET_S, &wait_s),
	    RL_ALLOW);	/* counting starts again */
}

static void
test_many_sources_together_pause_every_login(void **state)
{
	static struct ratelimit rl;
	char addr[48];
	int i, wait_s = 0;

	(void)state;
	ratelimit_init(&rl);
	for (i = 0; i < RL_GLOBAL; i++) {	/* one failure from each of many addresses */
		snprintf(addr, sizeof(addr), "10.1.%d.%d", i / 200, i % 200);
		ratelimit_fail(&rl, addr, 1000 + i % 10);
	}
	assert_int_equal(ratelimit_check(&rl, "192.0.2.1", 1010, &wait_s), RL_BLOCKED_GLOBAL);
	assert_int_equal(wait_s, RL_GLOBAL_WINDOW_S - 10);
	assert_int_equal(ratelimit_check(&rl, "192.0.2.1", 1000 + RL_GLOBAL_WINDOW_S, &wait_s),
	    RL_ALLOW);
}

static void
test_a_full_source_table_keeps_counting(void **state)
{
	static struct ratelimit rl;
	char addr[48];
	int i, wait_s = 0;

	(void)state;
	ratelimit_init(&rl);
	for (i = 0; i < RL_FREE; i++)
		ratelimit_fail(&rl, "10.0.0.5", 2000);
	for (i = 0; i < RL_SOURCES - 1; i++) {	/* fills the table, older failures */
		snprintf(addr, sizeof(addr), "10.2.%d.%d", i / 200, i % 200);
		ratelimit_fail(&rl, addr, 1000);
	}
	snprintf(addr, sizeof(addr), "10.3.0.1");
	ratelimit_fail(&rl, addr, 1000);	/* evicts a stale one, not 10.0.0.5 */
	assert_int_equal(ratelimit_check(&rl, "10.0.0.5", 2000, &wait_s), RL_BLOCKED_SOURCE);
}

/* ---- passwords and setup codes ------------------------------------------------- */

static void
test_argon2id_hash_verifies_the_password_and_nothing_else(void **state)
{
	char h1[WEBPASS_HASH_MAX], h2[WEBPASS_HASH_MAX];

	(void)state;
	assert_int_equal(webpass_hash("Correct-horse-9", 15, h1, sizeof(h1)), 0);
	assert_int_equal(webpass_hash("Correct-horse-9", 15, h2, sizeof(h2)), 0);
	assert_non_null(strstr(h1, "$argon2id$v=19$m=19456,t=3,p=1$"));
	assert_string_not_equal(h1, h2);	/* a fresh salt each time */
	assert_null(strstr(h1, "Correct"));
	assert_true(webpass_verify(h1, "Correct-horse-9", 15));
	assert_false(webpass_verify(h1, "Correct-horse-8", 15));
	assert_false(webpass_verify(h1, "Correct-horse-9", 14));
	assert_false(webpass_verify("$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA", "x", 1));
	assert_false(webpass_verify("plain", "plain", 5));
}

static void
test_password_rule(void **state)
{
	char err[200];

	(void)state;
	assert_int_equal(webpass_policy("Short-1", 7, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "10 to 128"));
	assert_int_equal(webpass_policy("alllowercaseletters", 19, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "two of"));
	assert_int_equal(webpass_policy("with\ttab-123", 12, err, sizeof(err)), -1);
	assert_int_equal(webpass_policy("lowercase and spaces", 20, err, sizeof(err)), 0);
	assert_int_equal(webpass_policy("Correct-horse-9", 15, err, sizeof(err)), 0);
}

static void
test_setup_code_is_readable_and_typed_any_way(void **state)
{
	char code[20], again[20], norm[WEBPASS_CODE_LEN + 1], lower[20];
	size_t i;

	(void)state;
	assert_int_equal(webpass_make_code(code, sizeof(code)), 0);
	assert_int_equal(webpass_make_code(again, sizeof(again)), 0);
	assert_string_not_equal(code, again);
	assert_int_equal(strlen(code), 14);
	assert_int_equal(code[4], '-');
	assert_int_equal(code[9], '-');
	for (i = 0; i < strlen(code); i++)
		assert_null(strchr("01OIL", code[i]));
	for (i = 0; i <= strlen(code); i++)
		lower[i] = (char)(code[i] >= 'A' && code[i] <= 'Z' ? code[i] + 32 : code[i]);
	assert_int_equal(webpass_normalise_code(lower, strlen(lower), norm, sizeof(norm)), 0);
	assert_int_equal(strlen(norm), WEBPASS_CODE_LEN);
	assert_int_equal(webpass_normalise_code("ABCD EFGH JKMN", 14, norm, sizeof(norm)), 0);
	assert_string_equal(norm, "ABCDEFGHJKMN");
	assert_int_equal(webpass_normalise_code("ABCD-EFGH-JKM", 13, norm, sizeof(norm)), -1);
	assert_int_equal(webpass_normalise_code("ABCD-EFGH-JKM0", 14, norm, sizeof(norm)), -1);
	assert_int_equal(webpass_normalise_code("ABCD-EFGH-JKMNP", 15, norm, sizeof(norm)), -1);
}

static void
test_hash_files_are_0600_and_replaced_whole(void **state)
{
	char dir[] = "/tmp/kg-webpass.XXXXXX", path[128], out[WEBPASS_HASH_MAX], err[200];
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(webpass_read(dir, "admin.hash", out, sizeof(out)), -1);
	assert_int_equal(webpass_write(dir, "admin.hash", "$argon2id$first", (uid_t)-1,
	    (gid_t)-1, err, sizeof(err)), 0);
	assert_int_equal(webpass_write(dir, "admin.hash", "$argon2id$second", (uid_t)-1,
	    (gid_t)-1, err, sizeof(err)), 0);
	assert_int_equal(webpass_read(dir, "admin.hash", out, sizeof(out)), 0);
	assert_string_equal(out, "$argon2id$second");
	snprintf(path, sizeof(path), "%s/admin.hash", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/.admin.hash.tmp", dir);
	assert_int_not_equal(access(path, F_OK), 0);
	assert_int_equal(webpass_unlink(dir, "admin.hash"), 0);
	assert_int_equal(webpass_unlink(dir, "admin.hash"), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* ---- what a browser sends ----------------------------------------------------------- */

static void
test_cookie_header_parsing(void **state)
{
	const char *v;
	size_t len;
	const char h[] = "theme=dark; __Host-kgsid=abc123 ;x=; __Host-kgsidx=no";

	(void)state;
	assert_true(web_cookie(h, strlen(h), "__Host-kgsid", &v, &len));
	assert_int_equal(len, 6);
	assert_memory_equal(v, "abc123", 6);
	assert_true(web_cookie(h, strlen(h), "x", &v, &len));
	assert_int_equal(len, 0);
	assert_false(web_cookie(h, strlen(h), "kgsid", &v, &len));
	assert_false(web_cookie("", 0, "a", &v, &len));
	assert_false(web_cookie("a", 1, "a", &v, &len));	/* no '=' */
	/* the length bounds the search: a cookie past it is not seen */
	assert_false(web_cookie(h, 10, "__Host-kgsid", &v, &len));
}

static void
test_origin_must_be_this_site_over_https(void **state)
{
	(void)state;
	assert_true(web_same_origin("https://10.0.0.1:8444", 21, "10.0.0.1:8444", 13));
	assert_true(web_same_origin("https://KG.example", 18, "kg.example", 10));
	assert_false(web_same_origin("http://10.0.0.1:8444", 20, "10.0.0.1:8444", 13));
	assert_false(web_same_origin("https://10.0.0.1:8445", 21, "10.0.0.1:8444", 13));
	assert_false(web_same_origin("https://10.0.0.1:8444.evil", 26, "10.0.0.1:8444", 13));
	assert_false(web_same_origin("null", 4, "10.0.0.1", 8));
	assert_false(web_same_origin("https://", 8, "", 0));
}

static void
test_metrics_sums_and_labels(void **state)
{
	const char m[] =
	    "# HELP kerbgate_auth_failures_total x\n"
	    "# TYPE kerbgate_auth_failures_total counter\n"
	    "kerbgate_auth_failures_total{reason=\"bad_mic\"} 3\n"
	    "kerbgate_auth_failures_total{reason=\"no_token\"} 40\n"
	    "kerbgate_auth_success_total 17\n"
	    "kerbgate_auth_success_totalx 1000\n"
	    "kerbgate_backend_up{pool=\"cas\",server=\"cas1\"} 1\n"
	    "kerbgate_auth_failures_total{reason=\"broken\" 9\n";
	char out[32];

	(void)state;
	assert_true(web_prom_sum(m, strlen(m), "kerbgate_auth_success_total", NULL) == 17);
	assert_true(web_prom_sum(m, strlen(m), "kerbgate_auth_failures_total", NULL) == 43);
	assert_true(web_prom_sum(m, strlen(m), "kerbgate_auth_failures_total",
	    "reason=\"bad_mic\"") == 3);
	assert_true(web_prom_sum(m, strlen(m), "kerbgate_nothing", NULL) == 0);
	assert_true(web_prom_label("pool=\"cas\",server=\"cas1\"", 24, "server", out,
	    sizeof(out)));
	assert_string_equal(out, "cas1");
	assert_false(web_prom_label("pool=\"cas\"", 10, "ool", out, sizeof(out)));
}

/* ---- keytabs ------------------------------------------------------------------------- */

/* Appends one keytab entry (version 0x502 layout). */
static size_t
kt_entry(uint8_t *p, const char *realm, const char *const *comps, int n, uint32_t kvno,
    uint16_t etype, size_t klen, uint8_t fill)
{
	size_t o = 4, i;
	uint32_t size;

	p[o++] = 0;
	p[o++] = (uint8_t)n;
	p[o++] = 0;
	p[o++] = (uint8_t)strlen(realm);
	memcpy(p + o, realm, strlen(realm));
	o += strlen(realm);
	for (i = 0; i < (size_t)n; i++) {
		p[o++] = 0;
		p[o++] = (uint8_t)strlen(comps[i]);
		memcpy(p + o, comps[i], strlen(comps[i]));
		o += strlen(comps[i]);
	}
	memset(p + o, 0, 8);		/* name type, timestamp */
	p[o + 3] = 1;
	o += 8;
	p[o++] = (uint8_t)kvno;		/* 8-bit kvno */
	p[o++] = (uint8_t)(etype >> 8);
	p[o++] = (uint8_t)etype;
	p[o++] = 0;
	p[o++] = (uint8_t)klen;
	memset(p + o, fill, klen);
	o += klen;
	p[o++] = (uint8_t)(kvno >> 24);	/* 32-bit kvno */
	p[o++] = (uint8_t)(kvno >> 16);
	p[o++] = (uint8_t)(kvno >> 8);
	p[o++] = (uint8_t)kvno;
	size = (uint32_t)(o - 4);
	p[0] = (uint8_t)(size >> 24);
	p[1] = (uint8_t)(size >> 16);
	p[2] = (uint8_t)(size >> 8);
	p[3] = (uint8_t)size;
	return o;
}

static void
test_a_keytab_becomes_a_stage_request_of_its_highest_kvno(void **state)
{
	static const char *const spn[] = { "http", "mail.corp.contoso.com" };
	static const char *const acct[] = { "EXCHASA$" };
	uint8_t kt[1024];
	size_t o = 2;
	char *json = NULL, err[200];
	size_t jlen;

	(void)state;
	kt[0] = 5;
	kt[1] = 2;
	o += kt_entry(kt + o, "CORP.CONTOSO.COM", spn, 2, 300, 18, 32, 0x11);
	o += kt_entry(kt + o, "CORP.CONTOSO.COM", acct, 1, 300, 18, 32, 0x11);
	o += kt_entry(kt + o, "CORP.CONTOSO.COM", acct, 1, 300, 23, 16, 0x22);
	o += kt_entry(kt + o, "CORP.CONTOSO.COM", acct, 1, 299, 17, 16, 0x33);
	o += kt_entry(kt + o, "CORP.CONTOSO.COM", acct, 1, 300, 3, 8, 0x44);	/* DES: skipped */
	assert_int_equal(keytab_to_stage_json(kt, o, &json, &jlen, err, sizeof(err)), 0);
	assert_string_equal(json, "{\"account\":\"EXCHASA$@CORP.CONTOSO.COM\",\"kvno\":300,"
	    "\"keys\":[{\"enctype\":18,\"key\":\"1111111111111111111111111111111111111111111111111111111111111111\"},"
	    "{\"enctype\":23,\"key\":\"22222222222222222222222222222222\"}]}");
	kg_freezero(json, jlen);
}

static void
test_a_bad_keytab_is_refused_without_key_bytes(void **state)
{
	static const char *const acct[] = { "EXCHASA$" };
	uint8_t kt[256];
	size_t o = 2, n;
	char *json = NULL, err[200];
	size_t jlen;

	(void)state;
	kt[0] = 5;
	kt[1] = 2;
	o += kt_entry(kt + o, "R", acct, 1, 3, 18, 32, 0xab);
	assert_int_equal(keytab_to_stage_json(kt, o - 1, &json, &jlen, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "truncated"));
	assert_null(strstr(err, "abab"));
	assert_int_equal(keytab_to_stage_json((const uint8_t *)"\x05\x01", 2, &json, &jlen,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a keytab"));
	n = 2 + kt_entry(kt + 2, "R", acct, 1, 3, 3, 8, 0xab);	/* only DES */
	assert_int_equal(keytab_to_stage_json(kt, n, &json, &jlen, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no aes256"));
	kt[2 + 4 + 1] = 0;	/* no components */
	assert_int_equal(keytab_to_stage_json(kt, n, &json, &jlen, err, sizeof(err)), -1);
	assert_null(json);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_session_has_a_random_256_bit_id_and_csrf_token),
		cmocka_unit_test(test_a_session_ends_when_idle),
		cmocka_unit_test(test_a_session_ends_at_its_absolute_timeout_even_when_busy),
		cmocka_unit_test(test_logout_ends_only_that_session),
		cmocka_unit_test(test_wrong_or_truncated_ids_find_nothing),
		cmocka_unit_test(test_a_full_table_evicts_the_oldest_session),
		cmocka_unit_test(test_csrf_token_must_match_exactly),
		cmocka_unit_test(test_five_failures_are_free_the_sixth_attempt_waits),
		cmocka_unit_test(test_each_further_failure_doubles_the_wait_up_to_the_cap),
		cmocka_unit_test(test_a_successful_login_forgets_the_failures),
		cmocka_unit_test(test_old_failures_are_forgotten),
		cmocka_unit_test(test_many_sources_together_pause_every_login),
		cmocka_unit_test(test_a_full_source_table_keeps_counting),
		cmocka_unit_test(test_argon2id_hash_verifies_the_password_and_nothing_else),
		cmocka_unit_test(test_password_rule),
		cmocka_unit_test(test_setup_code_is_readable_and_typed_any_way),
		cmocka_unit_test(test_hash_files_are_0600_and_replaced_whole),
		cmocka_unit_test(test_cookie_header_parsing),
		cmocka_unit_test(test_origin_must_be_this_site_over_https),
		cmocka_unit_test(test_metrics_sums_and_labels),
		cmocka_unit_test(test_a_keytab_becomes_a_stage_request_of_its_highest_kvno),
		cmocka_unit_test(test_a_bad_keytab_is_refused_without_key_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
