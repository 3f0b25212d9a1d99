/*
 * test_secretstore.c: the sealed store's other secrets (secretstore.h):
 * pool header secrets, the cookie key and TLS keys round-trip through
 * their records next to the ASA keys, wrong sizes are refused at stage, at
 * put and in a record, and the two phases: nothing activates unverified, an
 * activation retains the old version, which the window then drops.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "credstore.h"
#include "sealedstore.h"
#include "secretstore.h"

static uint8_t rnd48[48], rnd32[32];

static void
fill(uint8_t *p, size_t n, uint32_t seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

static int
setup(void **state)
{
	(void)state;
	fill(rnd48, sizeof(rnd48), 7);
	fill(rnd32, sizeof(rnd32), 11);
	return 0;
}

static const char tls_val[] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    "-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n";
#define TLS_KEYLEN	56	/* the key's PEM above */

static void
test_records_round_trip_next_to_the_asa_keys(void **state)
{
	struct secretstore *ss = secretstore_new(600), *back = secretstore_new(600);
	struct credstore *cs = credstore_new(600), *cback = credstore_new(600);
	struct sealed_buf b = { 0 };
	struct cred_key k = { .enctype = CRED_ETYPE_AES256, .len = 32 };
	const struct secret_entry *e;
	uint32_t ver;
	char err[256];
	size_t i;

	(void)state;
	assert_non_null(ss);
	assert_non_null(back);
	assert_int_equal(secretstore_stage(ss, SECRET_POOL, "cas", rnd48, 48, 0, 100,
	    &ver, err, sizeof(err)), 0);
	assert_int_equal(ver, 1);
	assert_int_equal(secretstore_mark_verified(ss, SECRET_POOL, "cas", 1, 101, err,
	    sizeof(err)), 0);
	assert_int_equal(secretstore_activate(ss, SECRET_POOL, "cas", 1, 102, err,
	    sizeof(err)), 0);
	assert_int_equal(secretstore_stage(ss, SECRET_COOKIE, "", rnd32, 32, 0, 103,
	    &ver, err, sizeof(err)), 0);
	assert_int_equal(secretstore_stage(ss, SECRET_TLS, "mail.example.com",
	    (const uint8_t *)tls_val, sizeof(tls_val) - 1, TLS_KEYLEN, 104, &ver, err,
	    sizeof(err)), 0);
	/* With an ASA key in the same plaintext: each reads its own records. */
	memset(k.bytes, 0x5a, 32);
	assert_int_equal(credstore_stage(cs, "ASA$@EXAMPLE.COM", 3, &k, 1, 99, err,
	    sizeof(err)), 0);
	assert_int_equal(credstore_encode(cs, 105, &b), 0);
	assert_int_equal(secretstore_encode(ss, &b), 0);
	assert_int_equal(credstore_decode(cback, b.p, b.len, err, sizeof(err)), 0);
	assert_int_equal(cback->n, 1);
	assert_int_equal(secretstore_decode(back, b.p, b.len, err, sizeof(err)), 0);
	assert_int_equal(back->n, 3);
	for (i = 0; i < ss->n; i++) {
		assert_int_equal(back->e[i].kind, ss->e[i].kind);
		assert_string_equal(back->e[i].name, ss->e[i].name);
		assert_int_equal(back->e[i].ver, ss->e[i].ver);
		assert_int_equal(back->e[i].state, ss->e[i].state);
		assert_int_equal(back->e[i].staged_at, ss->e[i].staged_at);
		assert_int_equal(back->e[i].activated_at, ss->e[i].activated_at);
		assert_int_equal(back->e[i].len, ss->e[i].len);
		assert_int_equal(back->e[i].keylen, ss->e[i].keylen);
		assert_memory_equal(back->e[i].val, ss->e[i].val, ss->e[i].len);
	}
	assert_non_null(e = secretstore_active(back, SECRET_POOL, "cas"));
	assert_memory_equal(e->val, rnd48, 48);
	assert_null(secretstore_active(back, SECRET_COOKIE, ""));	/* staged only */
	sealed_buf_free(&b);
	secretstore_free(ss);
	secretstore_free(back);
	credstore_free(cs);
	credstore_free(cback);
}

