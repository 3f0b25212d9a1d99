/*
 * test_ctlproto.c: the credential control frames: round trips, and every
 * frame that breaks a rule refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctlproto.h"
#include "secretstore.h"
#include "tlv.h"
#include "util.h"

static void
test_stage_with_password_round_trips(void **state)
{
	struct ctl_req r = { .type = CTL_MSG_STAGE, .kvno = 7 }, back;
	uint8_t *p;
	size_t n;

	(void)state;
	strcpy(r.principal, "EXCHASA$@CORP.CONTOSO.COM");
	r.password = (const uint8_t *)"Secret-Pw1";
	r.pwlen = 10;
	assert_int_equal(ctl_req_encode(&r, &p, &n), 0);
	assert_int_equal(ctl_req_decode(CTL_MSG_STAGE, p, n, &back), 0);
	assert_string_equal(back.principal, r.principal);
	assert_int_equal(back.kvno, 7);
	assert_int_equal(back.pwlen, 10);
	assert_memory_equal(back.password, "Secret-Pw1", 10);
	assert_int_equal(back.nkeys, 0);
	/* The same payload is not a verify frame. */
	assert_int_equal(ctl_req_decode(CTL_MSG_VERIFY, p, n, &back), KG_ERR_PROTO);
	/* Every cut is refused. */
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ctl_req_decode(CTL_MSG_STAGE, p, i, &back), KG_ERR_PROTO);
	kg_freezero(p, n);
}

static void
test_stage_with_keys_round_trips_and_bad_keys_are_refused(void **state)
{
	struct ctl_req r = { .type = CTL_MSG_STAGE, .kvno = 3, .nkeys = 2 }, back;
	uint8_t *p;
	size_t n;

	(void)state;
	strcpy(r.principal, "svc@CORP.CONTOSO.COM");
	r.keys[0] = (struct cred_key){ CRED_ETYPE_AES256, 32, { 1, 2, 3 } };
	r.keys[1] = (struct cred_key){ CRED_ETYPE_RC4, 16, { 9 } };
	assert_int_equal(ctl_req_encode(&r, &p, &n), 0);
	assert_int_equal(ctl_req_decode(CTL_MSG_STAGE, p, n, &back), 0);
	assert_int_equal(back.nkeys, 2);
	assert_memory_equal(&back.keys[0], &r.keys[0], sizeof(r.keys[0]));
	assert_memory_equal(&back.keys[1], &r.keys[1], sizeof(r.keys[1]));
	kg_freezero(p, n);
	r.keys[1].len = 15;		/* RC4 keys are 16 bytes */
	assert_int_equal(ctl_req_encode(&r, &p, &n), 0);
	assert_int_equal(ctl_req_decode(CTL_MSG_STAGE, p, n, &back), KG_ERR_PROTO);
	kg_freezero(p, n);
	r.keys[1] = (struct cred_key){ 16, 24, { 0 } };	/* DES3: not AD's */
	assert_int_equal(ctl_req_encode(&r, &p, &n), 0);
	assert_int_equal(ctl_req_decode(CTL_MSG_STAGE, p, n, &back), KG_ERR_PROTO);
	kg_freezero(p, n);
	r.nkeys = 0;			/* neither password nor keys */
	assert_int_equal(ctl_req_encode(&r, &p, &n), 0);
	assert_int_equal(ctl_req_decode(CTL_MSG_STAGE, p, n, &back), KG_ERR_PROTO);
	kg_freezero(p, n);
}

static void
test_kvno_frames_and_refusals(void **state)
{
	struct ctl_req r = { .type = CTL_MSG_ACTIVATE, .kvno = 9 }, back;
	uint8_t *p, extra[64];
	size_t n;

	(void)state;
	assert_int_equal(ctl_req_encode(&r, &p, &n), 0);
	assert_int_equal(ctl_req_decode(CTL_MSG_ACTIVATE, p, n, &back), 0);
	assert_int_equal(back.kvno, 9);
	assert_int_equal(ctl_req_decode(CTL_MSG_RETIRE, p, n, &back), 0);
	assert_int_equal(ctl_req_decode(CTL_MSG_LIST, p, n, &back), KG_ERR_PROTO);
	assert_int_equal(ctl_req_decode(CTL_MSG_RESULT, p, n, &back), KG_ERR_PROTO);
	assert_int_equal(ctl_req_decode(99, p, n, &back), KG_ERR_PROTO);
	/* Trailing bytes. */
	memcpy(extra, p, n);
	memcpy(extra + n, "\0\1\0\0\0\0", 6);
	assert_int_equal(ctl_req_decode(CTL_MSG_ACTIVATE, extra, n + 6, &back),
	    KG_ERR_PROTO);
	free(p);
	r.kvno = 0;
	assert_int_equal(ctl_req_encode(&r, &p, &n), 0);
	assert_int_equal(ctl_req_decode(CTL_MSG_ACTIVATE, p, n, &back), KG_ERR_PROTO);
	free(p);
	r.kvno = 0x80000000u;
	assert_int_equal(ctl_req_encode(&r, &p, &n), 0);
	assert_int_equal(ctl_req_decode(CTL_MSG_ACTIVATE, p, n, &back), KG_ERR_PROTO);
	free(p);
	assert_int_equal(ctl_req_decode(CTL_MSG_LIST, NULL, 0, &back), 0);
}

