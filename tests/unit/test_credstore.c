/*
 * test_credstore.c: the credential lifecycle (stage, verify, activate,
 * retire, retention) and its records in the sealed store.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "credstore.h"

#define ASA "EXCHASA$@CORP.CONTOSO.COM"

static void
keys_for(int kvno, struct cred_key k[2])
{
	memset(k, 0, 2 * sizeof(*k));
	k[0].enctype = CRED_ETYPE_AES256;
	k[0].len = 32;
	memset(k[0].bytes, kvno, 32);
	k[1].enctype = CRED_ETYPE_RC4;
	k[1].len = 16;
	memset(k[1].bytes, 0x80 | kvno, 16);
}

/* Stage, verify and activate kvno at time now. */
static void
roll(struct credstore *cs, int kvno, uint64_t now)
{
	struct cred_key k[2];
	char err[256];

	keys_for(kvno, k);
	assert_int_equal(credstore_stage(cs, ASA, kvno, k, 2, now, err, sizeof(err)), 0);
	assert_int_equal(credstore_mark_verified(cs, kvno, now, err, sizeof(err)), 0);
	assert_int_equal(credstore_activate(cs, kvno, now, err, sizeof(err)), 0);
}

static void
test_activate_retains_the_previous_kvno_for_the_window(void **state)
{
	struct credstore *cs = credstore_new(36300);
	const struct cred_entry *e;
	int gone[4];

	(void)state;
	assert_non_null(cs);
	roll(cs, 3, 1000);
	roll(cs, 4, 2000);
	assert_int_equal(credstore_active(cs)->kvno, 4);
	assert_non_null(e = credstore_find(cs, 3));
	assert_int_equal(e->state, CRED_RETAINED);
	assert_int_equal(e->superseded_at, 2000);
	assert_int_equal(credstore_expire(cs, 2000 + 36299, gone, 4), 0);
	assert_int_equal(credstore_expire(cs, 2000 + 36300, gone, 4), 1);
	assert_int_equal(gone[0], 3);
	assert_null(credstore_find(cs, 3));
	assert_int_equal(cs->n, 1);
	credstore_free(cs);
}

static void
refused(int rv, const char *err, const char *needle)
{
	assert_int_equal(rv, -1);
	if (strstr(err, needle) == NULL)
		fail_msg("\"%s\" does not say \"%s\"", err, needle);
}

static void
test_lower_or_equal_kvno_and_other_accounts_are_refused(void **state)
{
	struct credstore *cs = credstore_new(10);
	struct cred_key k[2];
	char err[256];

	(void)state;
	roll(cs, 5, 1);
	keys_for(4, k);
	refused(credstore_stage(cs, ASA, 4, k, 2, 2, err, sizeof(err)), err,
	    "kvno 4 is not above the active kvno 5");
	refused(credstore_stage(cs, ASA, 5, k, 2, 2, err, sizeof(err)), err,
	    "kvno 5 is not above the active kvno 5");
	refused(credstore_stage(cs, "OTHER$@CORP.CONTOSO.COM", 6, k, 2, 2, err,
	    sizeof(err)), err, "the active account is " ASA);
	refused(credstore_stage(cs, "EXCHASA$", 6, k, 2, 2, err, sizeof(err)), err,
	    "ACCOUNT@REALM");
	refused(credstore_stage(cs, ASA, 0, k, 2, 2, err, sizeof(err)), err,
	    "positive number");
	refused(credstore_stage(cs, ASA, 6, k, 0, 2, err, sizeof(err)), err, "1 to 4 keys");
	k[0].len = 16;
	refused(credstore_stage(cs, ASA, 6, k, 2, 2, err, sizeof(err)), err,
	    "enctype 18 key of 16 bytes, not 32");
	k[0].enctype = 16;
	refused(credstore_stage(cs, ASA, 6, k, 2, 2, err, sizeof(err)), err,
	    "not one AD uses");
	/* Two keys of one enctype: verification tries the first, serving and
	 * delegation may take either, so one unverified key could serve. */
	keys_for(6, k);
	k[1] = k[0];
	k[1].bytes[0] ^= 0xff;
	refused(credstore_stage(cs, ASA, 6, k, 2, 2, err, sizeof(err)), err,
	    "enctype 18 is given twice");
	assert_int_equal(cs->n, 1);
	credstore_free(cs);
}