static void
test_wrong_sizes_are_refused(void **state)
{
	struct secretstore *ss = secretstore_new(600);
	struct secret_entry e;
	struct sealed_buf b = { 0 };
	uint8_t big[70] = { 0 };
	uint32_t ver;
	char err[256];

	(void)state;
	assert_int_equal(secretstore_stage(ss, SECRET_POOL, "cas", rnd48, 31, 0, 1,
	    &ver, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "32 to 64 bytes, not 31"));
	assert_int_equal(secretstore_stage(ss, SECRET_POOL, "cas", big, 65, 0, 1, &ver,
	    err, sizeof(err)), -1);
	assert_int_equal(secretstore_stage(ss, SECRET_COOKIE, "", rnd32, 16, 0, 1, &ver,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cookie key is 32 bytes, not 16"));
	assert_int_equal(secretstore_stage(ss, SECRET_COOKIE, "x", rnd32, 32, 0, 1,
	    &ver, err, sizeof(err)), -1);	/* the cookie key has no name */
	assert_int_equal(secretstore_stage(ss, SECRET_POOL, "", rnd48, 48, 0, 1, &ver,
	    err, sizeof(err)), -1);		/* a pool secret has one */
	assert_int_equal(secretstore_stage(ss, SECRET_TLS, "mail", (const uint8_t *)
	    tls_val, sizeof(tls_val) - 1, 0, 1, &ver, err, sizeof(err)), -1);
	assert_int_equal(ss->n, 0);
	/* A record whose value is cut, or whose size is wrong, is refused. */
	memset(&e, 0, sizeof(e));
	e.kind = SECRET_COOKIE;
	e.ver = 1;
	e.state = CRED_ACTIVE;
	e.val = rnd32;
	e.len = 32;
	assert_int_equal(secretstore_put(ss, &e, err, sizeof(err)), 0);
	e.ver = 2;
	assert_int_equal(secretstore_put(ss, &e, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "two active versions"));
	assert_int_equal(secretstore_encode(ss, &b), 0);
	{
		struct secretstore *back = secretstore_new(600);
		size_t n = b.len;

		b.p[n - 33] = 31;	/* value length 32 -> 31: one byte over */
		assert_int_equal(secretstore_decode(back, b.p, b.len, err, sizeof(err)), -1);
		b.p[n - 33] = 32;
		b.p[SEALED_REC_HDR_LEN] = 9;	/* the state */
		assert_int_equal(secretstore_decode(back, b.p, b.len, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "unknown state"));
		assert_int_equal(back->n, 0);
		b.p[SEALED_REC_HDR_LEN] = CRED_ACTIVE;
		assert_int_equal(secretstore_decode(back, b.p, b.len, err, sizeof(err)), 0);
		assert_int_equal(back->n, 1);
		secretstore_free(back);
	}
	sealed_buf_free(&b);
	secretstore_free(ss);
}

static void
test_two_phases_and_the_retention_window(void **state)
{
	struct secretstore *ss = secretstore_new(600);
	const struct secret_entry *e;
	uint8_t other[32];
	uint32_t ver;
	char err[256];

	(void)state;
	memcpy(other, rnd32, 32);
	other[0] ^= 0xff;
	assert_int_equal(secretstore_stage(ss, SECRET_COOKIE, "", rnd32, 32, 0, 10, &ver,
	    err, sizeof(err)), 0);
	assert_int_equal(secretstore_mark_verified(ss, SECRET_COOKIE, "", 1, 11, err,
	    sizeof(err)), 0);
	assert_int_equal(secretstore_activate(ss, SECRET_COOKIE, "", 1, 12, err,
	    sizeof(err)), 0);
	/* Staged, not verified: not activated, the old one stays. */
	assert_int_equal(secretstore_stage(ss, SECRET_COOKIE, "", other, 32, 0, 20, &ver,
	    err, sizeof(err)), 0);
	assert_int_equal(ver, 2);
	assert_int_equal(secretstore_activate(ss, SECRET_COOKIE, "", 2, 21, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "is staged: verify it first"));
	assert_int_equal(secretstore_active(ss, SECRET_COOKIE, "")->ver, 1);
	/* Staged again: the pending version is replaced, one change at a time. */
	assert_int_equal(secretstore_stage(ss, SECRET_COOKIE, "", other, 32, 0, 22, &ver,
	    err, sizeof(err)), 0);
	assert_int_equal(ver, 3);
	assert_null(secretstore_find(ss, SECRET_COOKIE, "", 2));
	assert_int_equal(secretstore_mark_verified(ss, SECRET_COOKIE, "", 3, 23, err,
	    sizeof(err)), 0);
	assert_int_equal(secretstore_mark_verified(ss, SECRET_COOKIE, "", 3, 23, err,
	    sizeof(err)), -1);
	assert_int_equal(secretstore_activate(ss, SECRET_COOKIE, "", 3, 30, err,
	    sizeof(err)), 0);
	e = secretstore_find(ss, SECRET_COOKIE, "", 1);
	assert_non_null(e);
	assert_int_equal(e->state, CRED_RETAINED);
	assert_int_equal(e->superseded_at, 30);
	assert_int_equal(secretstore_retire(ss, SECRET_COOKIE, "", 3, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "the active one"));
	/* Inside the window the old version stays; after it, it goes. */
	assert_int_equal(secretstore_expire(ss, 30 + 599), 0);
	assert_int_equal(secretstore_expire(ss, 30 + 600), 1);
	assert_null(secretstore_find(ss, SECRET_COOKIE, "", 1));
	assert_int_equal(ss->n, 1);
	secretstore_free(ss);
}

static void
test_entropy_estimate_refuses_what_admins_get_wrong(void **state)
{
	uint8_t zeros[64] = { 0 };
	const char *word = "passwordpasswordpasswordpassword";
	const char *hex64 = "3f9a0c77e41b5d2286f0aa19c3e7d54b8e2f61a0d93c4b7e15a8f26c0d9e3b71";

	(void)state;
	assert_true(secret_entropy_bits(zeros, sizeof(zeros)) < SECRET_MIN_BITS);
	assert_true(secret_entropy_bits((const uint8_t *)word, 32) < SECRET_MIN_BITS);
	assert_true(secret_entropy_bits(rnd48, 48) >= SECRET_MIN_BITS);
	assert_true(secret_entropy_bits((const uint8_t *)hex64, 64) >= SECRET_MIN_BITS);
	{
		uint8_t all[256], half[64];
		size_t i;

		for (i = 0; i < 256; i++)
			all[i] = (uint8_t)i;
		for (i = 0; i < 64; i++)
			half[i] = (uint8_t)(i % 2);
		/* Exact cases: 8 bits for each of 256 values, 1 bit per coin. */
		assert_in_range(secret_entropy_bits(all, 256), 2047, 2048);
		assert_in_range(secret_entropy_bits(half, 64), 63, 64);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records_round_trip_next_to_the_asa_keys),
		cmocka_unit_test(test_wrong_sizes_are_refused),
		cmocka_unit_test(test_two_phases_and_the_retention_window),
		cmocka_unit_test(test_entropy_estimate_refuses_what_admins_get_wrong),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