static void
test_result_round_trips(void **state)
{
	struct ctl_result r = { .status = CTL_FAILED }, back;
	uint8_t *p;
	size_t n;

	(void)state;
	strcpy(r.text, "SPN http/x is registered to another account");
	r.sealed = (const uint8_t *)"KGSEALED...";
	r.sealed_len = 11;
	assert_int_equal(ctl_result_encode(&r, &p, &n), 0);
	assert_int_equal(ctl_result_decode(p, n, &back), 0);
	assert_int_equal(back.status, CTL_FAILED);
	assert_string_equal(back.text, r.text);
	assert_int_equal(back.sealed_len, 11);
	free(p);
	r.status = 3;
	assert_int_equal(ctl_result_encode(&r, &p, &n), 0);
	assert_int_equal(ctl_result_decode(p, n, &back), KG_ERR_PROTO);
	free(p);
}

/* Encodes r, decodes it as its type: the result. */
static int
round_trip(const struct ctl_req *r, struct ctl_req *back)
{
	uint8_t *p;
	size_t n;
	int rc;

	assert_int_equal(ctl_req_encode(r, &p, &n), 0);
	rc = ctl_req_decode(r->type, p, n, back);
	kg_freezero(p, n);	/* back's pointers are not followed after this */
	return rc;
}

static void
test_secret_frames_round_trip_and_wrong_sizes_are_refused(void **state)
{
	struct ctl_req r = { .type = CTL_MSG_SECRET_STAGE, .kind = SECRET_POOL }, back;
	uint8_t sec[65] = { 1 };
	uint8_t *p;
	size_t n;

	(void)state;
	strcpy(r.name, "cas");
	r.secret = sec;
	r.secretlen = 48;
	assert_int_equal(ctl_req_encode(&r, &p, &n), 0);
	assert_int_equal(ctl_req_decode(CTL_MSG_SECRET_STAGE, p, n, &back), 0);
	assert_int_equal(back.kind, SECRET_POOL);
	assert_string_equal(back.name, "cas");
	assert_int_equal(back.secretlen, 48);
	assert_memory_equal(back.secret, sec, 48);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ctl_req_decode(CTL_MSG_SECRET_STAGE, p, i, &back),
		    KG_ERR_PROTO);
	kg_freezero(p, n);
	/* A pool secret of 31 or 65 bytes, none, or with a certificate. */
	r.secretlen = 31;
	assert_int_equal(round_trip(&r, &back), KG_ERR_PROTO);
	r.secretlen = 65;
	assert_int_equal(round_trip(&r, &back), KG_ERR_PROTO);
	r.secret = NULL;
	assert_int_equal(round_trip(&r, &back), KG_ERR_PROTO);
	r.secret = sec;
	r.secretlen = 32;
	r.cert = sec;
	r.certlen = 10;
	assert_int_equal(round_trip(&r, &back), KG_ERR_PROTO);
	r.cert = NULL;
	r.name[0] = '\0';	/* a pool has a name */
	assert_int_equal(round_trip(&r, &back), KG_ERR_PROTO);
	/* The cookie key: no name, no value (the keyholder makes it). */
	r.kind = SECRET_COOKIE;
	assert_int_equal(round_trip(&r, &back), KG_ERR_PROTO);
	r.secret = NULL;
	assert_int_equal(round_trip(&r, &back), 0);
	strcpy(r.name, "x");
	assert_int_equal(round_trip(&r, &back), KG_ERR_PROTO);
	/* TLS: a key and a chain, both. */
	r.kind = SECRET_TLS;
	r.secret = sec;
	r.secretlen = 20;
	assert_int_equal(round_trip(&r, &back), KG_ERR_PROTO);
	r.cert = sec;
	r.certlen = 30;
	assert_int_equal(round_trip(&r, &back), 0);
	assert_int_equal(back.certlen, 30);
	r.kind = 4;
	assert_int_equal(round_trip(&r, &back), KG_ERR_PROTO);
	/* verify, activate, retire: a version from 1. */
	memset(&r, 0, sizeof(r));
	r.type = CTL_MSG_SECRET_ACTIVATE;
	r.kind = SECRET_COOKIE;
	r.kvno = 3;
	assert_int_equal(round_trip(&r, &back), 0);
	assert_int_equal(back.kvno, 3);
	r.kvno = 0;
	assert_int_equal(round_trip(&r, &back), KG_ERR_PROTO);
	r.type = CTL_MSG_SECRET_LIST;
	assert_int_equal(round_trip(&r, &back), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stage_with_password_round_trips),
		cmocka_unit_test(test_stage_with_keys_round_trips_and_bad_keys_are_refused),
		cmocka_unit_test(test_kvno_frames_and_refusals),
		cmocka_unit_test(test_result_round_trips),
		cmocka_unit_test(test_secret_frames_round_trip_and_wrong_sizes_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