static void
test_only_verified_is_activated_and_active_is_not_retired(void **state)
{
	struct credstore *cs = credstore_new(10);
	struct cred_key k[2];
	char err[256];

	(void)state;
	roll(cs, 5, 1);
	keys_for(6, k);
	assert_int_equal(credstore_stage(cs, ASA, 6, k, 2, 2, err, sizeof(err)), 0);
	refused(credstore_activate(cs, 6, 3, err, sizeof(err)), err,
	    "kvno 6 is staged, not verified: verify it first");
	refused(credstore_activate(cs, 7, 3, err, sizeof(err)), err, "not held");
	assert_int_equal(credstore_active(cs)->kvno, 5);
	refused(credstore_retire(cs, 5, err, sizeof(err)), err, "kvno 5 is active");
	/* A failed verification is dropped with retire; 5 keeps serving. */
	assert_int_equal(credstore_retire(cs, 6, err, sizeof(err)), 0);
	assert_null(credstore_find(cs, 6));
	refused(credstore_mark_verified(cs, 6, 3, err, sizeof(err)), err, "not staged");
	/* Restaging replaces the staged keys. */
	assert_int_equal(credstore_stage(cs, ASA, 6, k, 2, 2, err, sizeof(err)), 0);
	k[0].bytes[0] ^= 1;
	assert_int_equal(credstore_stage(cs, ASA, 6, k, 1, 4, err, sizeof(err)), 0);
	assert_int_equal(cs->n, 2);
	assert_int_equal(credstore_find(cs, 6)->nkeys, 1);
	assert_int_equal(credstore_find(cs, 6)->keys[0].bytes[0], 7);
	credstore_free(cs);
}

/*
 * Attack: kvno 8 verified but never activated (a roll superseded by the next
 * one), then 9 activated; a late "activate 8" (an admin finishing the old
 * roll's next step, a replayed request) must not put AD's previous password
 * back in front: constrained delegation would use a key AD no longer has, and
 * every new ticket (kvno 9) would fail once 9's retention window ends.
 */
static void
test_a_verified_kvno_below_the_active_one_is_not_activated(void **state)
{
	struct credstore *cs = credstore_new(10);
	struct cred_key k[2];
	char err[256];

	(void)state;
	roll(cs, 7, 1);
	keys_for(8, k);
	assert_int_equal(credstore_stage(cs, ASA, 8, k, 2, 2, err, sizeof(err)), 0);
	assert_int_equal(credstore_mark_verified(cs, 8, 3, err, sizeof(err)), 0);
	roll(cs, 9, 4);
	refused(credstore_activate(cs, 8, 5, err, sizeof(err)), err,
	    "kvno 8 is below the active kvno 9");
	assert_int_equal(credstore_active(cs)->kvno, 9);
	assert_int_equal(credstore_find(cs, 8)->state, CRED_VERIFIED);
	/* It may still be retired. */
	assert_int_equal(credstore_retire(cs, 8, err, sizeof(err)), 0);
	credstore_free(cs);
}

/*
 * Attack: a fresh appliance holds one staged credential of its account and
 * nothing active; a second stage names another account.  The account rule
 * was checked against the active entry only, so both were held, and the
 * store written with them no longer loaded ("credentials of two
 * accounts"): the keyholder would not start again.  Staging another account
 * is refused while any credential is held, and what is held still loads.
 */
static void
test_another_account_is_not_staged_beside_a_staged_one(void **state)
{
	struct credstore *cs = credstore_new(10), *back = credstore_new(10);
	struct sealed_buf b = { 0 };
	struct cred_key k[2];
	char err[256];

	(void)state;
	keys_for(5, k);
	assert_int_equal(credstore_stage(cs, ASA, 5, k, 2, 1, err, sizeof(err)), 0);
	refused(credstore_stage(cs, "OTHER$@EVIL.EXAMPLE", 6, k, 2, 2, err,
	    sizeof(err)), err, "the account of this store is " ASA);
	assert_int_equal(cs->n, 1);
	/* The same account in another case is the same account. */
	assert_int_equal(credstore_stage(cs, "exchasa$@corp.contoso.com", 6, k, 2, 2,
	    err, sizeof(err)), 0);
	assert_int_equal(credstore_encode(cs, 3, &b), 0);
	assert_int_equal(credstore_decode(back, b.p, b.len, err, sizeof(err)), 0);
	assert_int_equal(back->n, 2);
	sealed_buf_free(&b);
	credstore_free(back);
	credstore_free(cs);
}

static void
test_records_round_trip_through_the_sealed_store(void **state)
{
	struct credstore *cs = credstore_new(10), *back = credstore_new(10);
	struct sealed_buf b = { 0 };
	struct cred_key k[2];
	uint8_t key[SEALED_KEY_LEN] = { 1 }, *img, *plain;
	size_t len, plen, i;
	char err[256];

	(void)state;
	roll(cs, 5, 100);
	roll(cs, 6, 200);
	keys_for(7, k);
	assert_int_equal(credstore_stage(cs, ASA, 7, k, 2, 300, err, sizeof(err)), 0);
	assert_int_equal(credstore_encode(cs, 400, &b), 0);
	/* A reserved record of a later version is skipped. */
	assert_int_equal(sealed_buf_add(&b, SEALED_REC_COOKIE_KEY, "later", 5), 0);
	assert_int_equal(sealed_seal(key, b.p, b.len, &img, &len, err, sizeof(err)), 0);
	assert_null(memmem(img, len, k[0].bytes, 32));
	assert_int_equal(sealed_open(key, img, len, &plain, &plen, err, sizeof(err)), 0);
	assert_int_equal(credstore_decode(back, plain, plen, err, sizeof(err)), 0);
	assert_int_equal(back->n, 3);
	for (i = 0; i < 3; i++)
		assert_memory_equal(&back->e[i], &cs->e[i], sizeof(cs->e[i]));
	assert_int_equal(credstore_active(back)->kvno, 6);
	sealed_free(plain, plen);
	free(img);
	sealed_buf_free(&b);
	credstore_free(back);
	credstore_free(cs);
}

static void
decode_fails(const uint8_t *p, size_t n, const char *needle)
{
	struct credstore *cs = credstore_new(10);
	char err[256];

	refused(credstore_decode(cs, p, n, err, sizeof(err)), err, needle);
	assert_int_equal(cs->n, 0);
	credstore_free(cs);
}

static void
test_bad_records_are_refused(void **state)
{
	struct credstore *cs = credstore_new(10);
	struct sealed_buf b = { 0 };

	(void)state;
	roll(cs, 5, 100);
	assert_int_equal(credstore_encode(cs, 400, &b), 0);
	decode_fails(b.p, b.len - 1, "runs past the end");
	/* Two active credentials. */
	{
		struct sealed_buf d = { 0 };
		size_t rec = SEALED_REC_HDR_LEN + 16;

		assert_int_equal(sealed_buf_add(&d, SEALED_REC_STORE_INFO, b.p +
		    SEALED_REC_HDR_LEN, 16), 0);
		assert_int_equal(sealed_buf_add(&d, SEALED_REC_ASA_KEY, b.p + rec +
		    SEALED_REC_HDR_LEN, b.len - rec - SEALED_REC_HDR_LEN), 0);
		assert_int_equal(sealed_buf_add(&d, SEALED_REC_ASA_KEY, b.p + rec +
		    SEALED_REC_HDR_LEN, b.len - rec - SEALED_REC_HDR_LEN), 0);
		decode_fails(d.p, d.len, "two active kvnos");
		/* A key length over the enctype's. */
		d.len = 0;
		assert_int_equal(sealed_buf_add(&d, SEALED_REC_STORE_INFO, b.p +
		    SEALED_REC_HDR_LEN, 16), 0);
		assert_int_equal(sealed_buf_add(&d, SEALED_REC_ASA_KEY, b.p + rec +
		    SEALED_REC_HDR_LEN, b.len - rec - SEALED_REC_HDR_LEN - 1), 0);
		decode_fails(d.p, d.len, "cut short");
		sealed_buf_free(&d);
	}
	decode_fails(b.p + SEALED_REC_HDR_LEN + 16, b.len - SEALED_REC_HDR_LEN - 16,
	    "no store information record");
	sealed_buf_free(&b);
	credstore_free(cs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_activate_retains_the_previous_kvno_for_the_window),
		cmocka_unit_test(test_lower_or_equal_kvno_and_other_accounts_are_refused),
		cmocka_unit_test(test_only_verified_is_activated_and_active_is_not_retired),
		cmocka_unit_test(test_a_verified_kvno_below_the_active_one_is_not_activated),
		cmocka_unit_test(test_another_account_is_not_staged_beside_a_staged_one),
		cmocka_unit_test(test_records_round_trip_through_the_sealed_store),
		cmocka_unit_test(test_bad_records_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
